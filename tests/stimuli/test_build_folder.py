"""The build's output folder: interrupted builds resume, --overwrite touches only the build's files."""
import os
import signal
import subprocess
import sys
import time

import pytest

from reveal.cli.main import main
from reveal.core.outputs import RECORD

pytestmark = pytest.mark.slow


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _build(out, *extra):
    return main(["stimuli", "build", "--sample", "--no-progress", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "set"
    assert _build(out) == 0
    return _tree(out)


def test_killed_build_resumes_to_the_same_bytes(tmp_path, reference):
    out = tmp_path / "set"
    proc = subprocess.Popen([sys.executable, "-m", "reveal.cli.main", "stimuli", "build", "--sample",
                             "--no-progress", "--out", str(out)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("*/*.png")):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.csv").exists(), "killed too late to test a resume"
    assert (out / RECORD).exists()
    # an interrupted build is no stimulus set yet, and a plain rerun resumes it
    assert _build(out) == 0
    assert _tree(out) == reference


def test_resume_rewrites_a_damaged_png(tmp_path, reference):
    out = tmp_path / "set"
    assert _build(out) == 0
    damaged = next(out.glob("*/*_L00.png"))
    damaged.write_bytes(damaged.read_bytes()[:100])
    (out / "manifest.csv").unlink()
    assert _build(out) == 0
    assert _tree(out) == reference


def test_overwrite_replaces_only_the_builds_files(tmp_path, capsys):
    out = tmp_path / "set"
    assert _build(out) == 0
    (out / "notes.md").write_text("mine")
    assert _build(out, "--size", "64") == 2  # a different set
    assert "--overwrite" in capsys.readouterr().err
    assert _build(out, "--size", "64", "--overwrite") == 0
    assert (out / "notes.md").read_text() == "mine"
    from PIL import Image
    assert all(Image.open(p).size == (64, 64) for p in out.glob("*/*.png"))


def test_a_folder_of_someone_elses_files_is_refused(tmp_path, capsys):
    out = tmp_path / "data"
    out.mkdir()
    (out / "results.xlsx").write_bytes(b"x")
    assert _build(out, "--overwrite") == 2
    err = capsys.readouterr().err
    assert "results.xlsx" in err and "Traceback" not in err
    assert _tree(out) == {"results.xlsx": b"x"}
