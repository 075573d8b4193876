"""The one reader of a stimulus set: its checks, on real files, through the API and the console command."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reveal.cli.main import main
from reveal.core.levels import LEVEL_LABELS
from reveal.core.stimset import MANIFEST_COLUMNS, read_stimulus_set, write_manifest, write_meta
from reveal.core.errors import InputError

SECRET = b"do not copy me"


def make_set(root, size=4, images=(("cat01", "animal"), ("car01", "nonanimal")), sources=("clickme",)):
    """A complete, balanced set: every image x source x 12 conditions, PNGs of ``size`` pixels."""
    root = Path(root)
    (root / "png").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for image_id, category in images:
        full = f"png/{image_id}_full.png"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / full)
        for source in sources:
            for k, level in enumerate(LEVEL_LABELS):
                rel = full if level == "full" else f"png/{image_id}_{source}_L{k:02d}.png"
                if level != "full":
                    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / rel)
                rows.append({"stimulus_id": f"{image_id}_{source}_{k:02d}", "file": rel, "image_id": image_id,
                             "category": category, "map_source": source, "level": level, "level_index": k,
                             "revealed_px": k, "image_frac": 0.5, "feature_budget": 9, "seed": 7,
                             "shift_y": 0, "shift_x": 0})
    write_meta(root / "stimset.json", {"toolkit_version": "test", "parameters": {"seed": 3, "size": size},
                                       "levels": list(LEVEL_LABELS), "sources": list(sources)})
    write_manifest(root / "manifest.csv", rows)
    return root


def set_field(root, row, column, value):
    """Rewrite one cell of data row ``row`` (1-based) of the manifest."""
    path = Path(root) / "manifest.csv"
    lines = path.read_text().splitlines()
    col = lines[0].split(",").index(column)
    cells = lines[row].split(",")
    cells[col] = value
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def files_under(folder, skip=None):
    return {p for p in Path(folder).rglob("*") if skip is None or not p.is_relative_to(skip)}


@pytest.fixture
def good(tmp_path):
    return make_set(tmp_path / "sets" / "good")


def test_a_good_set_reads_as_strings(good):
    s = read_stimulus_set(good, check_sizes=True)
    assert list(s.manifest.columns) == list(MANIFEST_COLUMNS) and len(s.manifest) == 24
    assert all(isinstance(v, str) for v in s.manifest.to_numpy().ravel()) and s.manifest["level"].iat[1] == "1.58"
    assert s.levels == LEVEL_LABELS and s.sources == ("clickme",) and s.seed == 3
    assert s.images["image_id"].tolist() == ["cat01", "car01"]  # animals first
    assert s.meta["parameters"]["size"] == 4 and len(s.fingerprint) == 16
    assert s.resolve("png/car01_full.png") == (good / "png" / "car01_full.png").resolve()


# ------------------------------------------------------------------ files that leave the set

def _escape_dotdot(root):
    (root.parent.parent / "SECRET.txt").write_bytes(SECRET)
    set_field(root, 3, "file", "../../SECRET.txt")


def _escape_absolute(root):
    secret = root.parent.parent / "SECRET.txt"
    secret.write_bytes(SECRET)
    set_field(root, 3, "file", str(secret))


def _escape_symlink(root):
    secret = root.parent.parent / "SECRET.png"
    Image.new("RGB", (4, 4)).save(secret)
    link = root / "png" / "evil.png"
    os.symlink(secret, link)
    set_field(root, 3, "file", "png/evil.png")


ESCAPES = {"dotdot": (_escape_dotdot, "'..'"), "absolute": (_escape_absolute, "absolute path"),
           "symlink": (_escape_symlink, "outside the stimulus set folder")}


@pytest.mark.parametrize("how", list(ESCAPES))
def test_a_file_outside_the_set_is_refused(good, how):
    make, words = ESCAPES[how]
    make(good)
    with pytest.raises(InputError, match=words) as err:
        read_stimulus_set(good)
    assert err.value.path == str(good / "manifest.csv") and err.value.row == 3
    with pytest.raises(InputError, match=words):  # even when the PNGs are not needed
        read_stimulus_set(good, check_files=False)


@pytest.mark.parametrize("how", list(ESCAPES))
def test_experiment_build_copies_nothing_from_outside(good, tmp_path, capsys, how):
    ESCAPES[how][0](good)
    out = tmp_path / "exp"
    before = files_under(tmp_path, skip=out)
    assert main(["experiment", "build", "--stimuli", str(good), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{good / 'manifest.csv'}, row 3" in err
    assert files_under(tmp_path, skip=out) == before  # nothing written outside --out
    assert not any(p.is_file() and SECRET in p.read_bytes() for p in files_under(tmp_path) if p.is_relative_to(out))
    assert not (out / "stimuli").exists()


@pytest.mark.parametrize("how", list(ESCAPES))
def test_predict_opens_nothing_from_outside(good, tmp_path, capsys, how):
    ESCAPES[how][0](good)
    out = tmp_path / "pred" / "model.csv"
    out.parent.mkdir()
    before = files_under(tmp_path, skip=out.parent)
    assert main(["predict", "--stimuli", str(good), "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert f"{good / 'manifest.csv'}, row 3" in err
    assert not out.exists() and files_under(tmp_path, skip=out.parent) == before


@pytest.mark.slow  # runs reveal predict in a subprocess (11 s): the full suite, not the everyday loop
def test_a_symlink_inside_the_set_is_followed(good, tmp_path):
    os.symlink(good / "png" / "cat01_full.png", good / "png" / "alias.png")
    set_field(good, 12, "file", "png/alias.png")  # cat01's intact image, through a link
    s = read_stimulus_set(good)
    assert s.resolve("png/alias.png", 12) == (good / "png" / "cat01_full.png").resolve()
    out = tmp_path / "exp"
    assert main(["experiment", "build", "--stimuli", str(good), "--out", str(out)]) == 0
    copied = out / "stimuli" / "png" / "alias.png"
    assert copied.is_file() and not copied.is_symlink()
    assert copied.read_bytes() == (good / "png" / "cat01_full.png").read_bytes()


# ------------------------------------------------------------------ unreadable or inconsistent manifests

def test_duplicate_stimulus_id(good):
    set_field(good, 5, "stimulus_id", "cat01_clickme_01")
    with pytest.raises(InputError, match="duplicate stimulus_id 'cat01_clickme_01'") as err:
        read_stimulus_set(good)
    assert err.value.row == 5


def test_duplicate_condition(good):
    set_field(good, 5, "level_index", "3")
    set_field(good, 5, "level", "3.98")
    with pytest.raises(InputError, match=r"duplicate \(image_id, map_source, level_index\)") as err:
        read_stimulus_set(good)
    assert err.value.row == 5


def test_not_utf8(good):
    path = good / "manifest.csv"
    path.write_bytes(path.read_bytes().replace(b"cat01_clickme_03", "ch\u00e401_clickme_03".encode("latin-1")))
    with pytest.raises(InputError, match="not UTF-8") as err:
        read_stimulus_set(good)
    assert err.value.path == str(path)


@pytest.mark.parametrize("text, words", [("", "empty"), ("\n\n", "empty"),
                                         (",".join(MANIFEST_COLUMNS) + "\n", "lists no stimuli")])
def test_empty_manifest(good, text, words):
    (good / "manifest.csv").write_text(text)
    with pytest.raises(InputError, match=words) as err:
        read_stimulus_set(good)
    assert err.value.path == str(good / "manifest.csv")


def test_ragged_row_and_missing_column(good):
    path = good / "manifest.csv"
    text = path.read_text()
    lines = text.splitlines()
    path.write_text("\n".join(lines[:4] + [lines[4] + ",extra"] + lines[5:]) + "\n")
    with pytest.raises(InputError, match="fields where the header has") as err:
        read_stimulus_set(good)
    assert err.value.row == 4
    path.write_text(text.replace("level_index", "condition"))
    with pytest.raises(InputError, match="missing column.*level_index") as err:
        read_stimulus_set(good)
    assert err.value.row == 0


@pytest.mark.parametrize("column, value, words", [
    ("category", "vehicle", "category 'vehicle'"),
    ("level", "1.580", "must be written '1.58'"),
    ("level", "most", "neither a positive percentage"),
    ("level_index", "12", "not an integer 0..11"),
    ("level_index", "11", "level_index 11 is the intact image"),
    ("revealed_px", "many", "revealed_px 'many' is not a number"),
])
def test_bad_cells_name_the_row(good, column, value, words):
    set_field(good, 2, column, value)
    with pytest.raises(InputError, match=words) as err:
        read_stimulus_set(good)
    assert err.value.row == 2


def test_missing_and_mis_sized_png(good):
    Image.new("RGB", (5, 4)).save(good / "png" / "car01_clickme_L02.png")
    read_stimulus_set(good)  # sizes are checked only on request
    with pytest.raises(InputError, match="is 5x4, the set's images are 4x4") as err:
        read_stimulus_set(good, check_sizes=True)
    assert err.value.row == 15
    (good / "png" / "car01_clickme_L02.png").unlink()
    with pytest.raises(InputError, match="missing PNG 'png/car01_clickme_L02.png'") as err:
        read_stimulus_set(good)
    assert err.value.row == 15
    assert len(read_stimulus_set(good, check_files=False).manifest) == 24


def test_broken_stimset_json(good):
    (good / "stimset.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON") as err:
        read_stimulus_set(good)
    assert err.value.path == str(good / "stimset.json")
    (good / "stimset.json").write_text(json.dumps({"parameters": {"seed": "x"}}))
    with pytest.raises(InputError, match="seed 'x'"):
        read_stimulus_set(good)


def test_not_a_set(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_stimulus_set(tmp_path / "nowhere")
    with pytest.raises(InputError, match="not a stimulus set"):
        read_stimulus_set(tmp_path)


def test_one_category_per_image(good):
    set_field(good, 14, "category", "animal")  # car01 is a nonanimal on its other rows
    with pytest.raises(InputError, match="image 'car01' has more than one category") as err:
        read_stimulus_set(good)
    assert err.value.row == 14


def test_background_statistics_are_read_checked_and_optional(good):
    from reveal.core.stimset import background_entry

    # a set written before the statistics were recorded reads, with an empty table
    assert read_stimulus_set(good).background.empty
    meta = json.loads((good / "stimset.json").read_text())
    meta["background"] = background_entry({"cat01": {"clipped_share": 0.0123456789, "spectrum_error": 0.02},
                                           "car01": {"clipped_share": 0, "spectrum_error": 0.017, "extra": 1}})
    assert list(meta["background"]) == ["car01", "cat01"] and meta["background"]["cat01"]["clipped_share"] == 0.012346
    write_meta(good / "stimset.json", meta)
    bg = read_stimulus_set(good).background
    assert bg["image_id"].tolist() == ["car01", "cat01"] and bg["spectrum_error"].tolist() == [0.017, 0.02]
    for bad, message in (({"cat01": meta["background"]["cat01"]}, "lacks image"),
                         ({**meta["background"], "car01": {"clipped_share": "none", "spectrum_error": 0}},
                          "clipped_share 'none' is not a number"),
                         ([1, 2], "must map image ids")):
        write_meta(good / "stimset.json", {**meta, "background": bad})
        with pytest.raises(InputError, match=message) as err:
            read_stimulus_set(good)
        assert "stimset.json" in str(err.value)
