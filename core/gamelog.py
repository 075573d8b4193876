"""The ClickMe game's round log (one row per round): the one module that writes and reads it.

Every round of ``reveal game`` adds a row, written as the trial data are: the whole file goes
to a temporary file that is renamed over the old one (``core.outputs.atomic_write``), so a kill
at any instant loses at most the round in progress. The bubbles themselves go to the click dump
(``reveal.stimuli.loaders.clickme.append_click_rows``); this log says how each round went.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from .errors import InputError
from .outputs import atomic_write

__all__ = ["ROUND_COLUMNS", "append_round", "log_to_extend", "read_round_log"]

#: Columns of the round log, in order.
#: ``started``: ISO 8601 UTC of the round's first frame; ``end_reason``: recognised / time /
#: flagged; ``recognised_s``: seconds from the first frame to the partner's hit (empty
#: otherwise); ``points`` the round's, ``score`` the running total; ``top5``: the partner's
#: last answer, class indices separated by spaces; ``evaluations``: the partner's answers
#: during the round, ``latency_median_s`` their median time from mask to answer; ``frames``,
#: ``dropped_frames`` (intervals over 1.5 frames of the refresh rate) and ``longest_frame_s``
#: of the painting.
ROUND_COLUMNS = ("participant", "round", "practice", "image_id", "label", "imagenet_class", "started",
                 "end_reason", "recognised_s", "points", "score", "top5", "bubbles", "evaluations",
                 "latency_median_s", "frames", "dropped_frames", "longest_frame_s", "refresh_hz")
#: Columns a round may leave empty (no recognition, no answer of the partner, a one-frame round).
_OPTIONAL = ("label", "recognised_s", "top5", "latency_median_s", "longest_frame_s")
_NUMERIC = ("round", "practice", "imagenet_class", "recognised_s", "points", "score", "bubbles", "evaluations",
            "latency_median_s", "frames", "dropped_frames", "longest_frame_s", "refresh_hz")


def log_to_extend(path) -> str:
    """The text of a round log this toolkit wrote ("" if there is none), refused if it is anything else.

    ``reveal game run`` asks before the session starts, so that a stranger's file where the game
    writes is refused before the first round rather than after it.

    Raises
    ------
    InputError
        ``path`` exists but is not a round log this toolkit wrote (another header), or cannot be read.
    """
    path = Path(path)
    try:
        old = path.read_text(encoding="utf-8") if path.exists() else ""
    except (UnicodeDecodeError, OSError) as err:
        raise InputError(f"cannot extend the round log ({err})", path) from None
    if old and old.splitlines()[0] != ",".join(ROUND_COLUMNS):
        raise InputError(f"its header is not the round log's ({','.join(ROUND_COLUMNS[:4])},...): not a log this "
                         "toolkit wrote; name another file", path)
    return old


def append_round(path, row: dict) -> Path:
    """Add one round to the log (created with its header), replacing the file in one step.

    Parameters
    ----------
    path : path-like
    row : dict
        A value for every column of :data:`ROUND_COLUMNS` (None: empty).

    Raises
    ------
    InputError
        ``path`` exists but is not a round log this toolkit wrote (another header); it is left as it is.
    """
    path = Path(path)
    missing = [c for c in ROUND_COLUMNS if c not in row]
    if missing:
        raise ValueError(f"round row lacks {missing}")
    old = log_to_extend(path)
    if old and not old.endswith("\n"):
        old += "\n"
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    if not old:
        writer.writerow(ROUND_COLUMNS)
    writer.writerow(["" if row[c] is None else row[c] for c in ROUND_COLUMNS])
    return atomic_write(path, old + buf.getvalue())


def read_round_log(path) -> pd.DataFrame:
    """A round log as a DataFrame (numbers as numbers, ``participant`` and ``image_id`` as text).

    Raises
    ------
    InputError
        Naming the file (and row): not a round log, an unknown end reason, a number that is not one.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"cannot read the round log ({err})", path) from None
    missing = [c for c in ROUND_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"not a round log: missing column(s) {', '.join(missing)}", path)
    # every round has these (the writer fills them): an empty one is a row cut short, not a round
    required = [c for c in ROUND_COLUMNS if c not in _OPTIONAL]
    empty = df[required].isna() | (df[required] == "")
    if empty.any(axis=None):
        row = int(empty.any(axis=1).to_numpy().argmax())
        missing = [c for c in required if empty[c].iloc[row]]
        raise InputError(f"incomplete round: no {', '.join(missing)} (a file cut short?)", path, row + 1)
    bad = ~df["end_reason"].isin(["recognised", "time", "flagged"])
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise InputError(f"unknown end_reason {df['end_reason'].iloc[row]!r}", path, row + 1)
    for col in _NUMERIC:
        values = pd.to_numeric(df[col].replace("", None), errors="coerce")
        wrong = values.isna() & (df[col] != "")
        if wrong.any():
            row = int(wrong.to_numpy().argmax())
            raise InputError(f"{col} {df[col].iloc[row]!r} is not a number", path, row + 1)
        df[col] = values
    return df
