"""``reveal maps reliability`` and ``reveal maps compare`` end to end, on files written here."""
import numpy as np
import pandas as pd
import pytest

from reveal.core.mapfiles import write_maps
from reveal.cli.main import main
from reveal.stimuli.loaders import read_image
from reveal.stimuli.loaders.clickme import clicks_to_map
from reveal.stimuli.sample import write_sample_inputs

from .conftest import make_clicks, write_click_csv, write_click_npz


@pytest.fixture
def dumps(rng, tmp_path):
    ids = [f"n{i:04d}" for i in range(5)]
    clicks = make_clicks(rng, ids, n_participants={"n0004": 1}, spread=12)
    half = {i: dict(list(u.items())[:4]) for i, u in clicks.items()}
    rest = {i: dict(list(u.items())[4:]) for i, u in clicks.items() if len(u) > 4}
    cats = tmp_path / "categories.csv"
    pd.DataFrame({"image_id": ids, "category": ["animal", "animal", "nonanimal", "nonanimal", "animal"]}).to_csv(
        cats, index=False)
    return {"clicks": clicks, "csv": write_click_csv(tmp_path / "a.csv", half),
            "npz": write_click_npz(tmp_path / "b.npz", rest), "categories": cats}


def test_reliability_command(dumps, tmp_path, capsys):
    out = tmp_path / "rel"
    code = main(["maps", "reliability", "--clicks", str(dumps["csv"]), str(dumps["npz"]), "--out", str(out),
                 "--splits", "6", "--categories", str(dumps["categories"]), "--spearman-brown", "--no-progress"])
    assert code == 0
    table = pd.read_csv(out / "reliability.csv", keep_default_na=False, na_values=[""])
    assert {"reliability", "null", "reliability_sb", "null_sb", "scope", "image_id", "p_value"} <= set(table.columns)
    images = table[table["scope"] == "image"]
    assert sorted(images["image_id"]) == ["n0000", "n0001", "n0002", "n0003"]
    assert (images["n_participants"] == 8).all()  # the two files pooled by participant
    overall = table[table["scope"] == "overall"].iloc[0]
    assert overall["n_skipped"] == 1
    assert overall["reliability"] > overall["null"] + 0.2
    assert set(table.loc[table["scope"] == "category", "category"]) == {"animal", "nonanimal"}
    assert (out / "reliability.png").stat().st_size > 0
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert "reliability" in capsys.readouterr().out


def test_reliability_bad_input_is_a_clean_error(tmp_path, capsys, rng):
    lonely = write_click_csv(tmp_path / "one.csv", make_clicks(rng, ["x", "y"], 1))
    assert main(["maps", "reliability", "--clicks", str(lonely), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "one.csv" in err and "no split possible" in err
    bad = tmp_path / "bad.csv"
    bad.write_text('image_path,clicks,user_id\nim.png,"{(1,2)",u1\n')
    assert main(["maps", "reliability", "--clicks", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "bad.csv, row 1" in capsys.readouterr().err
    assert not (tmp_path / "o" / "reliability.csv").exists()


def test_compare_against_a_click_dump_uses_the_human_ceiling(dumps, tmp_path, rng):
    # a "model" that knows the true click density of each image, and one that is noise
    good, noise = tmp_path / "good", tmp_path / "noise"
    good.mkdir(), noise.mkdir()
    for image_id, users in dumps["clicks"].items():
        np.save(good / f"{image_id}.npy", clicks_to_map(list(users.values()), (256, 256))[::2, ::2])
        np.save(noise / f"{image_id}.npy", rng.random((256, 256)))
    out = tmp_path / "cmp"
    code = main(["maps", "compare", "--maps", f"good={good}", "--maps", f"noise={noise}",
                 "--reference", f"clickme={dumps['csv']}", "--splits", "4", "--resamples", "499",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    summary = pd.read_csv(out / "compare_summary.csv").set_index("source")
    assert summary.loc["good", "spearman"] > 0.8
    assert summary.loc["good", "p_value"] < 0.05
    assert abs(summary.loc["noise", "spearman"]) < 0.1
    ceiling = summary.loc["good", "ceiling"]
    assert 0 < ceiling < 1
    assert summary.loc["good", "fraction_of_ceiling"] == pytest.approx(summary.loc["good", "spearman"] / ceiling)
    per = pd.read_csv(out / "compare_per_image.csv")
    # the click dump's clicks, pooled over participants, are the points of NSS and the AUCs
    assert set(per["metric"]) == {"spearman", "cc", "sim", "kld", "nss", "auc_judd", "auc_shuffled"}
    assert summary.loc["good", "nss"] > summary.loc["noise", "nss"]
    assert (out / "reliability.csv").exists() and (out / "thumbnails.png").exists()


@pytest.mark.slow  # runs the bundled network over the sample (6 s): the full suite only
def test_compare_reads_attention_map_folders_next_to_the_sample_maps(tmp_path):
    # attention maps come from files (written here as reveal maps attention writes them); the
    # analysis runs no network
    sample = write_sample_inputs(tmp_path / "sample")
    rng = np.random.default_rng(7)
    photos = {p.stem: p for p in sample["images"].iterdir()}
    shapes = {i: read_image(p).shape[:2] for i, p in photos.items()}
    att = tmp_path / "att"
    write_maps(att, "net:smoothgrad", {i: rng.random(s) for i, s in shapes.items()}, {"kind": "smoothgrad"})
    write_maps(att, "net:activation", {i: rng.random(s) for i, s in shapes.items()}, {"kind": "activation"})
    out = tmp_path / "cmp"
    code = main(["maps", "compare", "--maps", f"fine_grained={sample['maps']['fine_grained']}",
                 "--reference", f"spectral_residual={sample['maps']['spectral_residual']}",
                 "--attention", str(att), "--images", str(sample["images"]),
                 "--ceiling", "0.58", "--resamples", "199", "--out", str(out)])
    assert code == 0
    summary = pd.read_csv(out / "compare_summary.csv")
    assert list(summary["source"]) == ["fine_grained", "net:smoothgrad", "net:activation"]
    assert summary["n_images"].eq(4).all()
    assert np.isfinite(summary["fraction_of_ceiling"]).all()
    html = (out / "report.html").read_text()
    assert "net:smoothgrad" in html and "data:image/png;base64," in html


def test_compare_refuses_maps_of_another_aspect_ratio(tmp_path, capsys):
    ref, other = tmp_path / "ref", tmp_path / "other"
    ref.mkdir(), other.mkdir()
    np.save(ref / "im.npy", np.random.default_rng(0).random((32, 32)))
    np.save(other / "im.npy", np.random.default_rng(1).random((32, 64)))
    assert main(["maps", "compare", "--maps", f"o={other}", "--reference", f"r={ref}",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "im.npy" in err and "aspect ratio" in err
    assert main(["maps", "compare", "--maps", "nonsense", "--reference", f"r={ref}",
                 "--out", str(tmp_path / "out")]) == 2
    assert "SOURCE=PATH" in capsys.readouterr().err


def test_compare_with_nothing_to_compare_or_a_bad_attention_folder(tmp_path, capsys):
    ref = tmp_path / "ref"
    ref.mkdir()
    np.save(ref / "im.npy", np.random.default_rng(0).random((32, 32)))
    assert main(["maps", "compare", "--reference", f"r={ref}", "--out", str(tmp_path / "out")]) == 2
    assert "nothing to compare" in capsys.readouterr().err
    assert main(["maps", "compare", "--attention", str(ref), "--reference", f"r={ref}",
                 "--out", str(tmp_path / "out")]) == 2
    assert "maps.json" in capsys.readouterr().err


def test_reliability_on_a_scheduler_from_the_option_or_the_environment(dumps, tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    from reveal.core import executors

    out = tmp_path / "rel"
    args = ["maps", "reliability", "--clicks", str(dumps["csv"]), "--out", str(out), "--no-progress"]
    assert main([*args, "--scheduler", "tcp://127.0.0.1:9", "--workers", "2"]) == 2
    assert "--workers 2" in capsys.readouterr().err
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", "1s")  # nothing listens on the discard port
    monkeypatch.setenv(executors.SCHEDULER_ENV, "tcp://127.0.0.1:9")
    assert main(args) == 2
    assert "no dask scheduler answered at tcp://127.0.0.1:9 within 1s" in capsys.readouterr().err
    assert not out.exists()
