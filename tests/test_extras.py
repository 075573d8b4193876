"""A part used without its extra is one clear line naming the extra and the pip command.

The packages an extra installs are hidden in a child process by setting them to None in
``sys.modules`` (Python's own way of making an import fail: "import raises ModuleNotFoundError"),
which is what an environment without them looks like to the toolkit. The real thing, a fresh
environment with the core alone, is ``tests/test_core_install.py`` (slow).
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reveal.core.extras import EXTRAS, MissingExtraError, missing_modules, require_extra


def _without(extra: str, code: str, tmp_path) -> subprocess.CompletedProcess:
    """Run ``code`` in a child Python in which the packages of ``extra`` cannot be imported."""
    hide = "".join(f"sys.modules[{m!r}] = None; " for m in EXTRAS[extra].modules)
    return subprocess.run([sys.executable, "-c", f"import sys; {hide}\n{code}"], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=120)


def _cli(extra: str, argv: list[str], tmp_path) -> subprocess.CompletedProcess:
    return _without(extra, f"from reveal.cli.main import main; sys.exit(main({argv!r}))", tmp_path)


def test_the_message_names_the_extra_and_the_pip_command():
    err = MissingExtraError("models", "torch", "reveal predict")
    assert isinstance(err, ImportError) and err.name == "torch"
    assert str(err) == ("reveal predict needs the models extra (torch is not installed): "
                        "pip install 'reveal-psychophysics[models]'")


def test_installed_extras_are_not_reported_missing():
    # this environment has [test], which has every extra
    for extra in EXTRAS:
        assert missing_modules(extra) == []
        require_extra(extra, "a test")


@pytest.mark.parametrize("extra, argv, module", [
    ("models", ["predict", "--stimuli", "stimset", "--out", "p.csv"], "torch"),
    ("models", ["maps", "attention", "--images", "photos", "--out", "att"], "torch"),
    ("experiment", ["experiment", "build", "--stimuli", "stimset", "--out", "exp"], "psychopy"),
    ("experiment", ["experiment", "run", "--experiment", "exp", "--participant", "1"], "psychopy"),
])
def test_a_command_without_its_extra_is_one_line_and_exit_2(extra, argv, module, tmp_path):
    run = _cli(extra, argv, tmp_path)
    command = " ".join(["reveal", *argv[:2 if argv[0] in ("experiment", "maps") else 1]])
    assert run.returncode == 2, run.stderr
    assert run.stderr == (f"reveal: error: {command} needs the {extra} extra ({module} is not installed): "
                          f"pip install 'reveal-psychophysics[{extra}]'\n")
    assert "Traceback" not in run.stderr and not list(tmp_path.glob("reveal-error-*"))  # no traceback file
    assert not any(p.name in ("p.csv", "att", "exp") for p in tmp_path.iterdir())  # nothing written


def test_help_lists_every_command_without_any_extra(tmp_path):
    hide = "".join(f"sys.modules[{m!r}] = None; " for e in EXTRAS.values() for m in e.modules)
    code = f"import sys; {hide}\nfrom reveal.cli.main import main; main(['--help'])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for command in ("demo", "stimuli", "experiment", "predict", "analyze", "maps", "power"):
        assert command in run.stdout


def test_the_python_api_raises_at_first_use_not_at_import(tmp_path):
    run = _without("models", """
import reveal.models, reveal.stimuli, reveal.analysis, reveal.experiments  # imports work without torch
try:
    reveal.models.predict
except ImportError as err:
    print(type(err).__name__, err)
""", tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ("MissingExtraError reveal.models needs the models extra (torch is not installed): "
                          "pip install 'reveal-psychophysics[models]'\n")


def test_a_cluster_without_dask_says_which_extra(tmp_path):
    run = _without("cluster", """
from reveal.analysis.maps.pipeline import open_executor
try:
    with open_executor(scheduler="tcp://127.0.0.1:1"):
        pass
except ImportError as err:
    print(err)
""", tmp_path)
    assert run.stdout == ("a dask scheduler needs the cluster extra (distributed is not installed): "
                          "pip install 'reveal-psychophysics[cluster]'\n"), run.stderr
