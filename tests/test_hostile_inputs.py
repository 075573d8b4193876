"""Broken and hostile inputs for every subcommand, made at test time (issue 12).

Each case builds its inputs in a temporary folder and runs ``reveal.cli.main.main`` (the
console command's function, in this process: one interpreter for the whole corpus). A case's
outcome is one of

- ``error``: exit 2, one line ``reveal: error: <file>[, row <n>]: ...`` naming the offending
  file (and row where there is one), no traceback;
- ``result``: the input is legitimately accepted (exit 0) and the case checks the result.

In every case nothing outside ``--out`` is written, changed or deleted (a snapshot of the
case's folder before and after), and where a case puts a file of the user's inside ``--out``
it is still there, unchanged. The error cases of ``CONSOLE_CASES`` also run as the console
command (``python -m reveal.cli.main``), one process each: exit 2, stderr beginning with the
message.

``python tests/test_hostile_inputs.py`` runs the corpus and prints its size and the count of
cases per outcome.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reveal.cli.main import main

pytestmark = pytest.mark.slow  # ~200 commands in this process and 21 console processes


# --------------------------------------------------------------------------- the harness

@dataclass
class Case:
    """What a case runs and expects (see the module docstring)."""

    argv: list
    bad: Path | None = None          # the file the message must name (error cases)
    row: int | None = None           # and the row, where there is one
    out: Path | None = None          # --out: excluded from the snapshot (None: nothing excluded)
    expect: str = "error"
    check: object = None             # result cases: a function() that asserts the result
    keep: dict = field(default_factory=dict)  # user files inside --out: path -> bytes


class Ctx:
    """A case's folder, with the shared inputs copied in on first use."""

    def __init__(self, root: Path, shared: dict):
        self.root, self.shared = root, shared
        self.out = root / "out"

    def sample(self):
        """A copy of the bundled sample inputs: (images, {source: folder}, categories)."""
        dst = self.root / "in"
        if not dst.exists():
            shutil.copytree(self.shared["sample"], dst)
        maps = {p.name: p for p in sorted((dst / "maps").iterdir())}
        return dst / "images", maps, dst / "categories.csv"

    def stimset(self):
        """A copy of a built stimulus set (from the sample)."""
        dst = self.root / "set"
        if not dst.exists():
            shutil.copytree(self.shared["stimset"], dst, symlinks=True)
        return dst

    def build_argv(self, maps=None, categories=None, images=None):
        imgs, sample_maps, cats = self.sample()
        maps = sample_maps if maps is None else maps
        argv = ["stimuli", "build", "--images", str(images or imgs), "--categories", str(categories or cats),
                "--no-progress", "--out", str(self.out)]
        for name, path in maps.items():
            argv += ["--maps", f"{name}={path}"]
        return argv


def snapshot(root: Path, skip: Path | None):
    out = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        if p.is_symlink():
            out[p.relative_to(root).as_posix()] = ("link", os.readlink(p))
        elif p.is_file():
            out[p.relative_to(root).as_posix()] = p.read_bytes()
        else:
            out[p.relative_to(root).as_posix()] = None
    return out


def run_case(name: str, root: Path, shared: dict, capsys) -> str:
    """Run one case; assert its outcome; return it (``error`` or ``result``)."""
    ctx = Ctx(root, shared)
    case = CASES[name](ctx)
    before = snapshot(root, case.out)
    capsys.readouterr()
    rc = main([str(a) for a in case.argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    assert snapshot(root, case.out) == before, "files outside --out were written, changed or deleted"
    for path, data in case.keep.items():
        assert path.read_bytes() == data, f"the user's {path} was changed or deleted"
    if case.expect == "error":
        assert rc == 2, err
        line = err.strip().splitlines()[-1]
        assert line.startswith("reveal: error: "), err
        assert str(case.bad) in line or (case.bad.name in line), (case.bad, line)
        if case.row is not None:
            assert f", row {case.row}" in line, (case.row, line)
    else:
        assert rc == 0, err
        case.check()
    return case.expect


# --------------------------------------------------------------------------- little writers

def _png(path, array):
    Image.fromarray(array).save(path)
    return path


def _truncate(path, n=300):
    path.write_bytes(path.read_bytes()[:n])
    return path


def _bomb(path):
    """A small PNG file that decodes to 144 million pixels."""
    Image.new("1", (12_000, 12_000)).save(path)
    return path


def _first_map(ctx, suffix=".npy", array=None):
    """Replace the sample's first map of its first source by ``array`` saved as ``suffix``."""
    _, maps, _ = ctx.sample()
    src = next(iter(maps.values()))
    (src / "chelsea.png").unlink()
    path = src / f"chelsea{suffix}"
    if array is not None:
        np.save(path, array, allow_pickle=True)
    return path


def _click_csv(ctx, rows, header="image_path,clicks,user_id\n", encoding="utf-8"):
    path = ctx.root / "clicks.csv"
    path.write_bytes((header + "".join(rows)).encode(encoding))
    return path


def _good_click_rows(image_ids=("chelsea", "coffee", "astronaut", "rocket"), users=3):
    rng = np.random.default_rng(0)
    rows = []
    for i in image_ids:
        for u in range(users):
            pts = ",".join(f'""({x},{y})""' for x, y in rng.integers(0, 256, (5, 2)))
            rows.append(f'{i}.png,"{{{pts}}}",u{u}\n')
    return rows


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _npy_claiming(shape, descr="<f8", data=b""):
    """The bytes of a ``.npy`` file whose header declares ``shape`` but holds only ``data``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


def _zip_bomb_npz(path, shape=(10 ** 12,)):
    """A click dump of a few hundred bytes whose clickmap_x member declares ``shape`` float64 values
    (8 TB for the default): a header alone, deflated, in a zip member."""
    good = dict(file_pointer=np.array(["chelsea.png", "coffee.png"]), clickmap_y=np.arange(5.0),
                clicks_per_trial=np.array([3, 2]), user_id=np.array([1, 2]))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, array in good.items():
            buf = io.BytesIO()
            np.save(buf, array)
            zf.writestr(f"{name}.npy", buf.getvalue())
        zf.writestr("clickmap_x.npy", _npy_claiming(shape))
    assert path.stat().st_size < 2000
    return path


def _png_claiming(path, width, height):
    """A PNG of a few dozen bytes whose header (IHDR) says ``width`` x ``height`` 8-bit grey pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64)))
                     + chunk(b"IEND", b""))
    return path


def _deep_json(depth=100_000, key="images"):
    """A JSON object whose ``key`` is ``depth`` nested lists (200 kB): past Python's reader's depth."""
    return ('{"%s": ' % key + "[" * depth + "]" * depth + "}").encode()


def _salicon_json(ctx, data, raw=None):
    path = ctx.root / "fixations.json"
    path.write_bytes(raw if raw is not None else json.dumps(data).encode())
    return path


def _salicon_doc(fix=((10, 20), (30, 40))):
    return {"images": [{"id": 1, "file_name": "chelsea.jpg", "height": 300, "width": 451}],
            "annotations": [{"image_id": 1, "worker_id": 1, "fixations": [list(f) for f in fix]}]}


def _mat(ctx, **fields):
    from scipy.io import savemat

    folder = ctx.root / "mats"
    folder.mkdir(exist_ok=True)
    path = folder / "chelsea.mat"
    savemat(path, fields)
    return folder, path


def _chelsea_only(ctx):
    """Categories of the sample's first image alone (sources giving one image's maps)."""
    path = ctx.root / "chelsea.csv"
    path.write_text("image_id,category\nchelsea,animal\n")
    return path


def _manifest_rows(stimset: Path):
    with open(stimset / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write_manifest(stimset: Path, rows):
    with open(stimset / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return stimset / "manifest.csv"


def _set_field(stimset: Path, row: int, column: str, value: str):
    rows = _manifest_rows(stimset)
    rows[row - 1][column] = value
    return _write_manifest(stimset, rows)


def _experiment_argv(ctx, stimset=None):
    return ["experiment", "build", "--stimuli", str(stimset or ctx.stimset()), "--out", str(ctx.out)]


def _predict_argv(ctx, stimset=None, out=None):
    out = out or ctx.root / "pred" / "model.csv"
    out.parent.mkdir(exist_ok=True)
    return ["predict", "--stimuli", str(stimset or ctx.stimset()), "--out", str(out), "--device", "cpu",
            "--workers", "0", "--no-progress"], out


LAB_COLUMNS = ["participant", "session", "group", "key_animal", "key_nonanimal", "phase", "block", "trial",
               "stimulus_id", "image_id", "category", "map_source", "level", "resp_key", "response", "correct",
               "rt_s", "timed_out", "fixation_frames", "stim_frames", "refresh_hz", "dropped_frames", "date",
               "expName", "psychopyVersion", "frameRate"]


def _lab_file(ctx, change=None, js=False, name="p01.csv"):
    """A lab (PsychoPy) or Pavlovia (PsychoJS) data file of the built set; ``change(rows)`` spoils it.

    Returns the file; its data row ``n`` is ``rows[n - 1]``.
    """
    data = ctx.root / "data"
    data.mkdir(exist_ok=True)
    rows = []
    true, false, missing = ("true", "false", "undefined") if js else ("True", "False", "")
    manifest = _manifest_rows(ctx.stimset())
    group = manifest[0]["map_source"]
    for k, m in enumerate(r for r in manifest if r["map_source"] == group):
        correct = k % 3 != 0
        response = m["category"] if correct else ("nonanimal" if m["category"] == "animal" else "animal")
        rows.append({"participant": "p01", "session": "001", "group": group, "key_animal": "s",
                     "key_nonanimal": "l", "phase": "test", "block": "1", "trial": str(k + 1),
                     "stimulus_id": m["stimulus_id"], "image_id": m["image_id"], "category": m["category"],
                     "map_source": m["map_source"], "level": m["level"],
                     "resp_key": "s" if response == "animal" else "l", "response": response,
                     "correct": str(int(correct)), "rt_s": "0.4312", "timed_out": false, "fixation_frames": "78",
                     "stim_frames": "24", "refresh_hz": "60.0", "dropped_frames": "0",
                     "date": "2026-03-01_10h00.00.000", "expName": "rapidcat", "psychopyVersion": "2026.2.5",
                     "frameRate": "60.0"})
    if change is not None:
        change(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LAB_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    text = buf.getvalue().replace(",,", f",{missing},") if js else buf.getvalue()
    path = data / name
    path.write_bytes((b"\xef\xbb\xbf" if js else b"") + text.encode())
    return path


def _analyze_argv(ctx, *data, stimuli=None):
    argv = ["analyze", *map(str, data), "--out", str(ctx.out), "--no-progress", "--resamples", "99",
            "--bootstrap", "99", "--no-fits"]
    return argv + (["--stimuli", str(stimuli)] if stimuli else [])


# --------------------------------------------------------------------------- stimuli build

CASES = {}


def case(name):
    def register(fn):
        assert name not in CASES, name
        CASES[name] = fn
        return fn
    return register


def _categories_case(content: bytes, row=None):
    def make(ctx):
        _, _, cats = ctx.sample()
        cats.write_bytes(content)
        return Case(ctx.build_argv(), cats, row, ctx.out)
    return make


for _name, _content, _row in [
    ("categories UTF-16", "image_id,category\nchelsea,animal\n".encode("utf-16"), None),
    ("categories Latin-1", "image_id,category\nchelsé,animal\n".encode("latin-1"), None),
    ("categories empty", b"", None),
    ("categories binary junk", bytes(range(256)) * 3, None),
    ("categories header only", b"image_id,category\n", None),
    ("categories unknown category", b"image_id,category\nchelsea,plant\n", 1),
    ("categories missing column", b"image_id,kind\nchelsea,animal\n", None),
    ("categories duplicate id", b"image_id,category\nchelsea,animal\nchelsea,nonanimal\n", 2),
    ("categories empty id", b"image_id,category\n,animal\n", 1),
    ("categories image without photo", b"image_id,category\nnobody,animal\n", None),
]:
    case(f"stimuli build: {_name}")(_categories_case(_content, _row))


@case("stimuli build: categories from an endless file (/dev/zero)")
def _(ctx):
    endless = Path("/dev/zero")
    return Case(ctx.build_argv(categories=endless), endless, out=ctx.out)


@case("stimuli build: truncated photograph")
def _(ctx):
    images, _, _ = ctx.sample()
    return Case(ctx.build_argv(), _truncate(images / "chelsea.png"), out=ctx.out)


@case("stimuli build: text file named .png")
def _(ctx):
    images, _, _ = ctx.sample()
    bad = images / "chelsea.png"
    bad.write_text("not an image")
    return Case(ctx.build_argv(), bad, out=ctx.out)


@case("stimuli build: decompression bomb photograph")
def _(ctx):
    images, _, _ = ctx.sample()
    return Case(ctx.build_argv(), _bomb(images / "chelsea.png"), out=ctx.out)


@case("stimuli build: 16-bit greyscale photograph is scaled")
def _(ctx):
    images, _, _ = ctx.sample()
    grey = np.asarray(Image.open(images / "chelsea.png").convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(images / "chelsea.png")  # mode I;16

    def check():
        full = np.asarray(Image.open(ctx.out / "full" / "chelsea.png").convert("L"), dtype=float)
        assert 40 < full.mean() < 215 and full.std() > 20  # not the pure white of a clipped 16-bit image
    return Case(ctx.build_argv(), out=ctx.out, expect="result", check=check)


@case("stimuli build: decompression bomb map")
def _(ctx):
    return Case(ctx.build_argv(), _bomb(_first_map(ctx, ".png")), out=ctx.out)


@case("stimuli build: truncated map PNG")
def _(ctx):
    _, maps, _ = ctx.sample()
    return Case(ctx.build_argv(), _truncate(next(iter(maps.values())) / "chelsea.png", 100), out=ctx.out)


for _name, _array in [("complex .npy map", np.ones((64, 64), complex)),
                      ("string .npy map", np.full((64, 64), "x")),
                      ("object .npy map (pickle)", np.array([None, {"a": 1}], dtype=object)),
                      ("3-D .npy map", np.ones((3, 64, 64))),
                      ("1-D .npy map", np.ones(64)),
                      ("all-NaN .npy map", np.full((64, 64), np.nan)),
                      ("negative .npy map", -np.ones((64, 64))),
                      ("boolean .npy map", np.zeros((64, 64), bool))]:
    def _make(ctx, _array=_array):
        return Case(ctx.build_argv(), _first_map(ctx, ".npy", _array), out=ctx.out)
    case(f"stimuli build: {_name}")(_make)


@case("stimuli build: truncated .npy map")
def _(ctx):
    bad = _first_map(ctx, ".npy", np.ones((64, 64)))
    return Case(ctx.build_argv(), _truncate(bad, 90), out=ctx.out)


for _name, _shape in [("declaring 10^10 values", (100_000, 100_000)), ("declaring a negative shape", (-1, 64)),
                      ("declaring a shape past int64", (2 ** 40, 2 ** 40)), ("declaring more than it holds", (64, 64))]:
    def _make(ctx, _shape=_shape):
        bad = _first_map(ctx, ".npy")
        bad.write_bytes(_npy_claiming(_shape, data=bytes(64)))
        return Case(ctx.build_argv(), bad, out=ctx.out)
    case(f"stimuli build: .npy map {_name}")(_make)


@case("stimuli build: map of another aspect ratio")
def _(ctx):
    return Case(ctx.build_argv(), _first_map(ctx, ".npy", np.ones((64, 256))), out=ctx.out)


@case("stimuli build: a source lacks a map")
def _(ctx):
    _, maps, _ = ctx.sample()
    src = next(iter(maps.values()))
    (src / "chelsea.png").unlink()
    return Case(ctx.build_argv(), src, out=ctx.out)


@case("stimuli build: empty map folder")
def _(ctx):
    empty = ctx.root / "empty"
    empty.mkdir()
    _, maps, _ = ctx.sample()
    return Case(ctx.build_argv({**maps, "x": empty}), empty, out=ctx.out)


@case("stimuli build: one map file instead of a folder")
def _(ctx):
    _, maps, _ = ctx.sample()
    one = next(iter(maps.values())) / "chelsea.png"
    return Case(ctx.build_argv({"x": one}), one, out=ctx.out)


@case("stimuli build: unknown map format")
def _(ctx):
    bad = ctx.root / "maps.txt"
    bad.write_text("hello")
    return Case(ctx.build_argv({"x": bad}), bad, out=ctx.out)


@case("stimuli build: missing map path")
def _(ctx):
    bad = ctx.root / "nothing-here"
    return Case(ctx.build_argv({"x": bad}), bad, out=ctx.out)


# ClickMe CSV and NPZ dumps as a map source
for _name, _rows, _header, _enc, _row in [
    ("click CSV UTF-16", ["chelsea.png,\"{\"\"(1,2)\"\"}\",u1\n"], None, "utf-16", None),
    ("click CSV Latin-1", ["chelsé.png,\"{\"\"(1,2)\"\"}\",u1\n"], None, "latin-1", None),
    ("click CSV missing columns", ["chelsea.png,u1\n"], "image_path,user_id\n", "utf-8", None),
    ("click CSV bad clicks", ["chelsea.png,\"{\"\"(1,2)\"\"}\",u1\n", "coffee.png,\"[[1,\",u2\n"], None, "utf-8", 2),
    ("click CSV empty image_path", [",\"{\"\"(1,2)\"\"}\",u1\n"], None, "utf-8", 1),
    ("click CSV no rows", [], None, "utf-8", None),
    ("click CSV empty file", [], "", "utf-8", None),
    ("click CSV NaN click", ["chelsea.png,\"{\"\"(nan,2)\"\"}\",u1\n"], None, "utf-8", 1),
]:
    def _make(ctx, _rows=_rows, _header=_header, _enc=_enc, _row=_row):
        bad = _click_csv(ctx, _rows, "image_path,clicks,user_id\n" if _header is None else _header, _enc)
        return Case(ctx.build_argv({"clickme": bad}), bad, _row, ctx.out)
    case(f"stimuli build: {_name}")(_make)


@case("stimuli build: click CSV of binary junk")
def _(ctx):
    bad = ctx.root / "clicks.csv"
    bad.write_bytes(bytes(range(256)) * 8)
    return Case(ctx.build_argv({"clickme": bad}), bad, out=ctx.out)


def _pickled_npz(path):
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = np.arange(3), np.arange(2)
    return _npz(path, file_pointer=np.array(["chelsea.png", "coffee.png"]), clickmap_x=obj, clickmap_y=obj,
                user_id=np.array([1, 2]))


def _flat_npz(path, **change):
    arrays = dict(file_pointer=np.array(["chelsea.png", "coffee.png"]), clickmap_x=np.arange(5.0),
                  clickmap_y=np.arange(5.0), clicks_per_trial=np.array([3, 2]), user_id=np.array([1, 2]))
    arrays.update(change)
    return _npz(path, **{k: v for k, v in arrays.items() if v is not None})


for _name, _make_npz, _row in [
    ("click NPZ pickled", _pickled_npz, None),
    ("click NPZ truncated", lambda p: _truncate(_flat_npz(p), 100), None),
    ("click NPZ not a zip", lambda p: (p.write_text("hello"), p)[1], None),
    ("click NPZ missing arrays", lambda p: _flat_npz(p, clickmap_y=None), None),
    ("click NPZ lengths differ", lambda p: _flat_npz(p, user_id=np.array([1])), None),
    ("click NPZ text coordinates", lambda p: _flat_npz(p, clickmap_x=np.array(list("abcde"))), None),
    ("click NPZ negative counts", lambda p: _flat_npz(p, clicks_per_trial=np.array([6, -1])), None),
    ("click NPZ NaN coordinate", lambda p: _flat_npz(p, clickmap_x=np.array([0, 1, np.nan, 3, 4.0])), 1),
    ("click NPZ zip bomb (a member declaring 10^12 values)", _zip_bomb_npz, None),
    ("click NPZ member declaring a negative shape", lambda p: _zip_bomb_npz(p, (-5,)), None),
]:
    def _make(ctx, _make_npz=_make_npz, _row=_row):
        bad = _make_npz(ctx.root / "clicks.npz")
        return Case(ctx.build_argv({"clickme": bad}), bad, _row, ctx.out)
    case(f"stimuli build: {_name}")(_make)


# SALICON JSON and .mat fixations as a map source
for _name, _data, _raw in [
    ("SALICON JSON UTF-16", None, json.dumps(_salicon_doc()).encode("utf-16")),
    ("SALICON JSON not JSON", None, b"{\"images\": [1, 2"),
    ("SALICON JSON a list", [1, 2, 3], None),
    ("SALICON JSON no annotations", {"images": []}, None),
    ("SALICON JSON image without height", {**_salicon_doc(), "images": [{"id": 1, "file_name": "chelsea.jpg"}]},
     None),
    ("SALICON JSON unknown image_id", {**_salicon_doc(), "annotations": [{"image_id": 7, "fixations": [[1, 2]]}]},
     None),
    ("SALICON JSON unhashable image_id", {**_salicon_doc(), "annotations": [{"image_id": [1], "fixations": []}]},
     None),
    ("SALICON JSON 3-column fixations", _salicon_doc(((1, 2, 3), (4, 5, 6))), None),
    ("SALICON JSON text fixations", {**_salicon_doc(), "annotations": [{"image_id": 1, "fixations": "abc"}]}, None),
    ("SALICON JSON infinite fixation", None,
     json.dumps(_salicon_doc()).replace("[10, 20]", "[1e999, 20]").encode()),
    ("SALICON JSON deeply nested", None, _deep_json()),
    ("SALICON JSON image of 10^18 pixels", {**_salicon_doc(), "images": [
        {"id": 1, "file_name": "chelsea.jpg", "height": 10 ** 9, "width": 10 ** 9}]}, None),
    ("SALICON JSON image of negative width", {**_salicon_doc(), "images": [
        {"id": 1, "file_name": "chelsea.jpg", "height": 300, "width": -451}]}, None),
    ("SALICON JSON infinite height", None, json.dumps(_salicon_doc()).replace("300", "1e999").encode()),
]:
    def _make(ctx, _data=_data, _raw=_raw):
        bad = _salicon_json(ctx, _data, _raw)
        return Case(ctx.build_argv({"salicon": bad}), bad, out=ctx.out)
    case(f"stimuli build: {_name}")(_make)


for _name, _fields in [
    ("SALICON .mat 3-column fixations", {"gaze": {"fixations": np.ones((4, 3))}, "resolution": [300, 451]}),
    ("SALICON .mat without gaze", {"other": np.ones(3)}),
    ("SALICON .mat odd resolution", {"gaze": {"fixations": np.ones((4, 2))}, "resolution": "abc"}),
    ("SALICON .mat no fixations", {"gaze": {"fixations": np.zeros((0, 2))}, "resolution": [300, 451]}),
    ("SALICON .mat text fixations", {"gaze": {"fixations": "abcd"}, "resolution": [300, 451]}),
    ("SALICON .mat resolution of 10^12 pixels", {"gaze": {"fixations": np.ones((4, 2))},
                                                 "resolution": [10 ** 6, 10 ** 6]}),
]:
    def _make(ctx, _fields=_fields):
        folder, bad = _mat(ctx, **_fields)
        return Case(ctx.build_argv({"salicon": folder}, categories=_chelsea_only(ctx)), bad, out=ctx.out)
    case(f"stimuli build: {_name}")(_make)


@case("stimuli build: SALICON .mat truncated")
def _(ctx):
    folder, bad = _mat(ctx, gaze={"fixations": np.ones((40, 2))}, resolution=[300, 451])
    _truncate(bad, 200)
    return Case(ctx.build_argv({"salicon": folder}, categories=_chelsea_only(ctx)), bad, out=ctx.out)


# --out
@case("stimuli build: --out is a file")
def _(ctx):
    bad = ctx.root / "notes.txt"
    bad.write_text("mine")
    argv = ctx.build_argv()
    argv[argv.index("--out") + 1] = bad
    return Case(argv, bad, out=None)


@case("stimuli build: --out inside a file")
def _(ctx):
    notes = ctx.root / "notes.txt"
    notes.write_text("mine")
    argv = ctx.build_argv()
    argv[argv.index("--out") + 1] = notes / "sub"
    return Case(argv, notes / "sub", out=None)


@case("stimuli build: --sample into a file")
def _(ctx):
    bad = ctx.root / "notes.txt"
    bad.write_text("mine")
    return Case(["stimuli", "build", "--sample", "--no-progress", "--out", bad], bad, out=None)


@case("stimuli build: --out holds someone else's files")
def _(ctx):
    ctx.out.mkdir()
    (ctx.out / "notes.txt").write_text("mine")
    return Case(ctx.build_argv() + ["--overwrite"], ctx.out, out=None)


@case("stimuli build: --out holds another command's outputs")
def _(ctx):
    ctx.out.mkdir()
    (ctx.out / ".reveal-outputs.json").write_text(json.dumps({"command": "reveal analyze", "files": []}))
    return Case(ctx.build_argv() + ["--overwrite"], ctx.out, out=None)


@case("stimuli build: --out record is garbage")
def _(ctx):
    ctx.out.mkdir()
    bad = ctx.out / ".reveal-outputs.json"
    bad.write_bytes(b"\xff\xfe garbage")
    return Case(ctx.build_argv() + ["--overwrite"], bad, out=None)


@case("stimuli build: --out record nested too deeply")
def _(ctx):
    ctx.out.mkdir()
    bad = ctx.out / ".reveal-outputs.json"
    bad.write_bytes(_deep_json(key="files"))
    return Case(ctx.build_argv() + ["--overwrite"], bad, out=None)


# --size: a clear range, checked before anything is read (OpenCV asserted on 0 and below; 40000
# filled the memory)
for _size in ("0", "-16", "40000", "7", "4097", "99999999999999999999"):
    case(f"stimuli build: --size {_size}")(
        lambda ctx, _size=_size: Case(ctx.build_argv() + ["--size", _size], Path("--size"), out=ctx.out))


@case("stimuli build: --overwrite keeps the user's files")
def _(ctx):
    stimset = ctx.stimset()  # an earlier build of the same command, with a user's file added
    notes = stimset / "my-notes.txt"
    notes.write_text("mine")
    argv = ctx.build_argv() + ["--overwrite", "--size", "128"]
    argv[argv.index("--out") + 1] = stimset

    def check():
        assert notes.read_text() == "mine"
        assert Image.open(stimset / "full" / "chelsea.png").size == (128, 128)
    return Case(argv, out=stimset, expect="result", check=check, keep={notes: b"mine"})


# --------------------------------------------------------------------------- experiment build

def _manifest_case(spoil, row=None, bad=None):
    def make(ctx):
        stimset = ctx.stimset()
        path = spoil(stimset)
        return Case(_experiment_argv(ctx, stimset), bad(stimset) if bad else path, row, ctx.out)
    return make


def _rows_spoiled(fn):
    def spoil(stimset):
        rows = _manifest_rows(stimset)
        fn(rows)
        return _write_manifest(stimset, rows)
    return spoil


def _bytes_spoiled(data):
    def spoil(stimset):
        (stimset / "manifest.csv").write_bytes(data(stimset) if callable(data) else data)
        return stimset / "manifest.csv"
    return spoil


def _outside(stimset):
    secret = stimset.parent / "SECRET.txt"
    secret.write_text("secret")
    return secret


def _escape_link(stimset):
    _outside(stimset)
    os.symlink(stimset.parent / "SECRET.txt", stimset / "full" / "link.png")
    return "full/link.png"


MANIFEST_CASES = {
    "manifest UTF-16": (_bytes_spoiled(lambda s: (s / "manifest.csv").read_text().encode("utf-16")), None),
    "manifest Latin-1": (_bytes_spoiled(lambda s: (s / "manifest.csv").read_text().replace(
        "chelsea", "chelsé", 1).encode("latin-1")), None),
    "manifest empty": (_bytes_spoiled(b""), None),
    "manifest header only": (_bytes_spoiled(lambda s: (s / "manifest.csv").read_bytes().split(b"\n")[0] + b"\n"),
                             None),
    "manifest binary junk": (_bytes_spoiled(bytes(range(256)) * 4), None),
    "manifest missing column": (_bytes_spoiled(b"stimulus_id,file\na,full/chelsea.png\n"), None),
    "manifest duplicate stimulus_id": (_rows_spoiled(lambda r: r[1].update(stimulus_id=r[0]["stimulus_id"])), 2),
    "manifest path ../": (_rows_spoiled(lambda r: r[2].update(file="../SECRET.txt")), 3),
    "manifest absolute path": (_rows_spoiled(lambda r: r[2].update(file="/etc/hostname")), 3),
    "manifest unknown category": (_rows_spoiled(lambda r: r[2].update(category="plant")), 3),
    "manifest bad level_index": (_rows_spoiled(lambda r: r[2].update(level_index="eleven")), 3),
    "manifest file missing": (_rows_spoiled(lambda r: r[2].update(file="full/nobody.png")), 3),
    "manifest empty file cell": (_rows_spoiled(lambda r: r[2].update(file="")), 3),
    "manifest NUL in a file name": (_rows_spoiled(lambda r: r[2].update(file="full/chel\0sea.png")), 3),
}
for _name, (_spoil, _row) in MANIFEST_CASES.items():
    case(f"experiment build: {_name}")(_manifest_case(_spoil, _row))
    case(f"predict: {_name}")(
        lambda ctx, _spoil=_spoil, _row=_row: Case(_predict_argv(ctx)[0], _spoil(ctx.stimset()), _row,
                                                   ctx.root / "pred"))


@case("experiment build: manifest symlink escaping the set")
def _(ctx):
    stimset = ctx.stimset()
    rel = _escape_link(stimset)
    return Case(_experiment_argv(ctx), _set_field(stimset, 3, "file", rel), 3, ctx.out)


@case("predict: manifest symlink escaping the set")
def _(ctx):
    stimset = ctx.stimset()
    rel = _escape_link(stimset)
    return Case(_predict_argv(ctx)[0], _set_field(stimset, 3, "file", rel), 3, ctx.root / "pred")


@case("experiment build: corrupt stimulus PNG")
def _(ctx):
    stimset = ctx.stimset()
    rel = _manifest_rows(stimset)[4]["file"]
    (stimset / rel).write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return Case(_experiment_argv(ctx), stimset / "manifest.csv", None, ctx.out)


@case("experiment build: stimulus PNG of another size")
def _(ctx):
    stimset = ctx.stimset()
    rel = _manifest_rows(stimset)[4]["file"]
    _png(stimset / rel, np.zeros((100, 100, 3), np.uint8))
    return Case(_experiment_argv(ctx), stimset / "manifest.csv", None, ctx.out)


def _seed_spoiled(raw: str):
    """stimset.json with its seed written as the JSON text ``raw``."""
    def spoil(stimset):
        path = stimset / "stimset.json"
        meta = json.loads(path.read_text())
        meta["parameters"]["seed"] = "@seed@"
        path.write_text(json.dumps(meta, indent=2).replace('"@seed@"', raw))
        return path
    return spoil


def _deep_stimset_json(stimset):
    (stimset / "stimset.json").write_bytes(_deep_json(key="parameters"))
    return stimset / "stimset.json"


def _giga_png(stimset, width=100_000, height=100_000):
    """The 5th stimulus's PNG replaced by a header claiming ``width`` x ``height`` pixels."""
    rel = _manifest_rows(stimset)[4]["file"]
    return _png_claiming(stimset / rel, width, height)


STIMSET_CASES = {  # stimset.json and stimulus PNGs: name -> (spoil(stimset) -> the bad file, row)
    "stimset.json deeply nested": (_deep_stimset_json, None),
    "stimset.json seed Infinity": (_seed_spoiled("Infinity"), None),
    "stimset.json seed 1e999": (_seed_spoiled("1e999"), None),
    "stimset.json seed of 5,000 digits": (_seed_spoiled("7" * 5000), None),
    "stimulus PNG claiming 10 gigapixels": (_giga_png, 5),
}
for _name, (_spoil, _row) in STIMSET_CASES.items():
    case(f"experiment build: {_name}")(
        lambda ctx, _spoil=_spoil, _row=_row: Case(_experiment_argv(ctx), _spoil(ctx.stimset()), _row, ctx.out))
    case(f"predict: {_name}")(
        lambda ctx, _spoil=_spoil, _row=_row: Case(_predict_argv(ctx)[0], _spoil(ctx.stimset()), _row,
                                                   ctx.root / "pred"))


@case("experiment build: stimulus PNG claiming 144 megapixels (Pillow warns, does not refuse)")
def _(ctx):
    return Case(_experiment_argv(ctx), _giga_png(ctx.stimset(), 12_000, 12_000), 5, ctx.out)


for _option, _value in [("--blocks", "0"), ("--blocks", "-2"), ("--training", "-1")]:
    case(f"experiment build: {_option} {_value}")(
        lambda ctx, _option=_option, _value=_value: Case(_experiment_argv(ctx) + [_option, _value], Path(_option),
                                                         out=ctx.out))


@case("experiment build: stimset.json garbage")
def _(ctx):
    stimset = ctx.stimset()
    (stimset / "stimset.json").write_bytes(b"{\"seed\": ")
    return Case(_experiment_argv(ctx), stimset / "stimset.json", None, ctx.out)


@case("experiment build: --out is a file")
def _(ctx):
    bad = ctx.root / "notes.txt"
    bad.write_text("mine")
    argv = _experiment_argv(ctx)
    argv[-1] = bad
    return Case(argv, bad, out=None)


@case("experiment build: --out holds a conditions/ folder of the user's")
def _(ctx):
    (ctx.out / "conditions").mkdir(parents=True)
    (ctx.out / "conditions" / "mine.csv").write_text("a,b\n")
    return Case(_experiment_argv(ctx) + ["--overwrite"], ctx.out, out=None)


@case("experiment build: --out holds a stimulus set")
def _(ctx):
    argv = _experiment_argv(ctx)
    argv[-1] = ctx.stimset()
    return Case(argv + ["--overwrite"], ctx.stimset(), out=None)


@case("experiment build: an earlier build without --overwrite")
def _(ctx):
    assert main(_experiment_argv(ctx)) == 0
    return Case(_experiment_argv(ctx), ctx.out, out=None)


@case("experiment build: --overwrite keeps the user's files")
def _(ctx):
    assert main(_experiment_argv(ctx) + ["--name", "old"]) == 0
    mine = {ctx.out / "conditions" / "mine.csv": b"a,b\n", ctx.out / "notes.txt": b"mine"}
    for p, data in mine.items():
        p.write_bytes(data)

    def check():
        assert not (ctx.out / "old.psyexp").exists() and (ctx.out / "rapidcat.psyexp").is_file()
        assert (ctx.out / "conditions" / "list0_blocks.csv").is_file()
    return Case(_experiment_argv(ctx) + ["--overwrite"], out=ctx.out, expect="result", check=check, keep=mine)


# --------------------------------------------------------------------------- predict

@case("predict: corrupt stimulus PNG")
def _(ctx):
    stimset = ctx.stimset()
    rows = _manifest_rows(stimset)
    (stimset / rows[4]["file"]).write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    argv, out = _predict_argv(ctx)
    return Case(argv, stimset / "manifest.csv", 5, out.parent)


@case("predict: --out is someone else's CSV")
def _(ctx):
    argv, out = _predict_argv(ctx)
    out.write_text("a,b\n1,2\n")
    return Case(argv, out, None, None)


@case("predict: --out holds bad rows")
def _(ctx):
    from reveal.core.trialdata import MODEL_COLUMNS

    argv, out = _predict_argv(ctx)
    out.write_text(",".join(MODEL_COLUMNS) + "\n" + ",".join(["x"] * len(MODEL_COLUMNS)) + "\n"
                   + "garbage\n")
    return Case(argv, out, None, None)


@case("predict: --out holds a row with a bad trial number")
def _(ctx):
    from reveal.core.trialdata import MODEL_COLUMNS
    from reveal.core.stimset import read_stimulus_set

    argv, out = _predict_argv(ctx)
    stimset = read_stimulus_set(ctx.stimset())
    m = stimset.manifest.iloc[0]
    row = dict(observer="efficientnet_lite0", observer_kind="model", group=m["map_source"], session="1", block="1",
               trial="first", stimulus_id=m["stimulus_id"], image_id=m["image_id"], category=m["category"],
               map_source=m["map_source"], level=m["level"], response="animal", correct="1", rt_s="", timed_out="0",
               p_animal="0.9", top5="", stimset=stimset.fingerprint)
    out.write_text(",".join(MODEL_COLUMNS) + "\n" + ",".join(str(row[c]) for c in MODEL_COLUMNS) + "\n")
    return Case(argv, out, 1, None)


@case("predict: --out is a folder")
def _(ctx):
    argv, out = _predict_argv(ctx)
    out.mkdir()
    return Case(argv, out, None, None)


@case("predict: --out in a missing folder")
def _(ctx):
    argv, out = _predict_argv(ctx, out=ctx.root / "nowhere" / "model.csv")
    shutil.rmtree(out.parent)
    return Case(argv, out.parent, None, None)


# --------------------------------------------------------------------------- maps commands

def _reliability_argv(ctx, *clicks, extra=()):
    return ["maps", "reliability", "--clicks", *map(str, clicks), "--out", str(ctx.out), "--splits", "4",
            "--no-progress", *extra]


for _name, _make_dump in [
    ("pickled NPZ", lambda ctx: _pickled_npz(ctx.root / "clicks.npz")),
    ("truncated NPZ", lambda ctx: _truncate(_flat_npz(ctx.root / "clicks.npz"), 100)),
    ("UTF-16 CSV", lambda ctx: _click_csv(ctx, ["a.png,\"{\"\"(1,2)\"\"}\",u\n"], encoding="utf-16")),
    ("CSV with bad clicks", lambda ctx: _click_csv(ctx, ["a.png,\"{\"\"(1,2)\"\"}\",u\n", "a.png,\"((\",v\n"])),
    ("binary junk", lambda ctx: (ctx.root / "clicks.csv").write_bytes(bytes(range(256)) * 4)
     or ctx.root / "clicks.csv"),
    ("a .txt dump", lambda ctx: (ctx.root / "clicks.txt").write_text("x") or ctx.root / "clicks.txt"),
    ("zip bomb NPZ", lambda ctx: _zip_bomb_npz(ctx.root / "clicks.npz")),
]:
    def _make(ctx, _make_dump=_make_dump, _name=_name):
        bad = _make_dump(ctx)
        row = 2 if _name == "CSV with bad clicks" else None
        return Case(_reliability_argv(ctx, bad), bad, row, ctx.out)
    case(f"maps reliability: {_name}")(_make)


@case("maps reliability: categories UTF-16")
def _(ctx):
    dump = _click_csv(ctx, _good_click_rows())
    cats = ctx.root / "cats.csv"
    cats.write_bytes("image_id,category\nchelsea,animal\n".encode("utf-16"))
    return Case(_reliability_argv(ctx, dump, extra=["--categories", cats]), cats, None, ctx.out)


@case("maps reliability: categories from an endless file (/dev/zero)")
def _(ctx):
    dump = _click_csv(ctx, _good_click_rows())
    endless = Path("/dev/zero")
    return Case(_reliability_argv(ctx, dump, extra=["--categories", endless]), endless, None, ctx.out)


@case("maps reliability: --out holds someone else's files")
def _(ctx):
    dump = _click_csv(ctx, _good_click_rows())
    ctx.out.mkdir()
    (ctx.out / "report.html").write_text("my own report")
    return Case(_reliability_argv(ctx, dump, extra=["--overwrite"]), ctx.out, None, None)


@case("maps reliability: a rerun with --overwrite keeps the user's files")
def _(ctx):
    dump = _click_csv(ctx, _good_click_rows())
    assert main(_reliability_argv(ctx, dump)) == 0
    mine = {ctx.out / "notes.txt": b"mine"}
    (ctx.out / "notes.txt").write_bytes(b"mine")

    def check():
        assert (ctx.out / "reliability.csv").is_file() and (ctx.out / "report.html").is_file()
    return Case(_reliability_argv(ctx, dump, extra=["--overwrite"]), out=ctx.out, expect="result", check=check,
                keep=mine)


def _compare_argv(ctx, reference, *maps, attention=()):
    argv = ["maps", "compare", "--reference", f"ref={reference}", "--out", str(ctx.out), "--resamples", "19",
            "--splits", "4", "--no-progress"]
    for m in maps:
        argv += ["--maps", f"m={m}"]
    for a in attention:
        argv += ["--attention", str(a)]
    return argv


@case("maps compare: reference SALICON JSON with 3-column fixations")
def _(ctx):
    _, maps, _ = ctx.sample()
    bad = _salicon_json(ctx, _salicon_doc(((1, 2, 3),)))
    return Case(_compare_argv(ctx, bad, next(iter(maps.values()))), bad, None, ctx.out)


@case("maps compare: a map folder with a complex .npy")
def _(ctx):
    _, maps, _ = ctx.sample()
    ref, src = list(maps.values())[:2]
    bad = src / "chelsea.npy"
    (src / "chelsea.png").unlink()
    np.save(bad, np.ones((64, 64), complex))
    return Case(_compare_argv(ctx, ref, src), bad, None, ctx.out)


def _attention_folder(ctx, index):
    att = ctx.root / "att"
    (att / "net_smoothgrad").mkdir(parents=True)
    np.save(att / "net_smoothgrad" / "chelsea.npy", np.ones((300, 451), np.float32))
    (att / "maps.json").write_bytes(index if isinstance(index, bytes) else json.dumps(index).encode())
    return att


_GOOD_INDEX = {"format": "reveal-maps", "version": 1, "sources": {"net:smoothgrad": {
    "folder": "net_smoothgrad", "parameters": {}, "images": {"chelsea": [300, 451]}}}}

for _name, _index in [
    ("maps.json garbage", b"{\"format\": "),
    ("maps.json UTF-16", json.dumps(_GOOD_INDEX).encode("utf-16")),
    ("maps.json folder outside", {**_GOOD_INDEX, "sources": {"net:smoothgrad": {
        **_GOOD_INDEX["sources"]["net:smoothgrad"], "folder": "../in"}}}),
    ("maps.json image id outside", {**_GOOD_INDEX, "sources": {"net:smoothgrad": {
        **_GOOD_INDEX["sources"]["net:smoothgrad"], "images": {"../../in/x": [300, 451]}}}}),
    ("maps.json another format", {**_GOOD_INDEX, "format": "other"}),
    ("maps.json negative shape", {**_GOOD_INDEX, "sources": {"net:smoothgrad": {
        **_GOOD_INDEX["sources"]["net:smoothgrad"], "images": {"chelsea": [-1, 4]}}}}),
    ("maps.json deeply nested", _deep_json(key="sources")),
]:
    def _make(ctx, _index=_index):
        _, maps, _ = ctx.sample()
        att = _attention_folder(ctx, _index)
        return Case(_compare_argv(ctx, next(iter(maps.values())), attention=[att]), att / "maps.json", None,
                    ctx.out)
    case(f"maps compare: {_name}")(_make)


@case("maps compare: attention map of strings")
def _(ctx):
    _, maps, _ = ctx.sample()
    att = _attention_folder(ctx, _GOOD_INDEX)
    bad = att / "net_smoothgrad" / "chelsea.npy"
    np.save(bad, np.full((300, 451), "x"))
    return Case(_compare_argv(ctx, next(iter(maps.values())), attention=[att]), bad, None, ctx.out)


@case("maps compare: attention map declaring 10^10 values")
def _(ctx):
    _, maps, _ = ctx.sample()
    att = _attention_folder(ctx, _GOOD_INDEX)
    bad = att / "net_smoothgrad" / "chelsea.npy"
    bad.write_bytes(_npy_claiming((100_000, 100_000), "<f4"))
    return Case(_compare_argv(ctx, next(iter(maps.values())), attention=[att]), bad, None, ctx.out)


@case("maps compare: --out is a file")
def _(ctx):
    _, maps, _ = ctx.sample()
    ref, src = list(maps.values())[:2]
    notes = ctx.root / "notes.txt"
    notes.write_text("mine")
    argv = _compare_argv(ctx, ref, src)
    argv[argv.index("--out") + 1] = str(notes)
    return Case(argv, notes, None, None)


def _attention_argv(ctx, images, out=None):
    return ["maps", "attention", "--images", str(images), "--out", str(out or ctx.out), "--kinds", "activation",
            "--no-progress"]


@case("maps attention: truncated photograph")
def _(ctx):
    images, _, _ = ctx.sample()
    return Case(_attention_argv(ctx, images), _truncate(images / "chelsea.png"), None, ctx.out)


@case("maps attention: decompression bomb photograph")
def _(ctx):
    images, _, _ = ctx.sample()
    return Case(_attention_argv(ctx, images), _bomb(images / "chelsea.png"), None, ctx.out)


@case("maps attention: --out holds someone else's files")
def _(ctx):
    images, _, _ = ctx.sample()
    ctx.out.mkdir()
    (ctx.out / "notes.txt").write_text("mine")
    return Case(_attention_argv(ctx, images), ctx.out, None, None)


@case("maps attention: --out has a source folder the index does not list")
def _(ctx):
    images, _, _ = ctx.sample()
    att = _attention_folder(ctx, {**_GOOD_INDEX, "sources": {}})
    (att / "efficientnet_lite0_activation").mkdir()
    (att / "efficientnet_lite0_activation" / "mine.npy").write_bytes(b"mine")
    return Case(_attention_argv(ctx, images, att), att / "efficientnet_lite0_activation", None, None)


# --------------------------------------------------------------------------- analyze

for _name, _content in [("not UTF-8", "participant,stimulus_id,response\n7,é,animal\n".encode("latin-1")),
                        ("empty file", b""), ("unknown layout", b"a,b\n1,2\n"),
                        ("binary junk", bytes(range(256)) * 4), ("only a BOM", b"\xef\xbb\xbf"),
                        ("NUL bytes", b"participant,phase\x00\n\x00\x00\n")]:
    def _make(ctx, _content=_content):
        (ctx.root / "data").mkdir()
        bad = ctx.root / "data" / "p.csv"
        bad.write_bytes(_content)
        return Case(_analyze_argv(ctx, ctx.root / "data"), bad, None, ctx.out)
    case(f"analyze: {_name}")(_make)


def _set(rows, n, **values):
    rows[n - 1].update(values)


LAB_SPOILS = {
    "correct not 0/1": (lambda r: _set(r, 3, correct="maybe"), 3),
    "rt_s not a number": (lambda r: _set(r, 2, rt_s="fast"), 2),
    "unknown level": (lambda r: _set(r, 4, level="huge"), 4),
    "unknown category": (lambda r: _set(r, 5, category="plant"), 5),
    "unknown response": (lambda r: _set(r, 6, response="yes"), 6),
    "participant missing in a two-participant file": (
        lambda r: (_set(r, 1, participant="p02"), _set(r, 2, participant="")), 2),
    "timed_out not boolean": (lambda r: _set(r, 7, timed_out="perhaps"), 7),
    "no test trials": (lambda r: [x.update(phase="training") for x in r], None),
}
for _name, (_spoil, _row) in LAB_SPOILS.items():
    for _js in (False, True):
        def _make(ctx, _spoil=_spoil, _row=_row, _js=_js):
            bad = _lab_file(ctx, _spoil, js=_js)
            return Case(_analyze_argv(ctx, bad, stimuli=ctx.stimset()), bad, _row, ctx.out)
        case(f"analyze: {'PsychoJS' if _js else 'lab'} file, {_name}")(_make)


for _js in (False, True):
    def _make(ctx, _js=_js):
        data = _lab_file(ctx, lambda r: _set(r, 2, participant=""), js=_js)

        def check():  # a row written before the id was: the file is one participant's
            import pandas as pd

            trials = pd.read_csv(ctx.out / "trials.csv", dtype=str)
            assert len(trials) == len([r for r in _manifest_rows(ctx.stimset())
                                       if r["map_source"] == trials["group"].iat[0]])
            assert set(trials["observer"]) == {"p01"}
        return Case(_analyze_argv(ctx, data, stimuli=ctx.stimset()), out=ctx.out, expect="result", check=check)
    case(f"analyze: {'PsychoJS' if _js else 'lab'} file, participant id missing on one row")(_make)


@case("analyze: lab file of a stimulus not in the set")
def _(ctx):
    bad = _lab_file(ctx, lambda r: _set(r, 3, stimulus_id="nobody", image_id="nobody"))
    return Case(_analyze_argv(ctx, bad, stimuli=ctx.stimset()), bad, 3, ctx.out)


@case("analyze: model predictions with bad rows")
def _(ctx):
    from reveal.core.trialdata import MODEL_COLUMNS

    bad = ctx.root / "model.csv"
    row = dict(observer="net", observer_kind="model", group="clickme", session="1", block="1", trial="1",
               stimulus_id="a", image_id="chelsea", category="animal", map_source="clickme", level="full",
               response="animal", correct="1", rt_s="", timed_out="0", p_animal="0.9", top5="", stimset="x")
    rows = [dict(row), dict(row, trial="2", stimulus_id="b", correct="2")]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(MODEL_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    bad.write_text(buf.getvalue())
    return Case(_analyze_argv(ctx, bad), bad, 2, ctx.out)


@case("analyze: --stimuli manifest with a path outside the set")
def _(ctx):
    stimset = ctx.stimset()
    good = _lab_file(ctx)
    bad = _set_field(stimset, 3, "file", "../SECRET.txt")
    return Case(_analyze_argv(ctx, good, stimuli=stimset), bad, 3, ctx.out)


@case("analyze: --out holds someone else's report")
def _(ctx):
    good = _lab_file(ctx)
    ctx.out.mkdir()
    (ctx.out / "report.html").write_text("my own report")
    return Case(_analyze_argv(ctx, good, stimuli=ctx.stimset()) + ["--overwrite"], ctx.out, None, None)


@case("analyze: --out holds someone else's report, and the data are unreadable")
def _(ctx):  # the --out check comes first
    (ctx.root / "data").mkdir()
    (ctx.root / "data" / "p.csv").write_text("a,b\n1,2\n")
    ctx.out.mkdir()
    (ctx.out / "report.html").write_text("my own report")
    return Case(["analyze", ctx.root / "data", "--out", ctx.out, "--overwrite"], ctx.out, None, None)


@case("analyze: --out is a file")
def _(ctx):
    good = _lab_file(ctx)
    notes = ctx.root / "notes.txt"
    notes.write_text("mine")
    argv = _analyze_argv(ctx, good, stimuli=ctx.stimset())
    argv[argv.index("--out") + 1] = notes
    return Case(argv, notes, None, None)


@case("analyze: a missing data file")
def _(ctx):
    bad = ctx.root / "nothing.csv"
    return Case(_analyze_argv(ctx, bad), bad, None, ctx.out)


# --------------------------------------------------------------------------- running it

@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    from reveal.stimuli import RevealParams, build_stimulus_set
    from reveal.stimuli.sample import write_sample_inputs

    root = tmp_path_factory.mktemp("shared")
    inputs = write_sample_inputs(root / "sample")
    build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], root / "stimset",
                       RevealParams(seed=0), progress=False)
    return {"sample": root / "sample", "stimset": root / "stimset"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name, shared, tmp_path, capsys):
    run_case(name, tmp_path, shared, capsys)


#: Cases also run as the console command, in a process of their own: exit status 2 of the
#: process, and its stderr *begins* with the one-line message (nothing printed before it).
CONSOLE_CASES = [
    "stimuli build: categories UTF-16", "stimuli build: categories unknown category",
    "stimuli build: categories empty", "stimuli build: truncated photograph", "stimuli build: complex .npy map",
    "stimuli build: string .npy map", "stimuli build: 3-D .npy map", "stimuli build: --sample into a file",
    "analyze: not UTF-8", "analyze: empty file", "analyze: unknown layout", "analyze: binary junk",
    "analyze: --out holds someone else's report, and the data are unreadable",
    "maps reliability: pickled NPZ", "maps reliability: truncated NPZ", "maps reliability: UTF-16 CSV",
    "stimuli build: categories from an endless file (/dev/zero)", "stimuli build: --size 0",
    "stimuli build: click NPZ zip bomb (a member declaring 10^12 values)", "experiment build: --blocks 0",
    "experiment build: stimset.json deeply nested",
]


@pytest.mark.parametrize("name", CONSOLE_CASES)
def test_console(name, shared, tmp_path):
    import subprocess

    case = CASES[name](Ctx(tmp_path, shared))
    assert case.expect == "error", name
    before = snapshot(tmp_path, case.out)
    proc = subprocess.run([sys.executable, "-m", "reveal.cli.main", *map(str, case.argv)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stderr.startswith("reveal: error: "), proc.stderr
    assert str(case.bad) in proc.stderr or case.bad.name in proc.stderr, proc.stderr
    assert snapshot(tmp_path, case.out) == before, "files outside --out were written, changed or deleted"


def test_size_not_an_integer_is_argparse_usage_error(capsys):
    """Not an integer at all: argparse's own usage error (exit 2, the option named), before any work."""
    with pytest.raises(SystemExit) as stop:
        main(["stimuli", "build", "--sample", "--size", "2.5", "--out", "unused"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "argument --size: invalid int value: '2.5'" in err and "Traceback" not in err


class _Capture:
    """capsys for the script: what main printed to stderr since the last call."""

    def __init__(self):
        self._err = io.StringIO()

    def readouterr(self):
        text, self._err = self._err.getvalue(), io.StringIO()
        sys.stderr = self._err
        return type("Out", (), {"err": text, "out": ""})()


if __name__ == "__main__":  # python tests/test_hostile_inputs.py: size and outcomes of the corpus
    import logging
    import tempfile
    import traceback
    from collections import Counter

    from reveal.stimuli import RevealParams, build_stimulus_set
    from reveal.stimuli.sample import write_sample_inputs

    real_stderr = sys.stderr
    outcomes, failures, by_command = Counter(), [], Counter()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        inputs = write_sample_inputs(d / "sample")
        build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], d / "stimset",
                           RevealParams(seed=0), progress=False)
        shared = {"sample": d / "sample", "stimset": d / "stimset"}
        cap = _Capture()
        for k, name in enumerate(sorted(CASES)):
            root = d / f"case{k}"
            root.mkdir()
            logging.getLogger().handlers.clear()
            try:
                outcome = run_case(name, root, shared, cap)
                outcomes[outcome] += 1
                by_command[name.split(":")[0], outcome] += 1
            except Exception:  # a failing case is reported, the others still run
                failures.append((name, traceback.format_exc(limit=1)))
        sys.stderr = real_stderr
    print(f"corpus: {len(CASES)} cases over {len({n.split(':')[0] for n in CASES})} subcommands")
    print(f"clean error: {outcomes['error']}, correct result: {outcomes['result']}, failing: {len(failures)}")
    for command in sorted({c for c, _ in by_command}):
        errors, results = by_command[command, "error"], by_command[command, "result"]
        print(f"  {command}: {errors} clean error, {results} correct result")
    for name, tb in failures:
        print(f"FAIL {name}: {tb.strip().splitlines()[-1]}")
    sys.exit(1 if failures else 0)
