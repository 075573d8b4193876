"""`reveal maps teacher fit | predict`: the teacher from files to files (reveal.models.teacher_files)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage as ndi

from reveal.cli.main import main

# a real fit of the bundled network's features (about 100 s on 2 cores): the full suite, not the fast loop
pytestmark = pytest.mark.slow


def write_study(root, n, seed, size=(72, 96)):
    """Photos with red and blue discs; "human" maps: blobs on the red discs only, a weak centre bias,
    noise (a known rule of image content the teacher must learn)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "maps").mkdir()
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    rows = ["image_id,category"]
    for i in range(n):
        img = (ndi.gaussian_filter(rng.random((h, w, 3)), (2, 2, 0)) * 120 + 60).astype(np.uint8)
        m = 0.1 * np.exp(-((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / (2 * (h / 3) ** 2))
        for k in range(int(rng.integers(1, 4))):
            cy, cx, r = int(rng.integers(10, h - 10)), int(rng.integers(10, w - 10)), int(rng.integers(5, 9))
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            red = k == 0 or rng.random() < 0.5
            img[disc] = (220, 30, 30) if red else (30, 30, 220)
            if red:
                m += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.8 * r) ** 2))
        m = ndi.gaussian_filter(m + 0.03 * rng.random((h, w)), 1.5)
        Image.fromarray(img).save(root / "images" / f"p{seed}_{i:02d}.png")
        Image.fromarray((m / m.max() * 255).astype(np.uint8)).save(root / "maps" / f"p{seed}_{i:02d}.png")
        rows.append(f"p{seed}_{i:02d},{'animal' if i % 2 else 'nonanimal'}")
    (root / "categories.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher")
    study = write_study(root / "study", 40, seed=1)
    out = root / "T"
    code = main(["maps", "teacher", "fit", "--maps", f"human={study / 'maps'}", "--images", str(study / "images"),
                 "--max-epochs", "40", "--resamples", "99", "--no-progress", "--out", str(out)])
    assert code == 0
    return study, out


def test_fit_writes_the_teacher_and_beats_the_centre_bias_on_held_out_images(fitted, capsys):
    study, out = fitted
    for name in ("weights.pt", "config.json", "log.csv", "provenance.json", "heldout.csv",
                 "heldout/report.html", "heldout_maps/maps.json"):
        assert (out / name).is_file(), name
    prov = json.loads((out / "provenance.json").read_text())
    test_ids = prov["image_ids"]["test"]
    assert set(test_ids).isdisjoint(prov["image_ids"]["train"]) and len(test_ids) >= 5
    assert len(prov["maps"]["sha256"]) == 64 and prov["network"] == "efficientnet_lite0"
    scores = pd.read_csv(out / "heldout.csv").set_index("source")
    assert list(scores.index) == ["teacher", "centre_bias", "efficientnet_lite0:activation_norm"]
    assert (scores["n_images"] == len(test_ids)).all()
    # the rule (red discs, not blue, anywhere) is learnt: measured cc 0.9+ against 0.4 for the centre bias
    assert scores.loc["teacher", "cc"] > scores.loc["centre_bias", "cc"] + 0.3
    assert scores.loc["teacher", "kld"] < scores.loc["centre_bias", "kld"]
    log = pd.read_csv(out / "log.csv")
    assert log["val_loss"].iloc[-1] < log["val_loss"].iloc[0]


def test_predicted_maps_build_a_stimulus_set_that_records_the_teacher(fitted, tmp_path):
    study, teacher = fitted
    new = write_study(tmp_path / "new", 4, seed=2)
    maps = tmp_path / "maps"
    assert main(["maps", "teacher", "predict", "--teacher", str(teacher), "--images", str(new / "images"),
                 "--out", str(maps)]) == 0
    index = json.loads((maps / "maps.json").read_text())
    entry = index["sources"]["teacher"]
    assert sorted(entry["images"]) == [f"p2_{i:02d}" for i in range(4)] and entry["images"]["p2_00"] == [72, 96]
    sha = entry["parameters"]["teacher_sha256"]
    import hashlib

    assert sha == hashlib.sha256((teacher / "weights.pt").read_bytes()).hexdigest()
    # the maps put their mass on the red discs: more than the human maps' share off them would allow by chance
    m = np.load(maps / "teacher" / "p2_00.npy")
    img = np.asarray(Image.open(new / "images" / "p2_00.png"))
    red = (img[..., 0] > 200) & (img[..., 2] < 60)
    assert m[red].mean() > 3 * m[~red].mean()
    out = tmp_path / "set"
    assert main(["stimuli", "build", "--images", str(new / "images"), "--maps", f"teacher={maps}", "--categories",
                 str(new / "categories.csv"), "--size", "64", "--no-progress", "--out", str(out)]) == 0
    meta = json.loads((out / "stimset.json").read_text())
    assert meta["map_provenance"]["teacher"]["parameters"]["teacher_sha256"] == sha


def test_bad_teacher_inputs_are_named_errors(fitted, tmp_path, capsys):
    study, teacher = fitted
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    code = main(["maps", "teacher", "fit", "--maps", f"human={study / 'maps'}", "--images", str(study / "images"),
                 "--out", str(foreign)])
    err = capsys.readouterr().err
    assert code == 2 and "not empty and not a teacher folder" in err
    assert (foreign / "notes.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["maps", "teacher", "fit", "--maps", f"human={study / 'maps'}", "--images", str(empty),
                 "--out", str(tmp_path / "T2")]) == 2
    assert "no photographs" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "provenance.json", "log.csv"):
        (broken / name).write_bytes((teacher / name).read_bytes())
    (broken / "weights.pt").write_bytes((teacher / "weights.pt").read_bytes()[:100])
    assert main(["maps", "teacher", "predict", "--teacher", str(broken), "--images", str(study / "images"),
                 "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert str(broken / "weights.pt") in err and "Traceback" not in err and not (tmp_path / "m").exists()


def write_click_dump(study, participants, clicks, seed):
    """A ClickMe click dump of a study's images (256 x 256): each participant clicks ``clicks`` times where
    the study's map is high (drawn from the map squared), as [x, y] in the dump's text format."""
    rng = np.random.default_rng(seed)
    rows = ["image_path,clicks,user_id,timestamp"]
    for path in sorted((study / "maps").glob("*.png")):
        m = np.asarray(Image.open(path), dtype=np.float64) ** 2
        for u in range(participants):
            flat = rng.choice(m.size, size=clicks, p=(m / m.sum()).ravel())
            ys, xs = np.unravel_index(flat, m.shape)
            text = "{" + ",".join(f'""({x},{y})""' for x, y in zip(xs, ys)) + "}"
            rows.append(f'train/{path.stem}.JPEG,"{text}",u{u},2017-01-01 00:00:00')
    dump = study / "clicks.csv"
    dump.write_text("\n".join(rows) + "\n")
    return dump


def test_a_click_dump_is_fitted_by_the_clicks_log_likelihood_and_scored_against_the_human_ceiling(tmp_path,
                                                                                                 capsys):
    study = write_study(tmp_path / "study", 40, seed=3, size=(256, 256))
    dump = write_click_dump(study, participants=6, clicks=10, seed=4)
    out = tmp_path / "T"
    assert main(["maps", "teacher", "fit", "--maps", f"clickme={dump}", "--images", str(study / "images"),
                 "--max-epochs", "40", "--resamples", "99", "--device", "cpu", "--no-progress",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["loss"] == "log-likelihood"
    assert "bits/point over a uniform map" in printed and "human split-half ceiling" in printed
    scores = pd.read_csv(out / "heldout.csv").set_index("source")
    # the clicks give NSS and AUC (pooled over participants) and the split-half ceiling
    for metric in ("nss", "auc_judd", "fraction_of_ceiling"):
        assert np.isfinite(scores[metric]).all(), metric
    assert scores.loc["teacher", "nss"] > scores.loc["centre_bias", "nss"] + 0.5
    assert scores.loc["teacher", "auc_judd"] > scores.loc["centre_bias", "auc_judd"]
    assert scores.loc["teacher", "fraction_of_ceiling"] > scores.loc["centre_bias", "fraction_of_ceiling"]
    assert (out / "heldout" / "reliability.csv").is_file()
    # a map folder cannot be fitted by a log-likelihood of points it does not have
    code = main(["maps", "teacher", "fit", "--maps", f"human={study / 'maps'}", "--images", str(study / "images"),
                 "--loss", "log-likelihood", "--out", str(tmp_path / "T2")])
    err = capsys.readouterr().err
    assert code == 2 and "needs points" in err and not (tmp_path / "T2").exists()
