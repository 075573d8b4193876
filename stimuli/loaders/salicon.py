"""SALICON fixations turned into saliency maps.

Two fixation formats, with different coordinate conventions (both 1-based):

* per-image ``.mat`` files (SALICON 2017): a ``gaze`` struct array, one element per
  observer, whose ``fixations`` (and raw ``location`` samples) are N×2 **[x, y]**; the
  image size is in ``resolution`` = [height, width] when present;
* the 2015 JSON annotations: ``annotations[*].fixations`` are **[row, col]**, with image
  sizes in ``images[*]``.

Both are converted to 0-based (row, col) here. Map from fixations (as SALICON made its maps): 1 at each
fixated pixel, Gaussian blur σ = 19 px, min–max normalised.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from scipy import io as sio
from scipy import ndimage as ndi

from ...core.errors import InputError
from .images import MAX_PIXELS

__all__ = ["SALICON_SHAPE", "FIXATION_SIGMA", "fixation_map", "read_salicon_mat", "read_salicon_json"]

log = logging.getLogger(__name__)

#: SALICON (COCO) images are 640×480: (H, W) = (480, 640).
SALICON_SHAPE = (480, 640)
FIXATION_SIGMA = 19.0


def fixation_map(fixations_rc, shape, sigma=FIXATION_SIGMA):
    """Saliency map from fixations.

    Parameters
    ----------
    fixations_rc : ndarray, shape (N, 2)
        0-based [row, col]; points outside ``shape`` must have been removed.
    shape : tuple of int
        (H, W).
    sigma : float
        Gaussian blur in pixels.

    Returns
    -------
    saliency : ndarray of float64, shape (H, W), in [0, 1]
    """
    fix = np.zeros(shape, dtype=np.float64)
    pts = np.asarray(fixations_rc, dtype=np.int64).reshape(-1, 2)
    if len(pts) == 0:
        raise ValueError("no fixations")
    fix[pts[:, 0], pts[:, 1]] = 1.0
    blurred = ndi.gaussian_filter(fix, sigma, mode="constant")
    lo, hi = blurred.min(), blurred.max()
    return (blurred - lo) / (hi - lo) if hi > lo else np.ones(shape)


def _inside(rc, shape, path, what):
    rc = np.asarray(rc, dtype=np.float64).reshape(-1, 2)
    rc = np.rint(rc).astype(np.int64)
    ok = (rc[:, 0] >= 0) & (rc[:, 0] < shape[0]) & (rc[:, 1] >= 0) & (rc[:, 1] < shape[1])
    if not ok.all():
        log.warning("%s: %d %s outside the %dx%d image dropped", path, int((~ok).sum()), what,
                    shape[1], shape[0])
    return rc[ok]


def _image_shape(height, width, path, what):
    """(H, W) of an image as a fixation file gives it, checked: the map is allocated at this size."""
    try:
        shape = (int(height), int(width))
    except (TypeError, ValueError, OverflowError):  # OverflowError: int() of an infinite float
        raise InputError(f"{what}: height and width must be whole numbers, got {height!r} and {width!r}",
                         path) from None
    if min(shape) < 1:
        raise InputError(f"{what}: an image of {shape[0]}x{shape[1]} pixels (height x width) has no pixels", path)
    if shape[0] * shape[1] > MAX_PIXELS:
        raise InputError(f"{what}: an image of {shape[0]}x{shape[1]} pixels (height x width) is over the limit of "
                         f"{MAX_PIXELS:,} pixels (SALICON images are 480x640)", path)
    return shape


def _fixations(value, path, what, row=None):
    """An (N, 2) float array of fixations, or a named error: never a silent reshape."""
    try:
        fx = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what}: fixations are not numbers", path, row) from None
    if fx.size == 0:
        return np.zeros((0, 2))
    if fx.ndim == 1 and fx.size == 2:  # one fixation (MATLAB squeezes a 1x2 matrix)
        fx = fx[None, :]
    if fx.ndim != 2 or fx.shape[1] != 2:
        raise InputError(f"{what}: fixations must be an N×2 array, got shape {fx.shape}", path, row)
    if not np.isfinite(fx).all():
        raise InputError(f"{what}: fixations must be finite", path, row)
    return fx


def read_salicon_mat(path, shape=None):
    """Fixations of one image from a SALICON ``.mat`` file.

    Parameters
    ----------
    path : path-like
    shape : tuple of int, optional
        (H, W); default: the file's ``resolution``, else 480×640.

    Returns
    -------
    fixations : ndarray of int64, shape (N, 2)
        0-based [row, col], pooled over observers.
    shape : tuple of int
    """
    path = Path(path)
    try:
        mat = sio.loadmat(path, squeeze_me=True, struct_as_record=False)
    except (OSError, ValueError, NotImplementedError, TypeError, EOFError) as err:
        raise InputError(f"cannot read SALICON .mat file: {err}", path) from None
    if "gaze" not in mat:
        raise InputError("not a SALICON fixation file: no 'gaze' struct", path)
    if shape is None:
        res = mat.get("resolution")
        try:
            shape = tuple(int(v) for v in np.atleast_1d(res)[:2]) if res is not None else SALICON_SHAPE
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"resolution {res!r} is not two integers", path) from None
        if len(shape) != 2:
            raise InputError(f"resolution {res!r} is not a (height, width) pair", path)
        shape = _image_shape(*shape, path, "resolution")
    pooled = []
    for k, observer in enumerate(np.atleast_1d(mat["gaze"]), start=1):
        fx = _fixations(getattr(observer, "fixations", np.zeros((0, 2))), path, f"gaze record {k}")
        if len(fx):
            # [x, y] 1-based -> [row, col] 0-based
            pooled.append(fx[:, ::-1] - 1)
    if not pooled:
        raise InputError("no fixations in any observer's record", path)
    return _inside(np.concatenate(pooled), shape, path, "fixation(s)"), tuple(shape)


def read_salicon_json(path):
    """Fixations per image from the SALICON 2015 JSON annotations.

    Returns
    -------
    dict
        ``image_id (file stem) -> (fixations (N, 2) 0-based [row, col], (H, W))``.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InputError(f"cannot read SALICON JSON: {err}", path) from None
    except RecursionError:  # Python's JSON reader gives up near 1,000 levels; SALICON's have 4
        raise InputError("cannot read SALICON JSON: nested too deeply (a crafted file)", path) from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list) \
            or not isinstance(data.get("images"), list):
        raise InputError("not SALICON fixation annotations: needs lists 'images' and 'annotations'", path)
    images = {}
    for i, img in enumerate(data["images"]):
        try:
            key, name, height, width = img["id"], img["file_name"], img["height"], img["width"]
            images[key] = (Path(str(name)).stem, _image_shape(height, width, path, f"images[{i}] ({name})"))
        except (KeyError, TypeError):
            raise InputError(f"images[{i}] needs id, file_name, height and width", path) from None
    pooled = {}
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann:
            raise InputError(f"annotations[{i}] has no image_id", path)
        try:
            known = ann["image_id"] in images
        except TypeError:  # an unhashable id
            known = False
        if not known:
            raise InputError(f"annotation {i} refers to unknown image_id {ann['image_id']!r}", path)
        fx = _fixations(ann.get("fixations", []), path, f"annotations[{i}]")
        pooled.setdefault(ann["image_id"], []).append(fx - 1)  # [row, col] 1-based -> 0-based
    out = {}
    for image_key, parts in pooled.items():
        stem, shape = images[image_key]
        out[stem] = (_inside(np.concatenate(parts), shape, path, f"fixation(s) of {stem}"), shape)
    return out
