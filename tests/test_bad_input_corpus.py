"""A corpus of broken and hostile inputs, made at test time, fed to the console command.

For every case: exit 2, a one-line message naming the offending file, no traceback, nothing
written outside ``--out`` and no file of the user's changed or deleted.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # one console process per case


def _snapshot(root: Path, skip: Path | None = None):
    out = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        out[p.relative_to(root).as_posix()] = p.read_bytes() if p.is_file() else None
    return out


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from reveal.stimuli.sample import write_sample_inputs

    root = tmp_path_factory.mktemp("sample")
    write_sample_inputs(root)
    return root


def _case_build(sample, work, mutate):
    """A copy of the sample inputs, changed by ``mutate``; returns (argv, offending path)."""
    shutil.copytree(sample, work / "in")
    images, maps, cats = work / "in" / "images", work / "in" / "maps", work / "in" / "categories.csv"
    bad = mutate(images, maps, cats)
    argv = ["stimuli", "build", "--images", str(images), "--categories", str(cats), "--no-progress",
            "--out", str(work / "out")]
    for src in sorted(p for p in maps.iterdir()):
        argv += ["--maps", f"{src.name}={src}"]
    return argv, bad


def _not_utf8_categories(images, maps, cats):
    cats.write_bytes("image_id,category\nchelsea,animal\n".encode("utf-16"))
    return cats


def _unknown_category(images, maps, cats):
    cats.write_text("image_id,category\nchelsea,plant\n")
    return cats


def _truncated_photo(images, maps, cats):
    p = images / "chelsea.png"
    p.write_bytes(p.read_bytes()[:300])
    return p


def _complex_map(images, maps, cats):
    src = sorted(maps.iterdir())[0]
    (src / "chelsea.png").unlink()
    np.save(src / "chelsea.npy", np.ones((64, 64), complex))
    return src / "chelsea.npy"


def _string_map(images, maps, cats):
    src = sorted(maps.iterdir())[0]
    (src / "chelsea.png").unlink()
    np.save(src / "chelsea.npy", np.full((64, 64), "x"))
    return src / "chelsea.npy"


def _sixteen_channel_map(images, maps, cats):
    src = sorted(maps.iterdir())[0]
    (src / "chelsea.png").unlink()
    np.save(src / "chelsea.npy", np.ones((3, 64, 64)))
    return src / "chelsea.npy"


def _empty_categories(images, maps, cats):
    cats.write_text("")
    return cats


BUILD_CASES = {
    "categories not UTF-8": _not_utf8_categories,
    "unknown category": _unknown_category,
    "truncated photograph": _truncated_photo,
    "complex .npy map": _complex_map,
    "string .npy map": _string_map,
    "3-D .npy map": _sixteen_channel_map,
    "empty categories": _empty_categories,
}


def _run(argv, cwd):
    return subprocess.run([sys.executable, "-m", "reveal.cli.main", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _check(proc, bad: Path, before, after):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stderr.startswith("reveal: error: "), proc.stderr
    assert str(bad) in proc.stderr or bad.name in proc.stderr, proc.stderr
    assert after == before, "files outside --out were written, changed or deleted"


@pytest.mark.parametrize("case", sorted(BUILD_CASES))
def test_stimuli_build_bad_input(sample, tmp_path, case):
    argv, bad = _case_build(sample, tmp_path, BUILD_CASES[case])
    before = _snapshot(tmp_path, skip=tmp_path / "out")
    proc = _run(argv, tmp_path)
    _check(proc, bad, before, _snapshot(tmp_path, skip=tmp_path / "out"))


def _analysis_case(tmp_path, name):
    data = tmp_path / "data"
    data.mkdir()
    if name == "not UTF-8":
        bad = data / "p.csv"
        bad.write_bytes("participant,stimulus_id,response\n7,é,animal\n".encode("latin-1"))
    elif name == "empty file":
        bad = data / "p.csv"
        bad.write_bytes(b"")
    elif name == "unknown layout":
        bad = data / "p.csv"
        bad.write_text("a,b\n1,2\n")
    elif name == "binary junk":
        bad = data / "p.csv"
        bad.write_bytes(bytes(range(256)) * 4)
    return ["analyze", str(data), "--out", str(tmp_path / "out"), "--no-progress"], bad


@pytest.mark.parametrize("case", ["not UTF-8", "empty file", "unknown layout", "binary junk"])
def test_analyze_bad_input(tmp_path, case):
    argv, bad = _analysis_case(tmp_path, case)
    before = _snapshot(tmp_path, skip=tmp_path / "out")
    proc = _run(argv, tmp_path)
    _check(proc, bad, before, _snapshot(tmp_path, skip=tmp_path / "out"))


def test_analyze_refuses_an_out_folder_of_someone_elses_files(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "p.csv").write_text("a,b\n1,2\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("my own report")
    before = _snapshot(tmp_path)
    proc = _run(["analyze", str(data), "--out", str(out), "--overwrite"], tmp_path)
    _check(proc, out, before, _snapshot(tmp_path))


@pytest.mark.parametrize("payload", ["pickled", "truncated", "not utf-8 csv"])
def test_maps_reliability_bad_click_dump(tmp_path, payload):
    if payload == "pickled":
        bad = tmp_path / "clicks.npz"
        obj = np.array([np.arange(3), np.arange(2)] + [None], dtype=object)[:-1]
        np.savez(bad, file_pointer=np.array(["a", "b"]), clickmap_x=obj, clickmap_y=obj,
                 user_id=np.array([1, 2]))
    elif payload == "truncated":
        bad = tmp_path / "clicks.npz"
        np.savez(bad, file_pointer=np.array(["a"]), clickmap_x=np.arange(3.0), clickmap_y=np.arange(3.0),
                 clicks_per_trial=np.array([3]), user_id=np.array([1]))
        bad.write_bytes(bad.read_bytes()[:100])
    else:
        bad = tmp_path / "clicks.csv"
        bad.write_bytes("image_path,clicks,user_id\na.png,{},u\n".encode("utf-16"))
    before = _snapshot(tmp_path, skip=tmp_path / "out")
    proc = _run(["maps", "reliability", "--clicks", str(bad), "--out", str(tmp_path / "out")], tmp_path)
    _check(proc, bad, before, _snapshot(tmp_path, skip=tmp_path / "out"))


def test_stimuli_build_into_a_file(sample, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    before = _snapshot(tmp_path)
    proc = _run(["stimuli", "build", "--sample", "--no-progress", "--out", str(target)], tmp_path)
    _check(proc, target, before, _snapshot(tmp_path))
