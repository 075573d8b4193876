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
