"""What a bug report needs to know about the installation: versions, dependencies, usable extras.

Pure gathering, no printing: :func:`system_info` returns a JSON-ready dict and ``reveal info``
(:mod:`reveal.cli.info`) prints it. Nothing here imports an optional package: versions come from
the installed distributions' metadata (:mod:`importlib.metadata`), the extras' state from
:func:`reveal.core.extras.missing_modules` (``find_spec``, not import). The facts that need
an import of an upper layer or of torch (the PsychoJS release the export targets, CUDA and MPS)
are added by the command line, since the import contracts keep both out of ``reveal.core``.

Examples
--------
>>> requirement_name('dask[distributed]>=2024.1; extra == "cluster"')
'dask'
>>> requirement_extra('dask[distributed]>=2024.1; extra == "cluster"')
'cluster'
>>> requirement_extra("numpy>=1.24") is None
True
>>> distribution_version("reveal-no-such-distribution") is None
True
"""
from __future__ import annotations

import platform
import re
import sys
from importlib import metadata

from .extras import DISTRIBUTION, EXTRAS, missing_modules
from .version import toolkit_version

__all__ = ["system_info", "dependencies", "distribution_version", "extras_status", "psychopy_version",
           "requirement_name", "requirement_extra"]

#: The distributions PsychoPy is installed as (the library alone, or the full application).
PSYCHOPY_DISTRIBUTIONS = ("psychopy-lib", "psychopy")

_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")
_EXTRA = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")

def requirement_name(requirement: str) -> str:
    """The distribution name of a requirement string (``"pillow>=10"`` -> ``"pillow"``).

    Parameters
    ----------
    requirement : str
        One line of :func:`importlib.metadata.requires`.

    Returns
    -------
    str
        The name as written (the package index treats ``-``, ``_`` and ``.`` alike).
    """
    try:  # packaging parses every requirement form; the regex covers the ones setup.cfg uses
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - packaging is installed wherever pip is
        pass
    else:
        try:
            return Requirement(requirement).name
        except InvalidRequirement:
            pass
    match = _NAME.match(requirement)
    return match.group(1) if match else requirement.strip()


def requirement_extra(requirement: str) -> str | None:
    """The extra a requirement belongs to (its ``extra == "..."`` marker), None for a required one.

    Parameters
    ----------
    requirement : str
        One line of :func:`importlib.metadata.requires`.

    Returns
    -------
    str or None
    """
    _, _, marker = requirement.partition(";")
    match = _EXTRA.search(marker)
    return match.group(1) if match else None


def distribution_version(name: str) -> str | None:
    """The installed version of distribution ``name``, None when it is not installed.

    Parameters
    ----------
    name : str
        A distribution name as ``pip install`` takes it.

    Returns
    -------
    str or None
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependencies(distribution: str = DISTRIBUTION) -> dict[str, dict]:
    """Every distribution that ``distribution`` requires or an extra of it adds, with its version.

    Parameters
    ----------
    distribution : str
        The distribution whose requirements are read (default: the toolkit's).

    Returns
    -------
    dict
        name -> ``{"version": str or None, "required": bool, "extras": [extra, ...]}``; required
        ones first, each name once (``required``: listed in ``install_requires``; ``extras``:
        the extras that list it). An extra that only combines others (``all = dist[a,b]``)
        adds no name. Empty when ``distribution`` itself is not installed.
    """
    try:
        lines = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return {}
    found: dict[str, dict] = {}
    names: dict[str, str] = {}  # canonical name -> the name first written
    for line in lines:
        name, extra = requirement_name(line), requirement_extra(line)
        if _canonical(name) == _canonical(distribution):  # an extra combining others (``[all]``)
            continue
        key = names.setdefault(_canonical(name), name)
        entry = found.setdefault(key, {"version": None, "required": False, "extras": []})
        if extra is None:
            entry["required"] = True
        elif extra not in entry["extras"]:
            entry["extras"].append(extra)
    for name, entry in found.items():
        entry["version"] = distribution_version(name)
    return dict(sorted(found.items(), key=lambda item: not item[1]["required"]))


def extras_status() -> dict[str, dict]:
    """Whether each extra of :data:`reveal.core.extras.EXTRAS` is usable, and what it lacks.

    Returns
    -------
    dict
        extra name -> ``{"usable": bool, "missing": [import name, ...], "purpose": str}``.
    """
    status = {}
    for name, extra in EXTRAS.items():
        missing = missing_modules(name)
        status[name] = {"usable": not missing, "missing": missing, "purpose": extra.purpose}
    return status


def psychopy_version() -> str | None:
    """PsychoPy's installed version from its distribution's metadata, without importing it.

    Returns
    -------
    str or None
        None when neither ``psychopy-lib`` nor ``psychopy`` is installed.
    """
    for name in PSYCHOPY_DISTRIBUTIONS:
        version = distribution_version(name)
        if version is not None:
            return version
    return None


def system_info() -> dict:
    """The installation's facts for a bug report, JSON-ready.

    Returns
    -------
    dict
        ``toolkit_version``; ``python`` (``version``, ``implementation``, ``executable``);
        ``platform`` (``platform``, ``machine``); ``extras`` (:func:`extras_status`);
        ``psychopy`` (:func:`psychopy_version`); ``dependencies`` (:func:`dependencies`).
    """
    return {
        "toolkit_version": toolkit_version(),
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": {"platform": platform.platform(), "machine": platform.machine()},
        "extras": extras_status(),
        "psychopy": psychopy_version(),
        "dependencies": dependencies(),
    }
