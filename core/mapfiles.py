"""Computed importance maps on disk: the one owner of the map-folder format.

Maps that a program computes (model attention maps from :mod:`reveal.models.attention`, written
by ``reveal maps attention``) are handed to the analysis as files, the way ``reveal
predict`` hands over trial data: ``models`` writes them with :func:`write_maps`, and
:mod:`reveal.analysis.maps` reads them with :func:`read_maps`; the analysis runs no network.

The format (``reveal-maps``, version 1) is a folder::

    attention/
        maps.json                         the index
        efficientnet_lite0_smoothgrad/    one folder per map source
            chelsea.npy                   one map per image, by image id
            coffee.npy
        efficientnet_lite0_activation/
            ...

* ``<image_id>.npy``: float32, shape (H, W) — the image's own pixel grid — finite and
  non-negative; larger = more important. Each source folder is also a plain folder of
  ``.npy`` maps, so ``--maps NAME=attention/efficientnet_lite0_smoothgrad`` and the
  stimulus builder read it too.
* ``maps.json``::

      {"format": "reveal-maps", "version": 1,
       "sources": {"efficientnet_lite0:smoothgrad": {
           "folder": "efficientnet_lite0_smoothgrad",
           "toolkit_version": "0.1.0",
           "parameters": {"model": "efficientnet_lite0", "kind": "smoothgrad", ...},
           "images": {"chelsea": [300, 451], "coffee": [400, 600]}}}}

  ``sources`` keeps the order in which the sources were written; ``images`` gives each
  map's (H, W). Writing a source into a folder that already has an index adds it (a source
  of the same name is replaced), so several models can share one folder.

The index is also the record of what the toolkit wrote there: a non-empty folder without
one, or a source folder the index does not list, holds someone else's files and is refused
(:func:`check_map_folder`); replacing a source deletes only the maps its entry lists.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
from pathlib import Path

import numpy as np

from .errors import InputError
from .version import toolkit_version
from .outputs import atomic_write

__all__ = ["FORMAT", "VERSION", "INDEX", "MAX_NPY_BYTES", "source_folder_name", "check_map_folder", "write_maps",
           "read_index", "read_maps", "npy_header", "load_npy"]

FORMAT = "reveal-maps"
VERSION = 1
#: Name of the index file in a map folder.
INDEX = "maps.json"
#: Largest array a ``.npy`` file (or ``.npz`` member) may declare, in bytes: a float64 map of
#: 100 million pixels (Pillow's bomb limit for images is 89 million), and far below what a
#: crafted header can ask for.
MAX_NPY_BYTES = 800_000_000
# numpy's public header readers by format version (3.0 is 2.0 with a UTF-8 header)
_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0,
                   (3, 0): np.lib.format.read_array_header_2_0}


def source_folder_name(source):
    """Folder name of a map source: ``efficientnet_lite0:smoothgrad`` -> ``efficientnet_lite0_smoothgrad``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(source)).strip("._")
    if not name:
        raise InputError(f"map source name {source!r} has no usable characters for a folder name")
    return name


def _empty_index():
    return {"format": FORMAT, "version": VERSION, "sources": {}}


def read_index(root):
    """The index of a map folder.

    Parameters
    ----------
    root : path-like
        A folder written by :func:`write_maps`.

    Returns
    -------
    dict
        ``{"format", "version", "sources": {source: {"folder", "parameters", "images",
        "toolkit_version"}}}``.

    Raises
    ------
    InputError
        No index, an index that is not JSON, of another format or version, or with a
        malformed source entry (the message names ``maps.json``).
    """
    path = Path(root) / INDEX
    if not path.is_file():
        raise InputError(f"not a map folder written by reveal (no {INDEX})", Path(root))
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # not UTF-8, not JSON, an integer of too many digits
        raise InputError(f"cannot read the map index: {err}", path) from None
    except RecursionError:  # Python's JSON reader gives up near 1,000 levels; an index has 5
        raise InputError("cannot read the map index: JSON nested too deeply (a crafted file)", path) from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise InputError(f"not a {FORMAT} index (format {index.get('format') if isinstance(index, dict) else None!r})",
                         path)
    if index.get("version") != VERSION:
        raise InputError(f"{FORMAT} version {index.get('version')!r} is not supported (this toolkit reads "
                         f"version {VERSION})", path)
    sources = index.get("sources")
    if not isinstance(sources, dict):
        raise InputError("the index has no 'sources' object", path)
    for name, entry in sources.items():
        ok = (isinstance(entry, dict) and isinstance(entry.get("folder"), str)
              and isinstance(entry.get("images"), dict)
              and all(isinstance(s, list) and len(s) == 2 and all(isinstance(v, int) and v > 0 for v in s)
                      for s in entry["images"].values()))
        # names from the index become paths: each must be one plain name inside the folder
        ok = ok and all(_plain_name(n) for n in [entry["folder"], *entry["images"]])
        if not ok:
            raise InputError(f"source {name!r}: needs 'folder' (a folder name) and 'images' "
                             f"(image id, a file name, -> [height, width])", path)
    return index


def check_map_folder(root, sources=()):
    """Check that maps of ``sources`` can be written into ``root`` without touching others' files.

    Parameters
    ----------
    root : path-like
        The map folder: new, empty, or one written by :func:`write_maps`.
    sources : sequence of str
        The sources about to be written.

    Returns
    -------
    dict
        The folder's index (an empty one for a new folder).

    Raises
    ------
    InputError
        ``root`` is a file; a non-empty folder without an index; a source folder that exists
        but is not the folder of the same source in the index (it holds files the toolkit did
        not write there).
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError("the map folder is a file, not a folder", root)
    if not root.is_dir():
        return _empty_index()
    if not (root / INDEX).exists():
        present = sorted(p.name for p in root.iterdir())
        if present:
            shown = ", ".join(present[:5]) + (f" and {len(present) - 5} more" if len(present) > 5 else "")
            raise InputError(f"the folder is not empty and is not a map folder (no {INDEX}; it holds {shown}); "
                             f"choose an empty or new folder", root)
        return _empty_index()
    index = read_index(root)
    for source in sources:
        folder = root / source_folder_name(source)
        entry = index["sources"].get(source)
        ours = entry is not None and entry["folder"] == folder.name and folder.is_dir()
        empty = folder.is_dir() and not any(folder.iterdir())
        if folder.exists() and not ours and not empty:
            raise InputError(f"{folder.name} exists and is not a map source this index lists; choose another "
                             f"folder", folder)
    return index


def _plain_name(name) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name and "\\" not in name


def npy_header(fh, path, *, size=None, max_bytes=MAX_NPY_BYTES):
    """Shape and dtype of the array a ``.npy`` stream declares, checked before it is loaded.

    ``numpy.load`` allocates the array its header declares before it reads the data, so a
    header of a hundred bytes can ask for terabytes. This reads the header alone, with
    numpy's own readers, and refuses an array that could not be there or would not fit.

    Parameters
    ----------
    fh : binary file
        At the start of the ``.npy`` data: a file, or a member of an ``.npz`` zip. Left just
        after the header.
    path : path-like
        The file, named in errors.
    size : int, optional
        Bytes of the stream, header included (a file's size, a zip member's ``file_size``):
        the data the header declares must fit in it.
    max_bytes : int
        Largest array accepted (default :data:`MAX_NPY_BYTES`).

    Returns
    -------
    shape : tuple of int
    dtype : numpy.dtype

    Raises
    ------
    InputError
        Not a ``.npy`` header, a negative dimension, an array over ``max_bytes``, or more
        data declared than the stream holds.
    """
    try:
        version = np.lib.format.read_magic(fh)
        read = _HEADER_READERS.get(version)
        header = None if read is None else read(fh)
    except (ValueError, SyntaxError, EOFError) as err:
        raise InputError(f"not a readable .npy array ({err})", path) from None
    if header is None:
        raise InputError(f".npy format version {version[0]}.{version[1]} is not supported", path)
    shape, _, dtype = header
    if any(n < 0 for n in shape):
        raise InputError(f"the .npy header declares a negative dimension (shape {shape})", path)
    if dtype.hasobject:  # a pickle of any length, which numpy refuses to load unless allowed
        return shape, dtype
    nbytes = math.prod(shape) * dtype.itemsize
    what = f"the .npy header declares {math.prod(shape):,} values of {dtype} (shape {shape}, {nbytes:,} bytes)"
    if nbytes > max_bytes:
        raise InputError(f"{what}, over the limit of {max_bytes:,} (a crafted header, or not a map or click "
                         "array)", path)
    held = None if size is None else max(size - fh.tell(), 0)
    if held is not None and nbytes > held:
        raise InputError(f"{what} but holds {held:,} bytes of data (truncated or crafted)", path)
    return shape, dtype


def load_npy(path, *, max_bytes=MAX_NPY_BYTES):
    """A ``.npy`` array, its header checked first (:func:`npy_header`); never unpickles.

    Raises
    ------
    FileNotFoundError
        No such file (for the caller to name what is missing).
    InputError
        A header :func:`npy_header` refuses, or data numpy cannot read.
    """
    with open(path, "rb") as fh:
        npy_header(fh, path, size=os.fstat(fh.fileno()).st_size, max_bytes=max_bytes)
        fh.seek(0)
        try:
            return np.load(fh, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise InputError(f"unreadable .npy data ({err})", path) from None


def _write_json(obj, path):
    atomic_write(path, json.dumps(obj, indent=1) + "\n")


def _npy_bytes(m):
    buf = io.BytesIO()
    np.save(buf, m, allow_pickle=False)
    return buf.getvalue()


def write_maps(root, source, maps, parameters=None):
    """Write the maps of one source into a map folder and add it to the index.

    Parameters
    ----------
    root : path-like
        The map folder (created). An existing index is kept and the source added to it;
        a source of the same name is replaced (its old ``.npy`` files are removed). A folder
        with files the toolkit did not write is refused (:func:`check_map_folder`).
    source : str
        Map source name, e.g. ``efficientnet_lite0:smoothgrad``.
    maps : mapping of str to ndarray
        Image id -> map of shape (H, W); finite and non-negative; saved as float32.
    parameters : dict, optional
        How the maps were made (JSON-serialisable), kept in the index.

    Returns
    -------
    pathlib.Path
        The source's folder.

    Raises
    ------
    InputError
        See :func:`check_map_folder`.
    ValueError
        A map that is not 2-D, finite and non-negative, or an image id that is not a
        plain file name.
    """
    root = Path(root)
    arrays, images = {}, {}
    for image_id, m in maps.items():  # all checked before anything is written
        m = np.asarray(m)
        if m.ndim != 2 or not np.isfinite(m).all() or (m < 0).any():
            raise ValueError(f"map of {image_id!r} must be 2-D, finite and non-negative (shape {m.shape})")
        if not image_id or Path(image_id).name != image_id:
            raise ValueError(f"image id {image_id!r} is not usable as a file name")
        arrays[image_id] = m.astype(np.float32)
        images[image_id] = [int(m.shape[0]), int(m.shape[1])]
    index = check_map_folder(root, [source])
    root.mkdir(parents=True, exist_ok=True)
    folder = root / source_folder_name(source)
    folder.mkdir(exist_ok=True)
    old = index["sources"].get(source)
    if old is not None:
        for image_id in old["images"]:
            (root / old["folder"] / f"{image_id}.npy").unlink(missing_ok=True)
    # the index lists the maps before they are written: an interrupted run leaves no map
    # the index does not own, and the next run replaces them
    index["sources"][source] = {"folder": folder.name, "toolkit_version": toolkit_version(),
                                "parameters": dict(parameters or {}), "images": images}
    _write_json(index, root / INDEX)
    for image_id, m in arrays.items():
        atomic_write(folder / f"{image_id}.npy", _npy_bytes(m))
    return folder


def read_maps(root, sources=None):
    """Read the maps of a map folder.

    Parameters
    ----------
    root : path-like
        A folder written by :func:`write_maps`.
    sources : sequence of str, optional
        The sources to read (default: all, in index order).

    Returns
    -------
    dict
        Source name -> {image id -> float64 map (H, W)}, in index order.

    Raises
    ------
    InputError
        A bad index, an unknown source, or a map file that is missing, unreadable, not
        2-D, not finite or non-negative, or not of the shape in the index (the message
        names the file).
    """
    root = Path(root)
    index = read_index(root)
    names = list(index["sources"]) if sources is None else list(sources)
    unknown = [s for s in names if s not in index["sources"]]
    if unknown:
        raise InputError(f"no source {', '.join(map(repr, unknown))} in the index (it has "
                         f"{', '.join(map(repr, index['sources'])) or 'none'})", root / INDEX)
    out = {}
    for name in names:
        entry = index["sources"][name]
        maps = {}
        for image_id, shape in entry["images"].items():
            path = root / entry["folder"] / f"{image_id}.npy"
            try:
                m = load_npy(path)
            except FileNotFoundError:
                raise InputError(f"map of {image_id!r} (source {name!r}) is missing", path) from None
            except InputError as err:
                raise InputError(f"cannot read map: {err.message}", path) from None
            except OSError as err:
                raise InputError(f"cannot read map: {err}", path) from None
            if not (np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating)):
                raise InputError(f"map holds {m.dtype} values, not real numbers", path)
            if m.ndim != 2 or list(m.shape) != shape:
                raise InputError(f"map is {'x'.join(map(str, m.shape))}, the index says "
                                 f"{shape[0]}x{shape[1]} (rows x cols)", path)
            m = m.astype(np.float64)
            if not np.isfinite(m).all() or (m < 0).any():
                raise InputError("map has non-finite or negative values", path)
            maps[image_id] = m
        out[name] = maps
    return out
