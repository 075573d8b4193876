"""`reveal train`: a GALA run from files to a RUN folder, and the run as an observer of `reveal predict`."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reveal.cli.main import main

# real training of the bundled network's GALA blocks: the full suite, not the fast loop
pytestmark = pytest.mark.slow


def write_study(root, n, seed, size=256):
    """Photos with one disc (red: animal, blue: non-animal) at a random place; maps: a blob on the disc."""
    rng = np.random.default_rng(seed)
    for sub in ("images", "maps"):
        (root / sub).mkdir(parents=True)
    yy, xx = np.mgrid[:size, :size]
    rows = ["image_id,category"]
    for i in range(n):
        img = np.clip(128 + rng.normal(0, 20, (size, size, 1)), 0, 255).repeat(3, axis=2)
        cy, cx, r = *rng.uniform(40, size - 40, 2), rng.uniform(10, 16)
        animal = i % 2 == 1
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = (220, 30, 30) if animal else (30, 30, 220)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (1.5 * r) ** 2))
        Image.fromarray(img.astype(np.uint8)).save(root / "images" / f"s{i:02d}.png")
        Image.fromarray((255 * blob).astype(np.uint8)).save(root / "maps" / f"s{i:02d}.png")
        rows.append(f"s{i:02d},{'animal' if animal else 'nonanimal'}")
    (root / "categories.csv").write_text("\n".join(rows) + "\n")
    return root


def train(study, out, *extra):
    return main(["train", "--images", str(study / "images"), "--categories", str(study / "categories.csv"),
                 "--maps", f"human={study / 'maps'}", "--out", str(out), "--no-progress", "--device", "cpu", *extra])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return write_study(tmp_path_factory.mktemp("gala") / "study", 24, seed=2)


def test_a_run_is_written_and_runs_through_the_experiment(study, tiny_set, tmp_path, capsys):
    run = tmp_path / "run"
    assert train(study, run, "--epochs", "2", "--lambda", "2", "--lr", "1e-2", "--batch-size", "8") == 0
    printed = capsys.readouterr().out
    assert "held-out: accuracy" in printed and "map Spearman" in printed
    for name in ("weights.pt", "run.json", "log.csv", "heldout.csv", "heldout_per_image.csv", "heldout.png"):
        assert (run / name).is_file(), name
    assert not (run / "checkpoint.pt").exists()
    record = json.loads((run / "run.json").read_text())
    assert record["gala_layers"] == [f"blocks.{k}.dense" for k in range(5, 11)]
    assert record["label_kind"] == "animal" and record["epochs"] == 2 and record["config"]["lam"] == 2.0
    assert sum(len(v) for v in record["image_ids"].values()) == 24 and record["n_without_maps"] == 0
    assert len(record["inputs"]["maps"]["sha256"]) == 64
    log = pd.read_csv(run / "log.csv")
    assert list(log["epoch"]) == [1, 2] and np.isfinite(log[["train_ce", "train_map", "val_ce"]]).all().all()
    held = pd.read_csv(run / "heldout.csv").iloc[0]
    assert held["n_images"] == len(record["image_ids"]["test"]) and 0 <= held["accuracy"] <= 1

    # the trained network is an observer: reveal predict --model RUN/
    out = tmp_path / "pred.csv"
    assert main(["predict", "--stimuli", str(tiny_set), "--model", str(run), "--device", "cpu", "--no-progress",
                 "--out", str(out)]) == 0
    pred = pd.read_csv(out)
    assert (pred["observer"] == "efficientnet_lite0+gala(run)").all() and len(pred) == 12

    # its attention maps (Â at image size, the mean over the blocks), scored against the human maps
    att = tmp_path / "att"
    assert main(["maps", "attention", "--model", str(run), "--kinds", "gala", "--images", str(study / "images"),
                 "--out", str(att)]) == 0
    (found,) = att.glob("*/s00.npy")
    m = np.load(found)
    assert m.shape == (256, 256) and np.isfinite(m).all() and m.max() > 0
    assert main(["maps", "compare", "--reference", f"human={study / 'maps'}", "--attention", str(att),
                 "--resamples", "99", "--out", str(tmp_path / "cmp")]) == 0
    summary = pd.read_csv(tmp_path / "cmp" / "compare_summary.csv")
    assert list(summary["source"]) == ["efficientnet_lite0+gala(run):gala"]
    assert main(["maps", "attention", "--model", "efficientnet_lite0", "--kinds", "gala", "--images",
                 str(study / "images"), "--out", str(tmp_path / "att2")]) == 2
    assert "has no GALA blocks" in capsys.readouterr().err

    # a finished run is not trained over without --overwrite; --epochs 0 is the pretrained network itself
    assert train(study, run, "--epochs", "0") == 2
    assert "give --overwrite" in capsys.readouterr().err
    assert train(study, run, "--epochs", "0", "--overwrite") == 0
    assert json.loads((run / "run.json").read_text())["epochs"] == 0
    initial = tmp_path / "initial.csv"
    plain = tmp_path / "plain.csv"
    for model, path in ((str(run), initial), ("efficientnet_lite0", plain)):
        assert main(["predict", "--stimuli", str(tiny_set), "--model", model, "--device", "cpu", "--no-progress",
                     "--out", str(path)]) == 0
    delta = pd.read_csv(initial)["p_animal"].to_numpy() - pd.read_csv(plain)["p_animal"].to_numpy()
    assert np.abs(delta).max() <= 1e-5


def test_bad_run_inputs_are_named_errors(study, tiny_set, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    assert train(study, mine, "--epochs", "0") == 2
    assert "not empty and not a run folder" in capsys.readouterr().err and (mine / "notes.txt").read_text() == "keep"
    strange = tmp_path / "strange"
    strange.mkdir()
    for p in (study / "maps").iterdir():
        (strange / p.name).write_bytes(p.read_bytes())
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(strange / "zz99.png")
    code = main(["train", "--images", str(study / "images"), "--categories", str(study / "categories.csv"),
                 "--maps", f"human={strange}", "--out", str(tmp_path / "r1"), "--epochs", "0", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "maps for 1 image(s) that are not in the categories file: zz99" in err
    assert not (tmp_path / "r1").exists()
    cats = tmp_path / "cats.csv"
    cats.write_text((study / "categories.csv").read_text() + "ghost,animal\n")
    code = main(["train", "--images", str(study / "images"), "--categories", str(cats), "--maps",
                 f"human={study / 'maps'}", "--out", str(tmp_path / "r2"), "--epochs", "0", "--no-progress"])
    assert code == 2 and "have no photograph" in capsys.readouterr().err
    few = write_study(tmp_path / "few", 8, seed=3)
    assert train(few, tmp_path / "r3", "--epochs", "0") == 2
    assert "too few training images: 10 needed, 6 given (8 images in all; give at least 14)" in capsys.readouterr().err
    assert not (tmp_path / "r3").exists()
    # a run whose weights are damaged
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run.json").write_text(json.dumps({"model": "efficientnet_lite0", "gala_layers": ["blocks.7.dense"],
                                                 "residual": True, "reduction": 4}))
    (broken / "weights.pt").write_bytes(b"not a torch file")
    code = main(["predict", "--stimuli", str(tiny_set), "--model", str(broken), "--device", "cpu", "--no-progress",
                 "--out", str(tmp_path / "p.csv")])
    err = capsys.readouterr().err
    assert code == 2 and str(broken / "weights.pt") in err and "Traceback" not in err


def test_a_lambda_sweep_and_two_runs_compared(study, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    args = ["--lambda", "0,2", "--epochs", "1", "--lr", "1e-2", "--batch-size", "8"]
    assert train(study, sweep, *args) == 0
    table = pd.read_csv(sweep / "lambda_sweep.csv")
    assert list(table["lambda"]) == [0.0, 2.0] and list(table["run"]) == ["lambda-0", "lambda-2"]
    assert (sweep / "lambda_sweep.png").stat().st_size > 1000
    assert json.loads((sweep / "lambda-2" / "run.json").read_text())["config"]["lam"] == 2.0
    capsys.readouterr()
    # a rerun (after a kill, say) keeps the finished values instead of training them again
    assert train(study, sweep, *args) == 0
    assert capsys.readouterr().out.count("kept the finished run") == 2
    assert main(["train", "compare", str(sweep / "lambda-0"), str(sweep / "lambda-2"), "--resamples", "199"]) == 0
    out = capsys.readouterr().out
    assert "map_spearman" in out and "accuracy" in out and "test images" in out
    # a results file cut short is named, not taken for a run tested on other images
    cut = tmp_path / "cut"
    shutil.copytree(sweep / "lambda-2", cut)
    lines = (cut / "heldout_per_image.csv").read_text().splitlines()
    (cut / "heldout_per_image.csv").write_text("\n".join(lines[:2]) + "\n")
    assert main(["train", "compare", str(sweep / "lambda-0"), str(cut)]) == 2
    err = capsys.readouterr().err
    assert str(cut / "heldout_per_image.csv") in err and "holds 1 of the run's" in err and "cut short" in err
    # runs tested on other images cannot be compared image by image
    other = write_study(tmp_path / "other", 24, seed=9)
    for p in (other / "images").iterdir():
        p.rename(p.with_name("o" + p.name))
    for p in (other / "maps").iterdir():
        p.rename(p.with_name("o" + p.name))
    (other / "categories.csv").write_text((other / "categories.csv").read_text().replace("\ns", "\nos"))
    assert train(other, tmp_path / "o", "--epochs", "0") == 0
    assert main(["train", "compare", str(sweep / "lambda-0"), str(tmp_path / "o")]) == 2
    assert "tested on different images" in capsys.readouterr().err
    assert main(["train", "--epochs", "1"]) == 2
    assert "needs --images, --categories, --maps, --out" in capsys.readouterr().err


def test_the_papers_controls_from_the_command_line(study, tiny_set, tmp_path, capsys):
    assert train(study, tmp_path / "x", "--no-gala", "--freeze", "backbone") == 2
    assert "--no-gala trains the network's own layers: drop --freeze backbone" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    runs = {"activity": ("--no-gala", "--maps-as", "boxes"), "scratch": ("--from-scratch", "--precision", "bfloat16")}
    for name, extra in runs.items():
        assert train(study, tmp_path / name, "--epochs", "1", "--lr", "1e-4", "--batch-size", "8", *extra) == 0
    printed = capsys.readouterr().out
    assert "activity maps (no GALA) at blocks.5.dense" in printed and "targets: boxes" in printed
    assert "(random weights)" in printed
    activity = json.loads((tmp_path / "activity" / "run.json").read_text())
    assert activity["blocks"] == "activity" and activity["config"]["maps_as"] == "boxes"
    assert activity["config"]["freeze"] == "none" and activity["residual"] and not activity["from_scratch"]
    assert not activity["config"]["mixed_precision"]  # auto: float32 on the CPU
    scratch = json.loads((tmp_path / "scratch" / "run.json").read_text())
    assert scratch["from_scratch"] and not scratch["residual"] and scratch["config"]["train_mode"]
    assert scratch["config"]["mixed_precision"]
    for name in runs:  # each is an observer of the experiment
        out = tmp_path / f"{name}.csv"
        assert main(["predict", "--stimuli", str(tiny_set), "--model", str(tmp_path / name), "--device", "cpu",
                     "--no-progress", "--out", str(out)]) == 0
        assert pd.read_csv(out)["p_animal"].between(0, 1).all()
    assert pd.read_csv(tmp_path / "activity.csv")["observer"].iloc[0] == "efficientnet_lite0+activity(activity)"
