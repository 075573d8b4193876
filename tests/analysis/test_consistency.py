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


def test_one_shared_trial_gives_a_defined_kappa_where_the_two_differ():
    # one trial, one right and one wrong: c_obs = 0, c_exp = 1·0 + 0·1 = 0, κ = 0
    assert error_consistency([1], [0]) == (0.0, 0.0, 0.0)
    assert all(np.isnan(v) for v in error_consistency([], []))
    with pytest.raises(ValueError, match="aligned"):
        error_consistency([1, 0], [1])


def test_pairs_below_min_shared_are_left_out_and_the_option_is_keyword_only():
    table = _table()
    pairs = model_human_consistency(table, min_shared=4)  # h1-h2 and net-h1/h2/h3 share exactly 4
    assert len(pairs) == 4 and (pairs["n_shared"] == 4).all()
    assert model_human_consistency(table, min_shared=5).empty
    with pytest.raises(TypeError):
        model_human_consistency(table, 4)


def _summary_pairs():
    """Pairs as model_human_consistency gives them: κ of three model-human pairs known, one undefined."""
    rows = [("model-human", "net", "net", f"h{i}", "g", "10", 4, np.nan, np.nan, kappa, 2, 2, 2)
            for i, kappa in enumerate([0.2, 0.5, 0.8, np.nan])]
    rows += [("model-human", "net", "net", f"h{i}", "g", "full", 4, np.nan, np.nan, kappa, 2, 2, 2)
             for i, kappa in enumerate([0.4, 0.6])]
    rows += [("human-human", "", "h0", "h1", "g", "1", 4, np.nan, np.nan, np.nan, 4, 4, 4)]
    return pd.DataFrame(rows, columns=["comparison", "model", "observer_a", "observer_b", "group", "level",
                                       "n_shared", "c_obs", "c_exp", "kappa", "right_a", "right_b", "agree"])


def test_summary_counts_undefined_pairs_and_gives_the_sem_over_defined_ones():
    summary = summarize_consistency(_summary_pairs())
    assert list(summary.columns) == ["comparison", "model", "group", "level", "n_pairs", "n_defined",
                                     "n_undefined", "kappa_pooled", "kappa_mean", "kappa_sem",
                                     "mean_shared_trials", "note"]
    # sorted by comparison, model, group, then level value ("full" last)
    assert summary[["comparison", "level"]].values.tolist() == [
        ["human-human", "1"], ["model-human", "10"], ["model-human", "full"]]
    hh, ten, full = (summary.iloc[i] for i in range(3))
    assert (hh["n_pairs"], hh["n_defined"], hh["n_undefined"]) == (1, 0, 1)
    assert hh["note"] == "undefined: every pair at ceiling (no errors to compare)" and np.isnan(hh["kappa_sem"])
    assert (ten["n_pairs"], ten["n_defined"], ten["n_undefined"]) == (4, 3, 1)
    assert ten["note"] == "1 pairs undefined (ceiling)"
    assert ten["kappa_mean"] == pytest.approx(0.5)
    assert ten["kappa_sem"] == pytest.approx(np.std([0.2, 0.5, 0.8], ddof=1) / np.sqrt(3))
    assert full["note"] == "" and full["kappa_sem"] == pytest.approx(0.1)  # sd 0.1414 / sqrt 2
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one pair has no SEM by rule, not by a 0-degrees-of-freedom warning
        one = summarize_consistency(_summary_pairs().iloc[[0]])
    assert one["kappa_mean"].tolist() == [0.2] and np.isnan(one["kappa_sem"].iloc[0])


def _spearman_trials(human_means, evidence, levels=None):
    """One model and two humans on len(human_means) stimuli; human mean accuracy as given."""
    rows = []
    for j, (mean, ev) in enumerate(zip(human_means, evidence)):
        level = levels[j] if levels else "10"
        for i, right in enumerate([1, 1] if mean == 1 else [0, 0] if mean == 0 else [1, 0]):
            rows.append((f"h{i}", "human", f"s{j}", "animal", level, right, np.nan))
        rows.append(("net", "model", f"s{j}", "animal", level, int(ev > 0.5), ev))
    return pd.DataFrame(rows, columns=["observer", "observer_kind", "stimulus_id", "category", "level", "correct",
                                       "p_animal"])


def test_image_spearman_needs_three_images_and_varying_ranks_and_warns_about_nothing():
    import warnings

    res = image_spearman(_spearman_trials([0, 0, 1], [0.2, 0.3, 0.9]))  # two distinct means are enough
    assert np.isfinite(image_spearman(_spearman_trials([0, 0.5, 1], [0.2, 0.2, 0.9]))["spearman_rho"]).all()
    assert res["spearman_rho"].iloc[0] == pytest.approx(stats_spearman([0, 0, 1], [0.2, 0.3, 0.9]))
    assert np.isnan(image_spearman(_spearman_trials([0, 1], [0.2, 0.9]))["spearman_rho"]).all()  # two images
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # constant ranks are undefined here, not left to scipy's warning
        assert np.isnan(image_spearman(_spearman_trials([1, 1, 1], [0.2, 0.3, 0.9]))["spearman_rho"]).all()
        assert np.isnan(image_spearman(_spearman_trials([0, 0.5, 1], [0.9, 0.9, 0.9]))["spearman_rho"]).all()


def stats_spearman(x, y):
    from scipy.stats import spearmanr
    return spearmanr(x, y).statistic


def test_image_spearman_rows_per_model_by_level_then_all_and_nothing_without_evidence():
    trials = _spearman_trials([0, 0.5, 1] * 3, [0.2, 0.5, 0.9] * 3, levels=["full"] * 3 + ["10"] * 3 + ["1"] * 3)
    two = pd.concat([trials.assign(observer=trials["observer"].where(trials["observer_kind"] != "model", name))
                     for name in ("net_b", "net_a")]).drop_duplicates()
    res = image_spearman(two)
    assert res[["model", "level"]].values.tolist() == [[m, lv] for m in ("net_a", "net_b")
                                                       for lv in ("1", "10", "full", "all")]
    assert image_spearman(trials[trials["observer_kind"] == "model"]).empty  # no humans: nothing to compare
    assert image_spearman(trials.drop(columns="p_animal")).empty  # a model without probabilities
