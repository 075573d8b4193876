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
"""
from .metrics import auc_judd, auc_shuffled, cc, kld, nss, sim, spearman
from .reliability import spearman_brown, split_half_reliability, summarize_reliability

__all__ = [
    "auc_judd", "auc_shuffled", "cc", "kld", "nss", "sim", "spearman",
    "spearman_brown", "split_half_reliability", "summarize_reliability",
]
