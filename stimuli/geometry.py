"""Bringing photographs and their maps to the stimulus size, identically."""
from __future__ import annotations

import cv2
import numpy as np

from .modes import FIT_MODES  # defined there, so that the command line offers it without importing OpenCV

__all__ = ["FIT_MODES", "square_crop_box", "fit_image", "fit_map", "same_aspect"]


def square_crop_box(shape):
    """(top, left, side) of the largest centred square in an image of ``shape`` (H, W, ...)."""
    h, w = shape[:2]
    side = min(h, w)
    return (h - side) // 2, (w - side) // 2, side


def _crop(arr, mode):
    if mode == "crop":
        top, left, side = square_crop_box(arr.shape)
        return arr[top:top + side, left:left + side]
    if mode == "stretch":
        return arr
    raise ValueError(f"fit mode must be one of {FIT_MODES}, got {mode!r}")


def _resize(arr, size):
    # INTER_AREA averages when shrinking (no aliasing); cubic when enlarging.
    shrinking = arr.shape[0] >= size and arr.shape[1] >= size
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(arr, (size, size), interpolation=interp)


def fit_image(image, size, mode="crop"):
    """Crop (or not) and resize an RGB uint8 image to ``size × size``.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
    size : int
    mode : {'crop', 'stretch'}

    Returns
    -------
    ndarray of uint8, shape (size, size, 3)
    """
    out = _resize(np.ascontiguousarray(_crop(image, mode)), size)
    return np.clip(out, 0, 255).astype(np.uint8) if out.dtype != np.uint8 else out


def fit_map(importance, size, mode="crop"):
    """Apply to a map the transform :func:`fit_image` applies to its image.

    Parameters
    ----------
    importance : ndarray, shape (H, W)
        Same shape as the image it belongs to.

    Returns
    -------
    ndarray of float64, shape (size, size), clipped at 0 (no negative importance from
    cubic overshoot)
    """
    out = _resize(np.ascontiguousarray(_crop(np.asarray(importance, dtype=np.float64), mode)), size)
    return np.maximum(out, 0.0)


def same_aspect(shape_a, shape_b, tol=0.01):
    """True when two (H, W) shapes have the same aspect ratio within ``tol`` (relative)."""
    ra = shape_a[1] / shape_a[0]
    rb = shape_b[1] / shape_b[0]
    return abs(ra - rb) <= tol * max(ra, rb)
