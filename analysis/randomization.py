"""Randomization tests across levels with family-wise control by the max statistic.

The API follows MNE's ``permutation_t_test`` in spirit: data in as an observers × levels
matrix, one call tests every level, and the result carries the observed statistic, the
per-level p-values, the family-wise p-values and the null distributions.

Why not just ``scipy.stats.permutation_test``? It computes the same thing (and the tests
check agreement with it), but here one resample shuffles the observers' group labels once
and evaluates *every* level with that same shuffle through three small matrix products
(group sums, counts and sums of squares), so 10,000 resamples × 12 levels take tens of
milliseconds, and because every level of a resample shares one permutation, the
distribution of the maximum over levels is the exact max-statistic null (Westfall & Young;
Nichols & Holmes 2002). NaN cells (an observer with no trial at a level) are masked.

p-values are ``(count + 1) / (resamples + 1)`` (the observed labelling counts as one of the
resamples: Phipson & Smyth 2010), so they are never 0 and are valid at any resample count.

Levels where the statistic is undefined — no variance at all, as when every observer is
at ceiling — are *not tested*: their statistic and p-values are NaN, ``defined`` is False,
and they take no part in the max-statistic (a constant level cannot produce a false
positive, so leaving it out loses no control and gains power).
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from ..core.seeding import as_generator

__all__ = [
    "PermutationTestResult", "permutation_group_test", "sign_flip_test", "welch_t", "bootstrap_group_effects",
    "hedges_g", "with_alternative",
]

_ALTERNATIVES = ("two-sided", "greater", "less")
#: Relabellings drawn at once: memory, not results (the null is the same for any batch size).
BATCH = 2_000  # pragma: no mutate (the batch size sets memory only: test_batches_do_not_change_the_null)
_VAR_TOL = 1e-12  # variances below this are zero (sums of squares of accuracies round to ~1e-16)
# Resampled statistics equal to the observed one up to rounding count as "as extreme".
# Accuracies are fractions of ~7 trials, so many relabellings give mathematically *equal*
# t values (e.g. the same |difference| on the lattice 1/(7n) with the same pooled SS); the
# sums-of-squares route computes them with ~1e-13 relative error, so scipy's 1e-14
# tolerance would break such ties at random and make p too small. Distinct t values of
# real data differ by far more than 1e-9 relative.
_CMP_EPS = 1e-9
# A relative tolerance alone fails at an observed effect of exactly zero: the observed
# statistic then comes out as ±1e-16…1e-14 (round-off of a difference of equal sums) and so
# do the many resamples that are also exactly zero, so ``|null| >= |observed|`` splits
# them at random and a two-sided p that must be 1 came out 0.88–0.99. Hence an absolute
# floor, in units of the statistic's scale (1 for t; the data's largest |value| for a
# mean difference): round-off is < 1e-12 of it, and the smallest real non-zero effect —
# one trial of one observer, 1/(trials·n) of the scale — is > 1e-6 of it.
_CMP_ABS = 1e-9


@dataclasses.dataclass
class PermutationTestResult:
    """Result of :func:`permutation_group_test` or :func:`sign_flip_test`.

    Attributes
    ----------
    statistic : ndarray, shape (n_levels,)
        Observed statistic per level (NaN where undefined).
    pvalue : ndarray, shape (n_levels,)
        Per-level randomization p-value.
    pvalue_fwer : ndarray, shape (n_levels,)
        Family-wise p-value across levels (max-statistic); always ``>= pvalue``.
    null_distribution : ndarray, shape (n_resamples, n_levels)
        Statistic under each resample.
    max_null : ndarray, shape (n_resamples,)
        Maximum over (defined) levels of the resampled extremeness (|t| for two-sided).
    defined : ndarray of bool, shape (n_levels,)
        Where the statistic exists (False at levels with no variance, e.g. ceiling).
    alternative : str
    n_resamples : int
    statistic_name : str
    tie_scale : float
        Scale of the statistic for the absolute tie tolerance (1 for t, the data's largest
        |value| for a mean difference), kept so that :func:`with_alternative` uses the same.
    """

    statistic: np.ndarray
    pvalue: np.ndarray
    pvalue_fwer: np.ndarray
    null_distribution: np.ndarray
    max_null: np.ndarray
    defined: np.ndarray
    alternative: str
    n_resamples: int
    statistic_name: str
    tie_scale: float = 1.0  # pragma: no mutate (a default for readers' own results: every test here passes it)


def _nonnegative(x):
    """Sums of squares minus their mean part, clipped at 0 (rounding leaves -1e-17, never -1)."""
    return np.maximum(x, 0.0)  # pragma: no mutate (0 → -1: rounding never goes below 0 by 1)


def _check(alternative, n_resamples):
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    if int(n_resamples) < 1:
        raise ValueError("n_resamples must be >= 1")


def _extremeness(stat: np.ndarray, alternative: str) -> np.ndarray:
    """Statistic mapped so that larger is more extreme; NaN → -inf (never extreme)."""
    e = np.abs(stat) if alternative == "two-sided" else (stat if alternative == "greater" else -stat)
    return np.where(np.isnan(e), -np.inf, e)


def _pvalues(null: np.ndarray, observed: np.ndarray, defined: np.ndarray, alternative: str, scale: float):
    """Per-level and family-wise p-values; ``scale`` sets the absolute tie floor (see ``_CMP_ABS``)."""
    e_null = _extremeness(null, alternative)
    e_null[:, ~defined] = -np.inf
    e_obs = _extremeness(observed, alternative)
    # (÷ scale for × differs by < 1e-8 where scale ≤ 1: the tie floor, not a result)
    floor = np.maximum(np.abs(e_obs) * _CMP_EPS, _CMP_ABS * scale)  # pragma: no mutate (see above)
    gamma = np.where(np.isfinite(e_obs), floor, 0.0)  # pragma: no mutate (0 or 1 at ±inf: inf − 1 is inf)
    threshold = e_obs - gamma
    count = (e_null >= threshold).sum(axis=0)  # pragma: no mutate (>= or >: ties sit within γ of the threshold)
    max_null = e_null.max(axis=1) if e_null.shape[1] else np.full(len(e_null), -np.inf)
    count_max = (max_null[:, None] >= threshold[None, :]).sum(axis=0)  # pragma: no mutate (as two lines up)
    b = null.shape[0]
    p = np.where(defined, (count + 1) / (b + 1), np.nan)
    p_fwer = np.where(defined, (count_max + 1) / (b + 1), np.nan)
    return p, p_fwer, max_null


def welch_t(sum_a: ArrayLike, sumsq_a: ArrayLike, n_a: ArrayLike, sum_b: ArrayLike, sumsq_b: ArrayLike,
            n_b: ArrayLike, statistic: str = "welch_t") -> np.ndarray:
    """Welch's t (or the mean difference) from group sums; broadcasts over any shape.

    Returns NaN where a group has fewer than 2 observations, 0 where both groups are
    constant and equal, and ±inf where both are constant but differ.

    Parameters
    ----------
    sum_a, sumsq_a, n_a, sum_b, sumsq_b, n_b : array_like
        Sum, sum of squares and count of the values of group a and of group b.
    statistic : {"welch_t", "mean_difference"}

    Returns
    -------
    ndarray
        The statistic, broadcast shape of the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.array([0.9, 0.8, 0.85]), np.array([0.6, 0.7, 0.65])
    >>> t = welch_t(a.sum(), (a ** 2).sum(), a.size, b.sum(), (b ** 2).sum(), b.size)
    >>> print(f"{t:.3f}")  # as scipy.stats.ttest_ind(a, b, equal_var=False)
    4.899

    Constant groups: (1, 1) against (0.5, 0.5), and (1, 1) against (1, 1):

    >>> welch_t(2.0, 2.0, 2, np.array([1.0, 2.0]), np.array([0.5, 2.0]), 2)
    array([inf,  0.])
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_a, mean_b = sum_a / n_a, sum_b / n_b
        diff = mean_a - mean_b
        if statistic == "mean_difference":
            return np.where((n_a >= 1) & (n_b >= 1), diff, np.nan)  # pragma: no mutate (n = 0: 0/0, NaN anyway)
        var_a = _nonnegative(sumsq_a - sum_a * mean_a) / (n_a - 1)
        var_b = _nonnegative(sumsq_b - sum_b * mean_b) / (n_b - 1)
        se2 = var_a / n_a + var_b / n_b
        zero = se2 < _VAR_TOL  # pragma: no mutate (< or <=: a variance exactly at the tolerance has measure 0)
        safe = np.where(zero, 1.0, se2)  # pragma: no mutate (a placeholder: t is set where zero, two lines on)
        t = diff / np.sqrt(safe)
        t = np.where(zero, np.where(np.abs(diff) < 1e-12, 0.0, np.sign(diff) * np.inf), t)
        # a group of one has variance 0/0 = NaN, so t is NaN there anyway: the guard says so
        return np.where((n_a >= 2) & (n_b >= 2), t, np.nan)  # pragma: no mutate (see the line above)


def _progress(total, enabled, desc):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="resample",
                leave=False)  # pragma: no mutate (leave=True keeps the bar on screen: nothing computed changes)


def permutation_group_test(data: ArrayLike, groups: ArrayLike, *, rng: np.random.Generator | int | None = None,
                           n_resamples: int = 10_000, statistic: str = "welch_t", alternative: str = "two-sided",
                           order: tuple | None = None, batch_size: int = BATCH,
                           progress: bool = False) -> PermutationTestResult:
    """Randomization test between two groups of observers at every level.

    Shuffles the observers' group labels; each resample applies one shuffle to all levels.

    Parameters
    ----------
    data : array_like, shape (n_observers, n_levels)
        One value per observer and level (e.g. accuracy); NaN = missing cell.
    groups : array_like, shape (n_observers,)
        Group label of each observer; exactly two distinct labels.
    rng : None, int or numpy.random.Generator
        Source of the permutations.
    n_resamples : int
        Number of random relabellings.
    statistic : {"welch_t", "mean_difference"}
        Studentised (Welch t, the default: the max over levels needs comparable scales)
        or raw difference of means.
    alternative : {"two-sided", "greater", "less"}
        "greater": the first group of ``order`` has the larger mean.
    order : tuple of two labels, optional
        (a, b): the statistic is a − b. Default: sorted labels.
    batch_size : int
        Resamples per matrix product (bounds memory).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    PermutationTestResult

    Examples
    --------
    Three observers per group at two levels; at the second every observer is at ceiling,
    so that level is not tested:

    >>> import numpy as np
    >>> data = np.array([[0.9, 1.0], [0.8, 1.0], [0.85, 1.0], [0.6, 1.0], [0.7, 1.0], [0.65, 1.0]])
    >>> res = permutation_group_test(data, ["a", "a", "a", "b", "b", "b"], rng=0, n_resamples=999)
    >>> np.round(res.statistic, 3), np.round(res.pvalue, 3), res.defined
    (array([4.899,   nan]), array([0.103,   nan]), array([ True, False]))
    """
    rng = as_generator(rng)
    _check(alternative, n_resamples)
    if statistic not in ("welch_t", "mean_difference"):
        raise ValueError(f"unknown statistic {statistic!r}")
    x = np.asarray(data, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    groups = np.asarray(groups)
    if groups.shape != (x.shape[0],):
        raise ValueError("groups must have one label per observer (row of data)")
    labels = tuple(order) if order is not None else tuple(sorted(set(groups.tolist())))
    if len(labels) != 2 or not set(groups.tolist()) <= set(labels):
        raise ValueError(f"need exactly two groups, got {sorted(set(groups.tolist()))}")
    is_a = (groups == labels[0]).astype(float)
    mask = np.isfinite(x).astype(float)
    xf = np.where(mask > 0, x, 0.0)
    x2 = xf * xf
    tot_n, tot_s, tot_q = mask.sum(0), xf.sum(0), x2.sum(0)

    def stats_for(indicator):  # indicator: (b, n) of 0/1 for group a
        n_a, s_a, q_a = indicator @ mask, indicator @ xf, indicator @ x2
        return welch_t(s_a, q_a, n_a, tot_s - s_a, tot_q - q_a, tot_n - n_a, statistic)

    observed = stats_for(is_a[None, :])[0]  # pragma: no mutate (one row: [0] is [-1])
    # Undefined levels: no variance anywhere (ceiling) or too few observers in a group.
    # max(n, 1): no 0/0 at a level nobody has; a level of fewer than 2 observers is undefined above anyway
    n_or_1 = np.maximum(tot_n, 1)  # pragma: no mutate (so 2 or 0 for 1 change nothing)
    total_var = _nonnegative(tot_q - tot_s ** 2 / n_or_1)
    defined = ~np.isnan(observed)
    defined &= total_var > _VAR_TOL  # pragma: no mutate (> or >=: a variance exactly at the tolerance has measure 0)
    observed = np.where(defined, observed, np.nan)

    null = _null_distribution(stats_for, lambda b: rng.permuted(np.broadcast_to(is_a, (b, is_a.size)), axis=1),
                              int(n_resamples), x.shape[1], batch_size, progress, "randomization test")
    scale = _scale(statistic, xf)
    p, p_fwer, max_null = _pvalues(null, observed, defined, alternative, scale)
    return PermutationTestResult(observed, p, p_fwer, null, max_null, defined, alternative, int(n_resamples),
                                 statistic, scale)


def _scale(statistic, values):
    """Scale of a statistic for the absolute tie floor: 1 for t, the data's largest |value| otherwise."""
    if statistic in ("welch_t", "t"):
        return 1.0
    top = float(np.max(np.abs(values), initial=0.0))  # pragma: no mutate (|x| >= 0: -1 gives the same; none: 1)
    return top if top > 0 else 1.0


def _null_distribution(stats_for, draw, n_resamples, n_levels, batch_size, progress, what):
    """The statistic under ``n_resamples`` relabellings, drawn ``batch_size`` at a time.

    ``draw(b)`` returns b relabellings (rows); ``stats_for`` maps them to (b, n_levels).
    """
    null = np.empty((n_resamples, n_levels))
    bar = _progress(n_resamples, progress, what)
    for start in range(0, n_resamples, batch_size):
        b = min(batch_size, n_resamples - start)
        null[start:start + b] = stats_for(draw(b))
        if bar is not None:
            bar.update(b)
    if bar is not None:
        bar.close()
    return null


def sign_flip_test(differences: ArrayLike, *, rng: np.random.Generator | int | None = None, n_resamples: int = 10_000,
                   statistic: str = "t", alternative: str = "two-sided", batch_size: int = BATCH,
                   progress: bool = False) -> PermutationTestResult:
    """Paired randomization test: flip the sign of each observer's differences.

    For the same observers in two conditions (e.g. accuracy at a level minus accuracy on
    intact images). Each resample flips one observer's signs at every level together, so
    the max-statistic null is exact, as in :func:`permutation_group_test`.

    Parameters
    ----------
    differences : array_like, shape (n_observers, n_levels)
        Paired differences; NaN = missing.
    rng : None, int or numpy.random.Generator
    n_resamples : int
    statistic : {"t", "mean"}
        One-sample t (default) or the mean difference.
    alternative : {"two-sided", "greater", "less"}
    batch_size : int
    progress : bool

    Returns
    -------
    PermutationTestResult

    Examples
    --------
    Five observers' accuracy at two levels minus their accuracy on intact images:

    >>> import numpy as np
    >>> d = np.array([[0.1, 0.2], [0.2, 0.1], [0.15, -0.05], [0.3, 0.0], [0.25, 0.1]])
    >>> res = sign_flip_test(d, rng=0, n_resamples=999)
    >>> np.round(res.statistic, 3), np.round(res.pvalue, 3)
    (array([5.657, 1.606]), array([0.065, 0.241]))
    """
    rng = as_generator(rng)
    _check(alternative, n_resamples)
    if statistic not in ("t", "mean"):
        raise ValueError(f"unknown statistic {statistic!r}")
    d = np.asarray(differences, dtype=float)
    if d.ndim == 1:
        d = d[:, None]
    mask = np.isfinite(d)
    df = np.where(mask, d, 0.0)
    n = mask.sum(0).astype(float)
    q = (df * df).sum(0)  # unchanged by sign flips

    def stats_for(signs):  # (b, n_obs) of ±1
        s = signs @ df
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = s / n
            if statistic == "mean":
                return np.where(n >= 1, mean, np.nan)  # pragma: no mutate (n = 0: 0/0, NaN anyway)
            var = _nonnegative(q - s * mean) / (n - 1)
            zero = var < _VAR_TOL  # pragma: no mutate (< or <=: a variance exactly at the tolerance has measure 0)
            safe = np.where(zero, 1.0, var)  # pragma: no mutate (a placeholder: t is set where zero, two lines on)
            t = mean / np.sqrt(safe / n)
            # no variance: ±inf; every difference 0 (mean 0 too) is a level left untested below, so its
            # NaN (0 · inf) is never read
            t = np.where(zero, np.sign(mean) * np.inf, t)
            return np.where(n >= 2, t, np.nan)  # pragma: no mutate (n = 1: variance 0/0, NaN anyway)

    observed = stats_for(np.ones(d.shape[0])[None])[0]  # pragma: no mutate (every sign kept: the data; [0] is [-1])
    has_differences = q > _VAR_TOL  # pragma: no mutate (> or >=: a sum of squares exactly at the tolerance: measure 0)
    defined = ~np.isnan(observed) & has_differences  # all-zero differences: nothing to test
    observed = np.where(defined, observed, np.nan)
    null = _null_distribution(stats_for, lambda b: rng.integers(0, 2, size=(b, d.shape[0])) * 2.0 - 1.0,
                              int(n_resamples), d.shape[1], batch_size, progress, "sign-flip test")
    scale = _scale(statistic, df)
    p, p_fwer, max_null = _pvalues(null, observed, defined, alternative, scale)
    return PermutationTestResult(observed, p, p_fwer, null, max_null, defined, alternative, int(n_resamples),
                                 statistic, scale)


def hedges_g(a: ArrayLike, b: ArrayLike, axis: int = 0) -> np.ndarray:
    """Hedges' g (bias-corrected standardised mean difference a − b) along ``axis``; NaN-aware.

    Parameters
    ----------
    a, b : array_like
        Values of the two groups (NaN = missing).
    axis : int
        Axis of the observers.

    Returns
    -------
    ndarray
        NaN where the pooled standard deviation is 0.

    Examples
    --------
    >>> import numpy as np
    >>> np.round(hedges_g([[0.9, 1.0], [0.8, 1.0], [0.85, 1.0]], [[0.6, 1.0], [0.7, 1.0], [0.65, 1.0]]), 3)
    array([3.2, nan])
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = np.sum(np.isfinite(a), axis=axis), np.sum(np.isfinite(b), axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        va, vb = np.nanvar(a, axis=axis, ddof=1), np.nanvar(b, axis=axis, ddof=1)
        pooled = np.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
        d = (np.nanmean(a, axis=axis) - np.nanmean(b, axis=axis)) / pooled
        correction = 1 - 3 / (4 * (na + nb) - 9)
        return np.where(pooled > 0, d * correction, np.nan)


def _mean_difference(a, b, axis):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis) - np.nanmean(b, axis=axis)


def bootstrap_group_effects(a: ArrayLike, b: ArrayLike, *, rng: np.random.Generator | int | None = None,
                            n_resamples: int = 10_000, confidence: float = 0.95,
                            method: str = "BCa") -> dict[str, np.ndarray]:
    """Effect sizes between two groups at every level with bootstrap confidence intervals.

    Uses ``scipy.stats.bootstrap`` (observers resampled within each group, vectorised over
    levels).

    Parameters
    ----------
    a, b : array_like, shape (n_a, n_levels), (n_b, n_levels)
        Per-observer values (NaN = missing).
    rng : None, int or numpy.random.Generator
    n_resamples : int
    confidence : float
    method : {"BCa", "percentile", "basic"}

    Returns
    -------
    dict of ndarray, each shape (n_levels,)
        ``difference, difference_low, difference_high, hedges_g, g_low, g_high``. Where the
        data have no variance (ceiling) the difference CI collapses to the point estimate
        and g is NaN. A group of fewer than two observers has no bootstrap distribution (and
        no variance): the difference is kept, every interval and g are NaN.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[0.9], [0.8], [0.85], [0.95], [0.7]])
    >>> b = np.array([[0.6], [0.7], [0.65], [0.8], [0.5]])
    >>> eff = bootstrap_group_effects(a, b, rng=0, n_resamples=999)
    >>> {k: np.round(v, 2).tolist() for k, v in eff.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'difference': [0.19], 'difference_low': [0.07], 'difference_high': [0.3],
     'hedges_g': [1.65], 'g_low': [0.25], 'g_high': [2.88]}
    """
    rng = as_generator(rng)
    a, b = np.asarray(a, float), np.asarray(b, float)
    if min(len(a), len(b)) < 2:  # e.g. a pilot whose exclusions leave one observer in a group
        nan = np.full(a.shape[1:], np.nan)
        return {"difference": _mean_difference(a, b, axis=0), "difference_low": nan, "difference_high": nan,
                "hedges_g": nan, "g_low": nan, "g_high": nan}
    out = {}
    for name, func in (("difference", _mean_difference), ("g", hedges_g)):
        estimate = func(a, b, axis=0)
        with warnings.catch_warnings():
            # degenerate (ceiling) levels, handled below: scipy's DegenerateDataWarning (a
            # RuntimeWarning) and numpy's "invalid value encountered" in the BCa jackknife
            warnings.simplefilter("ignore", RuntimeWarning)
            # batch: memory only (scipy draws the same resamples in batches of any size)
            res = stats.bootstrap((a, b), func, n_resamples=int(n_resamples), vectorized=True, axis=0,
                                  confidence_level=confidence, method=method, rng=rng,
                                  batch=1000)  # pragma: no mutate (see the line above)
        low, high = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
        # a bound the bootstrap could not give (no variation: a ceiling level) is the estimate
        low = np.where(np.isfinite(low), low, estimate)
        high = np.where(np.isfinite(high), high, estimate)
        key = "hedges_g" if name == "g" else "difference"
        out[key] = estimate
        out[f"{'g' if name == 'g' else 'difference'}_low"] = low
        out[f"{'g' if name == 'g' else 'difference'}_high"] = high
    return out


def with_alternative(result: PermutationTestResult, alternative: str) -> PermutationTestResult:
    """The same test read with another alternative, from the same resamples (no new draws).

    Examples
    --------
    >>> import numpy as np
    >>> res = permutation_group_test([0.9, 0.8, 0.85, 0.6, 0.7, 0.65], ["a"] * 3 + ["b"] * 3,
    ...                              rng=0, n_resamples=999)
    >>> print(f"{res.pvalue[0]:.3f} {with_alternative(res, 'greater').pvalue[0]:.3f}")
    0.103 0.050
    """
    _check(alternative, result.n_resamples)
    p, p_fwer, max_null = _pvalues(result.null_distribution, result.statistic, result.defined, alternative,
                                   result.tie_scale)
    return dataclasses.replace(result, pvalue=p, pvalue_fwer=p_fwer, max_null=max_null, alternative=alternative)
