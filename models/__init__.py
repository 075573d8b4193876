"""Model observers: ImageNet networks categorise the stimuli, trial data in the human format out.

Names are imported lazily (PEP 562), so that ``import reveal.models`` does not pay for importing
torch until a name is used. (The inference module is not called ``predict``: a submodule of
that name would shadow the ``reveal.models.predict`` function once imported.)
"""
import importlib

_EXPORTS = {
    "DEFAULT_MODEL": "registry", "Observer": "registry", "known_models": "registry",
    "load_observer": "registry", "resolve_device": "registry",
    "animal_evidence": "readout", "decide": "readout",
    "predict": "inference", "read_predictions": "inference",
    "attention_map": "attention", "write_attention_maps": "attention",
    "cue_observer": "cueing", "cue_observers": "cueing", "head_gradient_values": "cueing",
    "observers_from_gains": "cueing", "cue_sites": "sites", "find_site": "sites",
    "PartnerNet": "partner", "PartnerThread": "partner",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
