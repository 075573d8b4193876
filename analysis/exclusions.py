"""Explicit, reported exclusions: observers at chance on intact images, too many timeouts, timeouts.

Every row taken out of the accuracy computation is counted in a ledger with its reason, so
the report can account for all data read.

The rules apply in this order, and a row left out by one is counted under that rule only:

1. observers (intact-image accuracy at or below chance, or not judgeable: no answered intact-image
   trial; too many timeouts), judged on all their test trials, the trials left out below included;
2. unattended online trials (``page_hidden = 1`` or ``focus_lost = 1``, unless
   ``keep_unattended``): a hidden page stops the browser's frame loop, so such a trial's timing
   usually fails too, and it is counted under its cause;
3. image timing failures (``timing_ok = 0``, unless ``keep_timing_failures``);
4. timeouts (left out, or counted as errors with ``timeouts_as_errors``).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..core.levels import FULL

__all__ = ["ExclusionSettings", "ExclusionResult", "apply_exclusions", "UNATTENDED_REASON", "NO_INTACT_REASON",
           "ATTENTION_COUNTS"]


@dataclasses.dataclass(frozen=True)
class ExclusionSettings:
    """The exclusion rules (all reported in the output).

    Attributes
    ----------
    chance : float
        An observer whose accuracy on intact (``full``) images is at or below this is
        excluded: they were not doing the task. With ~7 intact trials per participant a
        significance test would exclude most honest participants, so the rule is a plain
        threshold. An observer with no answered intact-image trial (a session that ended before
        its first intact image, or timed out on every one) cannot be judged by this rule and is
        excluded too, with that reason (:data:`NO_INTACT_REASON`).
    max_timeout_rate : float
        An observer who timed out on more than this share of test trials is excluded.
    timeouts_as_errors : bool
        False (default, as in the original study): timed-out trials are left out of
        accuracy. True: they count as errors.
    exclude_models : bool
        Models are never excluded by the observer rules unless this is set (a model at
        chance is a result, not a participant who did not do the task).
    keep_timing_failures : bool
        False (default): trials whose image was not shown for 400 ms ± one frame, by the
        flips the experiment measured (``timing_ok = 0``), are left out and counted. True:
        they are analysed like the others.
    keep_unattended : bool
        False (default): online (PsychoJS) trials during which the page was hidden
        (``page_hidden = 1``: another tab, a minimised window) or the browser window lost
        focus (``focus_lost = 1``) are left out and counted, like timing failures; a missing
        value (lab files, older online files) counts as attended. True: they are analysed like
        the others.
    """

    chance: float = 0.5
    max_timeout_rate: float = 0.25
    timeouts_as_errors: bool = False
    exclude_models: bool = False
    keep_timing_failures: bool = False
    keep_unattended: bool = False


#: The ledger's reason for a trial left out by the attention rule (``keep_unattended=False``).
UNATTENDED_REASON = "page hidden or window unfocused during the trial (online)"
#: The reason of an observer excluded because the intact-image rule cannot be applied: no intact-image test
#: trial (a session that ended before its first one). One who timed out on every intact image is excluded with
#: "no answered intact-image trial (all N timed out), so intact-image accuracy cannot be judged".
NO_INTACT_REASON = "no intact-image trial, so intact-image accuracy cannot be judged"
#: The online attention columns: per observer, :func:`apply_exclusions` counts the trials with each at 1
#: (``n_page_hidden``, ``n_focus_lost``) where the observer's files have the column.
ATTENTION_COUNTS = {"page_hidden": "n_page_hidden", "focus_lost": "n_focus_lost"}
#: Per observer, the test trials answered late (``late_key`` set: a key after the deadline, none in time),
#: where the observer's files have the column (files written before it existed: empty).
LATE_COUNT = "n_late_answers"


@dataclasses.dataclass
class ExclusionResult:
    """Output of :func:`apply_exclusions`.

    Attributes
    ----------
    trials : pandas.DataFrame
        The rows that enter accuracy.
    observers : pandas.DataFrame
        One row per observer: ``observer, observer_kind, group, n_trials, full_accuracy,
        timeout_rate, excluded, reason``, and, when any trial has the online attention columns,
        ``n_page_hidden, n_focus_lost``: the observer's test trials with ``page_hidden = 1`` /
        ``focus_lost = 1`` (before any exclusion; empty for an observer whose files lack the
        column); when any trial has ``late_key``, ``n_late_answers`` likewise.
    dropped : pandas.DataFrame
        Ledger ``file, observer, reason, rows`` of the rows left out here.
    settings : ExclusionSettings
    """

    trials: pd.DataFrame
    observers: pd.DataFrame
    dropped: pd.DataFrame
    settings: ExclusionSettings


def apply_exclusions(trials: pd.DataFrame, settings: ExclusionSettings = ExclusionSettings()) -> ExclusionResult:
    """Apply the observer and trial exclusions.

    Parameters
    ----------
    trials : pandas.DataFrame
        Tidy trial table.
    settings : ExclusionSettings

    Returns
    -------
    ExclusionResult

    Examples
    --------
    ``p2`` is wrong on both intact images (at chance); ``p1`` timed out once:

    >>> import pandas as pd
    >>> trials = pd.DataFrame({
    ...     "observer": ["p1"] * 4 + ["p2"] * 4, "observer_kind": "human", "group": "clickme",
    ...     "level": ["10", "full", "full", "10"] * 2, "correct": [1, 1, 1, 0, 1, 0, 0, 1],
    ...     "timed_out": [0, 0, 0, 1, 0, 0, 0, 0]})
    >>> result = apply_exclusions(trials)
    >>> result.observers[["observer", "full_accuracy", "timeout_rate", "excluded"]]
      observer  full_accuracy  timeout_rate  excluded
    0       p1            1.0          0.25     False
    1       p2            0.0          0.00      True
    >>> for row in result.dropped.itertuples():
    ...     print(row.observer, row.rows, row.reason)
    p2 4 observer excluded: intact-image accuracy 0.00 at or below chance (0.5)
    p1 1 timed out (left out of accuracy)
    >>> len(result.trials)
    3
    """
    trials = trials.copy()
    if "source_file" not in trials:
        trials["source_file"] = ""
    key = ["observer_kind", "observer"]
    rows = []
    for (kind, observer), sub in trials.groupby(key, sort=True):
        full = sub[(sub["level"] == FULL) & (sub["timed_out"] == 0)]
        full_acc = float(full["correct"].mean()) if len(full) else np.nan
        timeout_rate = float(sub["timed_out"].mean())
        reasons = []
        if kind != "model" or settings.exclude_models:
            n_full = int((sub["level"] == FULL).sum())
            if not len(full):  # the rule cannot be applied: not a participant known to do the task
                reasons.append(NO_INTACT_REASON if not n_full else
                               f"no answered intact-image trial (all {n_full} timed out), so intact-image "
                               "accuracy cannot be judged")
            elif full_acc <= settings.chance:
                reasons.append(f"intact-image accuracy {full_acc:.2f} at or below chance ({settings.chance:g})")
            if timeout_rate > settings.max_timeout_rate:
                reasons.append(f"timeouts {timeout_rate:.0%} > {settings.max_timeout_rate:.0%}")
        # a participant is in one group (the readers refuse two); a model sees every map source: all listed
        rows.append({"observer": observer, "observer_kind": kind, "group": ", ".join(sorted(set(sub["group"]))),
                     "n_trials": len(sub), "full_accuracy": full_acc, "timeout_rate": timeout_rate,
                     "excluded": bool(reasons), "reason": "; ".join(reasons)})
    observers = pd.DataFrame(rows, columns=["observer", "observer_kind", "group", "n_trials", "full_accuracy",
                                            "timeout_rate", "excluded", "reason"])
    for column, count in ATTENTION_COUNTS.items():
        if column in trials:
            flag = pd.to_numeric(trials[column], errors="coerce")
            per = (pd.DataFrame({"hit": (flag == 1).to_numpy(), "known": flag.notna().to_numpy()},
                                index=pd.MultiIndex.from_frame(trials[key])).groupby(level=[0, 1]).sum()
                   .reindex(pd.MultiIndex.from_frame(observers[key])))
            # an observer whose files lack the column: not measured (NA), not 0
            observers[count] = pd.array(per["hit"].where(per["known"] > 0).to_numpy(), dtype="Int64")
    if "late_key" in trials:
        # late answers (a key after the deadline, on a trial without an answer in time), where measured
        keys = trials["late_key"]
        per = (pd.DataFrame({"hit": (keys.notna() & (keys.astype(str) != "")).to_numpy(),
                             "known": keys.notna().to_numpy()},
                            index=pd.MultiIndex.from_frame(trials[key])).groupby(level=[0, 1]).sum()
               .reindex(pd.MultiIndex.from_frame(observers[key])))
        observers[LATE_COUNT] = pd.array(per["hit"].where(per["known"] > 0).to_numpy(), dtype="Int64")
    ledger = []
    excluded = observers[observers["excluded"]]
    drop = np.zeros(len(trials), dtype=bool)
    for _, ob in excluded.iterrows():
        mask = ((trials["observer"] == ob["observer"]) & (trials["observer_kind"] == ob["observer_kind"])).to_numpy()
        drop |= mask
        for fname, n in trials[mask].groupby("source_file").size().items():
            ledger.append({"file": fname, "observer": ob["observer"], "reason": f"observer excluded: {ob['reason']}",
                           "rows": int(n)})
    kept = trials[~drop]
    present = [c for c in ATTENTION_COUNTS if c in kept]
    if present and not settings.keep_unattended:
        # missing (lab files, older online files) counts as attended
        unattended = np.logical_or.reduce([(pd.to_numeric(kept[c], errors="coerce") == 1).to_numpy()
                                           for c in present])
        for (fname, observer), n in kept[unattended].groupby(["source_file", "observer"]).size().items():
            ledger.append({"file": fname, "observer": observer, "reason": UNATTENDED_REASON, "rows": int(n)})
        kept = kept[~unattended]
    if "timing_ok" in kept and not settings.keep_timing_failures:
        ok = pd.to_numeric(kept["timing_ok"], errors="coerce")
        failed = (ok == 0).to_numpy()  # files without the measurement (NaN) are not judged
        for (fname, observer), n in kept[failed].groupby(["source_file", "observer"]).size().items():
            ledger.append({"file": fname, "observer": observer,
                           "reason": "image timing failed (not 400 ms ± one frame at the flips)", "rows": int(n)})
        kept = kept[~failed]
    if settings.timeouts_as_errors:
        kept = kept.copy()
        kept.loc[kept["timed_out"] == 1, "correct"] = 0
    else:
        timed = (kept["timed_out"] == 1).to_numpy()
        if timed.any():
            for (fname, observer), n in kept[timed].groupby(["source_file", "observer"]).size().items():
                ledger.append({"file": fname, "observer": observer,
                               "reason": "timed out (left out of accuracy)", "rows": int(n)})
        kept = kept[~timed]
    return ExclusionResult(trials=kept.reset_index(drop=True), observers=observers,
                           dropped=pd.DataFrame(ledger, columns=["file", "observer", "reason", "rows"]),
                           settings=settings)
