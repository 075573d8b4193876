"""Levels: the reveal levels and the one spelling of a condition shared by every file.

A level is the percent of an image's feature budget revealed (11 log-spaced levels, 1 %…100 %)
or ``"full"``, the intact image. Levels travel as strings (``"1.58"``, ``"100"``, ``"full"``,
see docs/conventions.md) because PsychoPy, PsychoJS and pandas each re-spell floats
differently (``1.58``, ``1.580``, ``1.5800000000000001``): manifests, trial data and tables all
write :func:`level_label` and compare through :func:`normalize_level`.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["LEVELS", "FULL", "FULL_INDEX", "N_CONDITIONS", "LEVEL_LABELS", "level_label", "normalize_level",
           "level_value", "sort_levels"]

#: The 11 reveal levels: percent of the feature budget, log-spaced 1 %…100 %.
LEVELS = np.logspace(0, 2, 11)
#: The intact-image condition and its ``level_index``.
FULL = "full"
FULL_INDEX = 11
#: Conditions of a complete set: 11 reveal levels + the intact image.
N_CONDITIONS = 12


def level_label(level) -> str:
    """How a level is written in files: 3 significant digits, or ``full``.

    Parameters
    ----------
    level : float or str
        Percent of the feature budget, or ``"full"``.

    Returns
    -------
    str

    Examples
    --------
    >>> level_label(10 ** 0.2)
    '1.58'
    >>> level_label(100.0), level_label("full")
    ('100', 'full')
    """
    return FULL if level == FULL else f"{float(level):.3g}"


#: The default levels as files write them, by ``level_index`` (``"1"`` … ``"100"``, ``"full"``).
LEVEL_LABELS = tuple(level_label(v) for v in LEVELS) + (FULL,)


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

    Examples
    --------
    >>> normalize_level("1.580"), normalize_level(1.5800000000000001), normalize_level(" Full ")
    ('1.58', '1.58', 'full')
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


def level_value(level: str) -> float:
    """Percent of the feature budget revealed; ``inf`` for ``full`` (sorts last).

    Examples
    --------
    >>> level_value("6.31"), level_value("full")
    (6.31, inf)
    """
    return math.inf if level == FULL else float(level)


def sort_levels(levels) -> list[str]:
    """Unique levels in increasing order of pixels revealed, ``full`` last.

    Examples
    --------
    >>> sort_levels(["full", "10", "1.58", "10"])
    ['1.58', '10', 'full']
    """
    return sorted(set(levels), key=level_value)
