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

Names are imported lazily (PEP 562), so that ``import reveal.stimuli`` (and building the command
line's parser) does not import OpenCV, numba, SciPy or scikit-image until a name is used.
"""
import importlib

_EXPORTS = {
    "RevealParams": "stimulus", "image_stimuli": "stimulus",
    "BuildResult": "build", "build_stimulus_set": "build",
    "composite": "compose", "level_pixel_counts": "compose",
    "reveal_mask": "reveal", "reveal_order": "reveal",
    "phase_scramble": "scramble",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
