"""Trial design of the rapid-categorization experiment: pure Python, no display.

From a stimulus set (``manifest.csv``, see ``docs/conventions.md``) and a participant
index this module derives everything one session needs:

* the *list* the participant runs.  A list fixes the map-source group (between subjects),
  the Latin-square row and the ``s``/``l`` key mapping.  With ``n`` conditions (the set's
  reveal levels + the intact image: ``level_index`` 0..n-1 of the manifest, n-1 = the intact
  image; 12 for the default 11 levels), list ``L`` (0-based) has

  - Latin-square row ``L mod n``: image ``j`` is shown at condition ``(j + L) mod n``;
  - group ``sources[(L // n) mod n_sources]``: the first n participants see the first
    map source, the next n the second, ... so that every block of n consecutive
    participants of one group completes the Latin square;
  - key mapping ``(L mod 2) xor (L // (n * n_sources) mod 2)``: 0 → ``s`` = animal,
    1 → ``l`` = animal.  Alternating within the square balances keys over each group's
    n participants; the second cycle of ``n * n_sources`` lists flips it, so that over
    ``2 * n * n_sources`` lists every (row, group, key mapping) occurs exactly once.  (When
    ``n * n_sources`` is odd the alternation alone does that, and the second cycle is not
    flipped: :func:`key_flip`.)

  Participant index ``i`` runs list ``i mod n_lists`` (``n_lists = 2 * n * n_sources``);
  the compiled experiment applies the same rule (Python and JavaScript), so the lab
  script, Pavlovia and this module agree.
* the test trials: each image once, in random order (seeded from the set seed and the
  list), split into blocks of (nearly) equal size — 5 blocks of 16 for the paper's 80
  images; fewer blocks when there are fewer trials than blocks;
* a fixation duration per trial, uniform in 1100–1600 ms, stored in seconds; the
  experiment converts it to frames of the measured refresh rate (:func:`frames`);
* a short training list with feedback: intact (``full``) images of both categories.

Everything random comes from :func:`reveal.core.seeding.derive_rng` (set seed, "experiment",
list index), so the same set and participant give the same trials on every machine.
"""
from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.outputs import atomic_write
from ..core.seeding import as_generator, derive_rng
from ..core.categories import CATEGORIES
from ..core.levels import N_CONDITIONS
from ..core.stimset import StimulusSet

log = logging.getLogger(__name__)

__all__ = [
    "KEYS", "Assignment", "ParticipantDesign", "check_design", "n_lists", "participant_list", "list_index",
    "key_flip", "assignment", "latin_square_conditions",
    "split_blocks", "fixation_durations", "frames", "block_trials", "training_trials",
    "participant_design", "conditions_files", "write_conditions", "CONDITION_COLUMNS",
]

#: Response keys; their meaning is counterbalanced over participants.
KEYS = ("s", "l")
#: Trial timing of the paradigm (seconds); converted to frames at run time.
FIXATION_RANGE_S = (1.1, 1.6)
STIMULUS_S = 0.400
DEADLINE_S = 0.550

#: Columns of the per-trial conditions files, in order.
#: ``level`` is not among them: the experiment looks it up from ``level_index``
#: (``StimulusSet.levels``, embedded in the experiment's code)
#: because PsychoPy 2026.2's CSV reader fails, under pandas 3, on a text column holding
#: number-like cells ("1.58" next to "full").
CONDITION_COLUMNS = ("phase", "block", "trial", "stimulus_id", "image_id", "category",
                     "map_source", "level_index", "image_file", "fixation_s", "correct_key")
#: Text columns of the conditions files, which must not look like numbers (see above).
_TEXT_COLUMNS = ("stimulus_id", "image_id", "map_source")


@dataclass(frozen=True)
class Assignment:
    """Between-subjects assignment of one participant (see module docstring)."""

    participant: int | str
    list_index: int
    group: str
    latin_row: int
    key_animal: str
    key_nonanimal: str


@dataclass(frozen=True)
class ParticipantDesign:
    """Everything one session needs: who, training trials and test trials."""

    assignment: Assignment
    training: pd.DataFrame
    test: pd.DataFrame
    notes: list = field(default_factory=list)


def check_design(stimset: StimulusSet, allow_unbalanced: bool = False) -> None:
    """Check that a stimulus set can run this design (reading and checking the set itself
    is :func:`reveal.core.stimset.read_stimulus_set`'s job).

    Parameters
    ----------
    stimset : StimulusSet
        From :func:`reveal.core.stimset.read_stimulus_set`.
    allow_unbalanced : bool
        Unequal numbers of animal and non-animal images are refused unless this is
        set, in which case a warning is logged.

    Raises
    ------
    InputError
        An (image, map source) pair lacking one of the set's conditions (its reveal levels
        and the intact image: 12 for the default levels), a category with no images, or
        unbalanced categories.
    """
    man, path = stimset.manifest, stimset.manifest_path
    have = man.groupby(["map_source", "image_id"])["level_index"].agg(set)
    n_conditions = stimset.n_conditions
    everything = {str(k) for k in range(n_conditions)}
    for source in stimset.sources:
        for image_id in stimset.images["image_id"]:
            lacking = sorted(everything - have.get((source, image_id), set()), key=int)
            if lacking:
                raise InputError(
                    f"image {image_id!r}, map source {source!r} lacks level_index "
                    f"{', '.join(lacking)} (every image needs all {n_conditions} conditions of the set, "
                    f"{', '.join(stimset.conditions)}, in every source)", path=path)
    counts = stimset.images["category"].value_counts()
    for cat in CATEGORIES:
        if cat not in counts:
            raise InputError(f"the set has no {cat} images (both categories are needed)", path=path)
    if counts["animal"] != counts["nonanimal"]:
        msg = (f"unbalanced categories: {counts['animal']} animal vs "
               f"{counts['nonanimal']} nonanimal images")
        if not allow_unbalanced:
            raise InputError(msg + " (pass allow_unbalanced / --allow-unbalanced to go on)",
                             path=path)
        log.warning("%s: %s", path, msg)


def n_lists(n_sources: int, n_conditions: int = N_CONDITIONS) -> int:
    """Number of distinct participant lists: Latin-square rows (the set's conditions, 12 by
    default) × sources × 2 key mappings."""
    return 2 * int(n_conditions) * int(n_sources)


def participant_list(participant, sources, group, n_rows):
    """The list a participant id runs: the rule of the compiled experiment, in Python.

    Pure Python with no imports or module names: :mod:`reveal.experiments.builder` copies this
    function's source into the lab script's setup code (as ``rv_participant_list``), and
    ``templates/setup.js.tmpl`` does the same steps in JavaScript, so this module, the lab
    script and the PsychoJS script agree for every id.

    Parameters
    ----------
    participant : str
        Participant id as typed or passed (``expInfo['participant']``); other values are
        turned into their ``str``.
    sources : sequence of str
        The set's map sources, sorted.
    group : str
        A map source to force, or ``''`` (or ``None``) for the one the id implies.
    n_rows : int
        Latin-square rows: the set's conditions (12 for the default levels).

    Returns
    -------
    int
        0 <= list < ``2 * n_rows * len(sources)``.  The id's ASCII digits ``0``-``9``,
        read as one decimal number, modulo the number of lists, reduced digit by digit
        (equal to ``int(digits) % n_lists``, and JavaScript needs neither floats, which
        lose long ids' digits, nor BigInt); an id without ASCII digits: the sum of its
        characters' code points modulo the number of lists.  A forced group keeps the
        Latin-square row and the key cycle and moves to that source's lists.

    Raises
    ------
    ValueError
        ``group`` is not one of ``sources``.
    """
    pid = str(participant)
    sources = list(sources)
    n_lists = 2 * n_rows * len(sources)
    index = -1  # pragma: no mutate (any negative: no digit yet)
    for c in pid:
        if '0' <= c <= '9':
            index = (max(index, 0) * 10 + (ord(c) - 48)) % n_lists
    if index < 0:
        index = 0
        for c in pid:
            index = (index + ord(c)) % n_lists
    group = '' if group is None else str(group).strip()
    if group:
        if group not in sources:
            raise ValueError(f"group {group} is not one of {sources}")
        cycle = index // (n_rows * len(sources))
        index = (index % n_rows) + n_rows * sources.index(group) + n_rows * len(sources) * cycle
    return index


def list_index(participant: int | str, sources: Sequence[str], group: str | None = None,
               n_conditions: int = N_CONDITIONS) -> int:
    """The list a participant runs (the rule the compiled experiment applies too).

    Parameters
    ----------
    participant : int or str
        Participant index (>= 0; indices past the last list wrap, logged) or a participant
        id string as the experiment receives it (``expInfo['participant']``: panel ids,
        e-mail addresses, ...), reduced by :func:`participant_list`.
    sources : sequence of str
        The set's map sources, sorted.
    group : str, optional
        Force this map source instead of the one the index implies.
    n_conditions : int
        The set's conditions (``StimulusSet.n_conditions``; 12 for the default levels).

    Returns
    -------
    int
        0 <= list < ``n_lists(len(sources), n_conditions)``.
    """
    sources = list(sources)
    n = n_lists(len(sources), n_conditions)
    if isinstance(participant, str):
        pid = participant
    else:
        participant = int(participant)
        if participant < 0:
            raise InputError(f"participant index {participant} is negative")
        if participant >= n:
            log.info("participant %d wraps to list %d (%d lists: %d Latin-square rows x %d "
                     "sources x 2 key mappings)", participant, participant % n, n, n_conditions, len(sources))
        pid = str(participant)
    if group is not None and group not in sources:
        raise InputError(f"group {group!r} is not a map source of this set "
                         f"({', '.join(sources)})")
    return participant_list(pid, sources, group, int(n_conditions))


def key_flip(list_index: int, n_rows: int, n_sources: int) -> int:
    """Key mapping of a list: 0 → ``s`` = animal, 1 → ``l`` = animal (the setup code's twin).

    Lists alternate; the second cycle of ``n_rows * n_sources`` lists is flipped when that
    number is even, so that over ``2 * n_rows * n_sources`` lists every (row, group) gets both
    mappings. When it is odd (an odd number of conditions and of sources) the alternation alone
    does that, and flipping the second cycle would undo it.

    Examples
    --------
    >>> [key_flip(L, 4, 2) for L in (0, 1, 8, 9)], [key_flip(L, 3, 1) for L in (0, 1, 2, 3, 4, 5)]
    ([0, 1, 1, 0], [0, 1, 0, 1, 0, 1])
    """
    square = int(n_rows) * int(n_sources)  # (below, no mutate: list_index // square is 0 or 1)
    return (list_index % 2) ^ ((list_index // square) % 2 if square % 2 == 0 else 0)  # pragma: no mutate


def assignment(participant: int | str, sources: Sequence[str], group: str | None = None,
               n_conditions: int = N_CONDITIONS) -> Assignment:
    """Group, Latin-square row and key mapping of one participant (index or id string), for a
    set of ``n_conditions`` conditions (``StimulusSet.n_conditions``; 12 for the default levels)."""
    sources = list(sources)
    n = int(n_conditions)
    L = list_index(participant, sources, group, n)
    key_animal, key_nonanimal = (KEYS[1], KEYS[0]) if key_flip(L, n, len(sources)) else KEYS
    return Assignment(participant=participant if isinstance(participant, str) else int(participant),
                      list_index=L,
                      group=sources[(L // n) % len(sources)],
                      latin_row=L % n, key_animal=key_animal,
                      key_nonanimal=key_nonanimal)


def latin_square_conditions(n_images: int, row: int, n_conditions: int = N_CONDITIONS) -> np.ndarray:
    """Condition of each image for one Latin-square row.

    Parameters
    ----------
    n_images : int
    row : int
        Participant (list) index; only ``row mod n_conditions`` matters.
    n_conditions : int
        The set's conditions (12 for the default levels).

    Returns
    -------
    ndarray of int, shape (n_images,)
        ``(j + row) mod n_conditions`` for image ``j``.
    """
    return (np.arange(int(n_images)) + int(row)) % int(n_conditions)


def split_blocks(n_trials: int, n_blocks: int = 5) -> np.ndarray:
    """Block number (1-based) of each trial position, blocks as equal as possible.

    Returns
    -------
    ndarray of int, shape (n_trials,)
        Non-decreasing; sizes differ by at most one.  With fewer trials than blocks,
        one block per trial.
    """
    n_blocks = max(1, min(int(n_blocks), int(n_trials)))
    out = np.empty(int(n_trials), dtype=int)
    for b, idx in enumerate(np.array_split(np.arange(n_trials), n_blocks), start=1):
        out[idx] = b
    return out


def fixation_durations(n: int, rng=None,
                       low: float = FIXATION_RANGE_S[0], high: float = FIXATION_RANGE_S[1]) -> np.ndarray:
    """Fixation durations in seconds, uniform in [low, high], rounded to 1 ms.

    Returns
    -------
    ndarray of float, shape (n,)

    Examples
    --------
    >>> d = fixation_durations(4, rng=0)
    >>> bool(((d >= 1.1) & (d <= 1.6)).all()), d.shape
    (True, (4,))
    """
    return np.round(as_generator(rng).uniform(low, high, size=int(n)), 3)


def frames(duration_s, refresh_hz: float):
    """Duration in whole frames of a display refreshing at ``refresh_hz``.

    ``round(duration_s * refresh_hz)``, at least 1; 0.4 s at 60 Hz = 24 frames.  The
    compiled experiment does the same sum with the refresh rate it measures.
    """
    n = np.maximum(1, np.round(np.asarray(duration_s, dtype=float) * float(refresh_hz)).astype(int))
    return int(n) if n.ndim == 0 else n


def _rows_for(stimset: StimulusSet, source: str, image_ids, level_indices) -> pd.DataFrame:
    man = stimset.manifest
    sub = man[man["map_source"] == source].set_index(["image_id", "level_index"])
    keys = list(zip(image_ids, (str(int(k)) for k in level_indices)))  # the manifest holds str
    return sub.loc[keys].reset_index()


def _frame_for(rows: pd.DataFrame, phase: str, blocks, fixation_s, a: Assignment) -> pd.DataFrame:
    correct_key = np.where(rows["category"] == "animal", a.key_animal, a.key_nonanimal)
    out = pd.DataFrame({
        "phase": phase,
        "block": np.asarray(blocks, dtype=int),
        "trial": np.arange(1, len(rows) + 1),
        "stimulus_id": rows["stimulus_id"].to_numpy(),
        "image_id": rows["image_id"].to_numpy(),
        "category": rows["category"].to_numpy(),
        "map_source": rows["map_source"].to_numpy(),
        "level_index": rows["level_index"].astype(int).to_numpy(),
        # POSIX path relative to the experiment folder (PsychoPy and PsychoJS both read it)
        "image_file": ["stimuli/" + f for f in rows["file"]],
        "fixation_s": fixation_s,
        "correct_key": correct_key,
    })
    return out[list(CONDITION_COLUMNS)]


def block_trials(stimset: StimulusSet, a: Assignment, rng=None,
                 n_blocks: int = 5) -> pd.DataFrame:
    """The test trials of one participant, in presentation order.

    Returns
    -------
    pandas.DataFrame
        One row per image (``CONDITION_COLUMNS``); ``trial`` counts 1..n over the
        session, ``block`` 1..n_blocks.
    """
    rng = as_generator(rng)
    images = stimset.images
    cond = latin_square_conditions(len(images), a.latin_row, stimset.n_conditions)
    order = rng.permutation(len(images))
    rows = _rows_for(stimset, a.group, images["image_id"].to_numpy()[order], cond[order])
    blocks = split_blocks(len(rows), n_blocks)
    return _frame_for(rows, "test", blocks, fixation_durations(len(rows), rng), a)


def training_trials(stimset: StimulusSet, a: Assignment, rng=None,
                    n_trials: int = 8) -> pd.DataFrame:
    """Training trials: intact images, half of each category, in random order.

    The paradigm's training shows easy trials with feedback; the intact (``full``)
    images are the easiest and are identical in every map source, so training reveals
    nothing about the levels tested later.  Images are drawn without replacement
    within each category while they last (the bundled sample has only a few).
    """
    rng = as_generator(rng)
    n_trials = int(n_trials)
    if n_trials <= 0:
        return _frame_for(_rows_for(stimset, a.group, [], []), "training", [], [], a)
    picks = []
    for cat in CATEGORIES:
        ids = stimset.images.loc[stimset.images["category"] == cat, "image_id"].to_numpy()
        need = (n_trials + (cat == "animal")) // 2
        reps = max(1, -(-need // len(ids)))  # one draw even for none: a single trial is an animal
        picks.append(np.concatenate([rng.permutation(ids) for _ in range(reps)])[:need])
    ids = np.concatenate(picks)
    ids = ids[rng.permutation(len(ids))]
    rows = _rows_for(stimset, a.group, ids, [stimset.full_index] * len(ids))
    return _frame_for(rows, "training", np.zeros(len(rows), int),
                      fixation_durations(len(rows), rng), a)


def participant_design(stimset: StimulusSet, participant: int | str, group: str | None = None,
                       n_blocks: int = 5, n_training: int = 8) -> ParticipantDesign:
    """Assignment, training and test trials of one participant (deterministic).

    Parameters
    ----------
    stimset : StimulusSet
    participant : int or str
        Participant index (>= 0; wraps over the ``n_lists`` lists) or a participant id
        string as the experiment receives it (reduced by :func:`participant_list`).
    group : str, optional
        Force a map source.
    n_blocks, n_training : int
        Blocks of the test phase (5 in the paper) and training trials.
    """
    n_conditions = stimset.n_conditions
    a = assignment(participant, stimset.sources, group, n_conditions)
    rng = derive_rng(stimset.seed, "experiment", a.list_index)
    notes = []
    n_images = len(stimset.images)
    if n_images < n_blocks:
        notes.append(f"{n_images} test trials < {n_blocks} blocks: running {n_images} "
                     f"block(s) of one trial")
    elif n_images % n_blocks:
        notes.append(f"{n_images} test trials do not split evenly into {n_blocks} blocks: "
                     f"block sizes differ by one")
    if n_images < n_conditions:
        notes.append(f"{n_images} images < {n_conditions} conditions: each participant sees {n_images} of "
                     f"the conditions (the Latin square covers them all over {n_conditions} participants)")
    elif n_images % n_conditions:
        notes.append(f"{n_images} images is not a multiple of {n_conditions}: conditions are shown "
                     f"{n_images // n_conditions} or {n_images // n_conditions + 1} times")
    training = training_trials(stimset, a, rng, n_training)
    test = block_trials(stimset, a, rng, n_blocks)
    return ParticipantDesign(assignment=a, training=training, test=test, notes=notes)


def _csv_text(df: pd.DataFrame) -> str:
    # QUOTE_MINIMAL CSV with a header row is what data.importConditions and
    # PsychoJS' TrialHandler.importConditions both read.
    return df.to_csv(index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")


def conditions_files(design: ParticipantDesign) -> list:
    """Names of one list's conditions files, as :func:`write_conditions` writes them.

    Returns
    -------
    list of str
        ``list{L}_training.csv``, ``list{L}_block{b}.csv`` for each block b, ``list{L}_blocks.csv``.
    """
    L = design.assignment.list_index
    blocks = sorted(int(b) for b in design.test["block"].unique())
    return ([f"list{L}_training.csv"] + [f"list{L}_block{b}.csv" for b in blocks]
            + [f"list{L}_blocks.csv"])


def _number_like(value) -> bool:
    try:
        float(str(value).replace(",", "."))
    except ValueError:
        return False
    return True


def write_conditions(design: ParticipantDesign, folder) -> dict:
    """Write one list's PsychoPy conditions files.

    Files (``L`` = list index), relative to ``folder``:
    ``list{L}_training.csv`` (training trials), ``list{L}_block{b}.csv`` (test trials of
    block b) and ``list{L}_blocks.csv`` (one row per block: ``block, trials_file``, with
    ``trials_file`` relative to the experiment folder, i.e. ``conditions/...``).

    Returns
    -------
    dict
        ``{"training": Path, "blocks": Path, "block_files": [Path, ...]}``
    """
    folder = Path(folder)
    L = design.assignment.list_index
    for df in (design.training, design.test):
        for col in _TEXT_COLUMNS:
            bad = [v for v in df[col] if _number_like(v)]
            if bad:
                raise InputError(
                    f"{col} {bad[0]!r} looks like a number: PsychoPy's conditions reader would "
                    f"turn it into one (and fails on columns mixing numbers and text); use ids "
                    f"with a letter, e.g. 'img{bad[0]}'")
    folder.mkdir(parents=True, exist_ok=True)
    training = folder / f"list{L}_training.csv"
    atomic_write(training, _csv_text(design.training))
    block_files, rows = [], []
    for b, df in design.test.groupby("block", sort=True):  # pragma: no mutate (trials are in block order)
        p = folder / f"list{L}_block{b}.csv"
        atomic_write(p, _csv_text(df))
        block_files.append(p)
        rows.append({"block": int(b), "trials_file": f"{folder.name}/{p.name}"})
    blocks = folder / f"list{L}_blocks.csv"
    atomic_write(blocks, _csv_text(pd.DataFrame(rows, columns=["block", "trials_file"])))
    return {"training": training, "blocks": blocks, "block_files": block_files}
