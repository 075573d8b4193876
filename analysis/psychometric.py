"""Psychometric fits with psignifit 4 (2AFC, stimulus = log10 % of features revealed).

The task is animal vs non-animal with balanced categories, so chance is 50 % and the fit
is psignifit's 2AFC model (guess rate fixed at 0.5; lapse rate, threshold, width and
overdispersion fitted). The intact-image (``full``) condition has no x value and is not
part of the fit.

Reported per fit:

* ``threshold_pct``: the % revealed where the *fitted* curve is at ``threshold_pc``
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

__all__ = ["PsychometricFit", "fit_psychometric"]


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
    threshold_pc: float
    credible_mass: float
    result: object = dataclasses.field(repr=False, default=None)

    def curve(self, x_pct):
        """Fitted proportion correct at ``x_pct`` (percent revealed)."""
        return self.result.proportion_correct(np.log10(np.asarray(x_pct, float)))


def fit_psychometric(x_pct, n_correct, n_trials, *, rng=None, threshold_pc=0.75, ceiling_fraction=0.95,
                     credible_mass=0.95, sigmoid="norm", n_samples=4000) -> PsychometricFit:
    """Fit a 2AFC psychometric function to accuracy against % of features revealed.

    Parameters
    ----------
    x_pct : array_like, shape (n_levels,)
        Percent of the feature budget revealed (> 0).
    n_correct, n_trials : array_like of int, shape (n_levels,)
        Trials correct and trials at each level (levels with 0 trials are dropped).
    rng : None, int or numpy.random.Generator
        For the posterior samples behind the credible intervals.
    threshold_pc : float
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
    """
    rng = as_generator(rng)
    import psignifit  # imported here: the fit is the only user and the import is not free

    x = np.asarray(x_pct, float)
    k = np.asarray(n_correct, float)
    n = np.asarray(n_trials, float)
    keep = n > 0
    if keep.sum() < 3:
        raise ValueError("a psychometric fit needs at least 3 levels with trials")
    data = np.column_stack([np.log10(x[keep]), k[keep], n[keep]])
    with warnings.catch_warnings():
        # psignifit warns about grid bounds and few trials per block; those fits are still
        # reported, with their (wide) intervals saying how little the data constrain them.
        warnings.simplefilter("ignore")
        result = psignifit.psignifit(data, experiment_type="2AFC", sigmoid=sigmoid, verbose=False, debug=True)
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
        # Scaled → unscaled by hand: Sigmoid.inverse(pc, t, w, gamma, lambda) raises for the
        # whole array if any posterior sample has a lapse rate too high to reach pc; such a
        # sample has no threshold (NaN, dropped from the interval) instead.
        thr = point_and_interval(lambda t, w, g, l: sig.inverse(
            np.where(1 - l > threshold_pc, (threshold_pc - g) / (1 - l - g), np.nan), t, w))
        # Ceiling: the unscaled sigmoid at ceiling_fraction (independent of gamma/lambda).
        ceil = point_and_interval(lambda t, w, g, l: sig.inverse(ceiling_fraction, t, w, 0.0, 0.0))
    return PsychometricFit(threshold_pct=thr[0], threshold_low=thr[1], threshold_high=thr[2],
                           ceiling_pct=ceil[0], ceiling_low=ceil[1], ceiling_high=ceil[2],
                           lapse=float(est["lambda"]), width_log10=float(est["width"]), n_trials=int(n.sum()),
                           threshold_pc=threshold_pc, credible_mass=credible_mass, result=result)
