"""The examples in the docstrings run (numpy docstrings, as scikit-image's do)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("reveal.core", "reveal.stimuli", "reveal.experiments", "reveal.analysis", "reveal.models", "reveal.cli")


def _modules():
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        yield name
        for info in pkgutil.walk_packages(pkg.__path__, prefix=name + "."):
            yield info.name


MODULES = sorted(_modules())


@pytest.mark.parametrize("name", MODULES)
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
