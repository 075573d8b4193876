"""The trial-data contract: one place that names every column of the files observers write.

Humans and networks are the same kind of observer writing the same trial format, so the
columns live here once and everything else imports them:

- :data:`TIDY_COLUMNS` — the tidy form every analysis reads (``docs/conventions.md``);
  ``reveal predict`` writes it directly, ``reveal analyze`` writes ``trials.csv`` in it;
- :data:`EVIDENCE_COLUMNS` — what a network adds (``p_animal``, ``top5``, ``stimset``);
- :data:`EXPERIMENT_COLUMNS` — what the PsychoPy experiment adds to every trial row with
  ``addData`` (its code components are generated from this list), read back by
  :mod:`reveal.analysis.readers`.

Reading is :mod:`reveal.analysis.readers` (every layout into the tidy table); this module
holds no I/O beyond the one atomic CSV writer, so producers (models, experiments) can import
it without pulling in the analysis.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["TIDY_COLUMNS", "EVIDENCE_COLUMNS", "MODEL_COLUMNS", "EXTRA_COLUMNS", "OBSERVER_KINDS", "ANTICIPATION_S",
           "RESPONSES", "EXPERIMENT_COLUMNS", "write_table"]

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
#: Columns the readers keep next to the tidy ones when a file has them.
EXTRA_COLUMNS = ("p_animal", "top5", "image_frac", "timing_ok", "stim_duration_s", "anticipation",
                 "early_presses")
OBSERVER_KINDS = ("human", "model", "simulated")
RESPONSES = ("animal", "nonanimal", "none")

#: Columns the experiment adds to every trial row with ``addData`` (lab and PsychoJS alike).
EXPERIMENT_COLUMNS = (
    "participant", "session", "group", "key_animal", "key_nonanimal", "phase",
    "block", "trial", "stimulus_id", "image_id", "category", "map_source",
    "level", "resp_key", "response", "correct", "rt_s", "timed_out",
    "fixation_frames", "stim_frames", "refresh_hz", "dropped_frames",
    "stim_duration_s", "timing_ok", "anticipation", "early_presses",
)
#: ``early_presses``: response keys pressed during the trial before the image's onset flip.
#: They are discarded (the answer is the first key after onset) and counted, so that a
#: participant who answers before seeing the image can be found.  Files written before the
#: column existed lack it; the readers keep it only where a file has it.
#: Answers faster than this after image onset are flagged as anticipations (``anticipation``):
#: too fast to have come from the image (simple RTs to a flash are about 0.2 s).
ANTICIPATION_S = 0.100


def write_table(table, path) -> Path:
    """Write a trial table as CSV through a temporary name, so a reader never sees half a file.

    Parameters
    ----------
    table : pandas.DataFrame
    path : path-like

    Returns
    -------
    Path
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        table.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
