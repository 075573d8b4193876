"""Importance maps as data: inter-rater reliability, similarity metrics, model attention maps.

Modules: :mod:`.reliability` (split-half reliability of click dumps, with the null from
different images), :mod:`.metrics` (Spearman, CC, NSS, SIM, KLD, AUC-Judd, shuffled AUC,
following the MIT saliency benchmark), :mod:`.attention` (SmoothGrad and activation-norm
maps of registry observers), :mod:`.compare` (maps vs reference maps as a fraction of the
human ceiling, with a randomization test), :mod:`.figures`, :mod:`.cli` (``reveal maps``).
Loaders of the maps themselves stay in :mod:`stimuli.loaders`.
"""
from .metrics import auc_judd, auc_shuffled, cc, kld, nss, sim, spearman
from .reliability import spearman_brown, split_half_reliability, summarize_reliability

__all__ = [
    "auc_judd", "auc_shuffled", "cc", "kld", "nss", "sim", "spearman",
    "spearman_brown", "split_half_reliability", "summarize_reliability",
]
