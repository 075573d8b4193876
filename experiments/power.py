"""Simulation-based power for the reveal design: how many participants a comparison needs.

A simulated study draws participants of two groups through the real trial design — each
participant's list from :func:`reveal.experiments.design.assignment` (so the Latin-square
row, and with it how many of the images fall on each level, is the one the experiment
gives), timeouts, the observer exclusions of :mod:`reveal.analysis.exclusions` — and tests
the groups at every level with :func:`reveal.analysis.randomization.permutation_group_test`,
the test and max-|t| correction ``reveal analyze`` reports. Power is the share of simulated
studies in which a level (or any level: family-wise) comes out significant.

What a simulated participant is: accuracy at a level follows its group's curve
(:class:`GroupEffect`), shifted along log10 % revealed by the participant's own offset
(normal, SD ``spread_log10``); every trial times out with the group's timeout rate; the
rest are correct with that accuracy. Categories, keys and blocks enter only through the
counts per level: this observer has no response bias and does not learn or tire, so a
study whose participants do would need more of them than this says.

Speed: a study is drawn as counts (participants × levels), never as trial rows, and its
randomization test is the analysis's own, batched as matrix products. With fewer
resamples per study than the analysis's 10,000 (``n_resamples``, 1,000 by default) each
study's p-values are coarser but still valid, so power is not biased upward;
``tests/experiments/test_power.py`` checks that 200 and 2,000 resamples agree.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..analysis.exclusions import ExclusionSettings
from ..core.levels import FULL, LEVEL_LABELS, check_level_labels, level_value
from ..analysis.randomization import permutation_group_test
from ..analysis.synthetic import two_afc_curve
from ..core.seeding import as_generator
from .design import assignment, latin_square_conditions

__all__ = ["GroupEffect", "PowerDesign", "PowerResult", "stated_effect", "simulate_study", "draw_counts",
           "observer_accuracy_from_counts", "estimate_power", "reveal_power", "n_grid"]

#: log10 % revealed on which stated and fitted curves are tabulated (0.01 % … 1000 %).
CURVE_GRID = np.round(np.arange(-2.0, 3.0001, 0.01), 2)


@dataclasses.dataclass(frozen=True)
class GroupEffect:
    """One group: its accuracy curve over % revealed and how its participants vary.

    Attributes
    ----------
    name : str
    log10_pct, p_correct : tuple of float
        The curve: accuracy at log10 % of the feature budget revealed (increasing x);
        between the points it is interpolated, beyond them held at the end values.
    p_full : float
        Accuracy on intact images.
    spread_log10 : float
        SD of a participant's shift of the curve along log10 % revealed.
    timeout_rate : float
        Probability that a trial times out.
    origin : str
        Where the numbers come from (shown in the report).
    """

    name: str
    log10_pct: tuple
    p_correct: tuple
    p_full: float
    spread_log10: float = 0.1
    timeout_rate: float = 0.0
    origin: str = "stated"

    def accuracy(self, levels, shift=0.0):
        """Accuracy at ``levels`` for participants shifted by ``shift`` (log10 units).

        Parameters
        ----------
        levels : sequence of str
            Level labels (``full`` included).
        shift : float or ndarray, shape (n,)

        Returns
        -------
        ndarray, shape (n, n_levels) (or (n_levels,) for a scalar shift)
        """
        shift = np.asarray(shift, float)
        x = np.array([np.log10(level_value(lv)) if lv != FULL else np.nan for lv in levels])
        p = np.interp(x - shift[..., None], self.log10_pct, self.p_correct)
        return np.where(np.isnan(x), self.p_full, p)


def stated_effect(name, threshold_pct, width_log10=0.8, lapse=0.03, *, spread_log10=0.1, timeout_rate=0.0):
    """A group from stated numbers: a cumulative-Gaussian 2AFC curve, as psignifit fits it.

    Parameters
    ----------
    name : str
    threshold_pct : float
        % revealed at the curve's midpoint (75 % correct without lapses).
    width_log10 : float
        psignifit's width: log10 units from 5 % to 95 % of the rise.
    lapse : float
        Errors on easy trials; intact images are correct with 1 − lapse.
    spread_log10, timeout_rate : float
        See :class:`GroupEffect`.

    Returns
    -------
    GroupEffect

    Examples
    --------
    >>> g = stated_effect("clickme", threshold_pct=5, width_log10=0.8, lapse=0.0)
    >>> round(float(g.accuracy(["5.0"])[0]), 3)
    0.75
    """
    from scipy.stats import norm

    if not threshold_pct > 0 or not width_log10 > 0 or not 0 <= lapse < 0.5:
        raise ValueError("need threshold_pct > 0, width_log10 > 0 and 0 <= lapse < 0.5")
    sigma = width_log10 / (2 * norm.ppf(0.95))
    p = two_afc_curve(CURVE_GRID, np.log10(threshold_pct), sigma, lapse)
    return GroupEffect(name, tuple(CURVE_GRID), tuple(p), 1 - lapse, spread_log10, timeout_rate,
                       f"stated: threshold {threshold_pct:g} %, width {width_log10:g} log10, lapse {lapse:g}")


@dataclasses.dataclass(frozen=True)
class PowerDesign:
    """The trial design of a study: the conditions and the images of one list.

    Attributes
    ----------
    levels : tuple of str
        The conditions in ``level_index`` order: the set's reveal levels and ``full``
        (``StimulusSet.conditions``; by default the 11 levels and ``full``). Their number is
        the Latin square's.
    n_images : int
        Images per participant (each once, at the condition its Latin-square row gives).
    """

    levels: tuple = LEVEL_LABELS
    n_images: int = 80

    def __post_init__(self):
        try:
            check_level_labels(list(self.levels))
        except ValueError as err:
            raise ValueError(f"the design's levels: {err}") from None
        if self.n_images < 1:
            raise ValueError(f"need at least one image per participant, got {self.n_images}")

    @property
    def n_conditions(self) -> int:
        """Conditions of the Latin square: the reveal levels and the intact image."""
        return len(self.levels)

    def counts_by_row(self):
        """Trials per condition for each Latin-square row: ndarray, shape (n_conditions, n_conditions)."""
        return _counts_by_row(self.n_images, self.n_conditions)


@functools.lru_cache(maxsize=16)
def _counts_by_row(n_images, n_conditions):  # cached: every simulated participant needs it
    counts = np.stack([np.bincount(latin_square_conditions(n_images, row, n_conditions), minlength=n_conditions)
                       for row in range(n_conditions)])
    counts.setflags(write=False)
    return counts


def _latin_rows(groups, n, n_conditions=len(LEVEL_LABELS)):
    """Latin-square rows of participants 0..n-1 of each group, by the experiment's list rule."""
    sources = sorted(groups)
    return {g: np.array([assignment(k, sources, group=g, n_conditions=n_conditions).latin_row for k in range(n)])
            for g in groups}


def simulate_study(design, effects, n_per_group, rng=None, *, exclusions=ExclusionSettings(), rows=None):
    """Accuracy of one simulated study's participants, as ``reveal analyze`` would compute it.

    Parameters
    ----------
    design : PowerDesign
    effects : sequence of GroupEffect
        The groups (two for a test).
    n_per_group : int
        Participants recruited per group (before exclusions).
    rng : None, int or numpy.random.Generator
    exclusions : ExclusionSettings
        The analysis's observer rules (intact-image accuracy at chance, timeout share) and
        whether timeouts count as errors.
    rows : dict, optional
        Latin-square rows per group (from the list rule; computed when not given).

    Returns
    -------
    values : ndarray, shape (n_kept, n_conditions)
        Accuracy per kept participant and condition (NaN: no trial there).
    labels : ndarray of str, shape (n_kept,)
    n_excluded : int
    """
    rng = as_generator(rng)
    rows = rows or _latin_rows([e.name for e in effects], n_per_group, design.n_conditions)
    values, labels, n_excluded = [], [], 0
    for effect in effects:
        counts, timed, correct = draw_counts(design, effect, rows[effect.name][:n_per_group], rng)
        acc, excluded = observer_accuracy_from_counts(design, counts, timed, correct, exclusions)
        n_excluded += int(excluded.sum())
        values.append(acc[~excluded])
        labels += [effect.name] * int((~excluded).sum())
    return np.concatenate(values), np.array(labels), n_excluded


def draw_counts(design, effect, latin_rows, rng=None):
    """Trials, timeouts and correct answers per participant and condition.

    Parameters
    ----------
    design : PowerDesign
    effect : GroupEffect
    latin_rows : ndarray of int, shape (n,)
        Each participant's Latin-square row.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    counts, timed, correct : ndarray of int, shape (n, n_conditions)
    """
    rng = as_generator(rng)
    counts = design.counts_by_row()[latin_rows]
    p = effect.accuracy(design.levels, effect.spread_log10 * rng.standard_normal(len(latin_rows)))
    timed = rng.binomial(counts, effect.timeout_rate)
    correct = rng.binomial(counts - timed, p)
    return counts, timed, correct


def observer_accuracy_from_counts(design, counts, timed, correct, exclusions=ExclusionSettings()):
    """Accuracy per participant and condition, and who is excluded, by the analysis's rules.

    The count form of :func:`reveal.analysis.exclusions.apply_exclusions` followed by
    :func:`reveal.analysis.curves.observer_accuracy` (a test checks that they agree): an
    observer is excluded when their intact-image accuracy (answered trials) is at or below
    ``exclusions.chance`` or their timeout share above ``exclusions.max_timeout_rate``;
    timed-out trials leave accuracy, or count as errors with ``timeouts_as_errors``.

    Returns
    -------
    accuracy : ndarray, shape (n, n_conditions)
        NaN where a participant has no trial that counts.
    excluded : ndarray of bool, shape (n,)
    """
    full = np.array([lv == FULL for lv in design.levels])
    answered = counts - timed
    with np.errstate(invalid="ignore", divide="ignore"):
        full_acc = correct[:, full].sum(1) / answered[:, full].sum(1)  # NaN: no intact image answered
        timeout_share = timed.sum(1) / counts.sum(1)
        n = counts if exclusions.timeouts_as_errors else answered
        accuracy = np.where(n > 0, correct / n, np.nan)
    # as reveal.analysis.exclusions: no answered intact-image trial, the rule cannot be applied: excluded
    excluded = (full_acc <= exclusions.chance) | np.isnan(full_acc) | (timeout_share > exclusions.max_timeout_rate)
    return accuracy, excluded


@dataclasses.dataclass
class PowerResult:
    """Power per N and level, with Monte-Carlo error.

    Attributes
    ----------
    table : pandas.DataFrame
        ``comparison, n_per_group, level, power, power_se, power_uncorrected,
        mean_excluded`` — ``level`` is a condition or ``any`` (family-wise: at least one
        level significant); ``power`` counts a level significant when its max-|t|-corrected
        p is below ``alpha``, ``power_uncorrected`` when its own p is.
    n_needed : pandas.DataFrame
        ``comparison, level, n_per_group`` — the smallest N of the grid with power ≥ target
        (NaN: not reached).
    significant : dict
        ``(comparison, n) -> ndarray of bool, shape (n_studies, n_levels)``: the raw outcome
        of every simulated study (max-T corrected).
    settings : dict
    """

    table: pd.DataFrame
    n_needed: pd.DataFrame
    significant: dict
    settings: dict


def estimate_power(simulate, n_values, *, n_studies=1000, n_resamples=1000, alpha=0.05, rng=None,
                   progress=False, label="comparison"):
    """Power of the analysis's randomization test for studies drawn by ``simulate``.

    Parameters
    ----------
    simulate : callable
        ``simulate(rng, n) -> (values (n_obs, n_levels), labels (n_obs,))``: one study's
        per-observer values and two group labels.
    n_values : sequence of int
        Participants per group to try.
    n_studies, n_resamples : int
        Simulated studies per N; randomization resamples per study.
    alpha : float
    rng : None, int or numpy.random.Generator
    progress : bool
    label : str
        Shown on the progress bar.

    Returns
    -------
    significant, significant_uncorrected : ndarray of bool, shape (len(n_values), n_studies, n_levels)
    """
    rng = as_generator(rng)
    out, out_raw = [], []
    bar = tqdm(total=len(n_values) * n_studies, unit="study", desc=label, disable=not progress)
    for n in n_values:
        rows, rows_raw = [], []
        for _ in range(n_studies):
            values, labels = simulate(rng, int(n))[:2]
            if len(set(labels.tolist())) < 2:  # a whole group excluded: nothing can be shown
                rows.append(np.zeros(values.shape[1], bool))
                rows_raw.append(np.zeros(values.shape[1], bool))
            else:
                res = permutation_group_test(values, labels, rng=rng, n_resamples=n_resamples)
                rows.append(res.defined & (res.pvalue_fwer < alpha))
                rows_raw.append(res.defined & (res.pvalue < alpha))
            bar.update(1)
        out.append(np.array(rows))
        out_raw.append(np.array(rows_raw))
    bar.close()
    return np.array(out), np.array(out_raw)


def _se(p, n):
    return np.sqrt(p * (1 - p) / n)


def reveal_power(effects, n_values, *, design=PowerDesign(), n_studies=1000, n_resamples=1000, alpha=0.05,
                 target=0.8, exclusions=ExclusionSettings(), rng=None, progress=False):
    """Power of every pairwise group comparison of a reveal study, per N and level.

    Parameters
    ----------
    effects : sequence of GroupEffect
        Two or more groups; every pair is compared, as ``reveal analyze`` does.
    n_values : sequence of int
        Participants per group to try (e.g. ``range(20, 121, 20)``).
    design : PowerDesign
    n_studies : int
        Simulated studies per N and comparison (Monte-Carlo SE of a power near 0.8:
        0.013 at 1,000).
    n_resamples : int
        Randomization resamples per simulated study.
    alpha, target : float
        Significance level; power wanted.
    exclusions : ExclusionSettings
    rng : None, int or numpy.random.Generator
    progress : bool

    Returns
    -------
    PowerResult

    Examples
    --------
    >>> a = stated_effect("clickme", 4.0)
    >>> b = stated_effect("salicon", 8.0)
    >>> res = reveal_power([a, b], [10], n_studies=20, n_resamples=99, rng=0)
    >>> sorted(res.table.columns)[:3]
    ['comparison', 'level', 'mean_excluded']
    """
    rng = as_generator(rng)
    effects = list(effects)
    names = [e.name for e in effects]
    if len(effects) < 2 or len(set(names)) != len(names):
        raise ValueError(f"need two or more groups with distinct names, got {names}")
    n_values = sorted({int(n) for n in n_values})
    if not n_values or n_values[0] < 2:
        raise ValueError("every N must be at least 2 participants per group")
    rows = _latin_rows(names, n_values[-1], design.n_conditions)
    levels = list(design.levels)
    table, needed, significant = [], [], {}
    for a, b in itertools.combinations(sorted(effects, key=lambda e: e.name), 2):
        comparison = f"{a.name} vs {b.name}"
        excluded = {}

        def simulate(r, n, pair=(a, b)):
            values, labels, n_excl = simulate_study(design, pair, n, r, exclusions=exclusions, rows=rows)
            excluded.setdefault(n, []).append(n_excl)
            return values, labels

        sig, sig_raw = estimate_power(simulate, n_values, n_studies=n_studies, n_resamples=n_resamples,
                                      alpha=alpha, rng=rng, progress=progress, label=comparison)
        for i, n in enumerate(n_values):
            significant[(comparison, n)] = sig[i]
            power = sig[i].mean(0)
            for j, level in enumerate(levels + ["any"]):
                p = sig[i].any(1).mean() if level == "any" else power[j]
                p_raw = sig_raw[i].any(1).mean() if level == "any" else sig_raw[i].mean(0)[j]
                table.append({"comparison": comparison, "n_per_group": n, "level": level, "power": p,
                              "power_se": _se(p, n_studies), "power_uncorrected": p_raw,
                              "mean_excluded": float(np.mean(excluded[n]))})
    table = pd.DataFrame(table)
    for (comparison, level), sub in table.groupby(["comparison", "level"], sort=False):
        hit = sub[sub["power"] >= target]
        needed.append({"comparison": comparison, "level": level,
                       "n_per_group": float(hit["n_per_group"].min()) if len(hit) else np.nan})
    settings = {"n_studies": n_studies, "n_resamples": n_resamples, "alpha": alpha, "target": target,
                "n_images": design.n_images, "levels": levels, "exclusions": dataclasses.asdict(exclusions),
                "groups": {e.name: e.origin for e in effects},
                "spread_log10": {e.name: e.spread_log10 for e in effects},
                "timeout_rate": {e.name: e.timeout_rate for e in effects}}
    return PowerResult(table=table, n_needed=pd.DataFrame(needed), significant=significant, settings=settings)


def n_grid(text):
    """Participants per group from ``START:STOP:STEP`` (inclusive) or ``N1,N2,...``.

    Examples
    --------
    >>> n_grid("20:120:20")
    [20, 40, 60, 80, 100, 120]
    >>> n_grid("12,24")
    [12, 24]
    """
    text = str(text).strip()
    try:
        if ":" in text:
            start, stop, step = (int(v) for v in text.split(":"))
            values = list(range(start, stop + 1, step)) if step > 0 else []
        else:
            values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 2:
        raise ValueError(f"--n takes START:STOP:STEP or N1,N2,... with every N >= 2, not {text!r}")
    return values
