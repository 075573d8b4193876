"""The one reader of a stimulus set: its checks, on real files, through the API and the console command."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
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


# ------------------------------------------------------------ edges found by the mutation run (issue 31)

def test_a_file_resolved_later_names_its_first_manifest_row(tmp_path):
    # the intact image is listed once per source (rows 12 and 24 of cat01 with two sources): a file
    # that leaves the set after reading is named with the manifest and the first row listing it
    root = make_set(tmp_path / "set", images=(("cat01", "animal"),), sources=("clickme", "salicon"))
    s = read_stimulus_set(root)
    assert s.resolve("png/cat01_full.png") == (root / "png" / "cat01_full.png").resolve()
    outside = tmp_path / "outside.png"
    outside.write_bytes(SECRET)
    (root / "png" / "cat01_full.png").unlink()
    (root / "png" / "cat01_full.png").symlink_to(outside)
    with pytest.raises(InputError, match="outside the stimulus set") as err:
        s.resolve("png/cat01_full.png")
    assert err.value.row == 12 and err.value.path == str(root / "manifest.csv")
    with pytest.raises(InputError, match="leaves the stimulus set") as err:
        s.resolve("../x.png")
    assert err.value.row is None  # not a file of the manifest


@pytest.mark.parametrize("file, refused", [
    ("a", False), ("C", False), (":a", False), ("ab:c", False),
    ("C:", True), ("C:x.png", True), ("C:/x.png", True), ("png\\x.png", True), ("/x.png", True),
])
def test_drive_letters_and_backslashes_are_absolute_paths(tmp_path, file, refused):
    from reveal.core.stimset import resolve_file

    if refused:
        with pytest.raises(InputError, match="absolute path"):
            resolve_file(tmp_path.resolve(), file)
    else:
        assert resolve_file(tmp_path.resolve(), file) == tmp_path.resolve() / file


@pytest.mark.parametrize("digits, ok", [(100, True), (101, False)])
def test_stimset_json_integers_of_up_to_100_digits(good, digits, ok):
    from reveal.core.stimset import read_meta

    (good / "stimset.json").write_text('{"parameters": {"seed": %s}}' % ("9" * digits))
    if ok:
        assert read_meta(good)["parameters"]["seed"] == int("9" * digits)
    else:
        with pytest.raises(InputError, match="integer of 101 digits"):
            read_meta(good)


def test_stimset_json_nested_too_deeply(good):
    (good / "stimset.json").write_text("[" * 100_000)
    with pytest.raises(InputError, match="nested too deeply") as err:
        read_stimulus_set(good)
    assert err.value.path == str(good / "stimset.json")


def test_a_stray_quote_is_not_a_readable_csv(good):
    path = good / "manifest.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace("cat01_clickme_02", '"cat01"_clickme_02', 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="not a readable CSV file"):
        read_stimulus_set(good)


@pytest.mark.parametrize("column", ["stimulus_id", "image_id", "map_source"])
def test_an_empty_key_names_its_row(good, column):
    set_field(good, 3, column, "")
    with pytest.raises(InputError, match=f"empty {column}") as err:
        read_stimulus_set(good)
    assert err.value.row == 3


@pytest.mark.parametrize("level", ["0", "-1", "0.0"])
def test_a_level_of_nothing_or_less_is_refused_in_the_manifest(good, level):
    set_field(good, 2, "level", level)
    with pytest.raises(InputError, match="neither a positive percentage") as err:
        read_stimulus_set(good)
    assert err.value.row == 2


def test_rows_after_the_first_intact_image_are_still_checked(good):
    set_field(good, 14, "level", "1.580")  # car01's second level, after cat01's 'full' row
    with pytest.raises(InputError, match="must be written '1.58'") as err:
        read_stimulus_set(good)
    assert err.value.row == 14


def test_number_columns_after_a_missing_one_are_still_checked(good):
    path = good / "manifest.csv"
    frame = pd.read_csv(path, dtype=str).drop(columns="revealed_px")  # optional
    frame.loc[4, "shift_x"] = "left"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="shift_x 'left' is not a number") as err:
        read_stimulus_set(good)
    assert err.value.row == 5


def test_files_after_a_repeated_one_are_still_checked(tmp_path):
    # with two sources each intact image is listed twice; a PNG missing after that is still found
    root = make_set(tmp_path / "set", sources=("clickme", "salicon"))
    (root / "png" / "car01_salicon_L03.png").unlink()
    with pytest.raises(InputError, match="missing PNG 'png/car01_salicon_L03.png'") as err:
        read_stimulus_set(root)
    assert err.value.row == 40


def test_level_clash_names_the_row_that_differs(good):
    meta = json.loads((good / "stimset.json").read_text())
    del meta["levels"]  # levels not declared: each level_index must be one level throughout
    write_meta(good / "stimset.json", meta)
    set_field(good, 15, "level", "3.98")  # car01's level_index 2 ('2.51' on cat01's row 3)
    with pytest.raises(InputError, match="level_index 2 is level '2.51' elsewhere, '3.98' here") as err:
        read_stimulus_set(good)
    assert err.value.row == 15


def test_a_duplicated_column_is_named_at_the_header(good):
    path = good / "manifest.csv"
    lines = path.read_text().splitlines()
    lines = [line + "," + line.split(",")[0] for line in lines]
    lines[0] = lines[0].rsplit(",", 1)[0] + ",stimulus_id"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="appears twice") as err:
        read_stimulus_set(good)
    assert err.value.row == 0


def test_the_first_image_with_two_categories_and_its_first_differing_row(good):
    set_field(good, 13, "category", "animal")  # car01's first row: its other rows now differ from it
    with pytest.raises(InputError, match="image 'car01' has more than one category") as err:
        read_stimulus_set(good)
    assert err.value.row == 14
    set_field(good, 2, "category", "nonanimal")  # now cat01 too, which comes first in the file
    with pytest.raises(InputError, match="image 'cat01' has more than one category") as err:
        read_stimulus_set(good)
    assert err.value.row == 2


def test_sizes_are_checked_against_stimset_json_then_the_first_image(good):
    for png in (good / "png").glob("*.png"):
        Image.new("RGB", (5, 3)).save(png)
    with pytest.raises(InputError, match="is 5x3, the set's images are 4x4"):
        read_stimulus_set(good, check_sizes=True)  # parameters.size is 4
    meta = json.loads((good / "stimset.json").read_text())
    del meta["parameters"]["size"]
    write_meta(good / "stimset.json", meta)
    read_stimulus_set(good, check_sizes=True)  # all alike
    Image.new("RGB", (3, 5)).save(good / "png" / "car01_clickme_L02.png")
    with pytest.raises(InputError, match="is 3x5, the set's images are 5x3") as err:
        read_stimulus_set(good, check_sizes=True)
    assert err.value.row == 15


def test_a_set_reads_as_a_frozen_record(good):
    import dataclasses

    s = read_stimulus_set(good)
    assert list(s.images.columns) == ["image_id", "category"]
    assert s.images["image_id"].tolist() == ["cat01", "car01"]  # animals first
    assert "_real_root" not in repr(s) and s.manifest_path == good / "manifest.csv"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.seed = 1


@pytest.mark.parametrize("meta, seed", [({}, 0), ({"seed": 5}, 5), ({"parameters": {}}, 0),
                                        ({"parameters": {}, "seed": 6}, 6), ({"parameters": [], "seed": 8}, 8),
                                        ({"parameters": []}, 0), ({"parameters": {"seed": 2}, "seed": 6}, 2)])
def test_the_sets_seed(good, meta, seed):
    write_meta(good / "stimset.json", meta)
    assert read_stimulus_set(good).seed == seed


def test_missing_background_statistics_name_five_images(tmp_path):
    from reveal.core.stimset import background_entry

    images = tuple((f"img{k}", "animal") for k in range(7))
    root = make_set(tmp_path / "set", images=images)
    meta = json.loads((root / "stimset.json").read_text())
    meta["background"] = background_entry({"img0": {"clipped_share": 0, "spectrum_error": 0}})
    write_meta(root / "stimset.json", meta)
    with pytest.raises(InputError, match=r"lacks image\(s\) 'img1', 'img2', 'img3', 'img4', 'img5'$"):
        read_stimulus_set(root)


def test_the_set_files_are_written_as_the_reader_reads_them(tmp_path):
    from reveal.core.stimset import write_stimulus_set_files

    source = make_set(tmp_path / "a")
    s = read_stimulus_set(source)
    copy = tmp_path / "b"
    copy.mkdir()
    shutil.copytree(source / "png", copy / "png")
    meta = dict(s.meta, seed=3)
    assert write_stimulus_set_files(copy, s.manifest.to_dict("records"), meta) == copy / "manifest.csv"
    assert (copy / "stimset.json").read_text() == json.dumps(meta, indent=2) + "\n"
    assert read_stimulus_set(copy).manifest.equals(s.manifest)


def test_the_reader_takes_its_folder_by_name_and_its_options_by_keyword(good):
    assert read_stimulus_set(root=good).root == good
    with pytest.raises(TypeError):
        read_stimulus_set(good, False)
