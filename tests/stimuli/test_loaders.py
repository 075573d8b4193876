import csv
import json

import numpy as np
import pytest
from PIL import Image
from scipy import io as sio

from reveal.core.errors import InputError
from reveal.stimuli.loaders import (clicks_to_map, fixation_map, open_map_source, read_click_csv, read_click_npz,
                             read_map_file, read_salicon_json, read_salicon_mat)
from reveal.stimuli.loaders.clickme import blur_click_map, count_map, disk_kernel, parse_clicks

CLICKS = {  # image_path -> user -> [(x, y), ...]
    "imgs/n01_cat.JPEG": {"u1": [(10, 20), (11, 20), (200, 100)], "u2": [(10, 21)]},
    "imgs/n02_car.JPEG": {"u1": [(128, 128)], "u3": [(0, 255), (255, 0)]},
}


def _pg_array(points):
    return "{" + ",".join(f'"({x},{y})"' for x, y in points) + "}"


def write_click_csv(path, clicks=CLICKS):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["image_path", "clicks", "user_id", "timestamp"])
        for image_path, users in clicks.items():
            for user, pts in users.items():
                w.writerow([image_path, _pg_array(pts), user, "2017-01-01 00:00:00"])
    return path


def write_click_npz(path, clicks=CLICKS):
    files, xs, ys, users = [], [], [], []
    for image_path, per_user in clicks.items():
        for user, pts in per_user.items():
            files.append(image_path)
            xs.append(np.array([p[0] for p in pts]))
            ys.append(np.array([p[1] for p in pts]))
            users.append(user)
    np.savez(path, file_pointer=np.array(files), clickmap_x=np.concatenate(xs), clickmap_y=np.concatenate(ys),
             clicks_per_trial=np.array([len(x) for x in xs]), user_id=np.array(users))
    return path


class _Exploit:
    def __reduce__(self):
        return (open, ("/tmp/reveal-pwned", "w"))


def test_pickled_click_dump_is_refused_and_never_unpickled(tmp_path):
    import os

    marker = "/tmp/reveal-pwned"
    if os.path.exists(marker):
        os.unlink(marker)
    evil = np.array([_Exploit(), _Exploit()], dtype=object)
    path = tmp_path / "dump.npz"
    np.savez(path, file_pointer=np.array(["a", "b"]), clickmap_x=evil, clickmap_y=evil, user_id=np.array([1, 2]))
    with pytest.raises(InputError, match="pickled") as err:
        read_click_npz(path)
    assert err.value.path == str(path)
    assert not os.path.exists(marker)


@pytest.mark.parametrize("payload", [b"", b"PK\x03\x04 truncated", b"not a zip at all"])
def test_broken_npz_is_a_named_error(tmp_path, payload):
    path = tmp_path / "c.npz"
    path.write_bytes(payload)
    with pytest.raises(InputError) as err:
        read_click_npz(path)
    assert err.value.path == str(path)


def test_npz_with_counts_not_matching_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, file_pointer=np.array(["a"]), clickmap_x=np.array([1.0, 2.0]), clickmap_y=np.array([1.0]),
             clicks_per_trial=np.array([2]), user_id=np.array([1]))
    with pytest.raises(InputError, match="sum"):
        read_click_npz(path)


def test_parse_postgres_point_arrays():
    assert parse_clicks('{"(1,2)","(30,4)"}').tolist() == [[1, 2], [30, 4]]
    assert parse_clicks("{}").shape == (0, 2)
    with pytest.raises(ValueError):
        parse_clicks("(1,2)")
    with pytest.raises(ValueError):
        parse_clicks('{"(1,2)",oops}')


def test_click_csv_round_trip_gives_counts_and_the_map(tmp_path):
    dump = read_click_csv(write_click_csv(tmp_path / "clicks.csv"))
    assert dump.image_ids() == ["n01_cat", "n02_car"]
    assert dump.participants("n01_cat") == ["u1", "u2"]
    counts = dump.count_maps("n01_cat")
    assert counts.shape == (2, 256, 256)
    assert counts[0, 20, 10] == 1 and counts[0, 20, 11] == 1 and counts[0, 100, 200] == 1  # x -> column
    assert counts[1, 21, 10] == 1 and counts.sum() == 4
    expected = blur_click_map(counts.mean(axis=0))
    assert np.allclose(dump.map("n01_cat"), expected)
    # zero far from every click (exactly: "non-zero" is what counts as important)
    assert dump.map("n02_car")[60:100, 60:100].max() == 0
    assert (dump.map("n02_car") >= 0).all()


def test_click_npz_equals_csv(tmp_path):
    a = read_click_csv(write_click_csv(tmp_path / "c.csv"))
    b = read_click_npz(write_click_npz(tmp_path / "c.npz"))
    assert a.image_ids() == b.image_ids()
    for i in a.image_ids():
        assert np.array_equal(a.map(i), b.map(i))


def test_disk_blur_is_normalised_and_has_diameter_21():
    k = disk_kernel()
    assert k.shape == (21, 21) and np.isclose(k.sum(), 1) and k[10, 0] > 0 and k[0, 0] == 0
    one = count_map(np.array([[50, 60]]), (128, 128))
    blurred = clicks_to_map([np.array([[50, 60]])], (128, 128))
    assert np.isclose(blurred.sum(), 1) and np.argmax(blurred) == np.argmax(one)


def test_clicks_outside_the_image_are_dropped_and_counted(tmp_path):
    path = write_click_csv(tmp_path / "c.csv", {"a.jpg": {"u": [(5, 5), (300, 5), (-1, 2)]}})
    dump = read_click_csv(path)
    assert dump.dropped == 2 and dump.count_maps("a").sum() == 1


def test_bad_click_dumps_name_file_and_row(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('image_path,clicks,user_id\na.jpg,"{""(1,2)""}",u\nb.jpg,not-an-array,u\n')
    with pytest.raises(InputError, match=r"bad.csv, row 2"):
        read_click_csv(bad)
    cols = tmp_path / "cols.csv"
    cols.write_text("image,clicks\n")
    with pytest.raises(InputError, match="missing column"):
        read_click_csv(cols)


def _write_mat(path, observers_xy, resolution=(48, 64)):
    gaze = np.zeros((len(observers_xy),), dtype=[("location", object), ("timestamp", object), ("fixations", object)])
    for i, fx in enumerate(observers_xy):
        gaze[i] = (np.array(fx, dtype=float), np.arange(len(fx)), np.array(fx, dtype=float))
    sio.savemat(path, {"image": path.stem, "resolution": np.array(resolution), "gaze": gaze})
    return path


def test_salicon_mat_is_xy_one_based(tmp_path):
    # observer 1 fixates x=1,y=1 (top-left pixel) and x=64,y=2; observer 2 x=10,y=48
    path = _write_mat(tmp_path / "COCO_val2014_000000000001.mat", [[[1, 1], [64, 2]], [[10, 48]]])
    fix, shape = read_salicon_mat(path)
    assert shape == (48, 64)
    assert sorted(map(tuple, fix.tolist())) == [(0, 0), (1, 63), (47, 9)]  # [row, col], 0-based
    m = fixation_map(fix, shape)
    assert m.max() == 1 and m.min() == 0 and m.shape == (48, 64)


def test_salicon_json_is_row_col_one_based(tmp_path):
    ann = {"images": [{"id": 7, "file_name": "COCO_train2014_000000000007.jpg", "width": 64, "height": 48}],
           "annotations": [{"image_id": 7, "worker_id": 1, "fixations": [[1, 1], [2, 64]]},
                           {"image_id": 7, "worker_id": 2, "fixations": [[48, 10], [49, 1]]}]}  # last: outside
    path = tmp_path / "fixations_train2014.json"
    path.write_text(json.dumps(ann))
    out = read_salicon_json(path)
    fix, shape = out["COCO_train2014_000000000007"]
    assert shape == (48, 64)
    assert sorted(map(tuple, fix.tolist())) == [(0, 0), (1, 63), (47, 9)]


def test_mat_and_json_give_the_same_map_for_the_same_fixations(tmp_path):
    fix_xy = [[5, 7], [30, 20], [60, 40]]
    (tmp_path / "mats").mkdir()
    _write_mat(tmp_path / "mats" / "img1.mat", [fix_xy])
    ann = {"images": [{"id": 1, "file_name": "img1.jpg", "width": 64, "height": 48}],
           "annotations": [{"image_id": 1, "fixations": [[y, x] for x, y in fix_xy]}]}
    (tmp_path / "f.json").write_text(json.dumps(ann))
    a = open_map_source("salicon", tmp_path / "mats").refs["img1"].load()
    b = open_map_source("salicon", tmp_path / "f.json").refs["img1"].load()
    assert np.allclose(a, b)


def test_map_folders_by_stem_png_and_npy(tmp_path):
    rng = np.random.default_rng(0)
    arr = (rng.random((20, 30)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    np.save(tmp_path / "b.npy", arr.astype(np.float32) / 255)
    src = open_map_source("any", tmp_path)
    assert set(src.refs) == {"a", "b"}
    assert np.array_equal(src.refs["a"].load(), arr.astype(float))
    assert np.allclose(src.refs["b"].load(), arr / 255, atol=1e-6)
    rgb = np.stack([arr] * 3, axis=2)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    assert read_map_file(tmp_path / "c.png").shape == (20, 30)


def test_unknown_or_missing_map_sources_are_clear(tmp_path):
    with pytest.raises(InputError, match="not found"):
        open_map_source("x", tmp_path / "nope")
    (tmp_path / "m.txt").write_text("hello")
    with pytest.raises(InputError, match="unknown map format"):
        open_map_source("x", tmp_path / "m.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no map files"):
        open_map_source("x", tmp_path / "empty")
