"""Similarity between an importance map and a reference map, or a set of fixations.

Definitions follow the **MIT saliency benchmark** (Bylinskii, Judd, Oliva, Torralba &
Durand, "What do different evaluation metrics tell us about saliency models?", 2016; its
MATLAB code ``cvzoya/saliency/code_forMetrics``), not pysaliency: pysaliency treats a map as
a probability density over fixations (log-density, fixations counted with repeats), the
MIT code treats both maps as images and fixations as a binary map. The rules taken from
the MIT code:

* **Resolution.** ``saliency`` is resized to the reference's shape (the reference — map
  or fixation map — defines the grid), as MIT's ``imresize(saliencyMap, size(fixationMap))``.
  Here the resize is bilinear with anti-aliasing when shrinking (MATLAB's default is
  bicubic): bicubic overshoots and could make a non-negative map negative, which KLD
  cannot take.
* **Fixations** become a binary fixation map: a pixel fixated twice counts once
  (``F > 0`` in the MIT code). Give them as an ``(H, W)`` fixation map (any value > 0 is
  fixated) or as ``(N, 2)`` 0-based ``[row, col]`` points with the grid's ``shape`` (the
  SALICON loaders return that convention; 1-based files are converted there). Points
  outside the grid are an error.
* **Normalisation.** CC and NSS standardise with the sample standard deviation
  (MATLAB ``std``, ``ddof=1``; the correlation itself does not depend on it, NSS does by
  a factor ``sqrt(n/(n-1))``). SIM min–max normalises, then divides by the sum. KLD only
  divides by the sum and uses MATLAB's ``eps`` (2.2e-16) as the regulariser:
  ``sum(Q * log(eps + Q / (P + eps)))`` with ``P`` the map and ``Q`` the reference.
  AUC-Judd sweeps thresholds at the map's values at the fixated pixels; shuffled AUC
  sweeps thresholds ``0:step:max`` (step 0.1; MATLAB's colon operator, value for value:
  :func:`matlab_colon`) of the min–max normalised map against as many negatives as
  fixations drawn from other images' fixations, averaged over 100 draws.

Edge cases (each tested):

================  ======================================================================
constant map      Spearman, CC, NSS: NaN (no variance). SIM: NaN (MIT: min–max is 0/0).
                  KLD: defined (a uniform distribution). AUC-Judd, shuffled AUC: 0.5.
all-zero map      as a constant map, except SIM = 0 (MIT: "a zero map stays a zero map")
                  and KLD of an all-zero *reference* = 0.
no fixations      NSS, AUC-Judd, shuffled AUC: NaN (MIT returns NaN).
repeated fix.     counted once (binary fixation map).
other resolution  the map is resized to the reference; fixation points must lie on the
                  reference grid.
================  ======================================================================

Ties in AUC-Judd: the MIT code adds uniform noise of 1e-7 ("jitter") to break ties
between equal map values, so its result on maps with ties (click maps and thresholded maps
have large tied regions) is random. Pass ``rng`` to do exactly that. Without ``rng`` the
tied values are thresholded together — one ROC point per distinct fixated value, joined
by straight segments as MIT joins its points — which is deterministic, identical to the
MIT number when there are no ties, within a few hundredths of MIT's jitter average when
there are (tested), and 0.5 for a constant map.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from skimage.transform import resize

from ...core.seeding import as_generator

__all__ = [
    "MATLAB_EPS", "resize_map", "fixation_mask", "spearman", "cc", "nss", "sim", "kld",
    "auc_judd", "auc_shuffled", "matlab_colon", "MAP_METRICS", "FIXATION_METRICS",
]

#: MATLAB's ``eps``, the KLD regulariser of the MIT code.
MATLAB_EPS = np.finfo(np.float64).eps


def _as_map(m, name="map"):
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (H, W), got shape {m.shape}")
    if m.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(m).all():
        raise ValueError(f"{name} has NaN or infinite values")
    return m


def resize_map(m: ArrayLike, shape: tuple[int, int]) -> np.ndarray:
    """Resize a map to ``shape`` (H, W): bilinear, anti-aliased when shrinking.

    Parameters
    ----------
    m : ndarray, shape (h, w)
    shape : tuple of int

    Returns
    -------
    ndarray of float64, shape ``shape``
        ``m`` itself (as float) when it already has that shape.

    Examples
    --------
    >>> import numpy as np
    >>> resize_map(np.array([[0, 2], [4, 6]]), (3, 3))
    array([[0., 1., 2.],
           [2., 3., 4.],
           [4., 5., 6.]])
    """
    m = np.asarray(m, dtype=np.float64)
    shape = tuple(int(s) for s in shape)
    if m.shape == shape:
        return m
    # preserve_range: maps keep their units (counts, 0-255...) — the metrics normalise.
    # skimage anti-aliases a float image exactly when some axis shrinks (its default).
    return resize(m, shape, order=1, mode="edge", preserve_range=True)  # pragma: no mutate (float64 in: never rescaled)


def fixation_mask(fixations: ArrayLike, shape: tuple[int, int]) -> np.ndarray:
    """Binary fixation map on a grid.

    Parameters
    ----------
    fixations : ndarray, shape (H, W) or (N, 2)
        A fixation map (value > 0 = fixated) of shape ``shape``, or 0-based
        ``[row, col]`` points (repeats allowed; they count once).
    shape : tuple of int
        (H, W) of the grid.

    Returns
    -------
    mask : ndarray of bool, shape ``shape``

    Examples
    --------
    Points are 0-based ``[row, col]``; a repeat counts once:

    >>> import numpy as np
    >>> fixation_mask(np.array([[0, 0], [2, 1], [0, 0]]), (3, 3)).astype(int)
    array([[1, 0, 0],
           [0, 0, 0],
           [0, 1, 0]])
    """
    fix = np.asarray(fixations)
    shape = tuple(int(s) for s in shape)
    if not _is_points(fix):
        if fix.shape != shape:
            raise ValueError(f"fixation map has shape {fix.shape}, expected {shape}")
        return fix > 0
    pts = np.reshape(fix, (fix.size // 2, 2))  # (0, 2) for no points
    if not np.allclose(pts, np.rint(pts)):
        raise ValueError("fixation points must be integer pixel indices [row, col]")
    pts = np.rint(pts).astype(np.int64)
    outside = (pts[:, 0] < 0) | (pts[:, 0] >= shape[0]) | (pts[:, 1] < 0) | (pts[:, 1] >= shape[1])
    if outside.any():
        r, c = pts[outside][0]
        raise ValueError(f"{int(outside.sum())} fixation(s) outside the {shape[0]}x{shape[1]} grid, "
                         f"e.g. [row, col] = [{r}, {c}] (points are 0-based [row, col])")
    mask = np.zeros(shape, dtype=bool)
    mask[pts[:, 0], pts[:, 1]] = True
    return mask


def _pair(saliency, reference):
    ref = _as_map(reference, "reference")
    sal = resize_map(_as_map(saliency, "saliency"), ref.shape)
    return sal, ref


def _standardise(m):
    # Constancy is judged on the range, as in ``spearman``: the standard deviation of a
    # constant map is ~1e-17 rather than 0 whenever its mean rounds (a 7×9 map of 0.1), and
    # dividing by it gave NSS ≈ ±0.99 and CC ≈ 1e-17 where no variance means NaN.
    if np.ptp(m) == 0:  # (a one-pixel map too)
        return None
    return (m - m.mean()) / m.std(ddof=1)


def spearman(saliency: ArrayLike, reference: ArrayLike) -> float:
    """Spearman rank correlation over pixels (average ranks for ties).

    Not an MIT benchmark metric; it is the ClickMe papers' map similarity and the one
    the human split-half ceiling is computed with (:mod:`reveal.analysis.maps.reliability`).

    Parameters
    ----------
    saliency : array_like, shape (h, w)
        The map; resized to the reference's shape.
    reference : array_like, shape (H, W)
        The reference map.

    Returns
    -------
    float
        NaN when either map is constant.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    >>> ref = np.array([[0, 0, 1], [0, 1, 2], [1, 2, 4]])
    >>> print(f"{spearman(m, ref):.3f}")
    0.987
    >>> spearman(np.ones((3, 3)), ref)
    nan
    """
    sal, ref = _pair(saliency, reference)
    if np.ptp(sal) == 0 or np.ptp(ref) == 0:
        return float("nan")
    return float(stats.spearmanr(sal.ravel(), ref.ravel()).statistic)


def cc(saliency: ArrayLike, reference: ArrayLike) -> float:
    """Pearson linear correlation coefficient (MIT ``CC``). NaN for a constant map.

    Parameters
    ----------
    saliency : array_like, shape (h, w)
        The map; resized to the reference's shape.
    reference : array_like, shape (H, W)
        The reference map.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    >>> ref = np.array([[0, 0, 1], [0, 1, 2], [1, 2, 4]])
    >>> print(f"{cc(m, ref):.3f} {cc(ref, ref):.3f}")
    0.941 1.000
    """
    sal, ref = _pair(saliency, reference)
    a, b = _standardise(sal), _standardise(ref)
    if a is None or b is None:
        return float("nan")
    # corr2 of the two standardised maps
    return float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))


def nss(saliency: ArrayLike, fixations: ArrayLike, shape: tuple[int, int] | None = None) -> float:
    """Normalized scanpath saliency (MIT ``NSS``).

    Mean of the standardised map (``ddof=1``) over the fixated pixels.

    Parameters
    ----------
    saliency : ndarray, shape (h, w)
    fixations : ndarray, shape (H, W) fixation map, or (N, 2) 0-based [row, col]
    shape : tuple of int, optional
        (H, W) of the fixation grid when ``fixations`` are points; default ``saliency.shape``.

    Returns
    -------
    float
        NaN for a constant map or no fixations.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    >>> print(f"{nss(m, np.array([[2, 2], [1, 2]])):.3f}")  # fixations on the bright corner
    1.225
    """
    sal = _as_map(saliency, "saliency")
    mask = fixation_mask(fixations, _grid(fixations, shape, sal))
    sal = resize_map(sal, mask.shape)
    z = _standardise(sal)
    if z is None or not mask.any():
        return float("nan")
    return float(z[mask].mean())


def _is_points(fix):
    # (N, 2) is read as points: a fixation *map* two pixels wide is not a real case
    return fix.size == 0 or (fix.ndim == 2 and fix.shape[1] == 2)


def _grid(fixations, shape, sal):
    if shape is not None:
        return tuple(int(s) for s in shape)
    fix = np.asarray(fixations)
    return sal.shape if _is_points(fix) else fix.shape  # a fixation map defines its own grid


def sim(saliency: ArrayLike, reference: ArrayLike) -> float:
    """Similarity, i.e. histogram intersection (MIT ``similarity``).

    Each map is min–max normalised then divided by its sum (an all-zero map stays zero);
    SIM = sum of the pixel-wise minimum. 1 for identical maps, 0 for disjoint ones.

    Parameters
    ----------
    saliency : array_like, shape (h, w)
        The map; resized to the reference's shape.
    reference : array_like, shape (H, W)
        The reference map.

    Returns
    -------
    float
        NaN when a map is constant but not zero (MIT: 0/0 in the min–max step).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    >>> ref = np.array([[0, 0, 1], [0, 1, 2], [1, 2, 4]])
    >>> print(f"{sim(m, ref):.3f} {sim(ref, ref):.3f} {sim(np.eye(3), 1 - np.eye(3)):.3f}")
    0.828 1.000 0.000
    """
    sal, ref = _pair(saliency, reference)
    parts = []
    for m in (sal, ref):
        if not m.any():
            parts.append(m)
            continue
        span = np.ptp(m)
        if span == 0:
            return float("nan")
        m = (m - m.min()) / span  # pragma: no mutate (MIT's steps; * span: the scale cancels in the sum below)
        parts.append(m / m.sum())
    return float(np.minimum(*parts).sum())


def kld(saliency: ArrayLike, reference: ArrayLike) -> float:
    """Kullback–Leibler divergence of the map from the reference (MIT ``KLdiv``).

    ``sum(Q * log(eps + Q / (P + eps)))``, ``P`` = map / sum, ``Q`` = reference / sum
    (an all-zero map is left as zeros), ``eps`` = MATLAB's eps. 0 for identical maps;
    lower is better. Not symmetric.

    Parameters
    ----------
    saliency : array_like, shape (h, w)
        The map; resized to the reference's shape.
    reference : array_like, shape (H, W)
        The reference map.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For negative values (not a distribution).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    >>> ref = np.array([[0, 0, 1], [0, 1, 2], [1, 2, 4]])
    >>> print(f"{kld(m, ref):.3f} {abs(kld(ref, ref)):.3f}")
    0.156 0.000

    Not symmetric: a map that is zero where the reference has mass costs much more:

    >>> print(f"{kld(ref, m):.3f}")
    3.612
    """
    sal, ref = _pair(saliency, reference)
    if (sal < 0).any() or (ref < 0).any():
        raise ValueError("KLD needs non-negative maps")
    p = sal / sal.sum() if sal.any() else sal
    q = ref / ref.sum() if ref.any() else ref
    return float(np.sum(q * np.log(MATLAB_EPS + q / (p + MATLAB_EPS))))


def matlab_colon(a: float, step: float, b: float) -> np.ndarray:
    """MATLAB's ``a:step:b``, value for value (``step > 0``).

    Not ``a + step * arange(n)``: MATLAB decides the count with a tolerance of
    ``2 eps max(|a|, |b|)``, snaps the last value onto ``b`` when it lands within it, and
    builds the vector symmetrically — the first half as ``a + k step``, the second half
    as ``b - k step``, the middle (even count) as ``(a + b) / 2``. So ``0:0.1:1`` holds
    0.6 and 0.7 exactly where ``0.1 * arange`` holds 0.6000000000000001 and
    0.7000000000000001, and ``0:0.1:0.3`` ends at 0.3: a normalised map value of exactly
    0.7 passes MATLAB's threshold 0.7 and would fail ours. This follows MathWorks'
    description of the colon operator (Moler's ``colonop.m``).

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> import numpy as np
    >>> matlab_colon(0, 0.1, 0.3)
    array([0. , 0.1, 0.2, 0.3])
    >>> float(matlab_colon(0, 0.1, 1)[7]), float((0.1 * np.arange(11))[7])
    (0.7, 0.7000000000000001)
    """
    a, step, b = float(a), float(step), float(b)
    if not step > 0:
        raise ValueError("step must be positive")
    if b < a:
        return np.zeros(0)
    tol = 2.0 * MATLAB_EPS * max(abs(a), abs(b))
    n = int(np.round((b - a) / step))  # number of intervals
    if a + n * step - b > tol:
        n -= 1
    last = a + n * step
    if last - b > -tol:
        last = b
    out = np.empty(n + 1)
    k = np.arange(n // 2 + 1)
    out[k] = a + k * step
    out[n - k] = last - k * step
    if n % 2 == 0:
        out[n // 2] = (a + last) / 2
    return out


def _roc_area(tp, fp):
    # trapezoids over the curve, closed with (0, 0) and (1, 1) as in the MIT code
    tp = np.concatenate([[0.0], tp, [1.0]])
    fp = np.concatenate([[0.0], fp, [1.0]])
    return float(np.sum(np.diff(fp) * (tp[1:] + tp[:-1]) / 2))


def auc_judd(saliency: ArrayLike, fixations: ArrayLike, shape: tuple[int, int] | None = None,
             rng: int | np.random.Generator | None = None) -> float:
    """Area under the ROC curve, Judd's variant (MIT ``AUC_Judd``).

    Thresholds are the map's values at the fixated pixels; true positives are fixated
    pixels at or above the threshold, false positives all other pixels at or above it.
    Ties: see the module docstring.

    Parameters
    ----------
    saliency : ndarray, shape (h, w)
    fixations : ndarray, shape (H, W) fixation map, or (N, 2) 0-based [row, col]
    shape : tuple of int, optional
        Grid of point fixations; default ``saliency.shape``.
    rng : None, int or numpy.random.Generator, optional
        Jitter the map with uniform noise of 1e-7 first, as the MIT code does (None: no jitter).

    Returns
    -------
    float
        In [0, 1]; NaN without fixations or when every pixel is fixated.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    >>> print(f"{auc_judd(m, np.array([[2, 2], [1, 2]])):.3f}")
    0.964
    >>> auc_judd(np.ones((3, 3)), np.array([[2, 2], [1, 2]]))  # constant map: chance
    0.5
    """
    sal = _as_map(saliency, "saliency")
    mask = fixation_mask(fixations, _grid(fixations, shape, sal))
    s = resize_map(sal, mask.shape)
    if rng is not None:
        # MIT: rand(size(saliencyMap))/10000000, ties broken at random
        s = s + as_generator(rng).random(s.shape) / 1e7  # pragma: no mutate (any tiny jitter breaks ties alike)
    s = s.ravel()
    f = mask.ravel()
    n_fix, n_pix = int(f.sum()), f.size
    if n_fix == 0 or n_fix == n_pix:
        return float("nan")
    thresholds = np.unique(s[f])[::-1]  # descending, one per distinct fixated value
    s_sorted = np.sort(s)
    fix_sorted = np.sort(s[f])
    above_all = n_pix - np.searchsorted(s_sorted, thresholds, side="left")
    above_fix = n_fix - np.searchsorted(fix_sorted, thresholds, side="left")
    tp = above_fix / n_fix
    fp = (above_all - above_fix) / (n_pix - n_fix)
    return _roc_area(tp, fp)


def auc_shuffled(saliency: ArrayLike, fixations: ArrayLike, other_fixations: ArrayLike,
                 rng: np.random.Generator | int | None = None, shape: tuple[int, int] | None = None,
                 n_splits: int = 100, step: float = 0.1) -> float:
    """Shuffled AUC (MIT ``AUC_shuffled``, after Borji): negatives from other images.

    The map is min–max normalised (a constant map becomes all zeros). For each of
    ``n_splits`` draws, as many negatives as fixations (at most as many as there are)
    are drawn without replacement from the pixels fixated on *other* images; the ROC
    sweeps thresholds ``0, step, ..., max``; the score is the mean area. Centre bias is
    thereby discounted: a map that only predicts "the centre" scores about 0.5.

    Parameters
    ----------
    saliency : ndarray, shape (h, w)
    fixations, other_fixations : ndarray
        Fixation map (H, W) or 0-based (N, 2) [row, col] points; ``other_fixations`` is
        the union of other images' fixations on the same grid.
    rng : None, int or numpy.random.Generator
    shape : tuple of int, optional
        Grid of point fixations; default ``saliency.shape``.
    n_splits : int
    step : float
        Threshold step on the normalised map (MIT default 0.1).

    Returns
    -------
    float
        NaN without fixations or without other-image fixations.

    Examples
    --------
    Fixations on the bright corner; the other images' fixations on the dark one:

    >>> import numpy as np
    >>> m = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    >>> auc_shuffled(m, np.array([[2, 2], [1, 2]]), np.array([[0, 0], [0, 1], [1, 0]]), rng=0)
    1.0
    """
    rng = as_generator(rng)
    sal = _as_map(saliency, "saliency")
    grid = _grid(fixations, shape, sal)
    mask = fixation_mask(fixations, grid)
    other = fixation_mask(other_fixations, grid)
    s = resize_map(sal, grid).ravel()
    span = np.ptp(s)
    s = (s - s.min()) / span if span > 0 else np.zeros_like(s)
    pos = s[mask.ravel()]
    candidates = np.flatnonzero(other.ravel())
    if pos.size == 0 or candidates.size == 0:
        return float("nan")
    n_neg = min(pos.size, candidates.size)
    areas = np.empty(n_splits)
    for i in range(n_splits):
        neg = s[rng.permutation(candidates)[:n_neg]]
        top = max(pos.max(), neg.max())
        thresholds = matlab_colon(0.0, step, top)[::-1]  # pragma: no mutate (MIT's fliplr(0:step:max); < 0 adds (1,1)s)
        tp = (pos[None, :] >= thresholds[:, None]).mean(axis=1)
        fp = (neg[None, :] >= thresholds[:, None]).mean(axis=1)
        areas[i] = _roc_area(tp, fp)
    return float(areas.mean())


#: Metrics between two maps: name -> function(saliency, reference).
MAP_METRICS = {"spearman": spearman, "cc": cc, "sim": sim, "kld": kld}
#: Metrics against fixations: name -> function(saliency, fixations, shape=...).
FIXATION_METRICS = {"nss": nss, "auc_judd": auc_judd}

