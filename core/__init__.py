"""What every package shares: the files that pass between them and the conventions they keep.

The lowest layer of the toolkit: it imports nothing of the other packages, and each file
format that passes between them has its one owner here, which reads, validates and writes it:

- :mod:`reveal.core.stimset` — a stimulus set (``manifest.csv``, ``stimset.json``);
- :mod:`reveal.core.trialdata` — trial data (the tidy columns, model prediction files);
- :mod:`reveal.core.readers` — lab (PsychoPy) and online (PsychoJS) data files into trial data;
- :mod:`reveal.core.mapfiles` — map folders (``maps.json`` + ``.npy``);
- :mod:`reveal.core.categories` — the categories file;

and the conventions: :mod:`reveal.core.levels` (levels and their spelling),
:mod:`reveal.core.errors` (:class:`InputError`), :mod:`reveal.core.version`,
:mod:`reveal.core.outputs` (atomic writes, owned output folders), :mod:`reveal.core.seeding`
(seeds and the ``rng`` convention).
"""
from .categories import CATEGORIES, read_categories
from .errors import InputError
from .levels import FULL, LEVEL_LABELS, LEVELS, level_label, normalize_level, sort_levels
from .stimset import MANIFEST_COLUMNS, StimulusSet, read_meta, read_stimulus_set, write_manifest, write_meta
from .version import toolkit_version

__all__ = [
    "CATEGORIES", "read_categories", "InputError", "FULL", "LEVEL_LABELS", "LEVELS", "level_label",
    "normalize_level", "sort_levels", "MANIFEST_COLUMNS", "StimulusSet", "read_meta", "read_stimulus_set",
    "write_manifest", "write_meta", "toolkit_version",
]
