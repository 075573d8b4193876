import numpy as np
import pandas as pd
import pytest

from reveal.analysis.consistency import (error_consistency, image_spearman, model_human_consistency,
                                  pairwise_error_consistency, summarize_consistency)


def test_hand_computed_cases():
    assert error_consistency([1, 1, 0, 0], [1, 1, 0, 0])[0] == pytest.approx(1.0)
    # p1 = p2 = .5, c_exp = .5, c_obs = .5 → 0
    assert error_consistency([1, 1, 0, 0], [1, 0, 0, 1])[0] == pytest.approx(0.0)
    # p1 = .75, p2 = .5: c_exp = .5, c_obs = .75 → .5
    k, c_obs, c_exp = error_consistency([1, 1, 1, 0], [1, 1, 0, 0])
    assert (k, c_obs, c_exp) == pytest.approx((0.5, 0.75, 0.5))
    # Opposite errors: p = .5 each, c_obs = 0 → -1
    assert error_consistency([1, 0, 1, 0], [0, 1, 0, 1])[0] == pytest.approx(-1.0)


def test_ceiling_is_undefined_not_zero():
    k, _, c_exp = error_consistency([1, 1, 1], [1, 1, 1])
    assert np.isnan(k) and c_exp == 1.0
    assert np.isnan(error_consistency([0, 0], [0, 0])[0])
    assert np.isnan(error_consistency([], [])[0])


def test_independent_observers_near_zero_identical_one():
    rng = np.random.default_rng(0)
    a = (rng.random(20000) < 0.7).astype(int)
    b = (rng.random(20000) < 0.8).astype(int)
    assert abs(error_consistency(a, b)[0]) < 0.03
    assert error_consistency(a, a)[0] == pytest.approx(1.0)


def test_pairwise_only_on_shared_trials():
    a = np.array([[1, 0, np.nan, 1]])
    b = np.array([[1, 0, 1, np.nan], [np.nan, np.nan, 1, 1]])
    k, _, _, n = pairwise_error_consistency(a, b)
    assert n.tolist() == [[2, 1]]
    assert k[0, 0] == pytest.approx(1.0) and np.isnan(k[0, 1])


def _table():
    rows = []
    # Two humans in one group who saw the same 4 stimuli at level 10, one who saw others;
    # a model that saw everything.
    for obs, corr in (("h1", [1, 0, 1, 0]), ("h2", [1, 0, 1, 1])):
        for j, c in enumerate(corr):
            rows.append((obs, "human", "clickme", f"s{j}", "10", c))
    for j, c in enumerate([1, 1, 1, 1]):
        rows.append(("h3", "human", "clickme", f"t{j}", "10", c))
    for j, c in enumerate([1, 0, 1, 0]):
        rows.append(("net", "model", "clickme", f"s{j}", "10", c))
    for j in range(4):
        rows.append(("net", "model", "clickme", f"t{j}", "10", 1))
    return pd.DataFrame(rows, columns=["observer", "observer_kind", "group", "stimulus_id", "level", "correct"])


def test_model_human_table_and_summary():
    pairs = model_human_consistency(_table())
    mh = pairs[pairs["comparison"] == "model-human"].set_index("observer_b")
    assert mh.loc["h1", "kappa"] == pytest.approx(1.0)
    assert mh.loc["h1", "n_shared"] == 4
    assert np.isnan(mh.loc["h3", "kappa"])  # both perfect on h3's trials: undefined
    hh = pairs[pairs["comparison"] == "human-human"]
    assert set(zip(hh["observer_a"], hh["observer_b"])) == {("h1", "h2")}  # h3 shares nothing
    summary = summarize_consistency(pairs)
    row = summary[summary["comparison"] == "model-human"].iloc[0]
    assert row["n_pairs"] == 3 and row["n_undefined"] == 1 and "undefined" in row["note"]


def test_image_spearman_follows_model_evidence():
    rng = np.random.default_rng(1)
    rows = []
    hardness = rng.random(40)
    for j, h in enumerate(hardness):
        cat = "animal" if j % 2 else "nonanimal"
        for i in range(6):
            rows.append((f"h{i}", "human", f"s{j}", cat, "10", int(rng.random() < 0.5 + 0.5 * h), np.nan))
        p_correct = 0.5 + 0.5 * h
        rows.append(("net", "model", f"s{j}", cat, "10", int(p_correct >= 0.5),
                     p_correct if cat == "animal" else 1 - p_correct))
    t = pd.DataFrame(rows, columns=["observer", "observer_kind", "stimulus_id", "category", "level", "correct",
                                    "p_animal"])
    res = image_spearman(t)
    assert set(res["level"]) == {"10", "all"}
    assert res.iloc[0]["spearman_rho"] > 0.5 and res.iloc[0]["n_images"] == 40


def test_pooled_kappa_is_defined_with_one_trial_per_pair():
    # 40 humans, one trial each on 20 stimuli; they err exactly where the model errs
    rows = []
    for j in range(20):
        model_right = int(j % 4 != 0)
        rows.append(("net", "model", "g", f"s{j}", "10", model_right))
        for h in (2 * j, 2 * j + 1):
            rows.append((f"h{h}", "human", "g", f"s{j}", "10", model_right))
    pairs = model_human_consistency(pd.DataFrame(
        rows, columns=["observer", "observer_kind", "group", "stimulus_id", "level", "correct"]))
    mh = pairs[pairs["comparison"] == "model-human"]
    assert set(mh["kappa"].dropna()) <= {0.0} or mh["kappa"].isna().all()  # per pair: nothing to say
    summary = summarize_consistency(pairs)
    row = summary[summary["comparison"] == "model-human"].iloc[0]
    assert row["kappa_pooled"] == pytest.approx(1.0)
