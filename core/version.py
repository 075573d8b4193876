"""The installed toolkit's version, written into every output's provenance."""
from __future__ import annotations

__all__ = ["toolkit_version"]


def toolkit_version() -> str:
    """The installed toolkit's version (``0+unknown`` when run from a source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reveal-psychophysics")
    except PackageNotFoundError:
        return "0+unknown"
