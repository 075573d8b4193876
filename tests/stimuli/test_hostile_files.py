"""Hostile or odd input files: each is a correct result or an InputError naming the file."""
import io
import json
import struct
import zlib

import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from reveal.core.errors import InputError
from reveal.stimuli.loaders import read_image, read_map_file, read_salicon_json, read_salicon_mat


def test_16_bit_photo_is_scaled_not_clipped_to_white(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    img = read_image(tmp_path / "g16.png")
    assert img.dtype == np.uint8 and img.shape == (64, 64, 3)
    assert img.min() == 0 and img.max() == 255
    assert abs(img[..., 0].mean() - 127.5) < 1  # the ramp's middle, not a white image
    assert (img[..., 0] == 255).mean() < 0.01


def _png_claiming(width, height):
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])))
    return bytes(data)


@pytest.mark.parametrize("reader", [read_image, read_map_file])
@pytest.mark.parametrize("side", [12_000, 60_000])  # under Pillow's own refusal (it only warns), over it
def test_decompression_bomb_is_refused_before_decoding(tmp_path, reader, side):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(side, side))
    with pytest.raises(InputError, match="over the limit|decompression bomb") as err:
        reader(path)
    assert err.value.path == str(path)


@pytest.mark.parametrize("array", [np.ones((8, 8), complex), np.full((8, 8), "x"),
                                   np.ones((2, 8, 8)), np.array([[1.0, np.nan]])])
def test_npy_maps_that_are_not_real_2d_are_refused(tmp_path, array):
    path = tmp_path / "m.npy"
    np.save(path, array)
    try:
        out = read_map_file(path)
    except InputError as err:
        assert err.path == str(path)
    else:  # a NaN map reads; the build refuses it later with its own check
        assert out.shape == array.shape and not np.isfinite(out).all()


@pytest.mark.parametrize("fixations", [np.ones((5, 3)), np.array(["a", "b"], dtype=object)])
def test_salicon_mat_fixations_must_be_n_by_2(tmp_path, fixations):
    path = tmp_path / "COCO_val2014_000000000001.mat"
    sio.savemat(path, {"gaze": {"location": np.ones((4, 2)), "fixations": fixations},
                       "resolution": np.array([480, 640])})
    with pytest.raises(InputError, match="N×2|not numbers") as err:
        read_salicon_mat(path)
    assert err.value.path == str(path)


def test_salicon_mat_single_fixation_reads(tmp_path):
    path = tmp_path / "one.mat"
    sio.savemat(path, {"gaze": {"fixations": np.array([[10.0, 20.0]])}, "resolution": np.array([480, 640])})
    fx, shape = read_salicon_mat(path)
    assert fx.tolist() == [[19, 9]] and shape == (480, 640)


@pytest.mark.parametrize("payload", [
    b"\xff\xfe not utf-8",
    json.dumps({"images": "nope", "annotations": []}).encode(),
    json.dumps({"images": [{"id": 1}], "annotations": []}).encode(),
    json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 4}],
                "annotations": [{"image_id": [1]}]}).encode(),
    json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 4}],
                "annotations": [{"image_id": 1, "fixations": [[1, 2, 3]]}]}).encode(),
])
def test_odd_salicon_json_is_a_named_error(tmp_path, payload):
    path = tmp_path / "fixations.json"
    path.write_bytes(payload)
    with pytest.raises(InputError) as err:
        read_salicon_json(path)
    assert err.value.path == str(path)


@pytest.mark.parametrize("payload", [
    "image_path,clicks,user_id\nn01_cat.png,\"{\"\"(1,2)\"\"}\",u1\n".encode("utf-16"),
    b"image_path,clicks,user_id\nn01\xff\xfe.png,{},u1\n",
    b"image_path,clicks,user_id\nn01_cat.png,{\x00},u1\n",
    b"",
])
def test_click_csv_that_is_not_utf8_or_not_csv_is_a_named_error(tmp_path, payload):
    from reveal.stimuli.loaders import read_click_csv

    path = tmp_path / "clicks.csv"
    path.write_bytes(payload)
    with pytest.raises(InputError) as err:
        read_click_csv(path)
    assert err.value.path == str(path)
