"""Levels, the feature budget, centring and compositing: from a reveal order to a stimulus."""
from __future__ import annotations

import numpy as np

from ..core.levels import LEVELS
from .modes import CENTRING_MODES  # defined there, so that the command line offers it without importing numpy

__all__ = [
    "CENTRING_MODES", "important_pixels", "level_pixel_counts", "centring_shift",
    "level_shifts", "shift", "composite",
]


def important_pixels(importance, threshold=0.0):
    """Number of important pixels of a map: those strictly above ``threshold``.

    Parameters
    ----------
    importance : ndarray, shape (H, W)
    threshold : float
        In the map's units after min–max normalisation to [0, 1]; 0 counts every
        non-zero pixel of a map whose minimum is 0.
    """
    m = np.asarray(importance, dtype=np.float64)
    lo, hi = m.min(), m.max()
    return int(np.count_nonzero((m - lo) / (hi - lo) > threshold)) if hi > lo else 0


def level_pixel_counts(budget, levels=LEVELS):
    """Pixels revealed at each level for a feature budget of ``budget`` pixels.

    Returns
    -------
    ndarray of int64, shape (len(levels),)
        ``round(budget · level / 100)``; the 100 % level is exactly ``budget``.
    """
    return np.rint(np.asarray(levels, dtype=np.float64) * budget / 100.0).astype(np.int64)


def centring_shift(region):
    """Integer (dy, dx) that moves a region's centroid to the image centre.

    The shift is clipped so that no pixel of ``region`` leaves the image: the revealed
    pixels are moved, never cut (the documented choice when full centring is impossible).
    Unclipped, each coordinate of the moved centroid is within 0.5 px of the centre
    ``((H − 1) / 2, (W − 1) / 2)``; clipped, the region touches the border on the side
    away from the centre.

    Parameters
    ----------
    region : ndarray of bool, shape (H, W)
        The revealed region (one level's, or the 100 % region).

    Returns
    -------
    (dy, dx) : tuple of int
    """
    rows, cols = np.nonzero(region)
    if rows.size == 0:
        raise ValueError("empty region")
    h, w = region.shape
    dy = int(np.rint((h - 1) / 2 - rows.mean()))
    dx = int(np.rint((w - 1) / 2 - cols.mean()))
    dy = int(np.clip(dy, -rows.min(), h - 1 - rows.max()))
    dx = int(np.clip(dx, -cols.min(), w - 1 - cols.max()))
    return dy, dx


def level_shifts(rank, counts, centring="per_level"):
    """The centring shift of every level.

    Parameters
    ----------
    rank : ndarray of int, shape (H, W)
        Reveal order (:func:`reveal.stimuli.reveal.reveal_order`); level k reveals ``rank < counts[k]``.
    counts : sequence of int
        Pixels revealed per level, ascending; the last is the feature budget.
    centring : {'per_level', 'full_extent'}
        ``'per_level'``: each level's own region is centred (the study: the 1 % patch at
        fixation). ``'full_extent'``: every level gets the shift that centres the largest
        level's region, so the levels differ only in what is revealed, not in where.

    Returns
    -------
    list of (dy, dx)
        One shift per level.
    """
    if centring not in CENTRING_MODES:
        raise ValueError(f"centring must be one of {CENTRING_MODES}, got {centring!r}")
    if centring == "full_extent":
        return [centring_shift(rank < max(counts))] * len(counts)
    return [centring_shift(rank < n) for n in counts]


def shift(arr, dy, dx, fill=0):
    """Translate an array by whole pixels; what enters from outside is ``fill``.

    Parameters
    ----------
    arr : ndarray, shape (H, W, ...)
    dy, dx : int
        Positive moves content down / right.
    """
    out = np.full_like(arr, fill)
    h, w = arr.shape[:2]
    src_r = slice(max(0, -dy), min(h, h - dy))
    dst_r = slice(max(0, dy), min(h, h + dy))
    src_c = slice(max(0, -dx), min(w, w - dx))
    dst_c = slice(max(0, dx), min(w, w + dx))
    out[dst_r, dst_c] = arr[src_r, src_c]
    return out


def composite(image, background, mask):
    """``mask · image + (1 − mask) · background`` for a binary mask.

    Parameters
    ----------
    image, background : ndarray, shape (H, W, C) or (H, W)
    mask : ndarray of bool, shape (H, W)
    """
    m = mask[..., None] if image.ndim == 3 else mask
    return np.where(m, image, background)
