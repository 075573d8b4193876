"""Levels: the reveal levels and the one spelling of a condition shared by every file.

A level is the percent of an image's feature budget revealed (by default 11 log-spaced levels,
1 %…100 %; a set may have its own, see :func:`check_levels`) or ``"full"``, the intact image.
Levels travel as strings (``"1.58"``, ``"100"``, ``"full"``, see docs/conventions.md) because
PsychoPy, PsychoJS and pandas each re-spell floats differently (``1.58``, ``1.580``,
``1.5800000000000001``): manifests, trial data and tables all write :func:`level_label` and
compare through :func:`normalize_level`.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["LEVELS", "FULL", "FULL_INDEX", "N_CONDITIONS", "LEVEL_LABELS", "level_label", "normalize_level",
           "level_value", "sort_levels", "check_levels", "parse_levels", "check_level_labels"]

#: The default reveal levels: percent of the feature budget, 11 log-spaced 1 %…100 %.
LEVELS = np.logspace(0, 2, 11)
#: The intact-image condition and its ``level_index`` in a set with the default levels (a set
#: with ``n`` reveal levels has the intact image at ``level_index`` ``n``).
FULL = "full"
FULL_INDEX = 11
#: Conditions of a complete set with the default levels: 11 reveal levels + the intact image
#: (``len(levels) + 1`` for a set with its own levels).
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


def check_levels(levels) -> tuple:
    """A set's reveal levels, checked: percentages in (0, 100], strictly increasing, at least one.

    Levels are written with 3 significant digits (:func:`level_label`), so two levels must
    also differ in those digits.

    Parameters
    ----------
    levels : sequence of float
        Percent of the feature budget revealed at each level (``full`` is not one of them:
        every set has the intact image after its reveal levels).

    Returns
    -------
    tuple of float

    Raises
    ------
    ValueError
        Naming the offending level (the message starts with ``levels``).

    Examples
    --------
    >>> check_levels([1, 10, 100])
    (1.0, 10.0, 100.0)
    >>> check_levels([10, 1])
    Traceback (most recent call last):
    ...
    ValueError: levels must be strictly increasing: 1 follows 10
    """
    if isinstance(levels, (str, bytes)):
        raise ValueError(f"levels must be a sequence of numbers, got {levels!r}")
    try:
        values = tuple(levels)
    except TypeError:
        raise ValueError(f"levels must be a sequence of numbers, got {levels!r}") from None
    if not values:
        raise ValueError("levels: at least one reveal level is needed (the intact image is added to them)")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"levels must be numbers (percent of the feature budget), got {v!r}")
        number = float(v)
        if not math.isfinite(number) or not 0 < number <= 100:
            raise ValueError(f"levels must lie in (0, 100] (percent of the feature budget), got {v!r}")
        if out and number <= out[-1]:
            raise ValueError(f"levels must be strictly increasing: {level_label(number)} follows "
                             f"{level_label(out[-1])}")
        if out and level_label(number) == level_label(out[-1]):
            raise ValueError(f"levels {out[-1]!r} and {number!r} are both written {level_label(number)!r} "
                             f"(3 significant digits): choose levels that differ there")
        out.append(number)
    return tuple(out)


def parse_levels(text: str) -> tuple:
    """Reveal levels from a comma-separated list (``"1,10,100"``), checked by :func:`check_levels`.

    Raises
    ------
    ValueError
        For a value that is not a number, or levels :func:`check_levels` refuses.

    Examples
    --------
    >>> parse_levels("1, 3.16,10,100")
    (1.0, 3.16, 10.0, 100.0)
    """
    values = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            values.append(float(part))
        except ValueError:
            raise ValueError(f"levels take comma-separated percentages such as 1,10,100; {part!r} is not a "
                             f"number") from None
    return check_levels(values)


def check_level_labels(labels) -> tuple:
    """A set's conditions as ``stimset.json`` lists them, checked: reveal levels as
    :func:`level_label` writes them (in (0, 100], strictly increasing, at least one), then ``full``.

    Returns
    -------
    tuple of str
        The labels; ``labels[k]`` is the level of ``level_index`` k.

    Raises
    ------
    ValueError
        Saying what is wrong (the caller names the file).

    Examples
    --------
    >>> check_level_labels(["1", "10", "100", "full"])
    ('1', '10', '100', 'full')
    """
    if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
        raise ValueError(f"'levels' must be a list of level labels ending with 'full', got {labels!r}"[:200])
    if not labels or labels[-1] != FULL or FULL in labels[:-1]:
        raise ValueError(f"'levels' must end with {FULL!r} (the intact image), once, got {labels!r}"[:200])
    reveal = labels[:-1]
    for v in reveal:
        try:
            canonical = normalize_level(v)
        except ValueError:
            canonical = None
        if canonical != v:
            raise ValueError(f"'levels' holds {v!r}, not a level as written by the toolkit (3 significant "
                             f"digits, e.g. '1.58')")
    try:
        check_levels([float(v) for v in reveal])
    except ValueError as err:
        raise ValueError(f"'levels': {err}") from None
    return tuple(labels)
