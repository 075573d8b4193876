"""Stimulus sets from importance maps: stochastic flood-fill reveal over a phase scramble."""
from .reveal import reveal_mask, reveal_order

__all__ = ["reveal_order", "reveal_mask"]
