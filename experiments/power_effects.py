"""Where the effect of a power analysis comes from: pilot data, model predictions or stated curves.

Each returns :class:`reveal.experiments.power.GroupEffect` s. Pilot data go through the
analysis's own reader, exclusions and psignifit fit (:func:`reveal.analysis.psychometric.
fit_psychometric`); the between-participant spread is estimated from each participant's
shift of the group curve (maximum likelihood, the group's width and lapse held fixed), with
the spread those shifts would show by chance alone — measured by refitting participants
simulated without any spread through the same design — subtracted. The pooled curve is the
participants' curve blurred by that spread, so the curve each simulated participant follows
is the pooled one sharpened by it.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm

from ..analysis.exclusions import ExclusionSettings, apply_exclusions
from ..core.levels import FULL, level_value
from ..analysis.psychometric import fit_psychometric
from ..core.readers import read_trials
from ..core.errors import InputError
from ..core.seeding import as_generator
from .power import GroupEffect, stated_effect

__all__ = ["effects_from_pilot", "effects_from_models", "parse_group_spec", "participant_shifts"]

#: psignifit's width (5 % to 95 % of the rise) in SDs of its cumulative Gaussian.
_WIDTH_PER_SIGMA = 2 * float(norm.ppf(0.95))
#: Shifts tried for a participant (log10 units): 100x better or worse than the group is not a shift.
_SHIFTS = np.round(np.arange(-2.0, 2.0001, 0.01), 2)


def participant_shifts(effect, levels, n_correct, n_trials):
    """Maximum-likelihood shift of ``effect``'s curve (log10 units) for each participant.

    A grid search (steps of 0.01 log10 units within ±2) rather than an optimiser per
    participant: one matrix product gives every participant's likelihood at every shift.

    Parameters
    ----------
    effect : GroupEffect
    levels : sequence of str
    n_correct, n_trials : array_like, shape (n_participants, n_levels)

    Returns
    -------
    ndarray, shape (n_participants,)
        Positive: the participant needs more revealed than the group (worse).
    """
    k, n = np.atleast_2d(np.asarray(n_correct, float)), np.atleast_2d(np.asarray(n_trials, float))
    p = np.clip(effect.accuracy(levels, _SHIFTS), 1e-6, 1 - 1e-6)  # (n_shifts, n_levels)
    log_lik = k @ np.log(p).T + (n - k) @ np.log1p(-p).T
    return _SHIFTS[np.argmax(log_lik, axis=1)]


def _spread(effect, levels, k, n, rng, n_null=500):
    """Between-participant SD of the shift, less what binomial noise alone gives."""
    shifts = participant_shifts(effect, levels, k, n)
    # participants with no spread and the same trial counts: the shifts' scatter by chance
    rows = rng.integers(len(n), size=n_null)
    null = participant_shifts(effect, levels, rng.binomial(n[rows].astype(int), effect.accuracy(levels)), n[rows])
    excess = np.var(shifts, ddof=1) - np.var(null, ddof=1) if len(shifts) > 1 else 0.0
    return float(np.sqrt(max(excess, 0.0)))


def effects_from_pilot(paths, stimuli=None, *, exclusions=ExclusionSettings(), rng=None, kinds=("human",
                                                                                                "simulated")):
    """Per-group curves, spread and timeout rate fitted from a pilot data folder.

    Parameters
    ----------
    paths : path-like or sequence of path-like
        Data files or folders, as ``reveal analyze`` reads them.
    stimuli : path-like, optional
        The stimulus set (for data files that need its manifest).
    exclusions : ExclusionSettings
    rng : None, int or numpy.random.Generator
        For psignifit's posterior samples and the spread's chance level.
    kinds : sequence of str
        Observer kinds that make groups (models are not participants).

    Returns
    -------
    list of GroupEffect
        One per group, sorted by name.
    """
    rng = as_generator(rng)
    read = read_trials(paths if isinstance(paths, (list, tuple)) else [paths], stimuli=stimuli)
    excl = apply_exclusions(read.trials, exclusions)
    trials = excl.trials[excl.trials["observer_kind"].isin(kinds)]
    if trials.empty:
        raise InputError(f"no participant data (observer kinds {', '.join(kinds)}) left after exclusions",
                         path=str(paths if not isinstance(paths, (list, tuple)) else paths[0]))
    effects = []
    for group, sub in trials.groupby("group", sort=True):
        levels = sorted(sub["level"].unique(), key=level_value)
        reveal_levels = [lv for lv in levels if lv != FULL]
        pooled = sub.groupby("level")["correct"].agg(["sum", "size"])
        try:
            fit = fit_psychometric([level_value(lv) for lv in reveal_levels], pooled.loc[reveal_levels, "sum"],
                                   pooled.loc[reveal_levels, "size"], rng=rng, n_samples=500)
        except ValueError as err:
            raise InputError(f"group {group!r}: cannot fit its curve ({err})") from None
        p_full = float(pooled.loc[FULL, "sum"] / pooled.loc[FULL, "size"]) if FULL in pooled.index else 1 - fit.lapse
        per_obs = sub.pivot_table(index="observer", columns="level", values="correct", aggfunc=["sum", "size"],
                                  fill_value=0)
        k = per_obs["sum"].reindex(columns=levels, fill_value=0).to_numpy(float)
        n = per_obs["size"].reindex(columns=levels, fill_value=0).to_numpy(float)
        est = fit.result.parameter_estimate_MAP
        sigma_pooled = est["width"] / _WIDTH_PER_SIGMA
        pooled_curve = stated_effect(group, 10 ** est["threshold"], est["width"], est["lambda"])
        spread = _spread(pooled_curve, levels, k, n, rng)
        # The pooled curve is the participants' curve blurred by their spread: a cumulative
        # Gaussian of SD sigma shifted by N(0, spread^2) is one of SD sqrt(sigma^2 + spread^2),
        # so the participants' own curve is the pooled one sharpened by the spread. (Estimating
        # the spread again on the sharpened curve feeds back and overshoots: one round.)
        sigma = np.sqrt(max(sigma_pooled ** 2 - spread ** 2, (0.25 * sigma_pooled) ** 2))
        curve = stated_effect(group, 10 ** est["threshold"], _WIDTH_PER_SIGMA * sigma, est["lambda"])
        observers = excl.observers[(excl.observers["group"] == group) & excl.observers["observer_kind"].isin(kinds)]
        effects.append(GroupEffect(
            group, curve.log10_pct, curve.p_correct, p_full, spread_log10=spread,
            timeout_rate=float(observers["timeout_rate"].mean()),
            origin=f"pilot: {len(per_obs)} participants, threshold {fit.threshold_pct:.3g} % "
                   f"(at {fit.threshold_p_correct:.0%}), width {fit.width_log10:.2f} log10 pooled, "
                   f"{_WIDTH_PER_SIGMA * sigma:.2f} per participant, lapse {fit.lapse:.3f}"))
    if len(effects) < 2:
        raise InputError(f"the pilot has participants (after exclusions) in one group only, "
                         f"{effects[0].name!r}: power compares two or more groups",
                         path=str(paths if not isinstance(paths, (list, tuple)) else paths[0]))
    return effects


def effects_from_models(paths, stimuli=None, *, spread_log10=0.1, timeout_rate=0.0):
    """Model observers standing in for groups: each (model, map source) curve becomes one group.

    A model answers each stimulus once; its accuracy per level (over images) is the group's
    curve, and simulated participants vary around it by ``spread_log10`` and time out at
    ``timeout_rate`` (a network has neither, people do).

    Parameters
    ----------
    paths : path-like or sequence of path-like
        ``reveal predict`` output files.
    stimuli : path-like, optional
    spread_log10, timeout_rate : float

    Returns
    -------
    list of GroupEffect
        Named ``<model>:<map source>``.
    """
    read = read_trials(paths if isinstance(paths, (list, tuple)) else [paths], stimuli=stimuli)
    models = read.trials[read.trials["observer_kind"] == "model"]
    if models.empty:
        raise InputError("holds no model predictions", path=str(paths if not isinstance(paths, (list, tuple))
                                                                 else paths[0]))
    effects = []
    for (observer, source), sub in models.groupby(["observer", "map_source"], sort=True):
        acc = sub.groupby("level")["correct"].mean()
        reveal = sorted((lv for lv in acc.index if lv != FULL), key=level_value)
        if len(reveal) < 2:
            raise InputError(f"model {observer!r} on {source!r} has fewer than 2 reveal levels")
        x = [np.log10(level_value(lv)) for lv in reveal]
        p_full = float(acc[FULL]) if FULL in acc.index else float(acc[reveal[-1]])
        effects.append(GroupEffect(f"{observer}:{source}", tuple(x), tuple(float(acc[lv]) for lv in reveal),
                                   p_full, spread_log10, timeout_rate,
                                   origin=f"model {observer} on {source} ({sub['image_id'].nunique()} images)"))
    return effects


_SPEC_KEYS = {"threshold": float, "width": float, "lapse": float, "spread": float, "timeouts": float}


def parse_group_spec(text):
    """A stated group from ``NAME:threshold=T[,width=W][,lapse=L][,spread=S][,timeouts=R]``.

    ``threshold`` is % revealed at the curve's midpoint, ``width`` psignifit's width in log10
    units (default 0.8), ``lapse`` (0.03), ``spread`` the participants' SD in log10 units (0.1),
    ``timeouts`` the timeout rate (0.0).

    Examples
    --------
    >>> g = parse_group_spec("clickme:threshold=4,spread=0.2")
    >>> g.name, g.spread_log10
    ('clickme', 0.2)
    """
    name, _, rest = str(text).partition(":")
    values = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, _, value = item.partition("=")
        if key not in _SPEC_KEYS:
            raise ValueError(f"--group {text!r}: unknown setting {key!r} (known: {', '.join(_SPEC_KEYS)})")
        try:
            values[key] = _SPEC_KEYS[key](value)
        except ValueError:
            raise ValueError(f"--group {text!r}: {key} must be a number, not {value!r}") from None
    if not name.strip() or "threshold" not in values:
        raise ValueError(f"--group takes NAME:threshold=T[,width=W,lapse=L,spread=S,timeouts=R], not {text!r}")
    return stated_effect(name.strip(), values["threshold"], values.get("width", 0.8), values.get("lapse", 0.03),
                         spread_log10=values.get("spread", 0.1), timeout_rate=values.get("timeouts", 0.0))
