"""Stimulus sets from importance maps: stochastic flood-fill reveal over a phase scramble.

The pieces, each a module of its own:

- :mod:`reveal.stimuli.reveal` — :func:`reveal_order`, the stochastic flood fill;
- :mod:`reveal.stimuli.scramble` — :func:`phase_scramble`, the background;
- :mod:`reveal.stimuli.compose` — the feature budget, centring, compositing;
- :mod:`reveal.stimuli.geometry` — crop and resize photographs and maps identically;
- :mod:`reveal.stimuli.stimulus` — every stimulus of one image (arrays in, arrays out);
- :mod:`reveal.stimuli.build` — :func:`build_stimulus_set`, the set on disk;
- :mod:`reveal.stimuli.loaders` — ClickMe, SALICON and plain map files;
- :mod:`reveal.stimuli.sample` — the bundled sample.

The set's files (``manifest.csv``, ``stimset.json``) are read and written by their one owner,
:mod:`reveal.core.stimset`; the levels and their spelling are :mod:`reveal.core.levels`.
"""
from .build import BuildResult, build_stimulus_set
from .compose import composite, level_pixel_counts
from .reveal import reveal_mask, reveal_order
from .scramble import phase_scramble
from .stimulus import RevealParams, image_stimuli

__all__ = [
    "RevealParams", "BuildResult", "build_stimulus_set", "composite", "level_pixel_counts", "reveal_mask",
    "reveal_order", "phase_scramble", "image_stimuli",
]
