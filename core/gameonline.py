"""The online ClickMe game's data file (PsychoJS, on Pavlovia): the one module that reads it.

In the participant's browser the game cannot write the lab's click dump and round log; PsychoJS
writes its own data CSV instead, one row per round (``experiments/templates/game_round_end.js.tmpl``)
beside rows that are not rounds (the instructions at the top, the goodbye at the end: their
``end_reason`` is empty) and many columns of its own (ignored). :func:`read_online_rounds` turns
such a file into the rows the lab writes: round-log rows (``core.gamelog.append_round``) and
click-dump rows (``stimuli.loaders.clickme.append_click_rows``); ``reveal game collect`` writes them.
"""
from __future__ import annotations

import csv
import dataclasses
import math
import re
from pathlib import Path

import numpy as np

from .errors import InputError, reading_csv
from .gamelog import ROUND_COLUMNS

__all__ = ["ONLINE_COLUMNS", "OnlineRounds", "read_online_rounds"]

#: The columns of a PsychoJS data file of the game that are read (from the conditions file and the round's end).
ONLINE_COLUMNS = ("participant", "image_id", "image_file", "imagenet_class", "label", "round", "practice", "started",
                  "end_reason", "recognised_s", "points", "score", "top5", "bubbles", "clicks", "evaluations",
                  "latency_median_s", "frames", "dropped_frames", "longest_frame_s", "refresh_hz")
#: Why a round ends (``reveal.experiments.game.END_REASONS``, which the core may not import).
_END_REASONS = ("recognised", "time", "flagged")
#: Whole numbers (counts, a class index): never negative.
_INTS = ("round", "practice", "imagenet_class", "bubbles", "evaluations", "frames", "dropped_frames")
_FLOATS = ("points", "score", "refresh_hz")
#: Cells a round may leave empty (None in the rows returned).
_OPTIONAL_FLOATS = ("recognised_s", "latency_median_s", "longest_frame_s")
_OPTIONAL_TEXT = ("label", "top5")
#: Text every round has.
_TEXT = ("participant", "image_id", "image_file", "started")
#: The photograph's frame the clicks are in: ClickMe's 256 x 256 (``stimuli.loaders.clickme.CLICKME_SHAPE``).
_FRAME = 256

_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_CLICK = re.compile(r"(-?\d+) (-?\d+)")
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")


@dataclasses.dataclass(frozen=True)
class OnlineRounds:
    """The rounds of one PsychoJS data file, as the lab game records them.

    Attributes
    ----------
    log_rows : list of dict
        Every round (practice, flagged and empty ones too), each with exactly the keys of
        ``core.gamelog.ROUND_COLUMNS`` (None: an empty cell).
    dump_rows : list of dict
        ``image_path, clicks (ndarray (N, 2) int64 of x, y), user_id, timestamp``, for the rounds
        that are not practice, not flagged and have a bubble (as ``experiments.game.round_records``).
    """

    log_rows: list
    dump_rows: list


def _empty(col, path, row):
    return InputError(f"a round without {col} (a file cut short, or not the game's data?)", path, row)


def _number(cells, col, path, row):
    """The typed value of a numeric cell (None for an empty optional one); InputError if it is not one."""
    text = cells[col]
    if not text:
        if col in _OPTIONAL_FLOATS:
            return None
        raise _empty(col, path, row)
    if col in _INTS:
        if not _INT.fullmatch(text) or int(text) < 0:
            raise InputError(f"{col} {text!r} is not a whole number of 0 or more", path, row)
        return int(text)
    if not _FLOAT.fullmatch(text) or not math.isfinite(float(text)):
        raise InputError(f"{col} {text!r} is not a number", path, row)
    return float(text)


def _clicks(text, bubbles, path, row):
    """``"x y;x y;..."`` as an (N, 2) int64 array, checked against the frame and the bubble count."""
    pairs = [_CLICK.fullmatch(p.strip()) for p in text.split(";")] if text else []
    bad = next((i for i, m in enumerate(pairs) if m is None), None)
    if bad is not None:
        raise InputError(f"clicks: {text.split(';')[bad][:40]!r} is not a bubble 'x y' (clicks are \"x y;x y;...\")",
                         path, row)
    pts = np.array([[int(m[1]), int(m[2])] for m in pairs], dtype=np.int64).reshape(-1, 2)
    outside = (pts < 0) | (pts >= _FRAME)
    if outside.any():
        x, y = pts[outside.any(axis=1)][0].tolist()
        raise InputError(f"clicks: bubble ({x}, {y}) is outside the photograph's {_FRAME}x{_FRAME} frame "
                         f"(0-{_FRAME - 1})", path, row)
    if len(pts) != bubbles:
        raise InputError(f"clicks hold {len(pts)} bubble(s) but bubbles is {bubbles}", path, row)
    return pts


def _round(cells, path, row):
    """The round-log row and the click-dump row (or None) of one round's cells."""
    if cells["end_reason"] not in _END_REASONS:
        raise InputError(f"unknown end_reason {cells['end_reason']!r} (one of {', '.join(_END_REASONS)})", path, row)
    for col in _TEXT:
        if not cells[col]:
            raise _empty(col, path, row)
    if not _ISO.fullmatch(cells["started"]):
        raise InputError(f"started {cells['started']!r} is not an ISO 8601 time", path, row)
    values = {col: _number(cells, col, path, row) for col in (*_INTS, *_FLOATS, *_OPTIONAL_FLOATS)}
    if values["practice"] not in (0, 1):
        raise InputError(f"practice {cells['practice']!r} is not 0 or 1", path, row)
    # the game names each photograph photos/<image_id>.png (the practice's: practice/<id>.png); any
    # other path, ../ or absolute, is not a round of a game this toolkit built
    folder = "practice" if values["practice"] else "photos"
    if cells["image_file"] != f"{folder}/{cells['image_id']}.png":
        raise InputError(f"image_file {cells['image_file']!r} is not {folder}/{cells['image_id']}.png, where the "
                         "game keeps that photograph", path, row)
    if values["imagenet_class"] > 999:
        raise InputError(f"imagenet_class {cells['imagenet_class']!r} is not a class index 0-999", path, row)
    top5 = cells["top5"].split()
    if not all(_INT.fullmatch(c) and int(c) < 1000 for c in top5):
        raise InputError(f"top5 {cells['top5']!r} is not class indices 0-999 separated by spaces", path, row)
    clicks = _clicks(cells["clicks"], values["bubbles"], path, row)
    text = {col: (cells[col] or None) if col in _OPTIONAL_TEXT else cells[col] for col in ROUND_COLUMNS}
    log_row = {col: values.get(col, text[col]) for col in ROUND_COLUMNS}
    dump_row = None
    if not values["practice"] and cells["end_reason"] != "flagged" and len(clicks):
        dump_row = {"image_path": cells["image_file"], "clicks": clicks, "user_id": cells["participant"],
                    "timestamp": cells["started"]}
    return log_row, dump_row


def read_online_rounds(path) -> OnlineRounds:
    """The rounds of a data file the online game wrote (PsychoJS), as the lab game records them.

    Parameters
    ----------
    path : path-like
        A PsychoJS data CSV of ``reveal game build``'s online game (UTF-8, a byte-order mark allowed):
        the columns :data:`ONLINE_COLUMNS` (others are ignored); rows whose ``end_reason`` is empty are
        not rounds and are skipped.

    Returns
    -------
    OnlineRounds
        Its round-log rows (every round) and click-dump rows (rounds that are not practice, not
        flagged and have a bubble), in the file's order.

    Raises
    ------
    InputError
        Naming the file (and its 1-based data row): unreadable, not UTF-8 or not CSV; a missing column
        (not the game's data file); no round at all; an unknown end reason; a number that is not one;
        practice not 0 or 1; clicks that do not parse, fall outside the 256 x 256 frame or do not
        number ``bubbles``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "1_clickme_game.csv"
    >>> head = ",".join(ONLINE_COLUMNS)
    >>> cells = ("1,cat01,photos/cat01.png,282,cat,1,0,2026-12-06T07:57:40.586Z,recognised,2.5,0.6,0.6,"
    ...          "282 281,2,10 20;11 20,5,0.1,60,0,0.02,60.0")
    >>> _ = p.write_text(head + "\\n" + cells + "\\n" + "1" + "," * (len(ONLINE_COLUMNS) - 1) + "\\n")
    >>> r = read_online_rounds(p)
    >>> r.log_rows[0]["bubbles"], r.log_rows[0]["end_reason"], r.dump_rows[0]["clicks"].tolist()
    (2, 'recognised', [[10, 20], [11, 20]])
    """
    path = Path(path)
    log_rows, dump_rows = [], []
    with (reading_csv(path, "the game's data file", ": not a data file PsychoJS wrote"),
          open(path, newline="", encoding="utf-8-sig") as fh):
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            raise InputError("empty file: not a data file of the online game", path)
        missing = [c for c in ONLINE_COLUMNS if c not in reader.fieldnames]
        if missing:
            raise InputError(f"not a data file of the online game (PsychoJS): missing column(s) "
                             f"{', '.join(missing)}", path)
        for row_no, row in enumerate(reader, start=1):
            cells = {c: (row[c] or "").strip() for c in ONLINE_COLUMNS}
            if not cells["end_reason"]:
                continue  # the instructions, the goodbye: not a round
            log_row, dump_row = _round(cells, path, row_no)
            log_rows.append(log_row)
            if dump_row is not None:
                dump_rows.append(dump_row)
    if not log_rows:
        raise InputError("no rounds in this data file (no row has an end_reason): the participant left "
                         "before the first round ended, or it is not the game's data", path)
    return OnlineRounds(log_rows, dump_rows)
