"""The trial-data contract: one place that names every column of the files observers write.

Humans and networks are the same kind of observer writing the same trial format, so the
columns live here once and everything else imports them:

- :data:`TIDY_COLUMNS` — the tidy form every analysis reads (``docs/conventions.md``);
  ``reveal predict`` writes it directly, ``reveal analyze`` writes ``trials.csv`` in it;
- :data:`EVIDENCE_COLUMNS` — what a network adds (``p_animal``, ``top5``, ``stimset``);
- :data:`EXPERIMENT_COLUMNS` — what the PsychoPy experiment adds to every trial row with
  ``addData`` (its code components are generated from this list), read back by
  :mod:`reveal.core.readers`;
- :data:`ONLINE_QUALITY_COLUMNS` — what only the online (PsychoJS) experiment adds to every
  trial row about the conditions the trial ran in (page visibility, focus, full screen, window,
  frame intervals, image loading), and :data:`PANEL_COLUMNS` — the online panel's ids.

Reading is :mod:`reveal.core.readers` (every layout into the tidy table); this module
reads only the model file, for ``reveal predict``'s resume, and imports nothing of the
analysis, so producers (models, experiments) can import it without pulling it in.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["TIDY_COLUMNS", "EVIDENCE_COLUMNS", "MODEL_COLUMNS", "EXTRA_COLUMNS", "OBSERVER_KINDS", "ANTICIPATION_S",
           "EXPERIMENT_COLUMNS", "ONLINE_QUALITY_COLUMNS", "ONLINE_BINARY_COLUMNS", "ONLINE_NUMERIC_COLUMNS",
           "PANEL_COLUMNS", "model_header", "read_model_rows", "typed_model_rows"]

#: The tidy trial form, in order.
TIDY_COLUMNS = (
    "observer", "observer_kind", "group", "session", "block", "trial", "stimulus_id",
    "image_id", "category", "map_source", "level", "response", "correct", "rt_s", "timed_out",
)
#: A network's evidence next to its answer: P(animal), its top-5 classes
#: (``index:name:probability;…``) and the first 16 hex digits of the set's manifest SHA-256.
EVIDENCE_COLUMNS = ("p_animal", "top5", "stimset")
#: What ``reveal predict`` writes.
MODEL_COLUMNS = TIDY_COLUMNS + EVIDENCE_COLUMNS
#: Data-quality columns only the online (PsychoJS) experiment writes, one value per trial row.
#: Lab files and online files written before these columns existed lack them; the readers keep
#: each one only where a file has it, and a missing value (empty, ``undefined``, ``null``) is
#: missing (NaN), never 0.
#:
#: ``page_hidden`` (0/1)
#:     The page was hidden (``document`` ``visibilitychange`` to ``hidden``: another tab, a
#:     minimised window, a locked screen) at any moment from the trial's start to its end.
#: ``focus_lost`` (0/1)
#:     The browser window lost focus (``blur``: another window or application) during the trial.
#: ``fullscreen`` (0/1)
#:     The document was in full screen (``document.fullscreenElement``) at the image's onset.
#: ``window_w``, ``window_h`` (integers, CSS pixels)
#:     The window's inner width and height at the trial's start.
#: ``pixel_ratio`` (number)
#:     ``window.devicePixelRatio`` at the trial's start (device pixels per CSS pixel).
#: ``max_frame_ms`` (number, milliseconds)
#:     The longest interval between two frames while the image was on screen.
#: ``image_ready`` (0/1)
#:     The image's texture was loaded before its onset.
#:
#: ``reveal analyze`` leaves out trials with ``page_hidden = 1`` or ``focus_lost = 1`` by default
#: (:class:`reveal.analysis.exclusions.ExclusionSettings` ``keep_unattended``) and counts them.
ONLINE_QUALITY_COLUMNS = ("page_hidden", "focus_lost", "fullscreen", "window_w", "window_h", "pixel_ratio",
                          "max_frame_ms", "image_ready")
#: The 0/1 columns of :data:`ONLINE_QUALITY_COLUMNS` (read as 0.0/1.0, missing NaN).
ONLINE_BINARY_COLUMNS = ("page_hidden", "focus_lost", "fullscreen", "image_ready")
#: The numeric columns of :data:`ONLINE_QUALITY_COLUMNS` (read as float, missing NaN).
ONLINE_NUMERIC_COLUMNS = ("window_w", "window_h", "pixel_ratio", "max_frame_ms")
#: The online panel's ids, which the online experiment writes on every row when the study's URL
#: carried them (Prolific's ``PROLIFIC_PID``, ``STUDY_ID``, ``SESSION_ID``). Strings, kept as
#: written (never converted to numbers); a missing value is the empty string.
PANEL_COLUMNS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
#: Columns the readers keep next to the tidy ones when a file has them.
EXTRA_COLUMNS = ("p_animal", "top5", "image_frac", "timing_ok", "stim_duration_s", "anticipation",
                 "early_presses", "late_key", "late_rt_s") + ONLINE_QUALITY_COLUMNS + PANEL_COLUMNS
OBSERVER_KINDS = ("human", "model", "simulated")

#: Columns the experiment adds to every trial row with ``addData`` (lab and PsychoJS alike); the
#: online-only :data:`ONLINE_QUALITY_COLUMNS` and :data:`PANEL_COLUMNS` are not among them.
EXPERIMENT_COLUMNS = (
    "participant", "session", "group", "key_animal", "key_nonanimal", "phase",
    "block", "trial", "stimulus_id", "image_id", "category", "map_source",
    "level", "resp_key", "response", "correct", "rt_s", "timed_out", "late_key", "late_rt_s",
    "fixation_frames", "stim_frames", "refresh_hz", "dropped_frames",
    "stim_duration_s", "timing_ok", "anticipation", "early_presses",
)
#: ``late_key`` / ``late_rt_s``: the first response key pressed after the deadline (until the
#: trial's feedback ends) and its time from the image's onset flip, on a trial with no answer in
#: time (``timed_out`` 1, ``response`` none): answering late and not answering are different
#: facts. Empty otherwise, and missing from files written before the columns existed.
#: ``early_presses``: response keys pressed during the trial before the image's onset flip.
#: They are discarded (the answer is the first key after onset) and counted, so that a
#: participant who answers before seeing the image can be found.  Files written before the
#: column existed lack it; the readers keep it only where a file has it.
#: Answers faster than this after image onset are flagged as anticipations (``anticipation``):
#: too fast to have come from the image (simple RTs to a flash are about 0.2 s).
ANTICIPATION_S = 0.100


def model_header() -> str:
    """The header line of a model's trial-data CSV (what ``reveal predict`` writes first)."""
    return ",".join(MODEL_COLUMNS) + "\n"


def read_model_rows(path):
    """The rows of a model trial-data CSV, every value a string.

    ``reveal predict`` uses it to resume a run and to finish its file; analyses read model
    files with :func:`reveal.core.readers.read_trials` like any other observer's.

    Parameters
    ----------
    path : path-like
        A CSV whose header is :data:`MODEL_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`MODEL_COLUMNS`, dtype ``str``.

    Raises
    ------
    InputError
        If the file is not UTF-8, has another header, or a row of another length.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as err:
        raise InputError(f"is not a model trial-data file (not UTF-8 text: {err.reason} at byte {err.start})",
                         path=path) from None
    except csv.Error as err:
        raise InputError(f"is not a model trial-data file ({err})", path=path) from None
    if not rows or tuple(rows[0]) != MODEL_COLUMNS:
        raise InputError("is not a model trial-data file (its header differs)", path=path, row=0)
    for i, row in enumerate(rows[1:], start=1):
        if len(row) != len(MODEL_COLUMNS):
            raise InputError(f"has {len(row)} fields where a model trial row has {len(MODEL_COLUMNS)}",
                             path=path, row=i)
    return pd.DataFrame(rows[1:], columns=list(MODEL_COLUMNS), dtype=str)


def typed_model_rows(table, path=None):
    """``read_model_rows``'s table with its numbers typed (counts int64, ``p_animal`` float).

    Parameters
    ----------
    table : pandas.DataFrame
        Model trial rows as strings.
    path : path-like, optional
        The file they came from, for the error message.

    Raises
    ------
    InputError
        If a count is not an integer or ``p_animal`` not a number (naming the 1-based row).
    """
    table = table.copy()

    def convert(column, kind):
        values = table[column].astype(str).str.strip()
        if kind is int:  # at most 18 digits: always fits an int64
            ok = values.str.fullmatch(r"[+-]?\d{1,18}").to_numpy(dtype=bool)
        else:
            ok = (pd.to_numeric(values, errors="coerce").notna() | (values.str.lower() == "nan")).to_numpy(dtype=bool)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise InputError(f"column {column!r} must be {'an integer' if kind is int else 'a number'}, got "
                             f"{table[column].iat[i]!r}", path=path, row=i + 1)
        return values.astype(np.int64) if kind is int else values.astype(float)

    for column in ("session", "block", "trial", "correct", "timed_out"):
        if column in table:
            table[column] = convert(column, int)
    if "p_animal" in table:
        table["p_animal"] = convert("p_animal", float)
    return table
