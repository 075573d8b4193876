"""The whole analysis as one Python call: data files in, tables, figures and a report out.

``reveal analyze`` is a thin layer over :func:`analyze` and :func:`write_outputs`; each step is also usable alone
(:mod:`reveal.core.readers`, :mod:`reveal.analysis.exclusions`, :mod:`reveal.analysis.curves`,
:mod:`reveal.analysis.sdt`, :mod:`reveal.analysis.randomization`, :mod:`reveal.analysis.psychometric`,
:mod:`reveal.analysis.consistency`).
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import warnings

import numpy as np
import pandas as pd

from ..core.seeding import as_generator
from .consistency import image_spearman, model_human_consistency, summarize_consistency
from .curves import accuracy_matrix, ceiling_level, group_curves, observer_accuracy, pixel_fraction_by_level
from .exclusions import ExclusionSettings, apply_exclusions
from .sdt import group_sdt, has_sweep, observer_sdt, strength_sweeps
from ..core.levels import FULL, sort_levels
from .randomization import bootstrap_group_effects, permutation_group_test, with_alternative
from ..core.readers import read_trials
from ..core.errors import InputError
from ..core.version import toolkit_version
from ..core.outputs import OutputFolder, atomic_write

__all__ = ["AnalysisSettings", "AnalysisResult", "compare_groups", "fit_curves", "analyze", "describe_exclusions",
           "write_csv", "write_outputs"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AnalysisSettings:
    """Every setting of one analysis (all written to the report)."""

    n_resamples: int = 10_000
    seed: int = 0
    n_bootstrap: int = 10_000
    alpha: float = 0.05
    exclusions: ExclusionSettings = ExclusionSettings()
    ceiling_tolerance: float = 0.03
    threshold_p_correct: float = 0.75
    ceiling_fraction: float = 0.95
    fit: bool = True
    min_trials_per_level_observer_fit: int = 20
    progress: bool = False


@dataclasses.dataclass
class AnalysisResult:
    trials: pd.DataFrame
    observer_accuracy: pd.DataFrame
    curves: pd.DataFrame
    tests: pd.DataFrame
    fits: pd.DataFrame
    consistency_pairs: pd.DataFrame
    consistency: pd.DataFrame
    spearman: pd.DataFrame
    pixel_pct: pd.Series
    read: object
    exclusions: object
    settings: AnalysisSettings
    #: Signal detection (animal = signal): per observer and level (:func:`reveal.analysis.sdt.observer_sdt`), per
    #: series and level (:func:`reveal.analysis.sdt.group_sdt`), and the group tests on the observers' d′.
    sdt: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    sdt_curves: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    tests_dprime: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    #: The cued observers' hit rate, false-alarm rate, d′ and c per strength
    #: (:func:`reveal.analysis.sdt.strength_sweeps`; empty when no observer is cued).
    sweeps: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)

    def ledger(self) -> pd.DataFrame:
        """Every row read but not analysed, with its reason: ``file, observer, reason, rows`` (the reader's
        entries, then the exclusions'; ``rows`` 0 for a note such as a session that ended early). Written as
        ``exclusions.csv``; the report shows it."""
        parts = [t for t in (self.read.dropped, self.exclusions.dropped) if len(t)]
        return pd.concat(parts, ignore_index=True) if parts else self.exclusions.dropped.copy()


def _untested_note(xa, xb, a: str, b: str) -> str:
    """Why a level was not tested: too few observers in a group, or no variance (ceiling)."""
    few = [f"{g} has {n} observer{'s' if n != 1 else ''} there" for g, n in
           ((a, int(np.isfinite(xa).sum())), (b, int(np.isfinite(xb).sum()))) if n < 2]
    return f"not tested: {'; '.join(few)}" if few else "not tested: no variance at this level (ceiling)"


def compare_groups(obs_acc: pd.DataFrame, *, rng: np.random.Generator | int | None = None,
                   n_resamples: int = 10_000, n_bootstrap: int = 10_000, progress: bool = False,
                   value: str = "accuracy") -> pd.DataFrame:
    """Randomization tests between every pair of groups, per observer kind (models excluded).

    For groups a < b (sorted names) the statistic is Welch's t of a − b at every level;
    ``p`` is two-sided, ``p_greater`` one-sided (a more accurate than b, or higher in ``value``); both with
    family-wise versions over the levels (max-|t| and max-t), all from the same resamples.

    Parameters
    ----------
    obs_acc : pandas.DataFrame
        From :func:`reveal.analysis.curves.observer_accuracy` (or :func:`reveal.analysis.sdt.observer_sdt`
        with ``value="dprime"``): one row per observer and level.
    rng : None, int or numpy.random.Generator
    n_resamples, n_bootstrap : int
        Resamples of the randomization test and of the bootstrap of the effect sizes.
    progress : bool
    value : str
        The per-observer column compared (``mean_a``, ``mean_b``, ``difference`` are of it); NaN = an observer
        without a value at that level, left out there.

    Returns
    -------
    pandas.DataFrame
        One row per comparison and level.

    Examples
    --------
    Three observers per group at one level (3 + 3 observers have 20 relabellings):

    >>> import pandas as pd
    >>> obs_acc = pd.DataFrame({
    ...     "observer_kind": "human", "observer": ["a1", "a2", "a3", "b1", "b2", "b3"],
    ...     "group": ["clickme"] * 3 + ["salicon"] * 3, "level": "10",
    ...     "accuracy": [0.9, 0.8, 0.85, 0.6, 0.7, 0.65]})
    >>> tests = compare_groups(obs_acc, rng=0, n_resamples=999, n_bootstrap=999)
    >>> tests[["comparison", "level", "mean_a", "mean_b", "statistic", "p"]].round(3)
               comparison level  mean_a  mean_b  statistic      p
    0  clickme vs salicon    10    0.85    0.65      4.899  0.103
    >>> print(f"{tests.loc[0, 'difference']:.2f}, g = {tests.loc[0, 'hedges_g']:.2f}")
    0.20, g = 3.20

    The same test on another per-observer value, e.g. d′:

    >>> obs_acc["dprime"] = [2.1, 1.7, 1.9, 0.8, 1.1, 0.9]
    >>> compare_groups(obs_acc, rng=0, n_resamples=999, n_bootstrap=999, value="dprime")[
    ...     ["level", "mean_a", "mean_b", "p"]].round(3)
      level  mean_a  mean_b      p
    0    10     1.9    0.933  0.103
    """
    if value not in obs_acc:
        raise ValueError(f"compare_groups: no column {value!r} to compare")
    if value != "accuracy":  # accuracy_matrix reads the column named accuracy
        obs_acc = obs_acc.drop(columns="accuracy", errors="ignore").rename(columns={value: "accuracy"})
    rng = as_generator(rng)
    rows = []
    for kind in ("human", "simulated"):
        acc = obs_acc[obs_acc["observer_kind"] == kind]
        groups = sorted(acc["group"].unique())
        if len(groups) < 2:
            continue
        for a, b in itertools.combinations(groups, 2):
            sub = acc[acc["group"].isin([a, b])]
            levels = sort_levels(sub["level"])
            values, observers, labels = accuracy_matrix(sub, levels)
            res = permutation_group_test(values, labels, rng=rng, n_resamples=n_resamples, order=(a, b),
                                         progress=progress)
            greater = with_alternative(res, "greater")
            xa, xb = values[labels == a], values[labels == b]
            eff = bootstrap_group_effects(xa, xb, rng=rng, n_resamples=n_bootstrap)
            label = f"{a} vs {b}" + ("" if kind == "human" else " (simulated)")
            for i, level in enumerate(levels):
                with warnings.catch_warnings():  # a level nobody in a group saw: NaN, said in n_a/n_b
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean_a, mean_b = np.nanmean(xa[:, i]), np.nanmean(xb[:, i])
                rows.append({
                    "comparison": label, "observer_kind": kind, "group_a": a, "group_b": b, "level": level,
                    "n_a": int(np.isfinite(xa[:, i]).sum()), "n_b": int(np.isfinite(xb[:, i]).sum()),
                    "mean_a": mean_a, "mean_b": mean_b,
                    "difference": eff["difference"][i], "difference_low": eff["difference_low"][i],
                    "difference_high": eff["difference_high"][i], "hedges_g": eff["hedges_g"][i],
                    "g_low": eff["g_low"][i], "g_high": eff["g_high"][i],
                    "statistic": res.statistic[i], "p": res.pvalue[i], "p_fwer": res.pvalue_fwer[i],
                    "p_greater": greater.pvalue[i], "p_fwer_greater": greater.pvalue_fwer[i],
                    "n_resamples": n_resamples,
                    "note": "" if res.defined[i] else _untested_note(xa[:, i], xb[:, i], a, b),
                })
    return pd.DataFrame(rows, columns=[
        "comparison", "observer_kind", "group_a", "group_b", "level", "n_a", "n_b", "mean_a", "mean_b",
        "difference", "difference_low", "difference_high", "hedges_g", "g_low", "g_high", "statistic", "p",
        "p_fwer", "p_greater", "p_fwer_greater", "n_resamples", "note"])


def _interp_pixels(pct_revealed: float, pixel_pct: pd.Series) -> float:
    """Mean % of image pixels at a (possibly in-between) % revealed: log–log interpolation."""
    if pixel_pct is None or not len(pixel_pct) or not np.isfinite(pct_revealed):
        return np.nan
    part = pixel_pct.drop(FULL, errors="ignore").dropna()
    part = part[part > 0]
    if len(part) < 2:
        return np.nan
    x = np.log10([float(lv) for lv in part.index])
    return float(10 ** np.interp(np.log10(pct_revealed), x, np.log10(part.to_numpy(float)),
                                 left=np.nan, right=np.nan))


def fit_curves(obs_acc: pd.DataFrame, curves: pd.DataFrame, pixel_pct: pd.Series, settings: AnalysisSettings,
               rng: np.random.Generator | int | None = None) -> pd.DataFrame:
    """psignifit fits per series (and per observer with enough trials) + empirical ceiling.

    Parameters
    ----------
    obs_acc : pandas.DataFrame
        From :func:`reveal.analysis.curves.observer_accuracy`.
    curves : pandas.DataFrame
        From :func:`reveal.analysis.curves.group_curves`.
    pixel_pct : pandas.Series
        Mean % of image pixels per level (:func:`reveal.analysis.curves.pixel_fraction_by_level`).
    settings : AnalysisSettings
        ``fit=False`` leaves out the psignifit fits (empirical ceiling only).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        One row per series (observer ``(pooled)``) and per observer fitted alone.

    Examples
    --------
    >>> import pandas as pd
    >>> from reveal.analysis.curves import group_curves
    >>> obs_acc = pd.DataFrame({
    ...     "observer_kind": "human", "observer": ["p1"] * 4 + ["p2"] * 4, "group": "clickme",
    ...     "series": "clickme", "map_source": "clickme", "level": ["1", "10", "100", "full"] * 2,
    ...     "n": 10, "n_correct": [6, 10, 10, 10, 5, 10, 10, 10]})
    >>> obs_acc["accuracy"] = obs_acc["n_correct"] / obs_acc["n"]
    >>> pixel_pct = pd.Series({"1": 0.3, "10": 3.0, "100": 30.0, "full": 100.0})
    >>> fits = fit_curves(obs_acc, group_curves(obs_acc), pixel_pct, AnalysisSettings(fit=False))
    >>> row = fits.iloc[0]
    >>> print(row["label"], row["ceiling_level_empirical"], row["ceiling_image_pct_empirical"])
    clickme (humans) 10 3.0
    """
    rng = as_generator(rng)
    from .psychometric import fit_psychometric

    rows = []
    units = []
    for (kind, series, source), sub in obs_acc.groupby(["observer_kind", "series", "map_source"], sort=True):
        units.append((kind, series, source, "", sub))
        if kind != "model":
            for observer, osub in sub.groupby("observer", sort=True):
                part = osub[osub["level"] != FULL]
                if len(part) and part["n"].mean() >= settings.min_trials_per_level_observer_fit:
                    units.append((kind, series, source, observer, osub))
    for kind, series, source, observer, sub in units:
        pooled = sub.groupby("level")[["n", "n_correct"]].sum()
        part = pooled.drop(FULL, errors="ignore")
        row = {"observer_kind": kind, "series": series, "map_source": source, "observer": observer or "(pooled)"}
        cur = curves[(curves["series"] == series) & (curves["map_source"] == source)
                     & (curves["observer_kind"] == kind)]
        if not observer:
            full = cur.loc[cur["level"] == FULL, "mean"]
            full_mean = float(full.iloc[0]) if len(full) else np.nan
            nf = cur[cur["level"] != FULL]
            ceil = ceiling_level(list(nf["level"]), nf["mean"].to_numpy(float), full_mean,
                                 settings.ceiling_tolerance) if len(nf) else None
            row.update({"label": cur["label"].iloc[0] if len(cur) else series, "full_accuracy": full_mean,
                        "ceiling_level_empirical": ceil or "not reached",
                        "ceiling_image_pct_empirical": (float(pixel_pct.get(ceil, np.nan))
                                                        if ceil and len(pixel_pct) else np.nan)})
        if settings.fit and len(part) >= 3:
            try:
                fit = fit_psychometric([float(lv) for lv in part.index], part["n_correct"].to_numpy(),
                                       part["n"].to_numpy(), rng=rng, threshold_p_correct=settings.threshold_p_correct,
                                       ceiling_fraction=settings.ceiling_fraction)
                row.update({"threshold_pct": fit.threshold_pct, "threshold_low": fit.threshold_low,
                            "threshold_high": fit.threshold_high,
                            "threshold_image_pct": _interp_pixels(fit.threshold_pct, pixel_pct),
                            "ceiling_pct_fit": fit.ceiling_pct, "ceiling_low": fit.ceiling_low,
                            "ceiling_high": fit.ceiling_high,
                            "ceiling_image_pct_fit": _interp_pixels(fit.ceiling_pct, pixel_pct),
                            "lapse": fit.lapse, "n_trials": fit.n_trials})
            except Exception as err:  # a fit that fails is reported, not fatal for the analysis
                log.warning("psychometric fit failed for %s %s: %s", series, observer, err)
                row["fit_error"] = str(err)
        rows.append(row)
    cols = ["observer_kind", "series", "map_source", "observer", "label", "full_accuracy",
            "ceiling_level_empirical", "ceiling_image_pct_empirical", "threshold_pct", "threshold_low",
            "threshold_high", "threshold_image_pct", "ceiling_pct_fit", "ceiling_low", "ceiling_high",
            "ceiling_image_pct_fit", "lapse", "n_trials", "fit_error"]
    out = pd.DataFrame(rows)
    return out.reindex(columns=[c for c in cols if c in out.columns or c != "fit_error"])


def _observers(n: int) -> str:
    return f"{n} observer{'' if n == 1 else 's'}"


def describe_exclusions(excl, *, limit: int = 10) -> str:
    """One line: how many observers were excluded, and each one's reason (the first ``limit``).

    Examples
    --------
    >>> import pandas as pd
    >>> from reveal.analysis.exclusions import apply_exclusions
    >>> trials = pd.DataFrame({"observer": ["p1"] * 2 + ["p2"] * 2 + ["p3"], "observer_kind": "human",
    ...                        "group": "clickme", "level": ["10", "full"] * 2 + ["10"],
    ...                        "correct": [1, 1, 1, 0, 1], "timed_out": 0})
    >>> for part in describe_exclusions(apply_exclusions(trials)).split("; "):
    ...     print(part)
    excluded 2 of 3 observers: p2: intact-image accuracy 0.00 at or below chance (0.5)
    p3: no intact-image trial, so intact-image accuracy cannot be judged
    """
    obs = excl.observers
    out = obs[obs["excluded"].astype(bool)]
    if not len(out):
        return f"no observer excluded ({_observers(len(obs))})"
    listed = "; ".join(f"{row.observer}: {row.reason}" for row in out.head(limit).itertuples())
    more = f"; and {len(out) - limit} more (see observers.csv)" if len(out) > limit else ""
    return f"excluded {len(out)} of {_observers(len(obs))}: {listed}{more}"


def _nothing_left(excl) -> str:
    """Why no trial is left: every observer's exclusion reason, counted."""
    obs = excl.observers
    reasons = obs.loc[obs["excluded"].astype(bool), "reason"].fillna("").value_counts()
    because = "; ".join(f"{_observers(n)}: {r or 'no trial left'}"
                        for r, n in reasons.items())
    rules = excl.settings
    text = (f"every observer was excluded, nothing is left to analyse ({_observers(len(obs))}; {because}). "
            f"The rules: intact-image accuracy above {rules.chance:g} (judged on at least one answered intact-image "
            f"trial), at most "
            f"{rules.max_timeout_rate:.0%} timeouts (see --chance, --max-timeout-rate)")
    ledger = excl.dropped
    trial_rules = ledger[~ledger["reason"].str.startswith("observer excluded")]
    if len(trial_rules):  # observers kept, but each of their trials left out by a trial rule
        counts = trial_rules.groupby("reason", sort=True)["rows"].sum()
        text = (f"no trial is left to analyse ({_observers(len(obs))}, {int(obs['excluded'].astype(bool).sum())} "
                f"excluded{'; ' + because if because else ''}); the trials of the others were left out: "
                + "; ".join(f"{n} {r}" for r, n in counts.items())
                + " (see --keep-unattended, --keep-timing-failures, --timeouts-as-errors, --chance, "
                  "--max-timeout-rate)")
    return text


def analyze(paths, *, stimuli=None, settings: AnalysisSettings = AnalysisSettings()) -> AnalysisResult:
    """Read, exclude, compute curves, tests, fits and model–human comparisons.

    Parameters
    ----------
    paths : sequence of path-like
        Data files and/or folders (lab, Pavlovia, tidy and model CSVs).
    stimuli : path-like, optional
        Stimulus set folder (its manifest.csv).
    settings : AnalysisSettings

    Returns
    -------
    AnalysisResult
    """
    rng = np.random.default_rng(settings.seed)
    read = read_trials(paths, stimuli=stimuli)
    excl = apply_exclusions(read.trials, settings.exclusions)
    trials = excl.trials
    if trials.empty:
        raise InputError(_nothing_left(excl), path=str(paths[0] if isinstance(paths, (list, tuple)) else paths))
    obs_acc = observer_accuracy(trials)
    curves = group_curves(obs_acc)
    pixel_pct = pixel_fraction_by_level(read.trials)
    tests = compare_groups(obs_acc, rng=rng, n_resamples=settings.n_resamples, n_bootstrap=settings.n_bootstrap,
                           progress=settings.progress)
    fits = fit_curves(obs_acc, curves, pixel_pct, settings, rng)
    pairs = model_human_consistency(trials)
    consistency = summarize_consistency(pairs)
    spearman = image_spearman(trials)
    # signal detection on the same trials as accuracy; its test draws from the generator after all the others,
    # so the accuracy tests and fits of a seed are what they were without it
    obs_sdt = observer_sdt(trials)
    sdt_curves = group_sdt(obs_sdt)
    tests_dprime = compare_groups(obs_sdt, rng=rng, n_resamples=settings.n_resamples,
                                  n_bootstrap=settings.n_bootstrap, progress=settings.progress, value="dprime")
    return AnalysisResult(trials=read.trials, observer_accuracy=obs_acc, curves=curves, tests=tests, fits=fits,
                          consistency_pairs=pairs, consistency=consistency, spearman=spearman,
                          pixel_pct=pixel_pct, read=read, exclusions=excl, settings=settings,
                          sdt=obs_sdt, sdt_curves=sdt_curves, tests_dprime=tests_dprime,
                          sweeps=strength_sweeps(obs_sdt))


def write_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a table atomically (see :func:`reveal.core.outputs.atomic_write`).

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_csv(pd.DataFrame({"level": ["1", "full"], "mean": [0.6, 0.95]}), os.path.join(tmp, "t.csv"))
    ...     print(open(os.path.join(tmp, "t.csv")).read())
    level,mean
    1,0.6
    full,0.95
    <BLANKLINE>
    """
    atomic_write(path, table.to_csv(index=False))


def write_outputs(result, out_dir, *, command: str = "", overwrite: bool = False) -> dict:
    """Write every table, the figures and the report of an analysis.

    Parameters
    ----------
    result : AnalysisResult
        What :func:`analyze` returned.
    out_dir : path-like
        Output folder (created): the tables as CSV (``trials``, ``curves``, ``tests``,
        ``fits``, ``consistency``, ``consistency_pairs``, ``image_spearman``,
        ``observers``, ``exclusions``: the ledger of every row not analysed, with its reason;
        ``sdt``: hits, false alarms, d′ and c per observer and level, ``sdt_curves``: their mean ± SEM per
        series, ``tests_dprime``: the group tests on d′; ``sweeps``: the cued observers' values per cue
        strength, only when a cued network was run at two strengths or more),
        ``accuracy.png``/``.svg``, ``sdt.png``/``.svg`` (d′ and c), ``consistency.png``/``.svg`` when there is
        a model–human comparison, ``sweeps.png``/``.svg`` with ``sweeps.csv``, and ``report.html``.
    command : str
        The command line shown in the report.
    overwrite : bool
        Replace an earlier analysis's outputs in ``out_dir`` (only the files it recorded).
        A folder holding files the toolkit did not write is always refused.

    Returns
    -------
    dict
        Output name -> path.
    """
    from .figures import accuracy_figure, consistency_figure, png_bytes, save_figure, sdt_figure, sweeps_figure
    from .sdt import CORRECTION
    from .report import render_report, write_report

    out = out_dir if isinstance(out_dir, OutputFolder) else open_output(out_dir, overwrite=overwrite)
    tables = ("trials", "curves", "tests", "fits", "consistency", "consistency_pairs", "image_spearman", "observers",
              "exclusions", "sdt", "sdt_curves", "tests_dprime")
    figures = ("accuracy", "sdt", "consistency") if len(result.consistency) else ("accuracy", "sdt")
    sweeps = getattr(result, "sweeps", None)
    swept = has_sweep(sweeps)  # decided before declaring: no sweep, no sweeps.csv or sweeps.png
    if swept:
        tables += ("sweeps",)
        figures += ("sweeps",)
    # every output recorded before the first is written: a run that fails part-way (a full
    # disk) leaves a folder its rerun recognises and replaces
    out.declare([f"{t}.csv" for t in tables] + [f"{f}.{s}" for f in figures for s in ("png", "svg")]
                + ["report.html"])
    paths = {}
    for name, table in (("trials", result.trials), ("curves", result.curves), ("tests", result.tests),
                        ("fits", result.fits), ("consistency", result.consistency),
                        ("consistency_pairs", result.consistency_pairs), ("image_spearman", result.spearman),
                        ("observers", result.exclusions.observers), ("exclusions", result.ledger()),
                        ("sdt", result.sdt), ("sdt_curves", result.sdt_curves),
                        ("tests_dprime", result.tests_dprime)) + ((("sweeps", sweeps),) if swept else ()):
        paths[name] = out.path(f"{name}.csv")
        write_csv(table, paths[name])
    figures = {}
    fig = accuracy_figure(result.curves, result.tests, result.pixel_pct)
    for suffix in ("png", "svg"):
        paths[f"figure_{suffix}"] = out.path(f"accuracy.{suffix}")
        save_figure(fig, paths[f"figure_{suffix}"], dpi=300)
    figures["Accuracy against % of important features revealed (mean ± SEM over observers); intact images on "
            "the right; stars: family-wise randomization test between groups."] = png_bytes(fig)
    fig = sdt_figure(result.sdt_curves, result.tests_dprime, result.pixel_pct)
    for suffix in ("png", "svg"):
        paths[f"sdt_{suffix}"] = out.path(f"sdt.{suffix}")
        save_figure(fig, paths[f"sdt_{suffix}"], dpi=300)
    figures["Signal detection (animal = signal): sensitivity d′ (top) and criterion c (bottom; c < 0: liberal, "
            "says 'animal' more) against % of important features revealed, mean ± SEM over observers (models: "
            f"sampling SE over trials); intact images on the right; {CORRECTION}, which bounds d′ by the "
            "number of trials (a model sees more trials per level than a participant); stars: family-wise "
            "randomization test of d′ between groups."] = png_bytes(fig)
    if len(result.consistency):
        fig = consistency_figure(result.consistency)
        for suffix in ("png", "svg"):
            paths[f"consistency_{suffix}"] = out.path(f"consistency.{suffix}")
            save_figure(fig, paths[f"consistency_{suffix}"], dpi=300)
        figures["Error consistency κ per level, pooled over pairs (their shared trials taken together): "
                "models vs humans, and humans vs humans (reference); "
                "'n/a': undefined at ceiling."] = png_bytes(fig)
    sdt_figures = {}
    if swept:
        fig = sweeps_figure(sweeps)
        for suffix in ("png", "svg"):
            paths[f"sweeps_{suffix}"] = out.path(f"sweeps.{suffix}")
            save_figure(fig, paths[f"sweeps_{suffix}"], dpi=300)
        sdt_figures[SWEEPS_CAPTION] = png_bytes(fig)
    paths["report"] = out.path("report.html")
    write_report(render_report(result, figures, version=toolkit_version(), command=command,
                               sdt_figures=sdt_figures), paths["report"])
    out.close()
    return paths


#: The caption of the cue-strength sweeps figure in the report.
SWEEPS_CAPTION = (
    "Cue-strength sweeps (sweeps.csv): hit rate, false-alarm rate, d′ and c of a network cued by feature-similarity "
    "gain (Lindsay & Miller 2018) toward the cue target at each strength β (β = 0: the plain network), one line per "
    "level (darker: more features revealed; darkest: intact images), one row per network, cue and layer. What to "
    "look for: hits and false alarms rising together (c falling) is a shift of the criterion toward 'animal', not "
    "better discrimination; d′ says whether discrimination changed — with gain on the attended features it may peak "
    "at a moderate strength and fall at larger ones (Luo, Roads & Love 2021). An invalid cue (target nonanimal) "
    "should move hits and false alarms the other way. d′ and c with the log-linear correction (Hautus 1995); a "
    "network sees every stimulus, so its d′ is bounded by the stimulus counts per level.")


def open_output(out_dir, *, overwrite: bool = False) -> OutputFolder:
    """The analysis's output folder, checked before any work is done (see :class:`OutputFolder`)."""
    return OutputFolder(out_dir, "reveal analyze", overwrite=overwrite)
