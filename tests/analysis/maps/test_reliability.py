"""Split-half reliability: known cases, the null, Spearman–Brown, executors."""
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reveal.analysis.maps.reliability import (
    average_ranks, participant_maps, spearman_brown, split_half, split_half_reliability, summarize_reliability,
)
from reveal.stimuli.loaders import read_click_csv

from .conftest import make_clicks, write_click_csv


def test_average_ranks_equal_scipy(rng):
    for x in (rng.integers(0, 5, 500).astype(float), rng.normal(size=500), np.zeros(7),
              np.where(rng.random(300) < 0.6, 0.0, rng.random(300))):
        np.testing.assert_allclose(average_ranks(x), stats.rankdata(x))


def test_identical_halves_give_one(rng):
    clicks = rng.integers(0, 64, (20, 2))
    maps = participant_maps([clicks] * 6, (64, 64))
    r, null = split_half(maps, 5, rng)
    np.testing.assert_allclose(r, 1.0)
    assert np.isnan(null).all()  # no partner, no null


def test_independent_random_maps_give_near_zero(rng):
    # one split's r has sd 1/96 here; splits of one sample share it, so their mean does too
    maps = rng.random((10, 96, 96))
    r, null = split_half(maps, 20, rng, partner_maps=rng.random((10, 96, 96)))
    assert abs(r.mean()) < 0.035
    assert abs(null.mean()) < 0.035


@pytest.mark.parametrize("sigma", [1.0, 2.0, 4.0])
def test_noisy_copies_give_the_reliability_the_noise_implies(rng, sigma):
    # participant p's map = G + sigma * noise_p, G and noise standard normal per pixel:
    # half means are G + sigma/sqrt(P/2) * noise, bivariate normal with Pearson
    # rho = 1 / (1 + 2 sigma^2 / P), whose Spearman is (6 / pi) asin(rho / 2)
    p = 10
    truth = rng.normal(size=(64, 64))
    maps = truth + sigma * rng.normal(size=(p, 64, 64))
    r, _ = split_half(maps, 40, rng)
    rho = 1 / (1 + 2 * sigma ** 2 / p)
    assert r.mean() == pytest.approx(6 / math.pi * math.asin(rho / 2), abs=0.02)


def test_spearman_brown():
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    assert spearman_brown(1.0) == pytest.approx(1.0)
    np.testing.assert_allclose(spearman_brown(np.array([0.0, 0.25])), [0.0, 0.4])


def test_clicks_with_image_structure_beat_the_null(rng, tmp_path):
    clicks = make_clicks(rng, [f"img{i}" for i in range(6)], n_participants={"img5": 1}, spread=12)
    dump = read_click_csv(write_click_csv(tmp_path / "clicks.csv", clicks))
    result = split_half_reliability(dump, n_splits=8, seed=3)
    assert result.skipped == ["img5"]
    assert len(result.per_image) == 5
    assert set(result.partners) == set(result.per_image["image_id"])
    assert all(result.partners[i] != i for i in result.partners)
    per = result.per_image
    assert (per["reliability"] > 0.5).all()
    assert per["reliability"].mean() > per["null"].mean() + 0.2
    table = summarize_reliability(result, {"img0": "animal", "img1": "animal", "img2": "nonanimal"},
                                  spearman_brown_correction=True)
    assert list(table["scope"]) == ["image"] * 5 + ["category"] * 3 + ["overall"]
    overall = table.iloc[-1]
    assert overall["n_images"] == 5 and overall["n_skipped"] == 1
    assert overall["reliability"] == pytest.approx(per["reliability"].mean())
    assert overall["reliability_sb"] == pytest.approx(spearman_brown(overall["reliability"]))
    cats = table[table["scope"] == "category"].set_index("category")
    assert cats.loc["animal", "n_images"] == 2
    assert cats.loc["uncategorised", "n_skipped"] == 1
    assert overall["p_value"] <= 1 / 32 + 1e-12  # all 5 images above their null: the exact sign-flip minimum


def test_same_numbers_whatever_the_executor(rng):
    clicks = {k: list(v.values()) for k, v in make_clicks(rng, [f"im{i}" for i in range(5)], 6,
                                                          shape=(96, 96)).items()}
    serial = split_half_reliability(clicks, n_splits=4, seed=11, shape=(96, 96))
    with ProcessPoolExecutor(2) as pool:
        parallel = split_half_reliability(clicks, n_splits=4, seed=11, shape=(96, 96), executor=pool,
                                          images_per_task=2)
    pd.testing.assert_frame_equal(serial.per_image, parallel.per_image)


def test_dask_executor_route(rng):
    distributed = pytest.importorskip("distributed")
    clicks = {k: list(v.values()) for k, v in make_clicks(rng, ["a", "b", "c"], 4, shape=(64, 64)).items()}
    serial = split_half_reliability(clicks, n_splits=3, seed=5, shape=(64, 64))
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        remote = split_half_reliability(clicks, n_splits=3, seed=5, shape=(64, 64), executor=client.get_executor())
    pd.testing.assert_frame_equal(serial.per_image, remote.per_image)


def test_participant_maps_are_the_loader_blur_with_exact_zeros_and_ties(rng):
    from reveal.stimuli.loaders.clickme import clicks_to_map, disk_kernel

    pts = [rng.integers(0, 64, (5, 2)) for _ in range(4)]
    maps = participant_maps(pts, (64, 64))
    area = (disk_kernel() > 0).sum()
    # the loader's map up to the normalisation (Spearman ignores the scale)
    np.testing.assert_allclose(maps.mean(axis=0) / area ** 2, clicks_to_map(pts, (64, 64)), rtol=1e-14)
    assert (maps >= 0).all() and (maps == np.rint(maps)).all()  # integer-exact
    assert (maps == 0).any()  # unclicked pixels tie at exactly 0
    # a half's mean ties exactly where the exact map does: as many distinct values
    for half in ([0, 1], [1, 2, 3]):
        assert len(np.unique(maps[half].mean(axis=0))) == len(np.unique(clicks_to_map([pts[i] for i in half],
                                                                                      (64, 64))))


def test_too_few_participants_raise(rng):
    with pytest.raises(ValueError, match="at least 2"):
        split_half(rng.random((1, 8, 8)), 3, rng)


def _four_images(rng):
    clicks = {}
    for k, name in enumerate(["ant", "bee", "cat", "dog"]):
        centre = np.array([8 + 10 * k, 40 - 9 * k])
        clicks[name] = [np.clip(np.rint(rng.normal(centre, 3, (6, 2))).astype(int), 0, 47) for _ in range(3)]
    clicks["owl"] = [np.array([[20, 20]])]  # one participant: skipped
    return clicks


def test_the_null_partners_are_a_seeded_cycle_and_the_defaults_are_100_splits_and_seed_0(caplog):
    clicks = _four_images(np.random.default_rng(7))
    with caplog.at_level("WARNING"):
        result = split_half_reliability(clicks, shape=(48, 48))
    assert "1 image(s) with fewer than 2 participants skipped" in caplog.text
    # every image has another as partner, in one cycle; pinned so that a study's null is rebuilt
    assert result.partners == {"ant": "cat", "cat": "dog", "dog": "bee", "bee": "ant"}
    assert (result.per_image["n_splits"] == 100).all()
    again = split_half_reliability(clicks, n_splits=100, seed=0, shape=(48, 48), images_per_task=0)
    pd.testing.assert_frame_equal(result.per_image, again.per_image)
    one = split_half_reliability({"ant": clicks["ant"]}, n_splits=1, shape=(48, 48))
    assert one.partners == {} and np.isnan(one.per_image["null"]).all()  # no other image: no null
    assert (one.per_image["n_splits"] == 1).all()
    with pytest.raises(ValueError, match="n_splits must be at least 1"):
        split_half_reliability(clicks, n_splits=0)
    caplog.clear()
    with caplog.at_level("WARNING"):
        split_half_reliability({"ant": clicks["ant"]}, n_splits=1, shape=(48, 48))
    assert "skipped" not in caplog.text


def test_without_a_shape_a_mapping_is_on_clickmes_256_grid_and_no_progress_bar_unless_asked(capsys):
    clicks = {"ant": [np.array([[200, 250]]), np.array([[201, 249]])]}  # only inside a 256 x 256 grid
    result = split_half_reliability(clicks, n_splits=2)
    assert result.per_image["valid_splits"].tolist() == [2]
    assert capsys.readouterr().err == ""
    split_half_reliability(clicks, n_splits=2, progress=True)
    assert "split-half" in capsys.readouterr().err


def test_a_half_or_partner_nobody_clicked_in_gives_nan_not_an_error():
    maps = participant_maps([np.array([[5, 5]]), np.zeros((0, 2))], (16, 16))  # one participant: no click
    empty = participant_maps([np.zeros((0, 2)), np.zeros((0, 2))], (16, 16))
    r, null = split_half(maps, 3, rng=0, partner_maps=empty)
    assert np.isnan(r).all() and np.isnan(null).all()


def test_small_rank_cases():
    from reveal.analysis.maps.reliability import unit_ranks

    assert average_ranks(np.array([])).size == 0
    assert average_ranks(np.array([5.0])).tolist() == [1.0]
    assert average_ranks(np.array([-0.5, 0.0, 1.0, 0.0])).tolist() == [1.0, 2.5, 4.0, 2.5]
    assert unit_ranks(np.array([0.0, 1.0])).tolist() == pytest.approx([-2 ** -0.5, 2 ** -0.5])


def test_the_summary_columns_its_pooled_rows_and_its_defaults():
    clicks = _four_images(np.random.default_rng(7))
    result = split_half_reliability(clicks, n_splits=5, shape=(48, 48))
    cats = {"ant": "insect", "bee": "insect", "cat": "mammal", "dog": "mammal", "owl": "bird"}
    table = summarize_reliability(result, categories=cats)
    assert "reliability_sb" not in table  # the correction only when asked
    pd.testing.assert_frame_equal(table, summarize_reliability(result, categories=cats, seed=0))
    corrected = summarize_reliability(result, categories=cats, spearman_brown_correction=True)
    assert list(corrected.columns) == ["scope", "image_id", "category", "n_images", "n_skipped", "n_participants",
                                       "reliability", "null", "reliability_sb", "null_sb", "p_value"]
    np.testing.assert_allclose(corrected["null_sb"], spearman_brown(corrected["null"]))
    rows = table.set_index(["scope", "category"])
    assert rows.loc[("category", "insect"), "n_participants"] == 3.0
    bird = rows.loc[("category", "bird")]  # only a skipped image: nothing to average
    assert bird["n_images"] == 0 and bird["n_skipped"] == 1 and math.isnan(bird["n_participants"])


def test_the_summary_p_value_is_a_seeded_randomization_test_with_seed_0_by_default():
    from reveal.analysis.maps.reliability import ReliabilityResult

    rng = np.random.default_rng(3)
    n = 20  # 2^20 sign patterns: the 9,999 resamples are random, so the seed shows
    per = pd.DataFrame({"image_id": [f"i{k}" for k in range(n)], "n_participants": 4, "n_splits": 10,
                        "valid_splits": 10, "reliability": rng.normal(0.05, 0.2, n), "null": 0.0})
    result = ReliabilityResult(per)
    p = summarize_reliability(result)["p_value"].iloc[-1]
    assert p == summarize_reliability(result, seed=0)["p_value"].iloc[-1]
    assert p != summarize_reliability(result, seed=1)["p_value"].iloc[-1]
    assert 0 < p < 1
    assert abs(p * 10_000 - round(p * 10_000)) < 1e-6  # (exceedances + 1) / (9,999 + 1)
    two = summarize_reliability(ReliabilityResult(per.head(2)))["p_value"].iloc[-1]
    assert 0 < two <= 1  # two images are enough for a p-value (one is not)
    assert math.isnan(summarize_reliability(ReliabilityResult(per.head(1)))["p_value"].iloc[-1])


def test_the_pooled_p_value_tests_reliability_above_its_null():
    # every image's maps agree less across halves than with another image's: no evidence of
    # reliability, a p-value near 1 (a sum in place of the difference would make it tiny)
    from reveal.analysis.maps.reliability import ReliabilityResult

    per = pd.DataFrame({"image_id": [f"i{k}" for k in range(8)], "n_participants": 10, "n_splits": 100,
                        "valid_splits": 100, "reliability": np.linspace(0.2, 0.3, 8),
                        "null": np.linspace(0.4, 0.5, 8)})
    table = summarize_reliability(ReliabilityResult(per))
    overall = table[table["scope"] == "overall"].iloc[0]
    assert overall["p_value"] > 0.99
    reliable = summarize_reliability(ReliabilityResult(per.assign(null=per["null"] - 0.4)))
    assert reliable[reliable["scope"] == "overall"].iloc[0]["p_value"] < 0.01
