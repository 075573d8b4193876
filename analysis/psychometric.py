"""Psychometric fits with psignifit 4 (2AFC, stimulus = log10 % of features revealed).

The task is animal vs non-animal with balanced categories, so chance is 50 % and the fit
is psignifit's 2AFC model (guess rate fixed at 0.5; lapse rate, threshold, width and
overdispersion fitted). The intact-image (``full``) condition has no x value and is not
part of the fit.

Reported per fit:

* ``threshold_pct``: the % revealed where the *fitted* curve is at ``threshold_p_correct``
  (default 75 % correct, lapses included), with a credible interval from posterior samples
  (``psignifit(..., debug=True)`` then ``Result.posterior_samples``): the 75 % point is
  computed for every sample and its percentiles taken. psignifit's own ``Result.threshold``
  interval for a proportion other than its fitted one is only a conservative bound (its
  docstring says so), hence the sampling.
* ``ceiling_pct``: where the fitted curve reaches ``ceiling_fraction`` (default 95 %) of the
  way from chance to its upper asymptote, with the same kind of interval.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from ..core.seeding import as_generator

__all__ = ["PsychometricFit", "fit_data", "fit_psychometric"]


@dataclasses.dataclass
class PsychometricFit:
    """One psignifit fit (all x in percent of the feature budget revealed)."""

    threshold_pct: float
    threshold_low: float
    threshold_high: float
    ceiling_pct: float
    ceiling_low: float
    ceiling_high: float
    lapse: float
    width_log10: float
    n_trials: int
    threshold_p_correct: float
    credible_mass: float
    result: object = dataclasses.field(repr=False, default=None)

    def curve(self, x_pct):
        """Fitted proportion correct at ``x_pct`` (percent revealed)."""
        return self.result.proportion_correct(np.log10(np.asarray(x_pct, float)))


def fit_data(x_pct, n_correct, n_trials) -> np.ndarray:
    """The rows psignifit fits: ``log10 x, correct, trials`` of the levels that have trials.

    Parameters
    ----------
    x_pct : array_like, shape (n_levels,)
        Percent of the feature budget revealed (> 0).
    n_correct, n_trials : array_like of int, shape (n_levels,)

    Returns
    -------
    ndarray, shape (n_kept, 3)

    Raises
    ------
    ValueError
        When fewer than 3 levels have trials.

    Examples
    --------
    >>> fit_data([1, 10, 100, 50], [1, 3, 4, 0], [2, 4, 4, 0])
    array([[0., 1., 2.],
           [1., 3., 4.],
           [2., 4., 4.]])
    """
    x = np.asarray(x_pct, float)
    k = np.asarray(n_correct, float)
    n = np.asarray(n_trials, float)
    keep = n > 0
    if keep.sum() < 3:
        raise ValueError("a psychometric fit needs at least 3 levels with trials")
    return np.column_stack([np.log10(x[keep]), k[keep], n[keep]])


def fit_psychometric(x_pct, n_correct, n_trials, *, rng=None, threshold_p_correct=0.75, ceiling_fraction=0.95,
                     credible_mass=0.95, sigmoid="norm",
                     n_samples=4000) -> PsychometricFit:  # pragma: no mutate (4001: the same within MC error)
    """Fit a 2AFC psychometric function to accuracy against % of features revealed.

    Parameters
    ----------
    x_pct : array_like, shape (n_levels,)
        Percent of the feature budget revealed (> 0).
    n_correct, n_trials : array_like of int, shape (n_levels,)
        Trials correct and trials at each level (levels with 0 trials are dropped).
    rng : None, int or numpy.random.Generator
        For the posterior samples behind the credible intervals.
    threshold_p_correct : float
        Proportion correct that defines the threshold.
    ceiling_fraction : float
        Share of the way from chance to the upper asymptote that counts as ceiling.
    credible_mass : float
        Mass of the credible intervals.
    sigmoid : str
        psignifit sigmoid name (``norm`` = cumulative Gaussian in log10 %).
    n_samples : int
        Posterior samples for the intervals.

    Returns
    -------
    PsychometricFit

    Examples
    --------
    24 trials at each of six levels, from chance to ceiling (the fit takes a few seconds):

    >>> fit = fit_psychometric([1, 2.5, 6.3, 15.8, 39.8, 100], [11, 13, 17, 22, 24, 24], [24] * 6,
    ...                        rng=0, n_samples=500)
    >>> print(f"75 % correct at {fit.threshold_pct:.1f} % revealed, {fit.n_trials} trials")
    75 % correct at 7.5 % revealed, 144 trials
    >>> bool(fit.threshold_low < fit.threshold_pct < fit.threshold_high < fit.ceiling_pct)
    True
    >>> [round(float(p), 2) for p in fit.curve([1, 100])]
    [0.5, 1.0]
    """
    rng = as_generator(rng)
    import psignifit  # imported here: the fit is the only user and the import is not free

    data = fit_data(x_pct, n_correct, n_trials)
    with warnings.catch_warnings():
        # psignifit's own UserWarnings about the data (few trials per block) and the grid
        # bounds ("psignifit:boundWarning"): those fits are still reported, with their (wide)
        # intervals saying how little the data constrain them. With verbose=False psignifit 4.3
        # does not issue them (nor any other warning, in fits of ceiling, floor, chance, one
        # trial per level); filtered by message in case a version does. Other warnings show.
        for message in (r"psignifit:boundWarning", r"All blocks in data have only 1 trial",
                        r"All provided data blocks contain <= 5 trials"):  # pragma: no mutate (4.3 issues none)
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        result = psignifit.psignifit(data, experiment_type="2AFC", sigmoid=sigmoid,
                                     verbose=False,  # pragma: no mutate (4.3 prints or warns nothing more)
                                     debug=True)
    est = result.parameter_estimate_MAP
    sig = result.configuration.make_sigmoid()
    samples = result.posterior_samples(n_samples, random_state=rng)

    def point_and_interval(pc_scaled_fn):
        point = pc_scaled_fn(est["threshold"], est["width"], est["gamma"], est["lambda"])
        draws = pc_scaled_fn(samples["threshold"], samples["width"], samples["gamma"], samples["lambda"])
        draws = draws[np.isfinite(draws)]
        tail = (1 - credible_mass) / 2 * 100
        lo, hi = np.percentile(draws, [tail, 100 - tail]) if draws.size else (np.nan, np.nan)
        return 10 ** float(point), 10 ** float(lo), 10 ** float(hi)

    with np.errstate(all="ignore"):
        # Scaled → unscaled by hand: a posterior sample whose lapse rate is too high to reach pc
        # has no threshold (NaN, dropped from the interval). Sigmoid.inverse(pc, t, w, gamma,
        # lambda) raised for the whole array on such a sample; psignifit 4.3's inverse of the
        # unscaled pc already gives NaN for them, so the guard below changes nothing there.
        thr = point_and_interval(lambda t, w, g, lapse: sig.inverse(np.where(
            1 - lapse > threshold_p_correct,  # pragma: no mutate (see above: 4.3 gives NaN itself)
            (threshold_p_correct - g) / (1 - lapse - g), np.nan), t, w))
        # Ceiling: the unscaled sigmoid at ceiling_fraction (independent of gamma/lambda).
        ceil = point_and_interval(lambda t, w, g, lapse: sig.inverse(ceiling_fraction, t, w, 0.0, 0.0))
    return PsychometricFit(threshold_pct=thr[0], threshold_low=thr[1], threshold_high=thr[2],
                           ceiling_pct=ceil[0], ceiling_low=ceil[1], ceiling_high=ceil[2],
                           lapse=float(est["lambda"]), width_log10=float(est["width"]),
                           n_trials=int(np.asarray(n_trials).sum()),
                           threshold_p_correct=threshold_p_correct, credible_mass=credible_mass, result=result)
