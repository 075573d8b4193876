"""Trial data in: PsychoPy lab CSVs, PsychoJS/Pavlovia CSVs and tidy/model CSVs → one tidy table.

The tidy table has the columns of docs/conventions.md (:data:`TIDY_COLUMNS`), plus, where
known, ``image_frac`` (from the stimulus set's manifest), the model evidence columns
``p_animal, top5``, the experiment's timing columns, the online experiment's data-quality
columns and panel ids (:data:`reveal.core.trialdata.ONLINE_QUALITY_COLUMNS`,
:data:`reveal.core.trialdata.PANEL_COLUMNS`) and ``source_file``.

Three layouts are recognised from the header alone:

``tidy``
    Already in the tidy form (``observer, observer_kind, ...``): model outputs and files
    written by ``reveal analyze``. Read as they are.
``psychopy`` / ``psychojs``
    Files written by the experiment through ``thisExp.addData`` (``participant, group,
    phase, stimulus_id, response, correct, rt_s, timed_out, ...``). Lab files (PsychoPy)
    and Pavlovia files (PsychoJS) carry the same names; Pavlovia files add a UTF-8 BOM,
    write missing values as ``undefined`` and booleans as ``true``/``false``. Only
    ``phase == test`` rows are trials to analyse; every other row is counted in the
    ledger of dropped rows with its reason, never dropped silently.

Bad input raises :class:`reveal.core.errors.InputError` naming the file and row.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import trialdata
from .errors import InputError
from .levels import normalize_level
from .stimset import read_stimulus_set

__all__ = [
    "TIDY_COLUMNS", "ReadResult", "NotTrialDataError", "read_trials", "read_trial_file",
    "expand_paths", "detect_layout",
]

# The columns are the trial-data contract's (one definition, in .trialdata).
TIDY_COLUMNS = list(trialdata.TIDY_COLUMNS)
EXTRA_COLUMNS = list(trialdata.EXTRA_COLUMNS)
OBSERVER_KINDS = trialdata.OBSERVER_KINDS
#: Columns a trial file may lack and take from the stimulus set's manifest.
_FROM_MANIFEST = ("image_id", "category", "map_source", "level")

# Spellings of "missing" in the two experiment runtimes: PsychoPy writes None/[]/"" and
# PsychoJS writes undefined/null/"".
_MISSING = {"", "none", "undefined", "null", "nan", "[]", "na", "n/a"}
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}


class NotTrialDataError(InputError):
    """A CSV file that holds no trial data: empty, no columns, or columns of no known layout.

    Given by name, it is an error; found in a data folder beside good sessions (the 0-byte file
    a killed save leaves, the stub of a session that never started, another program's CSV), it is
    a ledger entry and the folder is read around it.
    """


@dataclasses.dataclass
class ReadResult:
    """What :func:`read_trials` found.

    Attributes
    ----------
    trials : pandas.DataFrame
        The tidy table (test trials only, duplicates removed).
    files : pandas.DataFrame
        One row per input file: ``file, layout, observers, rows_read, test_trials, kept``.
    dropped : pandas.DataFrame
        Ledger of rows not analysed: ``file, observer, reason, rows``.
    duplicates : pandas.DataFrame
        The duplicates found: ``file, observer, duplicate_of, kind``.
    """

    trials: pd.DataFrame
    files: pd.DataFrame
    dropped: pd.DataFrame
    duplicates: pd.DataFrame


# ----------------------------------------------------------------------------- helpers

def _first(flags) -> int:
    """Position of the first True of a boolean Series or array (the row an error names)."""
    return int(np.flatnonzero(np.asarray(flags))[0])


def _is_missing(series: pd.Series) -> pd.Series:
    return series.str.strip().str.lower().isin(_MISSING)


def _to_binary(series: pd.Series, column: str, path, row_numbers) -> pd.Series:
    low = series.str.strip().str.lower()
    out = pd.Series(np.nan, index=series.index, dtype=float)
    out[low.isin(_TRUE)] = 1.0
    out[low.isin(_FALSE)] = 0.0
    bad = ~(low.isin(_TRUE) | low.isin(_FALSE) | low.isin(_MISSING))
    if bad.any():
        i = _first(bad)
        raise InputError(f"column {column!r} must be 0/1 or true/false, got {series.iloc[i]!r}",
                         path=path, row=int(row_numbers[i]))
    return out


def _to_float(series: pd.Series, column: str, path, row_numbers) -> pd.Series:
    missing = _is_missing(series)
    values = pd.to_numeric(series.where(~missing, None), errors="coerce")
    bad = values.isna() & ~missing
    if bad.any():
        i = _first(bad)
        raise InputError(f"column {column!r} must be numeric, got {series.iloc[i]!r}",
                         path=path, row=int(row_numbers[i]))
    return values.astype(float)


def _normalize_levels(series: pd.Series, path, row_numbers) -> pd.Series:
    out = []
    for i, value in enumerate(series):
        try:
            out.append(normalize_level(value))
        except ValueError:
            raise InputError(f"level must be a percentage or 'full', got {value!r}",
                             path=path, row=int(row_numbers[i])) from None
    return pd.Series(out, index=series.index, dtype=object)


def detect_layout(columns, text_sample: str = "") -> str | None:
    """``"tidy"``, ``"psychopy"``, ``"psychojs"`` or ``None`` (unknown) from a header."""
    cols = set(columns)
    if {"observer", "observer_kind", "stimulus_id"} <= cols:
        return "tidy"  # (next line, no mutate: < is alike, a response column is needed too)
    if {"participant", "stimulus_id"} <= cols and cols & {"response", "resp_key", "correct"}:  # pragma: no mutate
        # Both writers start with a UTF-8 BOM, so the BOM decides nothing. PsychoPy's
        # ExperimentHandler writes ``thisRow.t``/``notes``/``expStart``; PsychoJS adds ``OS``
        # to the session info and writes missing values as ``undefined``.
        lab = bool(cols & {"thisRow.t", "notes", "expStart"})
        js = "OS" in cols or "undefined" in text_sample
        return "psychojs" if js and not lab else "psychopy"
    return None


def _manifest_table(stimuli_dir) -> pd.DataFrame:
    """The stimulus set's manifest (read and checked by :func:`reveal.core.stimset.read_stimulus_set`;
    the PNGs need not be there) indexed by stimulus_id (``image_frac`` is made numeric with the
    trials' other numeric columns, in :func:`_finish`)."""
    return read_stimulus_set(stimuli_dir, check_files=False).manifest.set_index("stimulus_id")


# ----------------------------------------------------------------------------- one file

def read_trial_file(path, manifest: pd.DataFrame | None = None):
    """Read one data file into the tidy form.

    Parameters
    ----------
    path : path-like
        A PsychoPy, PsychoJS or tidy/model CSV.
    manifest : pandas.DataFrame, optional
        The set's manifest indexed by ``stimulus_id`` (as :func:`read_trials` passes it); fills columns the
        file lacks and checks stimulus ids and levels against the stimulus set.

    Returns
    -------
    trials : pandas.DataFrame
        Tidy rows (test trials only) with a ``source_file`` column.
    layout : str
    dropped : list of dict
        Rows read but not analysed, with the reason (``file, observer, reason, rows``).
    rows_read : int
    """
    path = Path(path)
    raw_bytes = path.read_bytes()
    if not raw_bytes.strip():
        raise NotTrialDataError("file is empty", path=path)
    try:
        # utf-8-sig strips the BOM Pavlovia writes; keep_default_na=False so that we, not
        # pandas, decide what counts as missing (e.g. response "none" is a real answer).
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise NotTrialDataError("file has no columns (empty)", path=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"not a readable CSV file ({err})", path=path) from None
    table.columns = [c.strip() for c in table.columns]  # (next line, no mutate: a byte more or less)
    layout = detect_layout(table.columns, raw_bytes[:200_000].decode("utf-8", "replace"))  # pragma: no mutate
    if layout is None:
        raise NotTrialDataError(
            "unknown column layout: expected a tidy trial file (observer, observer_kind, "
            "stimulus_id, ...) or an experiment data file (participant, stimulus_id, response, ...); "
            f"found columns {list(table.columns)[:12]}", path=path)
    rows_read = len(table)
    row_numbers = np.arange(1, rows_read + 1)  # (next line, no mutate: where the helper column sits)
    table.insert(0, "_row", row_numbers)  # pragma: no mutate
    dropped: list[dict] = []
    if layout != "tidy" and rows_read and not raw_bytes.rstrip(b" ").endswith((b"\n", b"\r")):
        # A crash while the file was being written cut its last line: that row is not a
        # complete trial (its last fields are missing or cut), so it is counted, not analysed.
        table = table.iloc[:-1]
        dropped.append({"file": os.fspath(path), "observer": "", "reason": "last line cut off (the file "
                        "ends mid-row)", "rows": 1})
    if layout == "tidy":
        out = _from_tidy(table, path)
    else:
        out = _from_experiment(table, path, dropped)
        if out.empty:  # a session that ended before the test: only its ledger entries
            return out, layout, dropped, rows_read
        _report_short_session(out, manifest, path, dropped)
    out = _complete_from_manifest(out, manifest, path)
    out = _finish(out, path)
    out["source_file"] = os.fspath(path)
    return out, layout, dropped, rows_read


def _from_tidy(table: pd.DataFrame, path) -> pd.DataFrame:
    out = table.copy()
    kinds = out["observer_kind"].str.strip().str.lower()
    bad = ~kinds.isin(OBSERVER_KINDS)
    if bad.any():
        i = _first(bad)
        raise InputError(f"observer_kind must be one of {OBSERVER_KINDS}, got {out['observer_kind'].iloc[i]!r}",
                         path=path, row=int(out["_row"].iloc[i]))
    out["observer_kind"] = kinds
    return out


def _from_experiment(table: pd.DataFrame, path, dropped: list) -> pd.DataFrame:
    # Rows of other routines (instructions, block feedback, end screen) have no stimulus;
    # training trials have phase == "training". Count both in the ledger.
    stim_missing = _is_missing(table["stimulus_id"])
    if "phase" in table:
        phase = table["phase"].str.strip().str.lower()
    else:  # an experiment without a training phase: every stimulus row is a test trial
        phase = pd.Series("test", index=table.index)
    participants = table["participant"].where(~_is_missing(table["participant"]), "")
    for reason, mask in (("not a trial row (other routine)", stim_missing),
                         ("training trial (not analysed)", ~stim_missing & (phase == "training")),
                         ("phase not 'test'", ~stim_missing & (phase != "training") & (phase != "test"))):
        for observer, n in participants[mask].value_counts().items():
            dropped.append({"file": os.fspath(path), "observer": observer, "reason": reason, "rows": int(n)})
    test = table[~stim_missing & (phase == "test")].copy()
    # A trial the session ended in (Escape, a crash) has a stimulus but no outcome: neither a
    # response nor a timeout was recorded. It is no answer; count it, don't analyse it.
    outcome_cols = [c for c in ("response", "resp_key", "timed_out") if c in test]
    if outcome_cols:
        unanswered = np.logical_and.reduce([_is_missing(test[c]).to_numpy() for c in outcome_cols])
        for observer, n in participants[test.index[unanswered]].value_counts().items():
            dropped.append({"file": os.fspath(path), "observer": observer, "rows": int(n),
                            "reason": "trial interrupted (the session ended during it)"})
        test = test[~unanswered]
    if test.empty:
        ids = sorted(set(participants[participants != ""]))
        if not ids:
            raise InputError("no test trials in this file that were answered (no rows with phase 'test', a stimulus_id "
                             "and a response)", path=path)
        # A session that ended (Escape, a crash) before its first answered test trial: its
        # participant is counted in the ledger, and the rest of the folder is read as usual.
        for observer in ids:
            dropped.append({"file": os.fspath(path), "observer": observer, "rows": 0,
                            "reason": "session ended before its first answered test trial"})
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("_row", *trialdata.TIDY_COLUMNS, "source_file")})
    bad = _is_missing(test["participant"])
    ids = set(participants[participants != ""])
    if bad.any() and len(ids) == 1:  # a row written before the id was: the file is one participant's
        test.loc[bad, "participant"] = ids.pop()
    elif bad.any():
        raise InputError("participant id is missing", path=path, row=int(test["_row"][bad].iloc[0]))
    # Experiment files are human data unless they say otherwise: `reveal demo`'s simulated
    # participants write observer_kind = simulated on every row.
    kind = "human"
    if "observer_kind" in test and not _is_missing(test["observer_kind"]).all():
        kind = test["observer_kind"].str.strip().str.lower()
        bad = ~kind.isin(OBSERVER_KINDS)
        if bad.any():
            raise InputError(f"observer_kind must be one of {OBSERVER_KINDS}, got {kind[bad].iloc[0]!r}",
                             path=path, row=int(test["_row"][bad].iloc[0]))
    out = pd.DataFrame({"_row": test["_row"], "observer": test["participant"].str.strip(),
                        "observer_kind": kind, "stimulus_id": test["stimulus_id"].str.strip()})
    for col in ("group", "session", "block", "trial", "image_id", "category", "map_source", "level",
                "rt_s", "timed_out", "correct", "timing_ok", "stim_duration_s", "anticipation",
                "early_presses", "late_key", "late_rt_s", *trialdata.ONLINE_QUALITY_COLUMNS,
                *trialdata.PANEL_COLUMNS):
        if col in test:
            out[col] = test[col]
    if "trial" not in out and "trials.thisN" in test:
        out["trial"] = test["trials.thisN"]
    if "response" in test:
        out["response"] = test["response"]
    elif "resp_key" in test and {"key_animal", "key_nonanimal"} <= set(test.columns):
        # Map the pressed key through this participant's counterbalanced key assignment.
        key = test["resp_key"].str.strip().str.lower()
        out["response"] = np.where(key == test["key_animal"].str.strip().str.lower(), "animal",
                                   np.where(key == test["key_nonanimal"].str.strip().str.lower(),
                                            "nonanimal", "none"))
    return out


def _report_short_session(out: pd.DataFrame, manifest, path, dropped: list) -> None:
    """Say in the ledger when a session stopped before its last trial (Escape, a crash)."""
    if manifest is None or "image_id" not in manifest:
        return
    expected = manifest["image_id"].nunique()  # each image once per participant
    for observer, n in out["observer"].value_counts().items():
        if n < expected:
            dropped.append({"file": os.fspath(path), "observer": observer, "rows": 0,
                            "reason": f"session ended early after {n} of {expected} test trials"})


def _complete_from_manifest(out: pd.DataFrame, manifest, path) -> pd.DataFrame:
    missing = [c for c in _FROM_MANIFEST if c not in out.columns]
    if manifest is None:
        if missing:
            raise InputError(f"the file lacks columns {missing}; give the stimulus set (--stimuli DIR) "
                             "so they can be taken from its manifest.csv", path=path)
        return out
    # get_indexer, not Series.isin: with pandas' Arrow strings isin converts the manifest's
    # thousands of ids to Python objects on every file (most of the time of reading a folder)
    known = manifest.index.get_indexer(out["stimulus_id"]) >= 0
    if not known.all():
        i = _first(~known)
        raise InputError(f"stimulus_id {out['stimulus_id'].iloc[i]!r} is not in the stimulus set's manifest",
                         path=path, row=int(out["_row"].iloc[i]))
    ref = manifest.loc[out["stimulus_id"]]
    for col in missing:
        out[col] = ref[col].to_numpy()
    if "image_frac" in manifest and "image_frac" not in out:
        out["image_frac"] = ref["image_frac"].to_numpy()
    # Levels must be the stimulus set's levels (and each stimulus's own level).
    rows = out["_row"].to_numpy()
    levels = _normalize_levels(out["level"], path, rows)
    wrong = levels.to_numpy() != ref["level"].to_numpy()
    if wrong.any():
        i = _first(wrong)
        extra = "" if levels.iloc[i] in set(manifest["level"]) else " (a level not in the stimulus set)"
        raise InputError(f"level {out['level'].iloc[i]!r} of stimulus {out['stimulus_id'].iloc[i]!r} does not "
                         f"match the manifest's level {ref['level'].iloc[i]!r}{extra}",
                         path=path, row=int(rows[i]))
    return out


def _finish(out: pd.DataFrame, path) -> pd.DataFrame:
    """Types, defaults and checks common to every layout."""
    rows = out["_row"].to_numpy()
    out = out.copy()
    for col in ("group", "session", "block", "trial"):
        if col not in out:
            out[col] = ""
        out[col] = out[col].astype(str).str.strip().where(~_is_missing(out[col].astype(str)), "")
    if (out["group"] == "").any():
        # The group is the map source the observer saw (between-subjects design).
        out["group"] = out["group"].where(out["group"] != "", out["map_source"])
    out["level"] = _normalize_levels(out["level"], path, rows)
    out["category"] = out["category"].str.strip().str.lower()
    bad = ~out["category"].isin(["animal", "nonanimal"])
    if bad.any():
        i = _first(bad)
        raise InputError(f"category must be animal or nonanimal, got {out['category'].iloc[i]!r}",
                         path=path, row=int(rows[i]))
    if "response" in out:
        resp = out["response"].astype(str).str.strip().str.lower()
        resp = resp.where(~_is_missing(resp) & (resp != "none"), "none")
        bad = ~resp.isin(["animal", "nonanimal", "none"])
        if bad.any():
            i = _first(bad)
            raise InputError(f"response must be animal, nonanimal or none, got {out['response'].iloc[i]!r}",
                             path=path, row=int(rows[i]))
        out["response"] = resp
    else:
        out["response"] = "none"
    out["rt_s"] = _to_float(out["rt_s"].astype(str), "rt_s", path, rows) if "rt_s" in out else np.nan
    if "timed_out" in out:
        timed = _to_binary(out["timed_out"].astype(str), "timed_out", path, rows)
        out["timed_out"] = timed.fillna((out["response"] == "none").astype(float))
    else:
        out["timed_out"] = (out["response"] == "none").astype(float)
    if "correct" in out:
        correct = _to_binary(out["correct"].astype(str), "correct", path, rows)
    else:
        correct = pd.Series(np.nan, index=out.index)
    # Where the file has no verdict, derive it from the answer: a missing answer is wrong.
    derived = (out["response"] == out["category"]).astype(float)
    out["correct"] = correct.fillna(derived).astype(int)
    out["timed_out"] = out["timed_out"].astype(int)
    for col in ("p_animal", "image_frac", "late_rt_s", *trialdata.ONLINE_NUMERIC_COLUMNS):
        if col in out:
            out[col] = _to_float(out[col].astype(str), col, path, rows)
    if "late_key" in out:  # a late answer's key; no late answer is "" (NaN: a file without the column)
        keys = out["late_key"].astype(str).str.strip()
        out["late_key"] = keys.where(~_is_missing(keys), "")
    # The online experiment's data-quality flags (0/1, missing NaN) and its panel's ids (strings
    # kept as written; a missing id is "").
    for col in trialdata.ONLINE_BINARY_COLUMNS:
        if col in out:
            out[col] = _to_binary(out[col].astype(str), col, path, rows)
    for col in trialdata.PANEL_COLUMNS:
        if col in out:
            ids = out[col].astype(str)
            out[col] = ids.where(~_is_missing(ids), "")
    keep = TIDY_COLUMNS + [c for c in EXTRA_COLUMNS if c in out] + ["_row"]
    return out[keep].reset_index(drop=True)


# ----------------------------------------------------------------------------- many files

def expand_paths(paths) -> list[Path]:
    """Files and folders → sorted list of CSV files (folders searched recursively)."""
    return _expand_paths(paths)[0]


def _expand_paths(paths) -> tuple[list[Path], set]:
    """:func:`expand_paths`, and the files that were found inside a folder (not named)."""
    files: list[Path] = []
    in_folders: set = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            # hidden files are temporaries (a save in progress), never data
            found = sorted(q for q in p.rglob("*.csv") if q.is_file() and not q.name.startswith("."))
            if not found:
                raise InputError("folder has no CSV data files", path=p)
            files.extend(found)
            in_folders.update(found)
        elif p.is_file():
            files.append(p)
        else:
            raise InputError("no such file or folder", path=p)
    if not files:
        raise InputError("no data files given")
    # Sorted order decides which copy of a duplicate is kept (PsychoPy names files
    # participant_expName_date, so for one participant this is the earliest session).
    seen, unique = set(), []
    for f in sorted(files, key=lambda q: os.fspath(q)):
        key = os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, in_folders


def read_trials(paths, stimuli=None) -> ReadResult:
    """Read many data files (or folders of them) into one tidy table.

    Parameters
    ----------
    paths : sequence of path-like
        Files and/or folders (searched recursively for ``*.csv``).
    stimuli : path-like, optional
        The stimulus set folder; its ``manifest.csv`` fills missing columns and checks
        stimulus ids and levels.

    Returns
    -------
    ReadResult

    Notes
    -----
    Duplicates are detected and reported, and only one copy is analysed:

    * a file whose bytes equal an earlier file's (a copy or re-saved download);
    * an observer found in several files (a participant who took part twice, or a model
      file given twice): the first file in sorted path order is kept, because a second
      session is contaminated by having seen the images;
    * a repeated trial row within one file.

    An observer found in two different groups is an error (the design is between-subjects).
    """
    manifest = None if stimuli is None else _manifest_table(stimuli)
    files, in_folders = _expand_paths(paths)
    tables, file_rows, dropped, duplicates = [], [], [], []
    hashes: dict[str, Path] = {}
    owner: dict[tuple, tuple] = {}  # (kind, observer) -> (file, group)
    for f in files:
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        if digest in hashes:
            duplicates.append({"file": os.fspath(f), "observer": "", "duplicate_of": os.fspath(hashes[digest]),
                               "kind": "identical file"})
            with open(f, "rb") as fh:
                n = sum(1 for _ in fh) - 1
            dropped.append({"file": os.fspath(f), "observer": "", "reason": "duplicate file (identical copy)",
                            "rows": max(n, 0)})
            file_rows.append({"file": os.fspath(f), "layout": "", "observers": "", "rows_read": max(n, 0),
                              "test_trials": 0, "kept": False})
            continue
        hashes[digest] = f
        try:
            table, layout, file_dropped, rows_read = read_trial_file(f, manifest)
        except NotTrialDataError as err:
            if f not in in_folders or len(files) == 1:  # named, or all there is: they meant it as data
                raise
            dropped.append({"file": os.fspath(f), "observer": "", "rows": 0,
                            "reason": f"not a trial data file ({err.message})"})
            file_rows.append({"file": os.fspath(f), "layout": "", "observers": "", "rows_read": 0,
                              "test_trials": 0, "kept": False})
            continue
        dropped.extend(file_dropped)
        keep = np.ones(len(table), dtype=bool)  # (next line, no mutate: sort changes the order only)
        for (kind, observer), sub in table.groupby(["observer_kind", "observer"], sort=False):  # pragma: no mutate
            groups = set(sub["group"])
            if len(groups) > 1 and kind != "model":  # a model sees every map source
                raise InputError(f"observer {observer!r} is in several groups {sorted(groups)} "
                                 "(each participant sees one map source)", path=f, row=int(sub["_row"].iloc[0]))
            group = sorted(groups)[0]  # pragma: no mutate ([-1]: one group, or a model, whose group is not compared)
            prev = owner.get((kind, observer))
            if prev is None:
                owner[(kind, observer)] = (f, group)
                continue
            if prev[1] != group and kind != "model":
                raise InputError(f"participant {observer!r} is in group {group!r} here but in group {prev[1]!r} "
                                 f"in {prev[0]} (a participant may be in one group only)", path=f,
                                 row=int(sub["_row"].iloc[0]))
            if kind == "model":  # one model, several files (e.g. one per stimulus set part)
                continue
            duplicates.append({"file": os.fspath(f), "observer": observer, "duplicate_of": os.fspath(prev[0]),
                               "kind": "same participant in another file"})
            dropped.append({"file": os.fspath(f), "observer": observer,
                            "reason": f"duplicate participant (kept {Path(prev[0]).name})", "rows": len(sub)})
            keep[sub.index.to_numpy()] = False
        table = table[keep]
        key = ["observer_kind", "observer", "session", "block", "trial", "stimulus_id"]
        rep = table.duplicated(key)
        if rep.any():
            for observer, n in table[rep]["observer"].value_counts().items():
                duplicates.append({"file": os.fspath(f), "observer": observer, "duplicate_of": os.fspath(f),
                                   "kind": f"{n} repeated trial rows"})
                dropped.append({"file": os.fspath(f), "observer": observer, "reason": "repeated trial row",
                                "rows": int(n)})
            table = table[~rep]
        file_rows.append({"file": os.fspath(f), "layout": layout,
                          "observers": ", ".join(sorted(table["observer"].unique())),
                          "rows_read": rows_read, "test_trials": len(table), "kept": len(table) > 0})
        tables.append(table)
    trials = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=TIDY_COLUMNS)
    trials = trials.drop(columns="_row", errors="ignore")
    if trials.empty:
        skipped = [f"{Path(d['file']).name} ({d['reason']})" for d in dropped
                   if d["reason"].startswith("not a trial data file")]
        raise InputError("no answered test trials in the data files given"
                         + (f"; skipped: {'; '.join(skipped)}" if skipped else ""),
                         path=files[0] if len(files) == 1 else None)  # pragma: no mutate ([-1]: the one file)
    # Model rows from several files may repeat a stimulus (e.g. a re-run): keep the first.
    rep = trials.duplicated(["observer_kind", "observer", "session", "block", "trial", "stimulus_id"])
    if rep.any():
        for (fname, observer), n in trials[rep].groupby(["source_file", "observer"]).size().items():
            duplicates.append({"file": fname, "observer": observer, "duplicate_of": "", "kind": f"{n} repeated rows"})
            dropped.append({"file": fname, "observer": observer, "reason": "repeated trial row", "rows": int(n)})
        trials = trials[~rep].reset_index(drop=True)
    return ReadResult(
        trials=trials,
        files=pd.DataFrame(file_rows, columns=["file", "layout", "observers", "rows_read", "test_trials", "kept"]),
        dropped=pd.DataFrame(dropped, columns=["file", "observer", "reason", "rows"]),
        duplicates=pd.DataFrame(duplicates, columns=["file", "observer", "duplicate_of", "kind"]),
    )
