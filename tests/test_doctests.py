"""The examples in the docstrings run (numpy docstrings, as scikit-image's do)."""
from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re

import numpy as np
import pandas as pd
import pytest

PACKAGES = ("reveal.core", "reveal.stimuli", "reveal.experiments", "reveal.analysis", "reveal.models", "reveal.cli")


def _modules():
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        yield name
        for info in pkgutil.walk_packages(pkg.__path__, prefix=name + "."):
            yield info.name


MODULES = sorted(_modules())
# examples that build torchvision ResNets (5-12 s each): the full suite, not the everyday loop
HEAVY = {"reveal.models.gala", "reveal.models.attention", "reveal.models.sites"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False)
    assert result.failed == 0


def test_examples_exist():
    # guards against a runner that silently finds nothing
    attempted = sum(doctest.testmod(importlib.import_module(n), verbose=False, report=False).attempted
                    for n in ("reveal.core.seeding", "reveal.stimuli.reveal"))
    assert attempted >= 5


# --------------------------------------------------------------------------- array-taking functions
#
# The rule: a public function of reveal.analysis or reveal.models (defined at module level in
# that module, name not starting with "_", listed in ``__all__`` when the module has one)
# *takes arrays* when a parameter's annotation, or a parameter's type in the numpy
# docstring's Parameters section (the text after ``name : ``), names an array type:
# ``ndarray``, ``array`` / ``array_like`` / ``ArrayLike``, ``DataFrame``, ``Series`` or
# ``Tensor``. Each such function must have an Examples section with at least one ``>>>``
# (test_docstring_examples above runs them).

ARRAY_PACKAGES = ("reveal.analysis", "reveal.models")
ARRAY_TYPES = re.compile(r"\b(?:nd)?array(?:_like)?\b|\bArrayLike\b|\bDataFrame\b|\bSeries\b|\bTensor\b")


def _sections(doc):
    """numpy docstring sections: title -> lines under it (headers: a title over a ``---`` line)."""
    lines = inspect.cleandoc(doc or "").splitlines()
    sections, current = {}, None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and line.strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip()):
            current = line.strip()
            sections[current] = []
        elif current is not None and not re.fullmatch(r"-{3,}", line.strip()):
            sections[current].append(line)
    return sections


def _documented_types(doc):
    """The type of each entry of the Parameters section (``name : type`` lines, not indented)."""
    lines = _sections(doc).get("Parameters", []) + _sections(doc).get("Other Parameters", [])
    return [line.split(" : ", 1)[1] for line in lines if line[:1].strip() and " : " in line]


def takes_arrays(func):
    """The rule above, for one function."""
    params = inspect.signature(func).parameters.values()
    annotations = [p.annotation if isinstance(p.annotation, str) else repr(p.annotation)
                   for p in params if p.annotation is not inspect.Parameter.empty]
    return any(ARRAY_TYPES.search(text) for text in annotations + _documented_types(func.__doc__))


def has_examples(func):
    """An Examples section holding at least one ``>>>`` line."""
    return any(line.lstrip().startswith(">>>") for line in _sections(func.__doc__).get("Examples", []))


def _public_functions(packages):
    for name in sorted(n for n in _modules() if n.startswith(packages)):
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        for attr, obj in sorted(vars(module).items()):
            if (attr.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != name
                    or (exported is not None and attr not in exported)):
                continue
            yield f"{name}.{attr}", obj


ARRAY_FUNCTIONS = {name: f for name, f in _public_functions(ARRAY_PACKAGES) if takes_arrays(f)}


@pytest.mark.parametrize("name", sorted(ARRAY_FUNCTIONS))
def test_array_functions_have_examples(name):
    assert has_examples(ARRAY_FUNCTIONS[name]), (
        f"{name} takes arrays: its docstring needs an Examples section with a >>> example")


def test_array_rule_finds_the_api():
    # guards against a rule that silently finds nothing
    assert len(ARRAY_FUNCTIONS) >= 40
    for name in ("reveal.analysis.maps.metrics.spearman", "reveal.analysis.curves.observer_accuracy",
                 "reveal.models.readout.animal_evidence"):
        assert name in ARRAY_FUNCTIONS


def test_array_rule_and_examples_check():
    def documented(x, shape):
        """Doc.

        Parameters
        ----------
        x : array_like, shape (n,)
            Values (a DataFrame in the text is not a type).
        shape : tuple of int

        Examples
        --------
        >>> 1 + 1
        2
        """

    def annotated(trials: pd.DataFrame, k: int = 1) -> np.ndarray:
        """Doc."""

    def scalars(level: str, p: float = 0.5) -> np.ndarray:
        """Doc.

        Parameters
        ----------
        level : str
            Not an array.
        p : float
        """

    assert takes_arrays(documented) and takes_arrays(annotated) and not takes_arrays(scalars)
    assert has_examples(documented) and not has_examples(annotated)
    documented.__doc__ = documented.__doc__.split("Examples")[0]
    assert not has_examples(documented)
