"""Importance maps as data: inter-rater reliability, similarity metrics, comparison with reference maps.

Modules: :mod:`.reliability` (split-half reliability of click dumps, with the null from
different images), :mod:`.metrics` (Spearman, CC, NSS, SIM, KLD, AUC-Judd, shuffled AUC,
following the MIT saliency benchmark), :mod:`.compare` (maps vs reference maps as a
fraction of the human ceiling, with a randomization test), :mod:`.mapfiles` (the map
folder that computed maps are written to and read from), :mod:`.pipeline` (the Python API:
:func:`~.pipeline.reliability`, :func:`~.pipeline.compare`), :mod:`.figures`, :mod:`.cli`
(``reveal maps``, a thin layer over :mod:`.pipeline`). Model attention maps are made by
:mod:`reveal.models.attention` and read here from their map folder: this package runs no network.
Loaders of the maps themselves stay in :mod:`reveal.stimuli.loaders`.

Names are imported lazily (PEP 562), so that ``import reveal.analysis.maps`` does not import
SciPy and scikit-image until a name is used.
"""
import importlib

_EXPORTS = {
    "auc_judd": "metrics", "auc_shuffled": "metrics", "cc": "metrics", "kld": "metrics", "nss": "metrics",
    "sim": "metrics", "spearman": "metrics",
    "spearman_brown": "reliability", "split_half_reliability": "reliability", "summarize_reliability": "reliability",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
