import json
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from PIL import Image

from reveal.cli.main import main
from reveal.core.stimset import MANIFEST_COLUMNS, read_stimulus_set
from reveal.stimuli import RevealParams, build_stimulus_set
from reveal.core.errors import InputError

P = RevealParams(size=64, seed=11)


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_writes_the_manifest_contract(inputs, tmp_path):
    out = tmp_path / "set"
    result = build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], out, P, progress=False)
    rows = read_stimulus_set(out, check_sizes=True).manifest.to_dict("records")  # checks every file
    assert result.n_stimuli == len(rows) == 4 * 2 * 12
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    for image_id in ("chelsea", "astronaut", "coffee", "rocket"):
        mine = [r for r in rows if r["image_id"] == image_id]
        for src in ("a", "b"):
            levels = [r for r in mine if r["map_source"] == src]
            assert [r["level"] for r in levels][-1] == "full" and len(levels) == 12
            assert sorted(int(r["level_index"]) for r in levels) == list(range(12))
        # the same pixel counts whichever map chose them
        by_src = {src: [int(r["revealed_px"]) for r in mine if r["map_source"] == src] for src in ("a", "b")}
        assert by_src["a"] == by_src["b"]
    cats = {r["image_id"]: r["category"] for r in rows}
    assert cats == {"chelsea": "animal", "astronaut": "nonanimal", "coffee": "nonanimal", "rocket": "nonanimal"}
    im = np.asarray(Image.open(out / rows[0]["file"]))
    assert im.shape == (64, 64, 3) and im.dtype == np.uint8
    meta = json.loads((out / "stimset.json").read_text())
    assert meta["parameters"]["seed"] == 11 and meta["n_stimuli"] == len(rows)
    assert len(meta["inputs"]) == 4 + 4 * 2 + 1 and all(len(h) == 64 for h in meta["inputs"].values())
    assert meta["levels"][-1] == "full" and "crop" in meta["geometry"]


def test_full_is_the_cropped_intact_photo(inputs, tmp_path):
    out = tmp_path / "set"
    build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], out, P, progress=False)
    full = np.asarray(Image.open(out / "full" / "coffee.png")).astype(int)
    photo = np.asarray(Image.open(inputs["images"] / "coffee.png"))
    h, w = photo.shape[:2]
    side = min(h, w)
    centre = photo[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2]
    expected = np.asarray(Image.fromarray(centre).resize((64, 64), Image.BOX)).astype(int)
    assert np.abs(full - expected).mean() < 4  # same crop; resampling filters differ slightly


def test_rebuild_is_bit_identical_and_processes_agree(inputs, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], a, P, progress=False)
    with ProcessPoolExecutor(2) as ex:
        build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], b, P, executor=ex,
                           progress=False)
    fa, fb = _files(a), _files(b)
    fa.pop("stimset.json"), fb.pop("stimset.json")
    assert fa == fb


def test_cli_end_to_end_and_refuses_a_different_set(inputs, tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["stimuli", "build", "--images", str(inputs["images"]), "--maps", f"a={inputs['maps']['a']}",
            "--maps", f"b={inputs['maps']['b']}", "--categories", str(inputs["categories"]), "--out", str(out),
            "--size", "48", "--no-progress"]
    assert main(args) == 0
    assert len(read_stimulus_set(out).manifest) == 96
    assert main(args) == 0  # same inputs, same parameters: rebuilding is fine
    assert main(args + ["--seed", "5"]) == 2
    assert "different stimulus set" in capsys.readouterr().err
    assert main(args + ["--seed", "5", "--overwrite"]) == 2 - 2
    assert json.loads((out / "stimset.json").read_text())["parameters"]["seed"] == 5


def test_non_empty_folder_without_a_set_is_refused(inputs, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    with pytest.raises(InputError, match="not empty"):
        build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], out, P, overwrite=True,
                           progress=False)
    assert (out / "thesis.docx").read_text() == "precious"


def test_interrupted_build_leaves_no_manifest(inputs, tmp_path):
    out = tmp_path / "set"
    build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], out, P, progress=False)
    # a map that breaks half-way through the rebuild with other parameters
    np.save(inputs["maps"]["b"] / "rocket.npy", np.full((10, 10), np.nan))
    with pytest.raises(InputError, match="NaN"):
        build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], out,
                           RevealParams(size=64, seed=12), overwrite=True, progress=False)
    assert not (out / "manifest.csv").exists()
    assert not list(out.rglob("*.part"))


def _build(inputs, out, **kw):
    return build_stimulus_set(kw.pop("images", inputs["images"]), kw.pop("maps", inputs["maps"]),
                              kw.pop("categories", inputs["categories"]), out, P, progress=False)


def test_bad_inputs_name_the_file(inputs, tmp_path):
    # missing image
    os.remove(inputs["images"] / "astronaut.png")
    with pytest.raises(InputError, match="astronaut") as err:
        _build(inputs, tmp_path / "o1")
    assert "categories.csv" in str(err.value)
    Image.fromarray(np.zeros((96, 96, 3), np.uint8)).save(inputs["images"] / "astronaut.png")
    # unreadable image
    (inputs["images"] / "coffee.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"coffee.png: cannot read image"):
        _build(inputs, tmp_path / "o2")
    Image.fromarray(np.zeros((96, 96, 3), np.uint8)).save(inputs["images"] / "coffee.png")


@pytest.mark.parametrize("bad_map, message", [
    (np.zeros((96, 96)), "constant"),
    (np.full((96, 96), 3.0), "constant"),
    (np.eye(40, 90), "different aspect ratio"),
])
def test_bad_maps_name_the_file(inputs, tmp_path, bad_map, message):
    os.remove(inputs["maps"]["b"] / "chelsea.npy")
    photo = np.asarray(Image.open(inputs["images"] / "chelsea.png"))
    if bad_map.shape == (96, 96):
        bad_map = np.resize(bad_map, photo.shape[:2])
    np.save(inputs["maps"]["b"] / "chelsea.npy", bad_map)
    with pytest.raises(InputError, match=message) as err:
        _build(inputs, tmp_path / "o")
    assert "chelsea.npy" in str(err.value)


def test_map_with_too_few_important_pixels(inputs, tmp_path):
    photo = np.asarray(Image.open(inputs["images"] / "chelsea.png"))
    m = np.zeros(photo.shape[:2])
    m[40:44, 40:44] = 1
    np.save(inputs["maps"]["b"] / "chelsea.npy", m)
    with pytest.raises(InputError, match="needs at least 50"):
        _build(inputs, tmp_path / "o")


def test_missing_map_and_unknown_category(inputs, tmp_path):
    os.remove(inputs["maps"]["a"] / "rocket.png")
    with pytest.raises(InputError, match="no map for 1 image"):
        _build(inputs, tmp_path / "o")
    cats = tmp_path / "cats.csv"
    cats.write_text("image_id,category\nchelsea,animal\nrocket,vehicle\n")
    with pytest.raises(InputError, match=r"cats.csv, row 2: unknown category 'vehicle'"):
        _build(inputs, tmp_path / "o", categories=cats)


def test_same_aspect_maps_of_another_size_are_resized(inputs, tmp_path):
    photo = np.asarray(Image.open(inputs["images"] / "chelsea.png"))
    h, w = photo.shape[:2]
    big = np.kron(np.load(inputs["maps"]["b"] / "chelsea.npy"), np.ones((2, 2)))  # 2x the image size
    assert big.shape == (2 * h, 2 * w)
    np.save(inputs["maps"]["b"] / "chelsea.npy", big)
    assert _build(inputs, tmp_path / "o").n_stimuli == 96
    notes = json.loads((tmp_path / "o" / "stimset.json").read_text())["notes"]
    assert len(notes) == 1 and "chelsea.npy" in notes[0] and "resized" in notes[0]


def test_sample_set_builds_from_the_cli(tmp_path):
    out = tmp_path / "sample"
    assert main(["stimuli", "build", "--sample", "--out", str(out), "--no-progress"]) == 0
    rows = read_stimulus_set(out).manifest.to_dict("records")
    assert len(rows) == 4 * 2 * 12
    assert {r["category"] for r in rows} == {"animal", "nonanimal"}
    assert {r["map_source"] for r in rows} == {"spectral_residual", "fine_grained"}


def test_a_dask_clients_executor_builds_the_same_set(inputs, tmp_path):
    distributed = pytest.importorskip("distributed")
    a, b = tmp_path / "local", tmp_path / "dask"
    build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], a, P, progress=False)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], b, P,
                           executor=client.get_executor(), progress=False)
    fa, fb = _files(a), _files(b)
    fa.pop("stimset.json"), fb.pop("stimset.json")
    assert fa == fb


def test_stimset_records_each_backgrounds_clipping_and_spectrum_error(inputs, tmp_path):
    from reveal.stimuli.geometry import fit_image
    from reveal.stimuli.loaders import read_image
    from reveal.stimuli.stimulus import image_background

    out = tmp_path / "set"
    build_stimulus_set(inputs["images"], inputs["maps"], inputs["categories"], out, P, progress=False)
    stimset = read_stimulus_set(out)
    bg = stimset.background.set_index("image_id")
    assert sorted(bg.index) == ["astronaut", "chelsea", "coffee", "rocket"]
    for image_id, row in bg.iterrows():
        path = next(inputs["images"].glob(f"{image_id}.*"))
        background, stats = image_background(image_id, fit_image(read_image(path), P.size, P.fit), P)
        # the recorded numbers are those of the scramble the stimuli were composed over
        assert row["clipped_share"] == pytest.approx(stats["clipped_share"], abs=1e-6)
        assert row["spectrum_error"] == pytest.approx(stats["spectrum_error"], abs=1e-6)
        assert 0 <= row["clipped_share"] < 1 and 0 < row["spectrum_error"] < 0.2
        # ... and the background is what the 1 % stimulus shows outside its patch
        first = stimset.manifest.query("image_id == @image_id and level_index == '0'").iloc[0]
        pixels = np.asarray(Image.open(out / first["file"]))
        assert (pixels == background).all(axis=2).mean() > 0.9


def test_a_map_folder_written_by_reveal_is_a_source_and_its_provenance_is_recorded(inputs, tmp_path):
    # e.g. `reveal maps teacher predict` or `reveal maps attention`: maps.json + one source's .npy maps
    from reveal.core.mapfiles import write_maps
    from reveal.stimuli.loaders.images import read_map_file

    computed = {p.stem: read_map_file(p) for p in sorted(inputs["maps"]["b"].glob("*.npy"))}
    folder = tmp_path / "teacher_maps"
    write_maps(folder, "teacher", computed, parameters={"teacher_sha256": "ab" * 32, "network": "lite0"})
    out = tmp_path / "set"
    _build(inputs, out, maps={"teacher": folder})
    meta = json.loads((out / "stimset.json").read_text())
    assert meta["map_formats"] == {"teacher": "reveal-maps"}
    assert meta["map_provenance"]["teacher"]["parameters"] == {"teacher_sha256": "ab" * 32, "network": "lite0"}
    # the same maps as a plain folder of .npy files build the same stimuli
    plain = tmp_path / "set_plain"
    _build(inputs, plain, maps={"teacher": inputs["maps"]["b"]})
    for f in sorted((plain / "teacher").glob("*.png")):
        assert f.read_bytes() == (out / "teacher" / f.name).read_bytes(), f.name
    write_maps(folder, "other", computed)  # two sources: the user names one
    with pytest.raises(InputError, match=r"holds 2 sources; give one of their folders: teacher=.*teacher"):
        _build(inputs, tmp_path / "set2", maps={"teacher": folder})
