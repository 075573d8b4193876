"""The outputs of ``reveal power``: the table (CSV and printed), the figure and the report page.

Written into an owned output folder (:class:`reveal.core.outputs.OutputFolder`), in the
report style of ``reveal analyze`` (:func:`reveal.analysis.report.render_page`).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ..analysis.pipeline import write_csv
from ..core.version import toolkit_version
from ..core.outputs import OutputFolder, atomic_write

__all__ = ["COMMAND", "power_figure", "wide_table", "needed_text", "effects_table", "write_power_outputs",
           "open_power_output"]

COMMAND = "reveal power"


def wide_table(table, column="power"):
    """N per group down, levels across (``any`` last), one block per comparison.

    Parameters
    ----------
    table : pandas.DataFrame
        :attr:`reveal.experiments.power.PowerResult.table`.
    column : str

    Returns
    -------
    pandas.DataFrame
    """
    levels = list(dict.fromkeys(table["level"]))
    wide = table.pivot_table(index=["comparison", "n_per_group"], columns="level", values=column, sort=False)
    return wide.reindex(columns=levels).reset_index()


def needed_text(result):
    """One line per comparison: the N per group reaching the target power, per level."""
    lines = []
    target = result.settings["target"]
    for comparison, sub in result.n_needed.groupby("comparison", sort=False):
        parts = [f"{lv}: {'not reached' if np.isnan(n) else int(n)}" for lv, n in zip(sub["level"], sub["n_per_group"])]
        lines.append(f"{comparison} — N per group for {target:.0%} power: " + ", ".join(parts))
    return lines


def power_figure(table, target=0.8):
    """Power against N per group: a line per level, family-wise in black; a panel per comparison.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib

    from ..analysis.figures import new_figure

    comparisons = list(dict.fromkeys(table["comparison"]))
    fig = new_figure(figsize=(5.6 * len(comparisons) + 2.2, 4.6))
    axes = fig.subplots(1, len(comparisons), squeeze=False)
    for ax, comparison in zip(axes[0], comparisons):
        sub = table[table["comparison"] == comparison]
        levels = [lv for lv in dict.fromkeys(sub["level"]) if lv != "any"]
        colours = matplotlib.colormaps["viridis"](np.linspace(0, 0.95, len(levels)))
        for colour, level in zip(colours, levels):
            rows = sub[sub["level"] == level]
            ax.errorbar(rows["n_per_group"], rows["power"], yerr=1.96 * rows["power_se"], color=colour, lw=1.3,
                        marker="o", ms=3, capsize=2, label=f"{level} %" if level != "full" else "intact")
        rows = sub[sub["level"] == "any"]
        ax.errorbar(rows["n_per_group"], rows["power"], yerr=1.96 * rows["power_se"], color="black", lw=2.4,
                    ls="--", marker="s", ms=4, capsize=2, label="any level (family-wise)")
        ax.axhline(target, color="grey", lw=0.8, ls=":")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("participants per group")
        ax.set_ylabel("power (max-|t| corrected)")
        ax.set_title(comparison, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, title="level revealed", title_fontsize=7, loc="upper left",
                       bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def open_power_output(out_dir, *, overwrite=False) -> OutputFolder:
    """``reveal power``'s output folder, checked before the simulation starts."""
    return OutputFolder(out_dir, COMMAND, overwrite=overwrite)


def write_power_outputs(result, effects_table, out, *, command=""):
    """Write ``power.csv``, ``power_needed.csv``, ``effects.csv``, ``power.png``, ``power.json``
    and ``power.html``.

    Parameters
    ----------
    result : PowerResult
    effects_table : pandas.DataFrame
        The assumed accuracy per group and level (what was simulated).
    out : OutputFolder
    command : str

    Returns
    -------
    dict
        Output name -> path.
    """
    from ..analysis.figures import png_bytes, save_figure
    from ..analysis.report import render_page, write_report

    paths = {}
    for name, table in (("power", result.table), ("power_needed", result.n_needed), ("effects", effects_table)):
        paths[name] = out.path(f"{name}.csv")
        write_csv(table, paths[name])
    paths["settings"] = out.path("power.json")
    atomic_write(paths["settings"], json.dumps(result.settings, indent=1, default=str) + "\n")
    fig = power_figure(result.table, result.settings["target"])
    paths["figure"] = out.path("power.png")
    save_figure(fig, paths["figure"], dpi=200)
    png = png_bytes(fig)
    s = result.settings
    intro = [f"{s['n_studies']} simulated studies per N, each analysed with {s['n_resamples']} randomization "
             f"resamples (Welch t per level, max-|t| family-wise correction, alpha {s['alpha']:g}); "
             f"{s['n_images']} images per participant over the {len(s['levels'])}-condition Latin square; "
             f"the analysis's exclusions ({s['exclusions']}).",
             "Power is the share of simulated studies in which a level differs significantly between the groups "
             "(after the family-wise correction); 'any' is the chance that at least one level does. "
             "± in the table and bars in the figure: Monte-Carlo standard error (bars 1.96 SE).",
             *[f"{name}: {origin}; participants' spread {s['spread_log10'][name]:.3g} log10, timeouts "
               f"{s['timeout_rate'][name]:.1%}" for name, origin in s["groups"].items()],
             *needed_text(result)]
    page = render_page("Power of the reveal design", intro=intro,
                       figures={"Power against participants per group; dotted: target "
                                f"{s['target']:.0%}.": png},
                       tables={"Power (max-|t| corrected)": wide_table(result.table),
                               "Monte-Carlo standard error": wide_table(result.table, "power_se"),
                               "Power without correction (each level alone)":
                                   wide_table(result.table, "power_uncorrected"),
                               f"N per group for {s['target']:.0%} power": result.n_needed,
                               "Assumed accuracy per group and level": effects_table},
                       version=toolkit_version(), command=command)
    paths["report"] = out.path("power.html")
    write_report(page, paths["report"])
    out.close()
    return paths


def effects_table(effects, levels):
    """The accuracy each group's typical participant has at each level (no shift)."""
    rows = [{"group": e.name, "level": lv, "accuracy": float(p), "spread_log10": e.spread_log10,
             "timeout_rate": e.timeout_rate, "origin": e.origin}
            for e in effects for lv, p in zip(levels, e.accuracy(levels))]
    return pd.DataFrame(rows)
