"""The toolkit installs as one namespace, ``reveal.*``, and its imports follow the data flow."""
from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "stimuli", "experiments", "analysis", "models", "cli")


def test_installs_only_the_reveal_namespace():
    dist = distribution("reveal-psychophysics")
    assert dist.read_text("top_level.txt").split() == ["reveal"]
    assert any(ep.name == "reveal" and ep.value == "reveal.cli.main:main"
               for ep in dist.entry_points)


@pytest.mark.parametrize("name", PACKAGES)
def test_generic_top_level_names_are_not_importable(tmp_path, name):
    # a fresh interpreter outside the checkout: the folders exist only as reveal.<name>
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({name!r}) is not None)"
    assert subprocess.run([sys.executable, "-c", code], cwd=tmp_path).returncode == 0
    code = f"import reveal.{name}"
    assert subprocess.run([sys.executable, "-c", code], cwd=tmp_path).returncode == 0


def _absolute_toolkit_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for n in names:
            if n.split(".")[0] in PACKAGES or n.split(".")[0] == "reveal":
                yield node.lineno, n


def test_package_code_imports_itself_relatively():
    # An absolute ``import stimuli`` from a checkout would load a second copy of a module
    # (and ``except InputError`` would stop matching); inside reveal.* only relative imports.
    found = [f"{p.relative_to(ROOT)}:{line}: {name}"
             for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
             for line, name in _absolute_toolkit_imports(p)]
    assert found == []


def test_import_contracts_hold():
    # in a process of its own: import-linter configures logging with disable_existing_loggers, which
    # silenced every logger of the tests that ran after it in the same process (caplog saw nothing)
    run = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                          f"sys.exit(lint_imports(config_filename={str(ROOT / 'setup.cfg')!r}, no_cache=True, "
                          "no_logo=True))"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


#: The modules that own a CSV format and so may parse CSV text; everyone else goes through them.
CSV_OWNERS = {"core/stimset.py", "core/categories.py", "stimuli/loaders/clickme.py", "core/gamelabels.py",
              "core/gamelog.py", "core/gameonline.py",
              "core/readers.py", "core/trialdata.py",
              "models/gala_files.py"}  # a GALA run folder's test results (written and read there only)


def _csv_parsing_calls(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in ("read_csv", "reader", "DictReader", "genfromtxt", "loadtxt"):
                yield node.lineno, name


def test_only_the_format_owners_parse_csv():
    # "every manifest and trial file is read through the one owner": a pandas.read_csv or
    # csv.reader outside the owners would be a second reader with its own checks.
    # The benchmarks are code of the project too: they read sets and trial files through the owners.
    found = [f"{rel}:{line}: {name}"
             for pkg in (*PACKAGES, "benchmarks") for p in sorted((ROOT / pkg).rglob("*.py"))
             if (rel := p.relative_to(ROOT).as_posix()) not in CSV_OWNERS
             for line, name in _csv_parsing_calls(p)]
    assert found == []


def test_ruff_finds_nothing():
    # pyflakes and pycodestyle errors, as configured in pyproject.toml ([tool.ruff]).
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
