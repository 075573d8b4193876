"""Level labels: the one spelling of a condition shared by manifests, data files and tables.

Levels travel as strings (``"1.58"``, ``"100"``, ``"full"``, see docs/conventions.md) because
PsychoPy, PsychoJS and pandas each re-spell floats differently (``1.58``, ``1.580``,
``1.5800000000000001``). Everything the analysis compares goes through :func:`normalize_level`.
"""
from __future__ import annotations

import math

import numpy as np

from ..stimuli.stimset import FULL, level_label

__all__ = ["FULL", "normalize_level", "level_value", "sort_levels", "is_full"]


def normalize_level(value) -> str:
    """The canonical spelling of a level: 3 significant digits, or ``"full"``.

    Parameters
    ----------
    value : str or float
        ``"1.58"``, ``1.58``, ``"1.580"``, ``"full"``, ``"Full"``...

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If the value is neither ``full`` nor a positive finite number.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == FULL:
            return FULL
        number = float(text)  # ValueError propagates: the caller names the file and row
    else:
        number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"level must be a positive number or 'full', got {value!r}")
    return level_label(number)


def is_full(level: str) -> bool:
    return level == FULL


def level_value(level: str) -> float:
    """Percent of the feature budget revealed; ``inf`` for ``full`` (sorts last)."""
    return math.inf if level == FULL else float(level)


def sort_levels(levels) -> list[str]:
    """Unique levels in increasing order of pixels revealed, ``full`` last."""
    return sorted(set(levels), key=level_value)


def log10_level(levels) -> np.ndarray:
    """log10 of percent revealed, the psychometric fits' stimulus axis (``full`` → NaN)."""
    return np.array([np.nan if lv == FULL else math.log10(float(lv)) for lv in levels])
