"""Fitted channel gains on disk: the one owner of the *gains file* format.

A cued network observer multiplies each channel ``c`` of one layer by a gain
``g_c = max(0, 1 + β · f_c)``. The values ``f`` can be fitted on a photo set: ``reveal gains
fit`` writes them with :func:`write_gains`, and ``reveal predict --gains`` reads them with
:func:`read_gains`, which refuses gains fitted for another model, layer or channel count.

The format (``reveal-gains``, version 1) is one UTF-8 JSON object::

    {"format": "reveal-gains", "version": 1,
     "model": "efficientnet_lite0",         the observer the values belong to
     "layer": "blocks.10.depthwise",         the cue site
     "method": "tuning",                     "tuning", "gradient" or "toad"
     "target": "animal",                     the category the values favour: "animal" or "nonanimal"
     "channels": 480,                        == len(values)
     "values": [0.25, -1.0, ...],            f, one per channel, written to full precision
     "inputs": {"images": {"path": ..., "n_files": 12, "sha256": ...},
                "categories": {"path": ..., "sha256": ...}},    (see hash_inputs; may be {})
     "training": {...},                      fit statistics: any JSON object, may be {}
     "reveal_version": "0.1.0"}              the toolkit that wrote it (optional)

``"tuning"`` and ``"gradient"`` values are normalised, ``max |f| = 1``; ``"toad"`` values are
trained gains minus one (``g = 1 + f``), so ``f >= -1``. Keys this version does not know are
ignored when read.

This module imports no network library: the core reads and checks the file, the models
package applies it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .outputs import atomic_write
from .version import toolkit_version

__all__ = ["FORMAT", "VERSION", "READ_VERSIONS", "METHODS", "TARGETS", "Gains", "write_gains", "read_gains",
           "hash_inputs"]

FORMAT = "reveal-gains"
VERSION = 1
#: The versions :func:`read_gains` reads.
READ_VERSIONS = (1,)
#: How the values were obtained: normalised tuning or gradient values (``max |f| = 1``), or
#: trained gains (``"toad"``, ``g = 1 + f >= 0``).
METHODS = ("tuning", "gradient", "toad")
#: The category the values favour.
TARGETS = ("animal", "nonanimal")
#: Methods whose values are normalised to ``max |f| = 1``, and the tolerance of that check.
_NORMALISED = ("tuning", "gradient")
_NORM_TOL = 1e-9
#: Tolerance of ``1 + f >= 0`` for trained ("toad") values.
_GAIN_TOL = 1e-12
_REQUIRED = ("format", "version", "model", "layer", "method", "target", "channels", "values", "inputs", "training")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


@dataclass(frozen=True, eq=False)
class Gains:
    """Per-channel values fitted for one layer of one model.

    Parameters
    ----------
    model : str
        The observer (model) name the values belong to.
    layer : str
        The cue site: the layer whose channels the gains multiply.
    method : {"tuning", "gradient", "toad"}
    target : {"animal", "nonanimal"}
        The category the values favour.
    values : array_like, shape (C,)
        ``f``, one value per channel; kept as a read-only float64 copy.
    inputs : dict
        What the values were fitted on (:func:`hash_inputs`); ``{}`` when they need no data.
    training : dict
        Fit statistics, any JSON object.

    Examples
    --------
    >>> g = Gains("efficientnet_lite0", "head", "gradient", "animal", [0.5, -1.0, 0.25])
    >>> g
    Gains(model='efficientnet_lite0', layer='head', method='gradient', target='animal', channels=3)
    >>> g.values.dtype, g.values.shape, g.values.flags.writeable
    (dtype('float64'), (3,), False)
    """

    model: str
    layer: str
    method: str
    target: str
    values: np.ndarray
    inputs: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    def __post_init__(self):
        values = np.array(self.values, dtype=np.float64)  # a copy: the caller's array stays theirs
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "inputs", dict(self.inputs))
        object.__setattr__(self, "training", dict(self.training))

    @property
    def channels(self) -> int:
        """Number of channels (values).

        Examples
        --------
        >>> Gains("m", "head", "toad", "animal", [0.0, 2.0]).channels
        2
        """
        return int(self.values.shape[0]) if self.values.ndim else 1

    def __eq__(self, other):
        if not isinstance(other, Gains):
            return NotImplemented
        return ((self.model, self.layer, self.method, self.target, self.inputs, self.training)
                == (other.model, other.layer, other.method, other.target, other.inputs, other.training)
                and self.values.shape == other.values.shape and self.values.tobytes() == other.values.tobytes())

    __hash__ = None  # mutable dicts inside: not hashable

    def __repr__(self):
        return (f"Gains(model={self.model!r}, layer={self.layer!r}, method={self.method!r}, "
                f"target={self.target!r}, channels={self.channels})")


# --------------------------------------------------------------------------- validation


def _type_name(value):
    return "null" if value is None else type(value).__name__


def _check_name(doc, key, path):
    value = doc[key]
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{key!r} must be a non-empty string, got {_type_name(value)} {value!r}"[:300], path)
    return value


def _check_choice(doc, key, known, path):
    value = doc[key]
    if not isinstance(value, str) or value not in known:
        raise InputError(f"unknown {key} {value!r}; known: {', '.join(known)}"[:300], path)
    return value


def _as_float(v):
    try:
        return float(v)
    except OverflowError:  # an integer beyond the float range
        return math.copysign(math.inf, v)


def _check_values(doc, path):
    values = doc["values"]
    if not isinstance(values, list):
        raise InputError(f"'values' must be a list of numbers, got {_type_name(values)}", path)
    if not values:
        raise InputError("'values' is empty: a gains file holds one value per channel", path)
    for i, v in enumerate(values):
        if type(v) not in (int, float):  # not bool, not a string
            raise InputError(f"values[{i}] must be a number, got {_type_name(v)} {v!r}"[:300], path)
    arr = np.array([_as_float(v) for v in values], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        more = f" ({bad.size} values are not finite)" if bad.size > 1 else ""
        raise InputError(f"values[{i}] is {float(arr[i])!r}, not a finite number{more}; every value must be "
                         f"finite", path)
    return arr


def _check_fit(values, method, path):
    """The values fit their method: normalised (tuning, gradient) or trained gains >= 0 (toad)."""
    if method in _NORMALISED:
        peak = float(np.max(np.abs(values)))
        if abs(peak - 1.0) > _NORM_TOL:
            raise InputError(f"the values of a {method!r} file are normalised to max |f| = 1, but here "
                             f"max |f| = {peak!r}", path)
    else:
        low = np.flatnonzero(1.0 + values < -_GAIN_TOL)
        if low.size:
            i = int(low[0])
            more = f" ({low.size} values are below -1)" if low.size > 1 else ""
            raise InputError(f"values[{i}] = {float(values[i])!r} is below -1: trained ({method!r}) gains "
                             f"g = 1 + f must be >= 0{more}", path)


def _check_digest_entry(entry, name, path, *, count):
    where = f"'inputs.{name}'"
    if not isinstance(entry, dict):
        raise InputError(f"{where} must be an object, got {_type_name(entry)}", path)
    keys = ("path", "n_files", "sha256") if count else ("path", "sha256")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise InputError(f"{where} is missing {', '.join(map(repr, missing))}", path)
    if not isinstance(entry["path"], str):
        raise InputError(f"{where}.path must be a string, got {_type_name(entry['path'])}", path)
    if not isinstance(entry["sha256"], str) or not _SHA256.fullmatch(entry["sha256"]):
        raise InputError(f"{where}.sha256 must be 64 lowercase hexadecimal digits", path)
    if count and (type(entry["n_files"]) is not int or entry["n_files"] < 1):
        raise InputError(f"{where}.n_files must be a positive integer, got {entry['n_files']!r}"[:300], path)


def _check_inputs(doc, path):
    inputs = doc["inputs"]
    if not isinstance(inputs, dict):
        raise InputError(f"'inputs' must be an object, got {_type_name(inputs)}", path)
    if "images" in inputs:
        _check_digest_entry(inputs["images"], "images", path, count=True)
    if "categories" in inputs:
        _check_digest_entry(inputs["categories"], "categories", path, count=False)
    return inputs


def _check_training(doc, path):
    training = doc["training"]
    if not isinstance(training, dict):
        raise InputError(f"'training' must be an object, got {_type_name(training)}", path)
    try:
        json.dumps(training, allow_nan=False)
    except ValueError:
        raise InputError("'training' holds NaN or Infinity, which JSON cannot store", path) from None
    return training


def _validate(doc, path) -> Gains:
    """A parsed gains document, checked field by field, as :class:`Gains`."""
    if not isinstance(doc, dict):
        raise InputError(f"not a gains file: a JSON {_type_name(doc)}, not an object", path)
    if doc.get("format") != FORMAT:
        found = f"its 'format' is {doc['format']!r}" if "format" in doc else "no 'format' key"
        raise InputError(f"not a {FORMAT} file ({found})"[:300], path)
    version = doc.get("version")
    if type(version) is not int or version not in READ_VERSIONS:
        reads = ", ".join(map(str, READ_VERSIONS))
        raise InputError(f"{FORMAT} version {version!r} is not supported (this toolkit reads version "
                         f"{reads})"[:300], path)
    missing = [k for k in _REQUIRED if k not in doc]
    if missing:
        raise InputError(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}", path)
    model, layer = _check_name(doc, "model", path), _check_name(doc, "layer", path)
    method = _check_choice(doc, "method", METHODS, path)
    target = _check_choice(doc, "target", TARGETS, path)
    channels = doc["channels"]
    if type(channels) is not int:
        raise InputError(f"'channels' must be an integer, got {_type_name(channels)} {channels!r}"[:300], path)
    values = _check_values(doc, path)
    if channels != values.size:
        raise InputError(f"'channels' is {channels} but 'values' holds {values.size} values", path)
    _check_fit(values, method, path)
    inputs, training = _check_inputs(doc, path), _check_training(doc, path)
    if "reveal_version" in doc and not isinstance(doc["reveal_version"], str):
        raise InputError(f"'reveal_version' must be a string, got {_type_name(doc['reveal_version'])}", path)
    return Gains(model, layer, method, target, values, inputs, training)


def _plain(obj):
    """numpy scalars and arrays in ``training`` as JSON values."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"a {type(obj).__name__} is not a JSON value")


# --------------------------------------------------------------------------- write and read


def write_gains(path, gains: Gains) -> Path:
    """Check ``gains`` and write them as a gains file, atomically.

    Parameters
    ----------
    path : path-like
        The file to write (replaced whole, or left as it was when writing fails).
    gains : Gains
        ``values`` of shape (C,), C >= 1, finite; normalised (``max |f| = 1`` within 1e-9)
        for "tuning" and "gradient", ``f >= -1`` (within 1e-12) for "toad".

    Returns
    -------
    Path

    Raises
    ------
    InputError
        Naming ``path``: gains the format cannot hold (the same checks :func:`read_gains`
        makes), or the file cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gains.json"
    >>> g = Gains("efficientnet_lite0", "head", "tuning", "animal", [1.0, 0.1 + 0.2, -0.5])
    >>> write_gains(path, g) == path
    True
    >>> read_gains(path).values.tolist()  # every digit back
    [1.0, 0.30000000000000004, -0.5]
    >>> try:
    ...     write_gains(path, Gains("efficientnet_lite0", "head", "tuning", "animal", [0.5, 0.25]))
    ... except InputError as err:
    ...     print(err)
    /.../gains.json: the values of a 'tuning' file are normalised to max |f| = 1, but here max |f| = 0.5
    """
    path = Path(path)
    if not isinstance(gains, Gains):
        raise TypeError(f"write_gains takes a Gains, not a {type(gains).__name__}")
    if gains.values.ndim != 1:
        raise InputError(f"values must be one-dimensional, one per channel; got shape {gains.values.shape}", path)
    doc = {"format": FORMAT, "version": VERSION, "model": gains.model, "layer": gains.layer,
           "method": gains.method, "target": gains.target, "channels": gains.channels,
           "inputs": gains.inputs, "training": gains.training, "reveal_version": toolkit_version(),
           "values": gains.values.tolist()}  # Python floats: json writes repr, the shortest exact digits
    try:
        text = json.dumps(doc, indent=1, default=_plain) + "\n"
    except (TypeError, ValueError) as err:  # inputs or training holding something JSON cannot
        raise InputError(f"inputs and training must hold only JSON values: {err}", path) from None
    _validate(json.loads(text), path)  # exactly what read_gains will see
    try:
        return atomic_write(path, text)
    except OSError as err:
        raise InputError(f"cannot write the gains file ({err.strerror or err})", path) from None


def read_gains(path, *, model: str | None = None, layer: str | None = None, channels: int | None = None) -> Gains:
    """Read and check a gains file, optionally for a given model, layer and channel count.

    Parameters
    ----------
    path : path-like
        A file written by :func:`write_gains`.
    model, layer : str, optional
        The observer and cue site the gains are for; the file's must be the same.
    channels : int, optional
        The number of channels of that layer; the file must hold as many values.

    Returns
    -------
    Gains
        ``values`` of shape (C,), float64, read-only.

    Raises
    ------
    InputError
        Naming the file and the problem: no such file, not JSON, not a gains file, a version
        this toolkit does not read, a missing key, a field of the wrong type or value, or
        gains fitted for another model, layer or channel count.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gains.json"
    >>> _ = write_gains(path, Gains("efficientnet_lite0", "head", "toad", "animal", [-1.0, 0.0, 3.5]))
    >>> read_gains(path, model="efficientnet_lite0", layer="head", channels=3)
    Gains(model='efficientnet_lite0', layer='head', method='toad', target='animal', channels=3)
    >>> try:
    ...     read_gains(path, model="resnet50")
    ... except InputError as err:
    ...     print(err.message)
    these gains were fitted for model 'efficientnet_lite0', not 'resnet50'; fit gains for resnet50 with ...
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a gains file", path) from None
    except UnicodeDecodeError:
        raise InputError("not a gains file: not UTF-8 text", path) from None
    except OSError as err:
        raise InputError(f"cannot read the gains file ({err.strerror or err})", path) from None
    try:
        doc = json.loads(text)
    except ValueError as err:  # not JSON, or an integer of too many digits
        raise InputError(f"not a gains file: not valid JSON ({err})", path) from None
    except RecursionError:  # Python's JSON reader gives up near 1,000 levels; a gains file has 4
        raise InputError("not a gains file: JSON nested too deeply", path) from None
    gains = _validate(doc, path)
    if model is not None and gains.model != model:
        raise InputError(f"these gains were fitted for model {gains.model!r}, not {model!r}; fit gains for "
                         f"{model} with reveal gains fit --model {model}", path)
    if layer is not None and gains.layer != layer:
        raise InputError(f"these gains were fitted at layer {gains.layer!r}, not {layer!r}; fit gains at "
                         f"{layer} with reveal gains fit --layer {layer}", path)
    if channels is not None and gains.channels != channels:
        raise InputError(f"these gains hold {gains.channels} values, one per channel, but layer {gains.layer!r} "
                         f"has {channels} channels; fit gains for this layer with reveal gains fit", path)
    return gains


# --------------------------------------------------------------------------- inputs


def _file_digest(path) -> bytes:
    path = Path(path)
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", path) from None
    except OSError as err:
        raise InputError(f"cannot read the file ({err.strerror or err})", path) from None
    return h.digest()


def hash_inputs(images, categories) -> dict:
    """The ``inputs`` of a gains file: SHA-256 digests of the photos and the categories file.

    The images' digest covers each image's name and bytes, in name order: the SHA-256 of
    the concatenated ``sha256(name) + sha256(file bytes)`` (32 + 32 bytes per image, names
    UTF-8), so it does not depend on the order the images are given in or on where the
    folder is, and changes when one byte of one image changes or an image is renamed,
    added or removed. The categories digest is the file's plain SHA-256 (``sha256sum``).

    Parameters
    ----------
    images : dict of str to path-like, or sequence of path-like
        The photos: ``{name: file}`` (e.g. image id -> file), or files named by their file
        names.
    categories : path-like
        The categories file.

    Returns
    -------
    dict
        ``{"images": {"path", "n_files", "sha256"}, "categories": {"path", "sha256"}}``;
        ``images.path`` is the folder that holds all the images (absolute), and
        ``categories.path`` the categories file (absolute).

    Raises
    ------
    InputError
        No images, or a file that is missing or cannot be read (naming it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "cat.jpg").write_bytes(b"meow"), (d / "car.jpg").write_bytes(b"vroom")
    >>> _ = (d / "categories.csv").write_text("image_id,category\\ncat,animal\\ncar,nonanimal\\n")
    >>> a = hash_inputs([d / "cat.jpg", d / "car.jpg"], d / "categories.csv")
    >>> a["images"]["n_files"], len(a["images"]["sha256"])
    (2, 64)
    >>> a == hash_inputs([d / "car.jpg", d / "cat.jpg"], d / "categories.csv")
    True
    """
    items = list(images.items()) if isinstance(images, dict) else [(Path(p).name, p) for p in images]
    if not items:
        raise InputError("no image files: gains are fitted on at least one image")
    entries = sorted((str(name), _file_digest(p)) for name, p in items)
    h = hashlib.sha256()
    for name, digest in entries:
        h.update(hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest() + digest)
    folder = os.path.commonpath([str(Path(p).absolute().parent) for _, p in items])
    return {"images": {"path": folder, "n_files": len(entries), "sha256": h.hexdigest()},
            "categories": {"path": str(Path(categories).absolute()), "sha256": _file_digest(categories).hex()}}
