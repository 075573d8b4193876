import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from reveal.core import outputs
from reveal.core.errors import InputError
from reveal.core.gainsfile import (FORMAT, METHODS, TARGETS, VERSION, Gains, hash_inputs, read_gains,
                                   write_gains)

C = 480


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _values(method="tuning", n=C, seed=7):
    x = np.random.default_rng(seed).normal(size=n)
    if method == "toad":
        return np.maximum(x, -1.0)  # trained gains 1 + f >= 0
    return x / np.max(np.abs(x))  # normalised: max |f| = 1


def _gains(method="tuning", **kw):
    args = dict(model="efficientnet_lite0", layer="blocks.10.depthwise", method=method, target="animal",
                values=_values(method), inputs={}, training={"n_images": 12, "loss": 0.125})
    args.update(kw)
    return Gains(**args)


def _doc(tmp_path, method="tuning"):
    """A valid gains file's JSON object, as write_gains writes it."""
    path = write_gains(tmp_path / "valid.json", _gains(method))
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("target", TARGETS)
def test_round_trip_is_bit_exact(tmp_path, method, target):
    values = _values(method)
    values[5] = -0.0  # the sign of zero survives too
    # 17 significant digits: the values need every digit of their repr to come back
    assert sum(len(repr(float(v)).lstrip("-0.").replace(".", "").split("e")[0]) >= 17 for v in values) > 10
    imgs = tmp_path / "photos"
    imgs.mkdir()
    (imgs / "a.jpg").write_bytes(b"a")
    (tmp_path / "categories.csv").write_text("image_id,category\na,animal\n")
    inputs = hash_inputs([imgs / "a.jpg"], tmp_path / "categories.csv")
    training = {"epochs": 3, "loss": [0.5, 0.25], "note": "ok", "nested": {"a": None}}
    g = Gains("efficientnet_lite0", "blocks.10.depthwise", method, target, values, inputs, training)
    path = write_gains(tmp_path / "gains.json", g)
    assert path == tmp_path / "gains.json"
    back = read_gains(path)
    assert back.values.dtype == np.float64 and back.values.shape == (C,)
    assert back.values.tobytes() == values.tobytes()
    assert np.signbit(back.values[5])
    assert (back.model, back.layer, back.method, back.target) == ("efficientnet_lite0", "blocks.10.depthwise",
                                                                  method, target)
    assert back.inputs == inputs and back.training == training
    assert back.channels == C
    assert back == g


def test_the_file_is_indented_json_of_the_documented_shape(tmp_path):
    path = write_gains(tmp_path / "gains.json", _gains())
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert text.count("\n") > C  # indented: a line per value
    assert doc["format"] == FORMAT == "reveal-gains" and doc["version"] == VERSION == 1
    assert doc["channels"] == C == len(doc["values"])
    assert isinstance(doc["reveal_version"], str)
    assert set(doc) == {"format", "version", "model", "layer", "method", "target", "channels", "values",
                        "inputs", "training", "reveal_version"}
    assert _tree(tmp_path) == {"gains.json": text.encode()}  # no temporary file left


def test_gains_keeps_a_read_only_copy_of_the_values():
    source = _values()
    g = _gains(values=source)
    source[0] = 123.0
    assert g.values[0] != 123.0
    with pytest.raises(ValueError):
        g.values[0] = 0.5
    assert g != _gains(values=_values(seed=8)) and g == _gains()


# --------------------------------------------------------------------------- bad files


def _set(key, value):
    def change(doc):
        doc[key] = value
    return change


def _drop(key):
    def change(doc):
        del doc[key]
    return change


def _scale(factor):
    def change(doc):
        doc["values"] = [v * factor for v in doc["values"]]
    return change


def _value(i, v):
    def change(doc):
        doc["values"][i] = v
    return change


BAD = [
    ("not json", "{not json", "not valid JSON"),
    ("a list", "[1, 2, 3]", "a JSON list, not an object"),
    ("wrong format", _set("format", "reveal-maps"), "not a reveal-gains file (its 'format' is 'reveal-maps')"),
    ("no format", _drop("format"), "not a reveal-gains file (no 'format' key)"),
    ("version 2", _set("version", 2), "version 2 is not supported (this toolkit reads version 1)"),
    ("version true", _set("version", True), "version True is not supported"),
    ("missing values", _drop("values"), "missing key 'values'"),
    ("missing two", lambda d: [d.pop("model"), d.pop("training")], "missing keys 'model', 'training'"),
    ("channels mismatch", _set("channels", C + 1), f"'channels' is {C + 1} but 'values' holds {C} values"),
    ("channels a string", _set("channels", "480"), "'channels' must be an integer, got str"),
    ("NaN value", _value(3, float("nan")), "values[3] is nan, not a finite number"),
    ("infinite value", _value(4, 1e999), "values[4] is inf"),
    ("string value", _value(2, "0.5"), "values[2] must be a number, got str"),
    ("values not a list", _set("values", {"0": 1.0}), "'values' must be a list of numbers, got dict"),
    ("no values", lambda d: d.update(values=[], channels=0), "'values' is empty"),
    ("unknown method", _set("method", "saliency"), "unknown method 'saliency'; known: tuning, gradient, toad"),
    ("unknown target", _set("target", "vehicle"), "unknown target 'vehicle'; known: animal, nonanimal"),
    ("empty model", _set("model", " "), "'model' must be a non-empty string"),
    ("layer a number", _set("layer", 3), "'layer' must be a non-empty string, got int 3"),
    ("tuning not normalised", _scale(0.5), "the values of a 'tuning' file are normalised to max |f| = 1, but "
                                           "here max |f| = 0.5"),
    ("tuning above 1", _scale(1 + 2e-9), "normalised to max |f| = 1"),
    ("inputs a list", _set("inputs", []), "'inputs' must be an object, got list"),
    ("inputs bad digest", _set("inputs", {"categories": {"path": "c.csv", "sha256": "xyz"}}),
     "'inputs.categories'.sha256 must be 64 lowercase hexadecimal digits"),
    ("inputs no count", _set("inputs", {"images": {"path": "p", "sha256": "0" * 64}}),
     "'inputs.images' is missing 'n_files'"),
    ("training null", _set("training", None), "'training' must be an object, got null"),
    ("training NaN", _set("training", {"loss": float("nan")}), "'training' holds NaN or Infinity"),
    ("version of toolkit", _set("reveal_version", 1), "'reveal_version' must be a string, got int"),
]


@pytest.mark.parametrize("change, problem", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_file_is_a_named_error_that_says_what_is_wrong(tmp_path, change, problem):
    path = tmp_path / "gains.json"
    if isinstance(change, str):
        path.write_text(change)
    else:
        doc = _doc(tmp_path)
        change(doc)
        path.write_text(json.dumps(doc))  # NaN and Infinity as JavaScript's tokens, as another writer might
    with pytest.raises(InputError) as err:
        read_gains(path)
    assert err.value.path == str(path)
    assert str(path) in str(err.value)
    assert problem in err.value.message


def test_the_nan_case_really_holds_a_nan_token(tmp_path):
    doc = _doc(tmp_path)
    _value(3, float("nan"))(doc)
    assert "NaN" in json.dumps(doc)


def test_toad_values_below_minus_one_are_refused_and_minus_one_is_read(tmp_path):
    doc = _doc(tmp_path, "toad")
    doc["values"][2] = -1.0  # gain exactly 0: a channel switched off
    (tmp_path / "ok.json").write_text(json.dumps(doc))
    assert read_gains(tmp_path / "ok.json").values[2] == -1.0
    doc["values"][2] = -1 - 5e-13  # rounding: within 1e-12
    (tmp_path / "ok.json").write_text(json.dumps(doc))
    assert read_gains(tmp_path / "ok.json").values[2] == -1 - 5e-13
    doc["values"][2] = -1 - 1e-11
    (tmp_path / "off.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="below -1"):
        read_gains(tmp_path / "off.json")
    doc["values"][2] = -1.5
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"values\[2\] = -1.5 is below -1: trained \('toad'\) gains g = 1 \+ f "
                                         r"must be >= 0") as err:
        read_gains(tmp_path / "bad.json")
    assert err.value.path == str(tmp_path / "bad.json")


def test_normalisation_is_checked_within_1e_9(tmp_path):
    doc = _doc(tmp_path, "gradient")
    doc["values"] = [v * (1 + 5e-10) for v in doc["values"]]
    (tmp_path / "near.json").write_text(json.dumps(doc))
    assert read_gains(tmp_path / "near.json").method == "gradient"
    doc["values"] = [v * (1 - 5e-9) for v in doc["values"]]
    (tmp_path / "off.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="normalised"):
        read_gains(tmp_path / "off.json")


@pytest.mark.parametrize("make, problem", [
    (lambda p: None, "file not found"),
    (lambda p: p.mkdir(), "is a folder, not a gains file"),
    (lambda p: p.write_bytes(b'{"format": "\xff"}'), "not UTF-8"),
    (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "nested too deeply"),
], ids=["missing", "a folder", "not utf-8", "nested too deeply"])
def test_an_unreadable_file_is_a_named_error(tmp_path, make, problem):
    path = tmp_path / "gains.json"
    make(path)
    with pytest.raises(InputError) as err:
        read_gains(path)
    assert err.value.path == str(path) and problem in err.value.message


def test_keys_a_later_version_adds_are_ignored(tmp_path):
    doc = _doc(tmp_path)
    doc["fitted_on"] = "2026-03-01"
    (tmp_path / "gains.json").write_text(json.dumps(doc))
    assert read_gains(tmp_path / "gains.json") == _gains()


# --------------------------------------------------------------------------- for a model, layer, channel count


def test_gains_for_another_model_layer_or_channel_count_are_refused_naming_both(tmp_path):
    path = write_gains(tmp_path / "gains.json", _gains())
    assert read_gains(path, model="efficientnet_lite0", layer="blocks.10.depthwise", channels=C) == _gains()
    with pytest.raises(InputError) as err:
        read_gains(path, model="resnet50", layer="blocks.10.depthwise", channels=C)
    assert err.value.path == str(path)
    assert str(err.value) == (f"{path}: these gains were fitted for model 'efficientnet_lite0', not 'resnet50'; "
                              f"fit gains for resnet50 with reveal gains fit --model resnet50")
    with pytest.raises(InputError) as err:
        read_gains(path, model="efficientnet_lite0", layer="head")
    assert err.value.path == str(path)
    assert "fitted at layer 'blocks.10.depthwise', not 'head'" in err.value.message
    with pytest.raises(InputError) as err:
        read_gains(path, layer="blocks.10.depthwise", channels=1280)
    assert err.value.path == str(path)
    assert f"hold {C} values" in err.value.message and "has 1280 channels" in err.value.message


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("gains, problem", [
    (_gains(values=np.where(np.arange(C) == 3, np.nan, _values())), "values[3] is nan"),
    (_gains(values=_values().reshape(2, -1)), "one-dimensional"),
    (_gains(values=1.0), "one-dimensional"),
    (_gains(values=np.zeros(0)), "'values' is empty"),
    (_gains(method="saliency"), "unknown method 'saliency'"),
    (_gains(target="car"), "unknown target 'car'"),
    (_gains(model=""), "'model' must be a non-empty string"),
    (_gains(layer=None), "'layer' must be a non-empty string"),
    (_gains(values=_values() * 0.9), "max |f| = 0.9"),
    (_gains(method="gradient", values=_values() * 2), "normalised to max |f| = 1"),
    (_gains(method="toad", values=np.r_[_values("toad"), -1.001]), f"values[{C}] = -1.001 is below -1"),
    (_gains(training={"loss": np.float32("inf")}), "'training' holds NaN or Infinity"),
    (_gains(training={"model": object()}), "must hold only JSON values"),
    (_gains(inputs={"images": "photos/"}), "'inputs.images' must be an object"),
], ids=["nan", "2-d", "0-d", "empty", "method", "target", "model", "layer", "tuning 0.9", "gradient 2",
        "toad", "training inf", "training object", "inputs"])
def test_invalid_gains_are_not_written(tmp_path, gains, problem):
    path = tmp_path / "gains.json"
    with pytest.raises(InputError) as err:
        write_gains(path, gains)
    assert err.value.path == str(path) and problem in err.value.message
    assert _tree(tmp_path) == {}


def test_numpy_numbers_in_training_are_written_as_json(tmp_path):
    g = _gains(training={"loss": np.float32(0.5), "counts": np.arange(3), "n": np.int64(7)})
    back = read_gains(write_gains(tmp_path / "gains.json", g))
    assert back.training == {"loss": 0.5, "counts": [0, 1, 2], "n": 7}


def test_write_takes_gains_only(tmp_path):
    with pytest.raises(TypeError):
        write_gains(tmp_path / "gains.json", {"values": [1.0]})


def test_an_invalid_write_leaves_the_old_file_whole(tmp_path):
    path = write_gains(tmp_path / "gains.json", _gains())
    before = _tree(tmp_path)
    with pytest.raises(InputError):
        write_gains(path, _gains(values=_values() * 3))
    assert _tree(tmp_path) == before


def test_a_failing_rename_leaves_the_old_file_whole_and_no_temporary_file(tmp_path, monkeypatch):
    path = write_gains(tmp_path / "gains.json", _gains())
    before = _tree(tmp_path)
    calls = []

    def fail(src, dst):
        calls.append((src, dst))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs.os, "replace", fail)
    with pytest.raises(InputError, match="cannot write the gains file") as err:
        write_gains(path, _gains(method="toad"))
    monkeypatch.undo()
    assert len(calls) == 1 and os.fspath(calls[0][1]) == str(path)  # it did get as far as the rename
    assert err.value.path == str(path)
    assert _tree(tmp_path) == before
    assert read_gains(path) == _gains()


def test_a_write_that_fails_half_way_leaves_the_old_file_whole(tmp_path):
    # as tests/core/test_outputs.py: the disk fills up half-way through the new file (a file-size
    # limit in a child process), and the old gains file is still there, byte for byte
    path = write_gains(tmp_path / "gains.json", _gains(values=_values(n=8)))
    before = _tree(tmp_path)
    assert len(before["gains.json"]) < 16384
    code = (
        "import resource, signal, sys\n"
        "import numpy as np\n"
        "from reveal.core.errors import InputError\n"
        "from reveal.core.gainsfile import Gains, write_gains\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))\n"
        "v = np.linspace(-1, 1, 20_000)\n"
        "try:\n"
        "    write_gains(sys.argv[1], Gains('m', 'head', 'tuning', 'animal', v))\n"
        "except InputError as err:\n"
        "    sys.exit(f'failed: {err}')\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.startswith(f"failed: {path}: cannot write the gains file"), r.stderr
    assert _tree(tmp_path) == before


# --------------------------------------------------------------------------- hash_inputs


@pytest.fixture()
def photo_set(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    files = []
    for i, name in enumerate(["cat.jpg", "dog.jpg", "car.jpg"]):
        (folder / name).write_bytes(bytes(range(i, i + 200)) * 50)
        files.append(folder / name)
    cats = tmp_path / "categories.csv"
    cats.write_text("image_id,category\ncat,animal\ndog,animal\ncar,nonanimal\n")
    return files, cats


def test_hash_inputs_describes_the_photos_and_the_categories(photo_set):
    files, cats = photo_set
    h = hash_inputs(files, cats)
    assert h["images"]["n_files"] == 3
    assert h["images"]["path"] == str(files[0].parent.absolute())
    assert h["categories"] == {"path": str(cats.absolute()), "sha256": hashlib.sha256(cats.read_bytes()).hexdigest()}
    assert len(h["images"]["sha256"]) == 64 and h["images"]["sha256"] == hash_inputs(files, cats)["images"]["sha256"]


def test_hash_inputs_does_not_depend_on_the_order_of_the_images(photo_set):
    files, cats = photo_set
    assert hash_inputs(files, cats) == hash_inputs(files[::-1], cats) == hash_inputs([files[1], files[2], files[0]],
                                                                                     cats)
    by_name = {p.name: p for p in files}
    assert hash_inputs(dict(reversed(by_name.items())), cats) == hash_inputs(files, cats)


def test_one_byte_of_one_image_changes_the_images_hash(photo_set):
    files, cats = photo_set
    before = hash_inputs(files, cats)
    data = bytearray(files[1].read_bytes())
    data[5000] ^= 1
    files[1].write_bytes(bytes(data))
    after = hash_inputs(files, cats)
    assert after["images"]["sha256"] != before["images"]["sha256"]
    assert after["categories"] == before["categories"]


def test_the_categories_file_changes_its_hash(photo_set):
    files, cats = photo_set
    before = hash_inputs(files, cats)
    cats.write_text(cats.read_text().replace("car,nonanimal", "car,animal"))
    after = hash_inputs(files, cats)
    assert after["categories"]["sha256"] != before["categories"]["sha256"]
    assert after["images"] == before["images"]


def test_names_are_hashed_too(photo_set):
    files, cats = photo_set
    before = hash_inputs(files, cats)
    renamed = {p.name: p for p in files}
    renamed["cow.jpg"] = renamed.pop("cat.jpg")  # same bytes, another name
    assert hash_inputs(renamed, cats)["images"]["sha256"] != before["images"]["sha256"]
    assert hash_inputs(files[:2], cats)["images"]["sha256"] != before["images"]["sha256"]


def test_hash_inputs_refuses_missing_files_and_no_images(photo_set, tmp_path):
    files, cats = photo_set
    with pytest.raises(InputError, match="file not found") as err:
        hash_inputs([*files, tmp_path / "photos" / "gone.jpg"], cats)
    assert err.value.path == str(tmp_path / "photos" / "gone.jpg")
    with pytest.raises(InputError, match="file not found") as err:
        hash_inputs(files, tmp_path / "nothing.csv")
    assert err.value.path == str(tmp_path / "nothing.csv")
    with pytest.raises(InputError, match="no image files"):
        hash_inputs([], cats)


def test_hashed_inputs_are_written_and_read_back(photo_set, tmp_path):
    files, cats = photo_set
    inputs = hash_inputs(files, cats)
    back = read_gains(write_gains(tmp_path / "gains.json", _gains(inputs=inputs)))
    assert back.inputs == inputs
