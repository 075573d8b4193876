"""A self-contained HTML report: figures embedded as base64 PNG, tables, exclusions, settings.

One file, no external resources, so it can be mailed or opened offline in a lab meeting.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import html

import numpy as np
import pandas as pd

from ..core.outputs import atomic_write

__all__ = ["render_report", "render_page", "write_report", "sdt_table"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:1.8em}
table{border-collapse:collapse;font-size:.8em;margin:.5em 0} th,td{border:1px solid #ddd;padding:.2em .5em;
text-align:right} th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;border:1px solid #eee} .note{color:#555;font-size:.9em}
.kind{font-weight:bold} .wide{overflow-x:auto}
"""


#: Shown for a value that does not apply: an online-only count of a lab observer, the intact-image accuracy of
#: an observer with no answered intact-image trial (observers.csv leaves such cells empty).
NOT_APPLICABLE = "—"
#: The observers table's columns that are empty where they do not apply.
_OBSERVER_OPTIONAL = ("full_accuracy", "n_page_hidden", "n_focus_lost", "n_late_answers")


def _observer_rows(obs: pd.DataFrame) -> pd.DataFrame:
    """The observers table as the report shows it: a value that does not apply is NOT_APPLICABLE."""
    shown = obs.copy()
    for column in _OBSERVER_OPTIONAL:
        if column in shown:
            shown[column] = [NOT_APPLICABLE if pd.isna(v) else f"{v:.4g}" if isinstance(v, float) else str(v)
                             for v in shown[column].astype(object)]
    return shown


def _table(df: pd.DataFrame | None, empty: str = "none") -> str:
    if df is None or len(df) == 0:
        return f"<p class='note'>{html.escape(empty)}</p>"
    # a missing value of a nullable column (Int64, string) prints as '<NA>' whatever na_rep says
    df = df.apply(lambda c: c.astype(object).where(c.notna(), "")
                  if isinstance(c.dtype, pd.api.extensions.ExtensionDtype) and c.isna().any() else c)
    table = df.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0, escape=True)
    return f"<div class='wide'>{table}</div>"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _pm(mean, sem) -> str:
    """``mean ± sem`` (3 decimals); the mean alone when the error is not defined; "" when the mean is not."""
    if pd.isna(mean):
        return ""
    return f"{mean:.3f}" if pd.isna(sem) else f"{mean:.3f} ± {sem:.3f}"


def sdt_table(sdt_curves: pd.DataFrame) -> pd.DataFrame:
    """The report's compact signal-detection table: per series and level, hit rate, FA rate, d′ and c.

    Parameters
    ----------
    sdt_curves : pandas.DataFrame
        From :func:`reveal.analysis.sdt.group_sdt`.

    Returns
    -------
    pandas.DataFrame
        ``series, level, observers, hit rate, FA rate, d′, c, error``: each value ``mean ± error``.

    Examples
    --------
    >>> import pandas as pd
    >>> curves = pd.DataFrame({"label": "clickme (humans)", "level": "10", "n_observers": 12,
    ...                        "hit_rate": [0.81], "hit_rate_sem": [0.02], "fa_rate": [0.12],
    ...                        "fa_rate_sem": [0.015], "dprime": [2.1], "dprime_sem": [0.1], "criterion": [0.1],
    ...                        "criterion_sem": [float("nan")], "error_kind": "SEM over observers"})
    >>> print(*sdt_table(curves).iloc[0], sep=" | ")
    clickme (humans) | 10 | 12 | 0.810 ± 0.020 | 0.120 ± 0.015 | 2.100 ± 0.100 | 0.100 | SEM over observers
    """
    columns = ["series", "level", "observers", "hit rate", "FA rate", "d′", "c", "error"]
    if sdt_curves is None or not len(sdt_curves):
        return pd.DataFrame(columns=columns)
    c = sdt_curves
    out = pd.DataFrame({"series": c["label"], "level": c["level"], "observers": c["n_observers"]})
    for name, q in (("hit rate", "hit_rate"), ("FA rate", "fa_rate"), ("d′", "dprime"), ("c", "criterion")):
        out[name] = [_pm(m, e) for m, e in zip(c[q], c[f"{q}_sem"])]
    out["error"] = c["error_kind"]
    return out.reset_index(drop=True)


def render_report(result, figures: dict[str, bytes], *, version: str, command: str = "",
                  sdt_figures: dict[str, bytes] | None = None) -> str:
    """The report as one HTML string.

    Parameters
    ----------
    result : analysis.pipeline.AnalysisResult
    figures : dict of str to bytes
        Caption → PNG bytes, embedded in order.
    version : str
        Toolkit version.
    command : str
        The command line that produced it.
    sdt_figures : dict of str to bytes, optional
        Caption → PNG bytes, embedded in the signal-detection section (the cue-strength sweeps).

    Returns
    -------
    str
    """
    s = result.settings
    trials = result.trials
    kinds = trials.groupby("observer_kind")["observer"].nunique()
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>reveal analysis report</title>"
             f"<style>{_CSS}</style></head><body>",
             "<h1>reveal — analysis report</h1>",
             f"<p class='note'>reveal {html.escape(version)} · "
             f"{_dt.datetime.now().astimezone().isoformat(timespec='seconds')}</p>"]
    summary = ", ".join(f"{n} {k} observer{'s' if n != 1 else ''}" for k, n in kinds.items())
    parts.append(_p(f"Data: {len(result.read.files)} file(s), {len(trials)} test trials, {summary}."))
    if "simulated" in kinds or "model" in kinds:
        parts.append("<p class='kind'>Note: this report includes "
                     + " and ".join(k for k in ("simulated", "model") if k in kinds)
                     + " observers; they are labelled as such in every figure and table.</p>")
    parts.append("<h2>Figures</h2>")
    for caption, png in figures.items():
        parts.append(f"<figure>{_img(png, caption)}<figcaption class='note'>{html.escape(caption)}"
                     "</figcaption></figure>")
    parts.append("<h2>Group comparisons (randomization tests)</h2>")
    parts.append(_p(f"Observers' group labels shuffled, {s.n_resamples} resamples (seed {s.seed}); "
                    "statistic: Welch t of group_a − group_b; p = (count + 1)/(resamples + 1); p two-sided, "
                    "p_greater one-sided (group_a more accurate); p_fwer: family-wise over levels by the maximum "
                    f"statistic. Effect sizes: difference of mean accuracy and Hedges' g, {s.n_bootstrap} "
                    "bootstrap resamples (BCa, 95 %). Levels with no variance (ceiling) are not tested."))
    tests = result.tests.drop(columns=["observer_kind", "n_resamples"], errors="ignore")
    parts.append(_table(tests, "no group comparison (fewer than two groups of observers)"))
    parts.append("<h2>Curves (accuracy per level)</h2>")
    parts.append(_table(result.curves.drop(columns=["series"], errors="ignore")))
    if len(result.pixel_pct):
        parts.append(_p("Mean % of image pixels revealed per level: " + ", ".join(
            f"{lv}: {v:.3g} %" for lv, v in result.pixel_pct.items() if np.isfinite(v))))
    sdt_curves = getattr(result, "sdt_curves", None)
    if sdt_curves is not None and len(sdt_curves):
        from .sdt import CORRECTION

        parts.append("<h2>Signal detection (animal = signal)</h2>")
        timeouts = ("timed-out trials count as errors in accuracy and as not answering 'animal' here (a miss on an "
                    "animal image, a correct rejection on a non-animal one)" if s.exclusions.timeouts_as_errors
                    else "timed-out trials are left out, as in accuracy")
        parts.append(_p("Per observer and level (sdt.csv): hit rate = 'animal' answers to animal images, FA rate = "
                        "'animal' answers to non-animal images (raw proportions), sensitivity d′ = z(H) − z(F) and "
                        f"criterion c = −(z(H) + z(F))/2 (c < 0: liberal), with the {CORRECTION}, so that rates "
                        "of 0 and 1 stay finite. The same trials as accuracy; "
                        f"{timeouts}. A level where an observer saw no animal (non-animal) image has no hit "
                        "(FA) rate, d′ or c. The correction bounds d′ by the trials: with n of each category a perfect "
                        "observer has d′ = 2·z((n + 0.5)/(n + 1)) (2.30 for n = 3, 4.50 for n = 40), so d′ is "
                        "comparable between observers with similar numbers of trials per level, not between a "
                        "participant (a few images per level) and a model (every stimulus). Below: mean ± SEM over "
                        "observers of their own values (sdt_curves.csv); "
                        "a series of one observer (a model) has the sampling SE over its trials instead (the SD of "
                        "each value when its hits and false alarms are drawn again from binomials with its rates, as "
                        "for a model's accuracy)."))
        parts.append(_table(sdt_table(sdt_curves)))
        tests_dprime = getattr(result, "tests_dprime", None)
        parts.append(_p("Group comparisons of d′ (tests_dprime.csv): the same randomization test as for accuracy, on "
                        "the observers' d′ (mean_a, mean_b, difference: d′)."))
        keep = ["comparison", "level", "n_a", "n_b", "mean_a", "mean_b", "difference", "hedges_g", "statistic",
                "p", "p_fwer", "note"]
        parts.append(_table(None if tests_dprime is None else tests_dprime.reindex(columns=keep),
                            "no group comparison (fewer than two groups of observers)"))
        if sdt_figures:
            parts.append("<h3>Cue-strength sweeps</h3>")
            for caption, png in sdt_figures.items():
                parts.append(f"<figure>{_img(png, caption)}<figcaption class='note'>{html.escape(caption)}"
                             "</figcaption></figure>")
    parts.append("<h2>Psychometric fits and ceiling</h2>")
    parts.append(_p(f"psignifit 4, 2AFC, x = log10 % revealed; threshold at {s.threshold_p_correct:.0%} correct "
                    f"with 95 % credible interval; fitted ceiling where the curve is {s.ceiling_fraction:.0%} of the "
                    f"way to its asymptote; empirical ceiling: lowest level from which mean accuracy stays within "
                    f"{s.ceiling_tolerance:.0%} of intact-image accuracy. *_image_pct: the same point in mean % of "
                    "image pixels."))
    parts.append(_table(result.fits, "no fits"))
    if len(result.consistency) or len(result.spearman):
        parts.append("<h2>Models vs humans</h2>")
        parts.append(_p("Error consistency κ (Geirhos et al. 2020) per level, on the trials each human saw; "
                        "undefined when both observers are at ceiling on the shared trials (counted in "
                        "n_undefined, not averaged). Human–human κ (pairs that saw the same stimuli) is the "
                        "reference. When exactly one observer of a pair is at 100 % on the shared trials, κ is 0 "
                        "by construction (it carries no information about shared errors)."))
        parts.append(_table(result.consistency, "no model or no shared trials"))
        parts.append(_p("Spearman correlation across images between human accuracy and the model's probability "
                        "for the correct category (from p_animal), per level and pooled ('all')."))
        parts.append(_table(result.spearman, "no model evidence (p_animal) in the data"))
    parts.append("<h2>Data and exclusions</h2>")
    parts.append("<h3>Files</h3>" + _table(result.read.files))
    parts.append("<h3>Duplicates</h3>" + _table(result.read.duplicates, "no duplicates found"))
    obs = _observer_rows(result.exclusions.observers)
    parts.append("<h3>Excluded observers</h3>"
                 + _p(f"An observer is excluded when their intact-image accuracy is at or below "
                      f"{s.exclusions.chance:g}, or cannot be judged (no answered intact-image trial: a session that "
                      f"ended before its first intact image), or when they timed out on more than "
                      f"{s.exclusions.max_timeout_rate:.0%} of their test trials; 'reason' says which.")
                 + _table(obs[obs["excluded"].astype(bool)], "no observer excluded"))
    ledger = result.ledger()
    by_reason = (ledger.groupby("reason", sort=True)["rows"].sum().reset_index()
                 if len(ledger) else ledger)
    parts.append("<h3>Rows not analysed, by reason</h3>" + _table(by_reason, "every row read was analysed"))
    parts.append("<details><summary>per file and observer</summary>" + _table(ledger) + "</details>")
    counts = [c for c in ("n_page_hidden", "n_focus_lost") if c in obs]
    if counts:  # online (PsychoJS) files with the attention columns
        measured = result.exclusions.observers[counts].notna().any(axis=1).to_numpy()
        online = obs[measured]
        fate = ("analysed like the others (--keep-unattended)" if s.exclusions.keep_unattended else
                "left out of accuracy and counted above ('page hidden or window unfocused during the trial "
                "(online)')")
        parts.append("<h3>Attention during online trials</h3>"
                     + _p("Per participant, the test trials during which the page was hidden (n_page_hidden: "
                          "another tab, a minimised window) and during which the browser window lost focus "
                          f"(n_focus_lost), as the online experiment recorded them. These trials were {fate}; "
                          "the counts are of all test trials, before any exclusion.")
                     + _table(online[["observer", "group", "n_trials", *counts, "excluded"]]
                              .rename(columns={"excluded": "observer_excluded"}),
                              "no participant's files have these columns"))
    parts.append("<h3>Observers</h3>"
                 + _p(f"'{NOT_APPLICABLE}': does not apply (n_page_hidden and n_focus_lost are recorded only "
                      "online; full_accuracy needs an answered intact-image trial; n_late_answers, the trials "
                      "answered only after the deadline, needs files with the late_key column).")
                 + _table(obs))
    parts.append("<h2>Settings</h2>")
    settings = dataclasses.asdict(s)
    settings.pop("progress", None)
    flat = []
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.extend((f"{key}.{k}", v) for k, v in value.items())
        else:
            flat.append((key, value))
    flat.append(("toolkit version", version))
    if command:
        flat.append(("command", command))
    parts.append(_table(pd.DataFrame(flat, columns=["setting", "value"]).astype(str)))
    parts.append("</body></html>")
    return "\n".join(parts)


def render_page(title: str, *, intro=(), figures=None, tables=None, version: str = "", command: str = "") -> str:
    """A report page in the same style: title, paragraphs, embedded figures, tables.

    Parameters
    ----------
    title : str
    intro : sequence of str
        Paragraphs under the title.
    figures : dict of str to bytes
        Caption → PNG bytes.
    tables : dict of str to pandas.DataFrame
        Heading → table.
    version, command : str
        Toolkit version and the command line, shown under the title.

    Returns
    -------
    str
        One self-contained HTML page.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"level": ["1", "full"], "mean": [0.61234, 0.95]})
    >>> page = render_page("Demo", intro=["Two rows."], tables={"Curves": table})
    >>> page.startswith("<!DOCTYPE html>"), "<h2>Curves</h2>" in page
    (True, True)
    >>> [line.strip() for line in page.splitlines() if line.strip().startswith("<td>")]
    ['<td>1</td>', '<td>0.6123</td>', '<td>full</td>', '<td>0.95</td>']
    """
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if version or command:
        parts.append(f"<p class='note'>reveal {html.escape(version)} — <code>{html.escape(command)}</code></p>")
    parts += [_p(t) for t in intro]
    for caption, png in (figures or {}).items():
        parts.append(f"<figure>{_img(png, caption)}<figcaption class='note'>{html.escape(caption)}"
                     "</figcaption></figure>")
    for heading, table in (tables or {}).items():
        parts.append(f"<h2>{html.escape(heading)}</h2>" + _table(table))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(text: str, path) -> None:
    """Write the HTML atomically."""
    atomic_write(path, text)


