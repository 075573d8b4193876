"""The core alone, installed in a fresh virtual environment, does an analyst's work.

No PsychoPy, no torch: it builds a stimulus set from the bundled sample, analyses trial data, and
answers the commands whose extra it lacks with the one-line message and exit 2. pip takes the
packages from its wheel cache where it has them (a few minutes the first time; slow).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def core_env(tmp_path_factory):
    """A virtual environment with ``pip install <checkout>`` and no extra: its bin folder."""
    env_dir = tmp_path_factory.mktemp("core-env")
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    # from a copy of the project's files: pip builds in the source folder (build/, *.egg-info), and
    # the checkout's editable install must stay as it is
    source = env_dir / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".mutation", "node_modules", "build", "*.egg-info", "out", "reveal-demo", "__pycache__",
        ".hypothesis", ".pytest_cache", ".whl", ".gl", ".ci"))
    run = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(source)],
                         capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return bin_dir


def _reveal(bin_dir, *args, cwd):
    return subprocess.run([str(bin_dir / "reveal"), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "TMPDIR": str(cwd)}, timeout=900)


def test_the_core_has_neither_torch_nor_psychopy(core_env):
    code = ("import importlib.util as u; print([m for m in ('torch', 'torchvision', 'psychopy', 'distributed') "
            "if u.find_spec(m)])")
    run = subprocess.run([str(core_env / "python"), "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "[]", run.stderr


def test_the_core_builds_a_set_and_analyses_trial_data(core_env, tmp_path, human_trials, manifest_for,
                                                       write_experiment_folder, model_csv):
    built = _reveal(core_env, "stimuli", "build", "--sample", "--out", tmp_path / "set", "--no-progress",
                    cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "set" / "manifest.csv").is_file() and list((tmp_path / "set").rglob("*.png"))

    stim = tmp_path / "trials-set"
    stim.mkdir()
    manifest_for(human_trials).to_csv(stim / "manifest.csv", index=False)
    write_experiment_folder(human_trials, tmp_path / "data")
    model_csv(human_trials, np.random.default_rng(0)).to_csv(tmp_path / "toynet.csv", index=False)
    # -X importtime lists every module the analysis imported: neither torch nor PsychoPy
    run = subprocess.run([str(core_env / "python"), "-X", "importtime", "-m", "reveal.cli.main", "analyze",
                          tmp_path / "data", tmp_path / "toynet.csv", "--stimuli", stim, "--out", tmp_path / "out",
                          "--resamples", "200", "--bootstrap", "100", "--seed", "3", "--no-progress"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "out" / "report.html").is_file() and (tmp_path / "out" / "tests.csv").is_file()
    imported = {line.split("|")[-1].strip().split(".")[0] for line in run.stderr.splitlines()
                if line.startswith("import time:")}
    assert "pandas" in imported and "psignifit" in imported  # the list is real
    assert not imported & {"torch", "torchvision", "psychopy", "distributed"}


@pytest.mark.parametrize("argv, extra, module", [
    (["predict", "--stimuli", "set", "--out", "p.csv"], "models", "torch"),
    (["experiment", "build", "--stimuli", "set", "--out", "exp"], "experiment", "psychopy"),
])
def test_a_command_of_an_absent_extra_is_one_line(core_env, tmp_path, argv, extra, module):
    run = _reveal(core_env, *argv, cwd=tmp_path)
    command = " ".join(["reveal", *argv[:2 if argv[0] == "experiment" else 1]])
    assert run.returncode == 2
    assert run.stderr == (f"reveal: error: {command} needs the {extra} extra ({module} is not installed): "
                          f"pip install 'reveal-psychophysics[{extra}]'\n")
    assert not list(tmp_path.glob("reveal-error-*"))
