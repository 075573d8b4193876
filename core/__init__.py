"""What every package shares: the files that pass between them and the conventions they keep.

The lowest layer of the toolkit: it imports nothing of the other packages, and each file
format that passes between them has its one owner here, which reads, validates and writes it:

- :mod:`reveal.core.stimset` — a stimulus set (``manifest.csv``, ``stimset.json``);
- :mod:`reveal.core.trialdata` — trial data (the tidy columns, model prediction files);
- :mod:`reveal.core.readers` — lab (PsychoPy) and online (PsychoJS) data files into trial data;
- :mod:`reveal.core.mapfiles` — map folders (``maps.json`` + ``.npy``);
- :mod:`reveal.core.categories` — the categories file;
- :mod:`reveal.core.gainsfile` — a cue's per-channel values (``reveal gains fit`` → ``reveal predict``);

and the conventions: :mod:`reveal.core.levels` (levels and their spelling),
:mod:`reveal.core.errors` (:class:`InputError`), :mod:`reveal.core.version`,
:mod:`reveal.core.outputs` (atomic writes, owned output folders), :mod:`reveal.core.seeding`
(seeds and the ``rng`` convention).

Names are imported lazily (PEP 562), so that importing a light module of this package (the
command line needs :mod:`.errors`, :mod:`.extras`, :mod:`.version`) does not import numpy and
pandas until a name that needs them is used.
"""
import importlib

_EXPORTS = {
    "CATEGORIES": "categories", "read_categories": "categories",
    "InputError": "errors",
    "Gains": "gainsfile", "read_gains": "gainsfile", "write_gains": "gainsfile",
    "FULL": "levels", "LEVEL_LABELS": "levels", "LEVELS": "levels", "level_label": "levels",
    "normalize_level": "levels", "sort_levels": "levels",
    "MANIFEST_COLUMNS": "stimset", "StimulusSet": "stimset", "read_meta": "stimset", "read_stimulus_set": "stimset",
    "write_manifest": "stimset", "write_meta": "stimset",
    "toolkit_version": "version",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
