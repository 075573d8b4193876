"""Figures in the style of the paper's Fig. 2B, readable in print (matplotlib's object API).

Colour encodes the map source (Okabe–Ito colour-blind-safe palette); line style and marker
fill encode the kind of observer: humans solid with filled markers and a SEM band,
simulated observers dash-dot, models dashed with open markers — and every legend entry
names its kind. The intact-image (``full``) condition is drawn apart on the right, as in
the paper; the top axis gives the mean % of image pixels each level reveals.

Figures are :class:`matplotlib.figure.Figure` objects drawn on an Agg canvas of their own
(:func:`new_figure`), not pyplot figures: importing this module never switches the user's
matplotlib backend, nothing opens a window, and a figure is freed like any object.
"""
from __future__ import annotations

import io
import os

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..core.outputs import atomic_write
from ..core.levels import FULL, level_value

__all__ = ["accuracy_figure", "sdt_figure", "sweeps_figure", "consistency_figure", "new_figure", "save_figure",
           "png_bytes", "stars"]

_PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
_PLURAL = {"human": "humans", "simulated": "simulated observers"}
_MODEL_STYLES = [(0, (5, 2)), (0, (1, 1.5)), (0, (5, 1.5, 1, 1.5)), (0, (8, 2, 2, 2))]
_RC = {"font.size": 9, "axes.labelsize": 9, "legend.fontsize": 7.5, "xtick.labelsize": 7.5,
       "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none"}


def stars(p: float) -> str:
    """Significance stars as in the paper: * p < .05, ** p < .01, *** p < .001.

    Examples
    --------
    >>> [stars(p) for p in (0.0004, 0.003, 0.04, 0.2, float("nan"))]
    ['***', '**', '*', '', '']
    """
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def new_figure(**kwargs) -> Figure:
    """A figure on an Agg canvas of its own (``kwargs`` as for :class:`matplotlib.figure.Figure`).

    No pyplot: the figure is not registered with pyplot's figure manager (no ``close`` needed)
    and the backend the user chose is left alone.
    """
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _colours(sources):
    return {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(sorted(sources))}


def _series_keys(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per curve (kind, series, map source, label), humans first, then simulated, then models."""
    kinds_order = {"human": 0, "simulated": 1, "model": 2}
    return (curves[["observer_kind", "series", "map_source", "label"]].drop_duplicates()
            .sort_values(["observer_kind", "map_source", "series"], key=lambda c: c.map(kinds_order)
                         if c.name == "observer_kind" else c))


def _draw_series(ax, axf, curves: pd.DataFrame, mean: str, sem: str, *, legend: bool = True) -> list:
    """Every series of ``curves`` (``mean`` ± ``sem`` columns) on ``ax``, its intact images on ``axf``.

    Colour: map source; humans solid with a band, simulated dash-dot, models dashed, open markers, error
    bars. Returns the line handles (for the legend).
    """
    colours = _colours(curves["map_source"].unique())
    model_names = sorted(curves.loc[curves["observer_kind"] == "model", "series"].unique())
    handles = []
    for _, key in _series_keys(curves).iterrows():
        sub = curves[(curves["series"] == key["series"]) & (curves["map_source"] == key["map_source"])
                     & (curves["observer_kind"] == key["observer_kind"])]
        part = sub[sub["level"] != FULL]
        x = part["level"].map(level_value).to_numpy(float)
        order = np.argsort(x)
        x, y, e = x[order], part[mean].to_numpy(float)[order], part[sem].to_numpy(float)[order]
        colour = colours[key["map_source"]]
        kind = key["observer_kind"]
        if kind == "model":
            style = dict(ls=_MODEL_STYLES[model_names.index(key["series"]) % len(_MODEL_STYLES)],
                         marker="s", mfc="white", ms=4.5, lw=1.3)
        elif kind == "simulated":
            style = dict(ls="-.", marker="^", mfc=colour, ms=4.5, lw=1.3)
        else:
            style = dict(ls="-", marker="o", mfc=colour, ms=5, lw=1.8)
        (line,) = ax.plot(x, y, color=colour, label=key["label"] if legend else None, zorder=3, **style)
        handles.append(line)
        if kind == "model":
            ax.errorbar(x, y, yerr=e, fmt="none", ecolor=colour, elinewidth=0.8, capsize=1.5, zorder=2)
        else:
            ax.fill_between(x, y - e, y + e, color=colour, alpha=0.18, lw=0, zorder=1)
        full = sub[sub["level"] == FULL]
        if len(full):
            xf = {"human": 0.0, "simulated": 0.0, "model": 0.35}[kind]
            axf.errorbar([xf], full[mean].to_numpy(float), yerr=full[sem].to_numpy(float), color=colour,
                         capsize=2, elinewidth=1, ls="none", marker=style["marker"], mfc=style["mfc"],
                         ms=style["ms"], zorder=3)
    return handles


def _level_axis(ax, curves: pd.DataFrame, *, labels: bool = True) -> tuple[list, list]:
    """The log % revealed axis, one tick per level (``full`` apart); returns the levels and their values."""
    levels = sorted({lv for lv in curves["level"] if lv != FULL}, key=level_value)
    xs = [level_value(lv) for lv in levels]
    ax.set_xscale("log")
    ax.set_xticks(xs, labels=levels if labels else [])
    ax.minorticks_off()
    ax.set_xlim(min(xs) / 1.15, max(xs) * 1.15)
    return levels, xs


def _intact_axis(axf, *, labels: bool = True) -> None:
    """The narrow axis on the right for the intact images (shares y with the main axis)."""
    axf.set_xlim(-0.5, 0.85)
    axf.set_xticks([0.0], labels=["intact"] if labels else [""])
    axf.tick_params(axis="y", labelleft=False)
    axf.spines["left"].set_visible(False)
    axf.tick_params(axis="y", length=0)


def _pixel_axis(ax, levels, pixel_pct) -> None:
    """The top axis: mean % of image pixels at each level (when known)."""
    if pixel_pct is not None and len(pixel_pct):
        xs = [level_value(lv) for lv in levels]
        top = ax.secondary_xaxis("top")
        top.set_xticks(xs, labels=[_fmt_pct(pixel_pct.get(lv, np.nan)) for lv in levels])
        top.minorticks_off()
        top.set_xlabel("Mean % of image pixels revealed", fontsize=8)
        top.tick_params(labelsize=7)


def accuracy_figure(curves: pd.DataFrame, tests: pd.DataFrame | None = None,
                    pixel_pct: pd.Series | None = None, *, p_column: str = "p_fwer"):
    """Accuracy against % of features revealed, one curve per series, ``full`` apart.

    Parameters
    ----------
    curves : pandas.DataFrame
        From :func:`reveal.analysis.curves.group_curves`.
    tests : pandas.DataFrame, optional
        Per-level tests (``comparison, level, <p_column>``): stars above the levels.
    pixel_pct : pandas.Series, optional
        Mean % of image pixels per level (top axis).
    p_column : str
        Which p-value the stars show (family-wise by default).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> curves = pd.DataFrame({
    ...     "observer_kind": "human", "series": "clickme", "map_source": "clickme",
    ...     "label": "clickme (humans)", "level": ["1", "10", "full"],
    ...     "mean": [0.6, 0.85, 0.95], "sem": [0.05, 0.04, 0.02]})
    >>> fig = accuracy_figure(curves)
    >>> [t.get_text() for t in fig.legends[0].get_texts()]
    ['clickme (humans)']
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['1', '10']
    """
    with matplotlib.rc_context(_RC):
        fig = new_figure(figsize=(6.8, 5.0))
        grid = fig.add_gridspec(1, 2, width_ratios=[11, 1.3], wspace=0.06, left=0.09, right=0.985,
                                bottom=0.24, top=0.83)
        ax = fig.add_subplot(grid[0])
        axf = fig.add_subplot(grid[1], sharey=ax)
        handles = _draw_series(ax, axf, curves, "mean", "sem")
        levels, xs = _level_axis(ax, curves)
        ax.axhline(0.5, color="0.55", lw=0.8, ls=":", zorder=0)
        ax.text(max(xs) * 1.1, 0.505, "chance", fontsize=7, color="0.4", va="bottom", ha="right")
        low = np.nanmin((curves["mean"] - curves["sem"].fillna(0)).to_numpy(float)) if len(curves) else 0.4
        ax.set_ylim(min(0.4, np.floor((low - 0.02) * 20) / 20), 1.09)
        ax.set_ylabel("Accuracy (proportion correct)")
        ax.set_xlabel("Important features revealed (% of the feature budget, log scale)")
        _intact_axis(axf)
        axf.axhline(0.5, color="0.55", lw=0.8, ls=":", zorder=0)
        _pixel_axis(ax, levels, pixel_pct)
        if tests is not None and len(tests):
            _stars_row(ax, axf, tests, p_column, xs, y0=1.06, step=0.028, transform=False)
        # Below the axes, never over a curve (models are often at ceiling where humans are not).
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.03), ncol=2, frameon=False,
                   handlelength=3.0, columnspacing=1.5)
        star_note = ("Stars: family-wise (max-t) p" if p_column == "p_fwer" else "Stars: per-level p")
        fig.text(0.5, 0.008, f"{star_note}: * < .05, ** < .01, *** < .001. Bands: mean ± SEM over observers; "
                 "model error bars: binomial SE.", fontsize=6.5, color="0.3", ha="center")
    return fig


def _stars_row(ax, axf, tests: pd.DataFrame, p_column: str, xs, *, y0: float, step: float, transform: bool):
    """Stars of every comparison over the levels (one row per comparison); ``transform``: y in axes fraction."""
    comps = list(dict.fromkeys(tests["comparison"]))
    for row, comp in enumerate(comps):
        sub = tests[tests["comparison"] == comp]
        y_star = y0 - step * row
        for _, t in sub.iterrows():
            s = stars(t[p_column])
            if not s:
                continue
            target = axf if t["level"] == FULL else ax
            extra = {"transform": target.get_xaxis_transform()} if transform else {}
            target.text(0.0 if t["level"] == FULL else level_value(t["level"]), y_star, s,
                        ha="center", va="center", fontsize=9, fontweight="bold", **extra)
        if len(comps) > 1:
            extra = {"transform": ax.get_xaxis_transform()} if transform else {}
            ax.text(min(xs) / 1.12, y_star, comp, fontsize=6, va="center", ha="left", color="0.3", **extra)


def _span(curves: pd.DataFrame, mean: str, sem: str) -> tuple[float, float]:
    """Lowest and highest mean ∓ error bar (0, 0 when nothing is finite)."""
    m, e = curves[mean].to_numpy(float), np.nan_to_num(curves[sem].to_numpy(float))
    lo, hi = m - e, m + e
    ok = np.isfinite(lo) & np.isfinite(hi)
    return (float(lo[ok].min()), float(hi[ok].max())) if ok.any() else (0.0, 0.0)


def sdt_figure(sdt_curves: pd.DataFrame, tests: pd.DataFrame | None = None,
               pixel_pct: pd.Series | None = None, *, p_column: str = "p_fwer"):
    """Sensitivity d′ (top) and criterion c (bottom) against % of features revealed, one curve per series.

    The same axes and styling as :func:`accuracy_figure` (log % revealed, intact images apart on the
    right, colour = map source, line style = kind of observer); dotted reference lines at d′ = 0
    (chance) and c = 0 (unbiased; c < 0: liberal, says "animal" more).

    Parameters
    ----------
    sdt_curves : pandas.DataFrame
        From :func:`reveal.analysis.sdt.group_sdt` (``dprime, dprime_sem, criterion, criterion_sem``).
    tests : pandas.DataFrame, optional
        Per-level tests of d′ (``comparison, level, <p_column>``): stars above the d′ panel.
    pixel_pct : pandas.Series, optional
        Mean % of image pixels per level (top axis).
    p_column : str
        Which p-value the stars show (family-wise by default).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> curves = pd.DataFrame({
    ...     "observer_kind": "human", "series": "clickme", "map_source": "clickme",
    ...     "label": "clickme (humans)", "level": ["1", "10", "full"],
    ...     "dprime": [0.4, 1.8, 2.6], "dprime_sem": [0.1, 0.2, 0.1],
    ...     "criterion": [0.1, -0.05, 0.0], "criterion_sem": [0.05, 0.05, 0.04]})
    >>> fig = sdt_figure(curves)
    >>> [t.get_text() for t in fig.legends[0].get_texts()]
    ['clickme (humans)']
    >>> [ax.get_ylabel() for ax in fig.axes[::2]]
    ['Sensitivity d′', 'Criterion c (dotted: 0, unbiased)']
    """
    with matplotlib.rc_context(_RC):
        fig = new_figure(figsize=(6.8, 7.6))
        grid = fig.add_gridspec(2, 2, width_ratios=[11, 1.3], wspace=0.06, hspace=0.1, left=0.09, right=0.985,
                                bottom=0.175, top=0.89)
        ax_d = fig.add_subplot(grid[0, 0])
        axf_d = fig.add_subplot(grid[0, 1], sharey=ax_d)
        ax_c = fig.add_subplot(grid[1, 0], sharex=ax_d)
        axf_c = fig.add_subplot(grid[1, 1], sharey=ax_c, sharex=axf_d)
        handles = _draw_series(ax_d, axf_d, sdt_curves, "dprime", "dprime_sem")
        _draw_series(ax_c, axf_c, sdt_curves, "criterion", "criterion_sem", legend=False)
        levels, xs = _level_axis(ax_d, sdt_curves, labels=False)
        _level_axis(ax_c, sdt_curves)
        ax_d.tick_params(axis="x", labelbottom=False)
        for axis, axis_f in ((ax_d, axf_d), (ax_c, axf_c)):
            axis.axhline(0.0, color="0.55", lw=0.8, ls=":", zorder=0)
            axis_f.axhline(0.0, color="0.55", lw=0.8, ls=":", zorder=0)
        # c hovers around 0 at every level: its reference is named in the axis label, not over the curves
        ax_d.text(max(xs) * 1.1, 0.0, "chance", fontsize=7, color="0.4", va="bottom", ha="right")
        # a row of stars per comparison with any level tested (d′ is often undefined for whole groups)
        tested = (tests[tests.groupby("comparison")[p_column].transform(lambda p: p.notna().any())]
                  if tests is not None and len(tests) else None)
        n_rows = len(dict.fromkeys(tested["comparison"])) if tested is not None and len(tested) else 0
        lo, hi = _span(sdt_curves, "dprime", "dprime_sem")
        lo, hi = min(lo, 0.0), max(hi, 1.0)
        pad = 0.06 * (hi - lo)
        ax_d.set_ylim(lo - pad, hi + pad * (2 + 1.2 * n_rows))  # room above for the stars
        lo, hi = _span(sdt_curves, "criterion", "criterion_sem")
        lim = max(abs(lo), abs(hi), 0.5) * 1.15
        ax_c.set_ylim(-lim, lim)
        ax_c.text(min(xs) * 1.02, lim * 0.93, "conservative (says 'animal' less)", fontsize=6.5, color="0.4",
                  va="top", ha="left")
        ax_c.text(min(xs) * 1.02, -lim * 0.93, "liberal (says 'animal' more)", fontsize=6.5, color="0.4",
                  va="bottom", ha="left")
        ax_d.set_ylabel("Sensitivity d′")
        ax_c.set_ylabel("Criterion c (dotted: 0, unbiased)")
        ax_c.set_xlabel("Important features revealed (% of the feature budget, log scale)")
        _intact_axis(axf_d, labels=False)
        _intact_axis(axf_c)
        _pixel_axis(ax_d, levels, pixel_pct)
        if n_rows:
            _stars_row(ax_d, axf_d, tested, p_column, xs, y0=0.96, step=0.045, transform=True)
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.04), ncol=2, frameon=False,
                   handlelength=3.0, columnspacing=1.5)
        star_note = ("Stars: family-wise (max-t) p of d′" if p_column == "p_fwer" else "Stars: per-level p of d′")
        fig.text(0.5, 0.006, f"{star_note}: * < .05, ** < .01, *** < .001. Bands: mean ± SEM over observers; "
                 "model error bars: sampling SE over trials.\nd′ and c with the log-linear correction (Hautus 1995): "
                 "0.5 added to hits and false alarms, 1 to the trials, in every cell.", fontsize=6.5, color="0.3",
                 ha="center", va="bottom", linespacing=1.3)
    return fig


_SWEEP_PANELS = (("hit_rate", "Hit rate"), ("fa_rate", "False-alarm rate"), ("dprime", "Sensitivity d′"),
                 ("criterion", "Criterion c"))
_SOURCE_STYLES = ["-", (0, (4, 1.5)), (0, (1, 1.2)), (0, (5, 1.5, 1, 1.5))]


def _level_colours(levels) -> dict:
    """A sequential colormap over the levels, from light (fewest features) to dark (intact images)."""
    ordered = sorted(levels, key=level_value)
    cmap = matplotlib.colormaps["viridis_r"]
    n = len(ordered)
    return {lv: cmap(0.12 + 0.88 * (i / (n - 1) if n > 1 else 1.0)) for i, lv in enumerate(ordered)}


def sweeps_figure(sweeps: pd.DataFrame):
    """Cue-strength sweeps: hit rate, false-alarm rate, d′ and c against the cue strength β.

    One row of four panels per cued network, cue target and layer seen at two or more strengths
    (small multiples), one line per level (a sequential colormap, intact images the darkest), one
    line style per map source. Hits and false alarms rising together is a criterion shift (c falls);
    d′ says whether discrimination changed.

    Parameters
    ----------
    sweeps : pandas.DataFrame
        From :func:`reveal.analysis.sdt.strength_sweeps`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``sweeps`` holds no sweep (no base, target and layer at two strengths).

    Examples
    --------
    >>> import pandas as pd
    >>> sweeps = pd.DataFrame({
    ...     "base": "net", "method": "fsg", "target": "animal", "layer": "head", "strength": [0.0, 1.0, 0.0, 1.0],
    ...     "n_strengths": 2, "map_source": "clickme", "level": ["10", "10", "full", "full"],
    ...     "hit_rate": [0.6, 0.8, 0.9, 0.95], "fa_rate": [0.2, 0.4, 0.05, 0.1],
    ...     "dprime": [1.1, 1.0, 2.9, 2.8], "criterion": [0.3, -0.3, 0.2, -0.1]})
    >>> fig = sweeps_figure(sweeps)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['Hit rate', 'False-alarm rate', 'Sensitivity d′', 'Criterion c']
    >>> fig.axes[0].get_title(loc="left")
    'net, cue: animal at head'
    """
    swept = sweeps[sweeps["n_strengths"] >= 2] if len(sweeps) else sweeps
    if not len(swept):
        raise ValueError("no strength sweep: no cued network, target and layer at two strengths or more")
    combos = list(swept[["base", "method", "target", "layer"]].drop_duplicates().itertuples(index=False, name=None))
    colours = _level_colours(set(swept["level"]))
    sources = sorted(swept["map_source"].astype(str).unique())
    styles = {src: _SOURCE_STYLES[i % len(_SOURCE_STYLES)] for i, src in enumerate(sources)}
    with matplotlib.rc_context(_RC):
        n_rows = len(combos)
        fig = new_figure(figsize=(10.0, 2.5 * n_rows + 1.3))
        axes = np.atleast_2d(fig.subplots(n_rows, 4, squeeze=False))
        fig.subplots_adjust(left=0.07, right=0.985, wspace=0.45, hspace=0.55,
                            bottom=1.05 / (2.5 * n_rows + 1.3), top=1 - 0.35 / (2.5 * n_rows + 1.3))
        d_lo, d_hi = _span(swept.assign(_e=0.0), "dprime", "_e")
        c_lo, c_hi = _span(swept.assign(_e=0.0), "criterion", "_e")
        c_lim = max(abs(c_lo), abs(c_hi), 0.5) * 1.1
        for row, (base, method, target, layer) in enumerate(combos):
            sub = swept[(swept["base"] == base) & (swept["method"] == method) & (swept["target"] == target)
                        & (swept["layer"] == layer)]
            strengths = sorted(sub["strength"].unique())
            for col, (q, ylabel) in enumerate(_SWEEP_PANELS):
                ax = axes[row, col]
                for (src, lv), line in sub.groupby(["map_source", "level"], sort=False):
                    line = line.sort_values("strength")
                    ax.plot(line["strength"], line[q], color=colours[lv], ls=styles[str(src)], marker="o", ms=3,
                            lw=1.3)
                ax.set_xticks(strengths, labels=[f"{b:g}" for b in strengths])
                ax.set_ylabel(ylabel)
                if q in ("hit_rate", "fa_rate"):
                    ax.set_ylim(-0.03, 1.03)
                elif q == "dprime":
                    ax.axhline(0.0, color="0.55", lw=0.8, ls=":", zorder=0)
                    pad = 0.08 * max(d_hi - min(d_lo, 0.0), 0.5)
                    ax.set_ylim(min(d_lo, 0.0) - pad, d_hi + pad)
                else:
                    ax.axhline(0.0, color="0.55", lw=0.8, ls=":", zorder=0)
                    ax.set_ylim(-c_lim, c_lim)
                if row == n_rows - 1:
                    ax.set_xlabel("Cue strength β")
            how = "cue" if method == "fsg" else f"{method} cue"
            axes[row, 0].set_title(f"{base}, {how}: {target} at {layer}", loc="left", fontsize=9,
                                   fontweight="bold")
        from matplotlib.lines import Line2D

        levels = sorted(colours, key=level_value)
        handles = [Line2D([], [], color=colours[lv], marker="o", ms=3, lw=1.3,
                          label="intact" if lv == FULL else f"{lv} %") for lv in levels]
        if len(sources) > 1:
            handles += [Line2D([], [], color="0.3", ls=styles[src], lw=1.3, label=src) for src in sources]
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0),
                   ncol=min(len(handles), 9), frameon=False, title="Level (% of important features revealed)"
                   + (" · line style: map source" if len(sources) > 1 else ""), title_fontsize=7.5)
    return fig


def _fmt_pct(value) -> str:
    if value is None or not np.isfinite(value):
        return ""
    return f"{value:.2g}" if value < 10 else f"{value:.0f}"


def consistency_figure(summary: pd.DataFrame):
    """Error consistency κ per level: each model vs humans, and the human–human reference.

    Levels where κ is undefined for every pair (ceiling) are marked "n/a" at κ = 0.

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`reveal.analysis.consistency.summarize_consistency`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> summary = pd.DataFrame({"comparison": ["human-human", "model-human"], "model": ["", "net"],
    ...                         "group": "clickme", "level": "10", "kappa_pooled": [0.4, 0.667]})
    >>> fig = consistency_figure(summary)
    >>> for t in fig.axes[0].get_legend().get_texts():
    ...     print(t.get_text())
    humans vs humans, clickme (reference)
    net (model) vs humans, clickme
    """
    with matplotlib.rc_context(_RC):
        fig = new_figure(figsize=(6.8, 3.4))
        ax = fig.subplots()
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.95)
        levels = sorted(set(summary["level"]), key=level_value)
        pos = {lv: i for i, lv in enumerate(levels)}
        colours = _colours(summary["group"].unique())
        models = sorted(m for m in summary["model"].unique() if m)
        for (comp, model, group), sub in summary.groupby(["comparison", "model", "group"], sort=True):
            is_ref = not model
            x = np.array([pos[lv] for lv in sub["level"]], float)
            # pooled κ (see summarize_consistency): defined even with one trial per pair and level
            y, e = sub["kappa_pooled"].to_numpy(float), np.zeros(len(sub))
            if is_ref:
                style = dict(color="0.15", ls="-", marker="o", mfc=colours[group], lw=1.2)
                who = _PLURAL.get(comp.split("-")[0], comp.split("-")[0])
                label = f"{who} vs {who}, {group} (reference)"
            else:
                style = dict(color=colours[group], ls=_MODEL_STYLES[models.index(model) % len(_MODEL_STYLES)],
                             marker="s", mfc="white", lw=1.3)
                label = f"{model} (model) vs {_PLURAL.get(comp.split('-')[1], comp.split('-')[1])}, {group}"
            ok = np.isfinite(y)
            ax.errorbar(x[ok], y[ok], yerr=np.nan_to_num(e[ok]), capsize=2, elinewidth=0.8, label=label, ms=4,
                        **style)
            for xi in x[~ok]:
                ax.text(xi, 0.0, "n/a", ha="center", va="bottom", fontsize=6.5, color=style["color"])
        ax.axhline(0, color="0.55", lw=0.8, ls=":")
        ax.set_xticks(range(len(levels)), labels=["intact" if lv == FULL else lv for lv in levels])
        ax.set_xlabel("Important features revealed (% of the feature budget)")
        ax.set_ylabel("Error consistency κ")
        ax.legend(frameon=False, fontsize=7, loc="best")
    return fig


def save_figure(fig, path, **kwargs) -> None:
    """Write a figure atomically; format from the suffix."""
    buf = io.BytesIO()
    fig.savefig(buf, format=os.path.splitext(os.fspath(path))[1].lstrip("."), dpi=kwargs.pop("dpi", 200),
                **kwargs)
    atomic_write(path, buf.getvalue())


def png_bytes(fig, dpi=150) -> bytes:
    """The figure as PNG bytes (for embedding in the HTML report)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
