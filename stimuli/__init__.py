"""Stimulus sets from importance maps: stochastic flood-fill reveal over a phase scramble.

The pieces, each a module of its own:

- :mod:`reveal.stimuli.reveal` — :func:`reveal_order`, the stochastic flood fill;
- :mod:`reveal.stimuli.scramble` — :func:`phase_scramble`, the background;
- :mod:`reveal.stimuli.compose` — levels, feature budget, centring, compositing;
- :mod:`reveal.stimuli.geometry` — crop and resize photographs and maps identically;
- :mod:`reveal.stimuli.stimulus` — every stimulus of one image (arrays in, arrays out);
- :mod:`reveal.stimuli.build` — :func:`build_stimulus_set`, the set on disk;
- :mod:`reveal.stimuli.stimset` — :func:`read_stimulus_set`, the one reader (and writer) of a set's
  ``manifest.csv`` and ``stimset.json``, with every check;
- :mod:`reveal.stimuli.loaders` — ClickMe, SALICON and plain map files;
- :mod:`reveal.stimuli.sample` — the bundled sample.
"""
from .build import BuildResult, build_stimulus_set
from .categories import read_categories
from .compose import LEVELS, composite, level_pixel_counts
from .reveal import reveal_mask, reveal_order
from .scramble import phase_scramble
from .stimset import (CATEGORIES, LEVEL_LABELS, MANIFEST_COLUMNS, StimulusSet, level_label, read_meta,
                      read_stimulus_set, resolve_file, write_manifest, write_meta)
from .stimulus import RevealParams, image_stimuli

__all__ = [
    "LEVELS", "RevealParams", "BuildResult", "build_stimulus_set", "read_categories",
    "CATEGORIES", "LEVEL_LABELS", "MANIFEST_COLUMNS", "StimulusSet", "level_label", "read_meta",
    "read_stimulus_set", "resolve_file", "write_manifest", "write_meta",
    "composite", "level_pixel_counts", "reveal_mask", "reveal_order", "phase_scramble", "image_stimuli",
]
