"""``reveal info``: what it reports matches the environment the tests run in."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import platform
import re
import subprocess
import sys
from importlib import metadata

import numpy
import pytest
from packaging.requirements import Requirement

from reveal.cli.main import main
from reveal.core.extras import DISTRIBUTION, EXTRAS, missing_modules
from reveal.core.sysinfo import dependencies, distribution_version
from reveal.core.version import toolkit_version
from reveal.experiments.builder import DEFAULT_PSYCHOJS_VERSION


def _installed_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@pytest.fixture(scope="module")
def info_json():
    # one run for the module (capsys is per test, and importing torch takes seconds)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["info", "--json"]) == 0
    return json.loads(out.getvalue())


def test_json_versions_match_the_environment(info_json):
    assert info_json["toolkit_version"] == toolkit_version()
    assert info_json["python"]["version"] == platform.python_version()
    assert info_json["python"]["executable"] == sys.executable
    assert info_json["platform"]["machine"] == platform.machine()
    assert info_json["dependencies"]["numpy"]["version"] == numpy.__version__
    assert info_json["dependencies"]["numpy"]["required"] is True
    assert info_json["psychojs"] == DEFAULT_PSYCHOJS_VERSION
    psychopy = _installed_version("psychopy-lib") or _installed_version("psychopy")
    assert info_json["psychopy"] == psychopy


def test_json_lists_every_requirement_with_its_installed_version(info_json):
    wanted = {Requirement(line).name for line in metadata.requires(DISTRIBUTION)} - {DISTRIBUTION}
    deps = info_json["dependencies"]
    assert set(deps) == wanted
    for name, dep in deps.items():
        assert dep["version"] == _installed_version(name), name
        assert dep["required"] or dep["extras"], name  # each comes from install_requires or an extra


def test_json_extras_are_usable_exactly_when_nothing_is_missing(info_json):
    assert set(info_json["extras"]) == set(EXTRAS)
    for name, state in info_json["extras"].items():
        missing = missing_modules(name)
        assert state["usable"] == (not missing), name
        assert state["missing"] == missing, name


def test_json_torch_facts_match_torch(info_json):
    if importlib.util.find_spec("torch") is None:
        assert info_json["torch"] is None
        return
    import torch

    facts = info_json["torch"]
    assert facts["version"] == str(torch.__version__)
    assert facts["cuda_available"] == torch.cuda.is_available()
    assert facts["cuda_version"] == torch.version.cuda
    assert len(facts["cuda_devices"]) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)


def test_a_distribution_that_is_not_installed_is_none():
    assert distribution_version("reveal-psychophysics-no-such-distribution") is None
    # the same lookup, through another distribution's requirements: pandas' extras name dozens
    # of optional readers, some of which are not installed here
    deps = dependencies("pandas")
    assert deps, "pandas declares requirements"
    absent = [name for name, dep in deps.items() if _installed_version(name) is None]
    if not absent:
        pytest.skip("every optional requirement of pandas is installed")
    for name in absent:
        assert deps[name]["version"] is None, name


def test_text_block(capsys, info_json):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == f"{DISTRIBUTION} {toolkit_version()}"
    assert lines[1] == f"Python {platform.python_version()} ({sys.executable})"
    assert lines[2].startswith("Platform ")
    for name in EXTRAS:
        missing = missing_modules(name)
        line = next(line for line in lines if line.split()[:1] == [name])
        if missing:
            assert f"missing: {', '.join(missing)} (pip install '{DISTRIBUTION}[{name}]')" in line
        else:
            assert line.split()[1:] == ["usable"]
    assert f"export targets PsychoJS {DEFAULT_PSYCHOJS_VERSION}" in text
    deps = lines[lines.index("Dependencies:") + 1:]
    numpy_line = next(line for line in deps if line.split()[0] == "numpy")
    assert numpy_line.split()[1] == numpy.__version__
    assert len(deps) == len(info_json["dependencies"])
    for line in deps:
        name = line.split()[0]
        version = _installed_version(name)
        assert (version if version is not None else "not installed") in line, line
    if info_json["torch"] is not None and "error" not in info_json["torch"]:
        cuda = next(line for line in lines if line.strip().startswith("CUDA"))
        assert re.match(r"\s*CUDA\s+(yes|no)", cuda)
        assert ("yes" in cuda) == info_json["torch"]["cuda_available"]


@pytest.mark.slow  # the text is checked in-process above; this starts the console command (4 s)
def test_reveal_info_runs_as_a_command():
    run = subprocess.run([sys.executable, "-m", "reveal.cli.main", "info"], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == f"{DISTRIBUTION} {toolkit_version()}"
    assert "Dependencies:" in run.stdout
