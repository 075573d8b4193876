"""The maps pipeline as Python calls: reliability() and compare() return results and write outputs."""
import numpy as np
import pandas as pd
import pytest

from reveal.core.mapfiles import write_maps
from reveal.analysis.maps.metrics import nss
from reveal.analysis.maps.pipeline import compare, open_executor, reliability
from reveal.core.categories import read_categories
from reveal.core.errors import InputError
from reveal.stimuli.loaders.clickme import clicks_to_map

from .conftest import make_clicks, write_click_csv


@pytest.fixture
def dump(rng, tmp_path):
    clicks = make_clicks(rng, [f"n{i:04d}" for i in range(4)], spread=12)
    return clicks, write_click_csv(tmp_path / "clicks.csv", clicks)


@pytest.mark.slow  # the pipeline's files (5 s); the numbers are test_reliability's, in the everyday loop
def test_reliability_returns_the_table_and_writes_only_when_asked(dump, tmp_path):
    clicks, path = dump
    report = reliability(path, splits=4, seed=1, categories={i: "animal" for i in clicks})
    assert report.paths == {}
    assert report.overall["n_images"] == 4 and report.overall["reliability"] > report.overall["null"]
    assert set(report.table["scope"]) == {"image", "category", "overall"}
    out = tmp_path / "rel"
    written = reliability([path], out, splits=4, seed=1, command="reveal maps reliability ...")
    np.testing.assert_allclose(pd.read_csv(written.paths["reliability"])["reliability"],
                               written.table["reliability"])
    assert written.overall["reliability"] == pytest.approx(report.overall["reliability"])
    assert "reveal maps reliability ..." in written.paths["report"].read_text()
    with open_executor(workers=2) as executor:
        parallel = reliability(path, splits=4, seed=1, executor=executor)
    assert parallel.overall["reliability"] == pytest.approx(report.overall["reliability"])


def test_reliability_bad_input(dump, tmp_path):
    _, path = dump
    with pytest.raises(InputError, match="splits"):
        reliability(path, splits=0)
    with pytest.raises(InputError, match="no click dump"):
        reliability([])
    bad = tmp_path / "cats.csv"
    bad.write_text("image_id,label\nn0000,animal\n")
    with pytest.raises(InputError, match="image_id and category") as err:
        read_categories(bad)
    assert err.value.path == str(bad)


@pytest.mark.slow  # (4 s) the CLI's compare test stays in the everyday loop
def test_compare_reads_attention_folders_and_ranks_the_sources(dump, tmp_path, rng):
    clicks, path = dump
    good = {i: clicks_to_map(list(u.values()), (256, 256)) for i, u in clicks.items()}
    noise = {i: rng.random((256, 256)) for i in clicks}
    att = tmp_path / "att"
    write_maps(att, "model:good", good)
    write_maps(att, "model:noise", noise)
    report = compare(("clickme", path), attention=[att], splits=4, resamples=199, seed=0)
    assert report.paths == {}
    summary = report.summary.set_index("source")
    assert list(summary.index) == ["model:good", "model:noise"]
    assert summary.loc["model:good", "spearman"] > 0.8 > abs(summary.loc["model:noise", "spearman"]) + 0.7
    assert 0 < report.ceiling < 1 and report.reliability is not None
    assert summary.loc["model:good", "fraction_of_ceiling"] == pytest.approx(
        summary.loc["model:good", "spearman"] / report.ceiling)
    # a click dump's clicks, pooled over participants, are the points of NSS and the AUCs ([x, y] -> [row, col])
    assert summary.loc["model:good", "nss"] > summary.loc["model:noise", "nss"] + 1
    assert summary.loc["model:good", "auc_judd"] > 0.8 > summary.loc["model:noise", "auc_judd"]
    first = sorted(clicks)[0]
    pooled = np.concatenate([pts[:, ::-1] for pts in clicks[first].values()])
    per = report.per_image
    got = per[(per["source"] == "model:good") & (per["image_id"] == first) & (per["metric"] == "nss")]["value"]
    assert got.item() == pytest.approx(nss(good[first], pooled))

    # the same maps as a plain folder under --maps, and the outputs written
    out = tmp_path / "cmp"
    again = compare(("clickme", path), {"good": att / "model_good"}, out, ceiling=0.5, resamples=199)
    assert again.ceiling == 0.5 and again.reliability is None
    assert again.summary.set_index("source").loc["good", "spearman"] == pytest.approx(
        summary.loc["model:good", "spearman"], abs=1e-6)
    assert {p.name for p in out.iterdir()} == {"compare_per_image.csv", "compare_summary.csv", "thumbnails.png",
                                               "report.html", ".reveal-outputs.json"}


def test_compare_bad_input(dump, tmp_path):
    _, path = dump
    with pytest.raises(InputError, match="nothing to compare"):
        compare(("clickme", path))
    att = tmp_path / "att"
    write_maps(att, "clickme", {"n0000": np.ones((8, 8))})
    with pytest.raises(InputError, match="given twice"):
        compare(("clickme", path), attention=[att])
    write_maps(tmp_path / "wide", "wide", {"n0000": np.ones((8, 16))})
    with pytest.raises(InputError, match="aspect ratio") as err:
        compare(("clickme", path), attention=[tmp_path / "wide"])
    assert err.value.path.endswith("n0000.npy")
    write_maps(tmp_path / "other", "other", {"x": np.ones((8, 8))})
    with pytest.raises(InputError, match="no image in common"):
        compare(("clickme", path), attention=[tmp_path / "other"])
