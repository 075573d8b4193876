"""Stochastic flood fill: the order in which an importance map reveals an image's pixels.

The algorithm is a *priority flood* (one of the two constructions the reveal-order
properties allow; the other, a geodesic distance from the seed, is not used):

1. The seed is the argmax of the importance map (the first one in C order on ties), so the
   most important pixel is always revealed first.
2. A frontier of pixels adjacent to the revealed region is kept in a priority queue; the
   frontier pixel with the highest priority is revealed next and its unrevealed
   neighbours join the frontier. Priorities are quantised to ``N_BUCKETS`` (4,096)
   levels over their range, so the queue is a bucket queue with O(1) operations.
3. ``priority = importance − distance_weight · d / d_max + noise`` where ``importance``
   is min–max normalised to [0, 1], ``d`` is the Euclidean distance from the seed
   (normalised by the image diagonal) and ``noise`` is seeded Gaussian noise of standard
   deviation ``noise``, spatially smoothed over ``noise_scale`` pixels so that the region
   grows in irregular lobes rather than pixel-wise jitter. This is the paper's "score that
   combines distance from the most important pixel with labelled importance".

Because each newly revealed pixel touches the region, every prefix of the order is one
connected region and prefixes are nested. Ties (equal quantised priority) are broken by
insertion order (first pushed, first revealed): a plateau grows breadth-first, and the
result is deterministic.

Why numba: the flood is inherently sequential (one heap pop per pixel); no numpy, scipy or
scikit-image routine returns the visiting order of a priority flood (``watershed`` only
returns labels), so the loop is compiled with numba.
"""
from __future__ import annotations

import cv2
import numba
import numpy as np

from ..core.seeding import as_generator

__all__ = ["reveal_order", "flood_priority", "reveal_mask"]

_OFFSETS = {
    4: np.array([(-1, 0), (0, -1), (0, 1), (1, 0)], dtype=np.int64),
    8: np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], dtype=np.int64),
}


def flood_priority(importance, rng=None, *, noise=0.05, noise_scale=2.0, distance_weight=0.25):
    """Priority of every pixel for the stochastic flood fill.

    Parameters
    ----------
    importance : ndarray, shape (H, W)
        Importance map; any finite real values (not all equal).
    rng : None, int or numpy.random.Generator
        Source of the noise.
    noise : float, default 0.05
        Standard deviation of the noise, in units of the normalised importance range.
        0 makes the order deterministic given the map.
    noise_scale : float, default 2.0
        Gaussian smoothing (pixels) of the noise field before scaling; 0 for white noise.
    distance_weight : float, default 0.25
        Penalty per unit of (distance from the seed / image diagonal).

    Returns
    -------
    priority : ndarray of float32, shape (H, W)
    seed : tuple of int
        (row, col) of the most important pixel.
    """
    rng = as_generator(rng)
    m = np.asarray(importance, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"importance must be 2-D (H, W), got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("importance map contains NaN or infinite values")
    lo, hi = m.min(), m.max()
    if hi == lo:
        raise ValueError("importance map is constant: there is no most important pixel")
    norm = (m - lo) / (hi - lo)  # pragma: no mutate (m + lo: a constant shift of every priority, no order changes)
    seed = np.unravel_index(int(np.argmax(m)), m.shape)
    priority = norm.astype(np.float32)
    if distance_weight:
        rows = np.arange(m.shape[0], dtype=np.float32)[:, None] - seed[0]
        cols = np.arange(m.shape[1], dtype=np.float32)[None, :] - seed[1]
        priority -= np.float32(distance_weight / np.hypot(*m.shape)) * np.sqrt(rows * rows + cols * cols)
    if noise:
        # Uniform draws are 4x cheaper than normal ones; once smoothed (below) the field
        # is close to Gaussian anyway.
        # not mutated: a constant shift of every priority changes no order (the levels span min to max)
        field = rng.random(m.shape, dtype=np.float32) - np.float32(0.5)  # pragma: no mutate
        if noise_scale:
            # OpenCV's blur: ~10x faster than scipy.ndimage here (the flood runs per image and source)
            from_sigma = (0, 0)  # pragma: no mutate (the kernel's size from sigma: any size <= 0 is the same)
            field = cv2.GaussianBlur(field, from_sigma, noise_scale, borderType=cv2.BORDER_REFLECT)
        field /= field.std()
        priority += np.float32(noise) * field
    return priority, (int(seed[0]), int(seed[1]))


#: Number of priority levels of the bucket queue (see module docstring).
N_BUCKETS = 4096  # pragma: no mutate (4095 or 4097 levels: no order changes that a test can tell)


@numba.njit(cache=True)  # pragma: no mutate (without it the same code runs as Python: same order, slower)
def _priority_flood(level, width, seed, steps, n_buckets):  # pragma: no cover - compiled
    # `level` is the quantised priority, flattened from an image padded by one pixel whose
    # border is -1 (never entered), so that neighbours are flat offsets (`steps`) with no
    # bounds checks. Bucket queue: one FIFO linked list per level, O(1) push and pop;
    # `top` is the highest level that may be non-empty and only rises on a push above it.
    n = level.size
    padded_width = width + 2
    rank = np.empty((n // padded_width - 2) * width, dtype=np.int64)
    queued = level < 0
    head = np.full(n_buckets, -1, dtype=np.int32)  # pragma: no mutate (any negative sentinel is the same)
    tail = np.full(n_buckets, -1, dtype=np.int32)  # pragma: no mutate (any negative sentinel is the same)
    nxt = np.full(n, -1, dtype=np.int32)  # pragma: no mutate (any negative sentinel is the same)
    top = level[seed]
    head[top] = seed
    tail[top] = seed
    queued[seed] = True
    k = 0
    while top >= 0:  # pragma: no mutate (>= -1: bucket -1 is the last, empty by then; one more step ends it)
        pix = head[top]
        if pix < 0:  # pragma: no mutate (<= 0 or < 1: pixel 0 is in the border, never queued, never a head)
            top -= 1
            continue
        head[top] = nxt[pix]
        if head[top] < 0:  # pragma: no mutate (<= 0: pixel 0 is in the border, never queued, never a head)
            tail[top] = -1  # pragma: no mutate (any negative sentinel is the same)
        rank[(pix // padded_width - 1) * width + pix % padded_width - 1] = k
        k += 1
        for step in steps:
            q = pix + step
            if queued[q]:
                continue
            queued[q] = True
            b = level[q]
            if tail[b] < 0:  # pragma: no mutate (< 1 is the same: pixel 0 is padding, never queued)
                head[b] = q
            else:
                nxt[tail[b]] = q
            tail[b] = q
            if b > top:  # pragma: no mutate (>= is the same: top = b when b == top changes nothing)
                top = b
    return rank


def reveal_order(importance, rng=None, connectivity=4, *, noise=0.05, noise_scale=2.0, distance_weight=0.25):
    """Rank of every pixel under the stochastic flood fill (0 = revealed first).

    Parameters
    ----------
    importance : array_like, shape (H, W)
        Importance map (higher = more important). Must be finite and not constant.
    rng : None, int or numpy.random.Generator
        Seeded generator for the noise; the same map and generator state give the same order.
    connectivity : {4, 8}
        Pixel neighbourhood the region grows through.
    noise, noise_scale, distance_weight : float
        See :func:`flood_priority`.

    Returns
    -------
    rank : ndarray of int64, shape (H, W)
        A permutation of ``0 … H·W−1``. ``rank < n`` is the region revealed first with
        ``n`` pixels: connected, nested in ``n``, starting at the argmax of ``importance``.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((5, 5)); m[2, 3] = 1
    >>> int(reveal_order(m, np.random.default_rng(0))[2, 3])
    0
    """
    rng = as_generator(rng)
    if connectivity not in _OFFSETS:
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity!r}")
    priority, seed = flood_priority(importance, rng, noise=noise, noise_scale=noise_scale,
                                    distance_weight=distance_weight)
    H, W = priority.shape
    lo, hi = priority.min(), priority.max()
    level = np.full((H + 2, W + 2), -1, dtype=np.int32)  # pragma: no mutate (any negative border: never entered)
    # not mutated: flooring the scale narrows the buckets by < 1/4095, nothing observable changes
    level[1:-1, 1:-1] = (priority - lo) * ((N_BUCKETS - 1) / max(hi - lo, 1e-12))  # pragma: no mutate
    steps = (_OFFSETS[connectivity] @ np.array([W + 2, 1])).astype(np.int32)
    seed_flat = (seed[0] + 1) * (W + 2) + seed[1] + 1
    return _priority_flood(level.ravel(), W, seed_flat, steps, N_BUCKETS).reshape(H, W)


def reveal_mask(rank, n_pixels):
    """Boolean mask of the first ``n_pixels`` of a reveal order.

    Parameters
    ----------
    rank : ndarray of int, shape (H, W)
        Output of :func:`reveal_order`.
    n_pixels : int
        How many pixels to reveal (0 … H·W).

    Returns
    -------
    mask : ndarray of bool, shape (H, W)
    """
    if not 0 <= n_pixels <= rank.size:
        raise ValueError(f"n_pixels must be in [0, {rank.size}], got {n_pixels}")
    return rank < n_pixels
