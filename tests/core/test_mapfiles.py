"""The map folder (maps.json + one .npy per image): round trip, adding sources, bad files."""
import json

import numpy as np
import pytest

from reveal.core.mapfiles import INDEX, read_index, read_maps, source_folder_name, write_maps
from reveal.core.errors import InputError
from reveal.stimuli.loaders import open_map_source


@pytest.fixture
def maps(rng):
    return {"chelsea": rng.random((30, 45)), "coffee": rng.random((40, 60)) * 7}


def test_round_trip_keeps_maps_shapes_order_and_parameters(tmp_path, maps):
    root = tmp_path / "att"
    folder = write_maps(root, "net:smoothgrad", maps, {"kind": "smoothgrad", "n_samples": 2})
    assert folder == root / "net_smoothgrad"
    assert sorted(p.name for p in folder.iterdir()) == ["chelsea.npy", "coffee.npy"]
    write_maps(root, "net:activation", {"chelsea": maps["chelsea"] * 2})
    back = read_maps(root)
    assert list(back) == ["net:smoothgrad", "net:activation"]
    for image_id, m in maps.items():
        assert back["net:smoothgrad"][image_id].dtype == np.float64
        np.testing.assert_array_equal(back["net:smoothgrad"][image_id], m.astype(np.float32))
    assert list(read_maps(root, ["net:activation"])) == ["net:activation"]
    index = read_index(root)
    entry = index["sources"]["net:smoothgrad"]
    assert entry["parameters"] == {"kind": "smoothgrad", "n_samples": 2}
    assert entry["images"] == {"chelsea": [30, 45], "coffee": [40, 60]}
    assert index["format"] == "reveal-maps" and index["version"] == 1 and entry["toolkit_version"]
    # a source folder is also a plain folder of .npy maps for the loaders of stimuli
    assert set(open_map_source("s", folder).refs) == {"chelsea", "coffee"}


def test_writing_a_source_again_replaces_it(tmp_path, maps):
    root = tmp_path / "att"
    write_maps(root, "net:smoothgrad", maps)
    write_maps(root, "net:smoothgrad", {"coffee": maps["coffee"]})
    assert sorted(p.name for p in (root / "net_smoothgrad").iterdir()) == ["coffee.npy"]
    assert list(read_maps(root)["net:smoothgrad"]) == ["coffee"]


def test_maps_that_cannot_be_written(tmp_path):
    with pytest.raises(ValueError, match="non-negative"):
        write_maps(tmp_path, "s", {"a": -np.ones((3, 3))})
    with pytest.raises(ValueError, match="2-D"):
        write_maps(tmp_path, "s", {"a": np.ones((3, 3, 3))})
    with pytest.raises(ValueError, match="file name"):
        write_maps(tmp_path, "s", {"../a": np.ones((3, 3))})
    assert source_folder_name("resnet50:activation") == "resnet50_activation"


def test_bad_folders_are_input_errors_naming_the_file(tmp_path, maps):
    with pytest.raises(InputError, match="no maps.json") as err:
        read_maps(tmp_path)
    assert err.value.path == str(tmp_path)
    root = tmp_path / "att"
    write_maps(root, "net:smoothgrad", maps)
    index_path = root / INDEX
    index = json.loads(index_path.read_text())

    np.save(root / "net_smoothgrad" / "coffee.npy", np.ones((40, 61), np.float32))
    with pytest.raises(InputError, match="the index says 40x60") as err:
        read_maps(root)
    assert err.value.path == str(root / "net_smoothgrad" / "coffee.npy")
    np.save(root / "net_smoothgrad" / "coffee.npy", np.full((40, 60), np.nan, np.float32))
    with pytest.raises(InputError, match="non-finite"):
        read_maps(root)
    (root / "net_smoothgrad" / "coffee.npy").unlink()
    with pytest.raises(InputError, match="missing") as err:
        read_maps(root)
    assert err.value.path.endswith("coffee.npy")
    (root / "net_smoothgrad" / "coffee.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match="cannot read map") as err:
        read_maps(root)
    assert err.value.path.endswith("coffee.npy")
    with pytest.raises(InputError, match="no source 'other'"):
        read_maps(root, ["other"])

    index_path.write_text("{not json")
    with pytest.raises(InputError, match="cannot read the map index") as err:
        read_index(root)
    assert err.value.path == str(index_path)
    index_path.write_text(json.dumps({**index, "version": 2}))
    with pytest.raises(InputError, match="version 2"):
        read_index(root)
    index_path.write_text(json.dumps({**index, "format": "other"}))
    with pytest.raises(InputError, match="not a reveal-maps index"):
        read_index(root)
    index["sources"]["net:smoothgrad"]["folder"] = "../elsewhere"
    index_path.write_text(json.dumps(index))
    with pytest.raises(InputError, match="'folder'"):
        read_index(root)


def test_a_folder_of_someone_elses_files_is_refused(tmp_path, maps):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a map folder") as err:
        write_maps(tmp_path, "net:smoothgrad", maps)
    assert err.value.path == str(tmp_path) and (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_source_folder_the_index_does_not_list_is_refused(tmp_path, maps):
    root = tmp_path / "att"
    write_maps(root, "net:smoothgrad", maps)
    (root / "net_activation").mkdir()
    (root / "net_activation" / "mine.npy").write_bytes(b"mine")
    with pytest.raises(InputError, match="not a map source this index lists"):
        write_maps(root, "net:activation", maps)
    assert (root / "net_activation" / "mine.npy").read_bytes() == b"mine"
    write_maps(root, "net:smoothgrad", maps)  # its own source is replaced


def test_index_names_never_leave_the_folder(tmp_path, maps):
    root = tmp_path / "att"
    write_maps(root, "net:smoothgrad", maps)
    index = json.loads((root / "maps.json").read_text())
    entry = index["sources"]["net:smoothgrad"]
    entry["images"] = {"../../secret": next(iter(entry["images"].values()))}
    (root / "maps.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match="file name") as err:
        read_maps(root)
    assert err.value.path == str(root / "maps.json")


def test_a_map_of_strings_is_a_named_error(tmp_path, maps):
    root = tmp_path / "att"
    folder = write_maps(root, "net:smoothgrad", maps)
    image_id = next(iter(maps))
    np.save(folder / f"{image_id}.npy", np.full(maps[image_id].shape, "x"))
    with pytest.raises(InputError, match="not real numbers") as err:
        read_maps(root)
    assert err.value.path == str(folder / f"{image_id}.npy")
