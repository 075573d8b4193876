"""Option values shared by several subcommands."""
from __future__ import annotations

from pathlib import Path

from ..core.errors import InputError

__all__ = ["source_path"]


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
