"""Option values shared by several subcommands."""
from __future__ import annotations

from pathlib import Path

from ..core.errors import InputError

__all__ = ["source_path", "int_in_range"]


def source_path(text: str, option: str = "--maps") -> tuple[str, Path]:
    """``SOURCE=PATH`` (``--maps``, ``--reference``) → ``(source, path)``.

    Raises
    ------
    InputError
        Naming the option, when ``text`` has no ``=``, no source or no path.

    Examples
    --------
    >>> source_path("clickme=clicks.csv")
    ('clickme', PosixPath('clicks.csv'))
    """
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path:
        raise InputError(f"{option} takes SOURCE=PATH (e.g. clickme=clicks.csv), got {text!r}")
    return name.strip(), Path(path)


def int_in_range(value: int, option: str, low: int, high: int | None = None, why: str = "") -> int:
    """``value`` of an integer option, refused outside ``low..high`` before any work starts.

    Parameters
    ----------
    value : int
        As argparse parsed it.
    option : str
        The option's name, e.g. ``--size``, for the message.
    low, high : int
        The range, both ends included; ``high=None``: no upper end.
    why : str, optional
        Why the range is what it is, added to the message.

    Returns
    -------
    int
        ``value``.

    Raises
    ------
    InputError
        Naming the option, the range and ``why``.

    Examples
    --------
    >>> int_in_range(5, "--blocks", 1)
    5
    """
    if low <= value and (high is None or value <= high):
        return value
    allowed = f"from {low} to {high}" if high is not None else f"at least {low}"
    raise InputError(f"{option} must be {allowed}, got {value}" + (f": {why}" if why else ""))
