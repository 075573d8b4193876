"""Signal detection (reveal.analysis.sdt): d′ and c with the log-linear correction, per observer and per series."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom, norm

from reveal.analysis.curves import observer_accuracy
from reveal.analysis.exclusions import ExclusionSettings, apply_exclusions
from reveal.analysis.figures import sdt_figure
from reveal.analysis.pipeline import compare_groups
from reveal.analysis.sdt import dprime_criterion, group_sdt, observer_sdt, rates


def _hand(hits, n_signal, fa, n_noise):
    """The log-linear correction (Hautus 1995) written out."""
    h = (hits + 0.5) / (n_signal + 1)
    f = (fa + 0.5) / (n_noise + 1)
    return norm.ppf(h) - norm.ppf(f), -(norm.ppf(h) + norm.ppf(f)) / 2


# hits, n_signal, false alarms, n_noise: ordinary cells and every extreme rate (0 and 1, hits and false alarms)
CELLS = [(7, 10, 2, 10), (0, 10, 3, 10), (10, 10, 3, 10), (6, 10, 0, 10), (6, 10, 10, 10), (10, 10, 0, 10),
         (0, 10, 10, 10), (0, 4, 0, 6), (4, 4, 6, 6), (1, 1, 0, 1), (3, 7, 5, 9)]


@pytest.mark.parametrize("cell", CELLS)
def test_dprime_criterion_matches_a_hand_computation(cell):
    d, c = dprime_criterion(*cell)
    want_d, want_c = _hand(*cell)
    assert d == pytest.approx(want_d, abs=1e-12) and c == pytest.approx(want_c, abs=1e-12)
    assert np.isfinite(d) and np.isfinite(c)
    assert isinstance(d, float) and isinstance(c, float)


def test_arrays_in_arrays_out():
    h, ns, f, nn = (np.array(v) for v in zip(*CELLS))
    d, c = dprime_criterion(h, ns, f, nn)
    want_d, want_c = _hand(h, ns, f, nn)
    assert d.shape == c.shape == (len(CELLS),)
    np.testing.assert_allclose(d, want_d, atol=1e-12)
    np.testing.assert_allclose(c, want_c, atol=1e-12)
    hit_rate, fa_rate = rates(h, ns, f, nn)
    np.testing.assert_allclose(hit_rate, h / ns)
    np.testing.assert_allclose(fa_rate, f / nn)


def test_extreme_rates_raw_and_corrected():
    hit_rate, fa_rate = rates([0, 10], [10, 10], [10, 0], [10, 10])
    assert hit_rate.tolist() == [0.0, 1.0] and fa_rate.tolist() == [1.0, 0.0]
    d, c = dprime_criterion([0, 10], [10, 10], [10, 0], [10, 10])
    assert d[1] == pytest.approx(2 * norm.ppf(10.5 / 11)) and d[0] == pytest.approx(-d[1])
    np.testing.assert_allclose(c, 0.0, atol=1e-12)


@pytest.mark.parametrize("n, k", [(10, 5), (10, 7), (10, 10), (7, 0), (25, 19)])
def test_symmetric_observer_is_unbiased(n, k):
    # hits = correct rejections (k of n each): no preference for either answer
    _, c = dprime_criterion(k, n, n - k, n)
    assert c == pytest.approx(0.0, abs=1e-12)


def test_liberal_observer_has_negative_criterion():
    # the same sensitivity, but saying "animal" more: more hits and more false alarms
    _, c_liberal = dprime_criterion(9, 10, 4, 10)
    _, c_conservative = dprime_criterion(6, 10, 1, 10)
    assert c_liberal < 0 < c_conservative


def test_dprime_increases_with_accuracy_at_a_fixed_criterion():
    n = 20
    k = np.arange(10, n + 1)  # hits = correct rejections = k: accuracy k/n, c = 0 throughout
    d, c = dprime_criterion(k, n, n - k, n)
    assert np.all(np.diff(d) > 0)
    np.testing.assert_allclose(c, 0.0, atol=1e-12)
    assert d[0] == pytest.approx(0.0, abs=1e-12)


def test_no_trial_of_a_kind_is_nan_not_made_up():
    hit_rate, fa_rate = rates(0, 0, 2, 5)
    assert np.isnan(hit_rate) and fa_rate == 0.4
    assert all(np.isnan(v) for v in dprime_criterion(0, 0, 2, 5))
    assert all(np.isnan(v) for v in dprime_criterion(3, 5, 0, 0))


@pytest.mark.parametrize("bad", [(6, 5, 1, 5), (-1, 5, 1, 5), (1, 5, 6, 5), (np.nan, 5, 1, 5)])
def test_impossible_counts_are_refused(bad):
    with pytest.raises(ValueError):
        dprime_criterion(*bad)
    with pytest.raises(ValueError):
        rates(*bad)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10_000).flatmap(lambda ns: st.tuples(st.integers(0, ns), st.just(ns))),
       st.integers(1, 10_000).flatmap(lambda nn: st.tuples(st.integers(0, nn), st.just(nn))))
def test_dprime_and_criterion_are_finite_for_any_counts(signal, noise):
    (hits, n_signal), (fa, n_noise) = signal, noise
    d, c = dprime_criterion(hits, n_signal, fa, n_noise)
    assert np.isfinite(d) and np.isfinite(c)
    # and bounded by the trial counts: no observer beats a perfect one
    d_max, _ = dprime_criterion(n_signal, n_signal, 0, n_noise)
    assert abs(d) <= d_max + 1e-9


# ----------------------------------------------------------------------------- per observer

def _trials(rows):
    """rows: (observer, kind, group, level, category, response, timed_out)."""
    df = pd.DataFrame(rows, columns=["observer", "observer_kind", "group", "level", "category", "response",
                                     "timed_out"])
    df["map_source"] = df["group"]
    df["correct"] = ((df["response"] == df["category"]) & (df["timed_out"] == 0)).astype(int)
    return df


def _observer(name, level, hits, n_a, fa, n_n, kind="human", group="clickme"):
    rows = []
    for i in range(n_a):
        rows.append((name, kind, group, level, "animal", "animal" if i < hits else "nonanimal", 0))
    for i in range(n_n):
        rows.append((name, kind, group, level, "nonanimal", "animal" if i < fa else "nonanimal", 0))
    return rows


def test_observer_sdt_counts_rates_and_dprime():
    trials = _trials(_observer("p1", "10", 4, 5, 1, 5) + _observer("p1", "full", 5, 5, 0, 5)
                     + _observer("net", "10", 3, 6, 2, 4, kind="model"))
    sdt = observer_sdt(trials).set_index(["observer", "level"])
    row = sdt.loc[("p1", "10")]
    assert (row["n_animal"], row["n_nonanimal"], row["hits"], row["false_alarms"]) == (5, 5, 4, 1)
    assert row["hit_rate"] == 0.8 and row["fa_rate"] == 0.2
    assert (row["dprime"], row["criterion"]) == pytest.approx(_hand(4, 5, 1, 5))
    perfect = sdt.loc[("p1", "full")]
    assert perfect["hit_rate"] == 1.0 and perfect["fa_rate"] == 0.0 and np.isfinite(perfect["dprime"])
    model = sdt.loc[("net", "10")]
    assert model["series"] == "net" and sdt.loc[("p1", "10"), "series"] == "clickme"
    assert (model["dprime"], model["criterion"]) == pytest.approx(_hand(3, 6, 2, 4))


def test_observer_sdt_has_the_rows_and_keys_of_observer_accuracy():
    trials = _trials(_observer("p1", "10", 4, 5, 1, 5) + _observer("p1", "1", 2, 5, 3, 5)
                     + _observer("p2", "10", 5, 5, 0, 5, group="salicon")
                     + _observer("net", "10", 3, 6, 2, 4, kind="model"))
    keys = ["observer_kind", "observer", "group", "series", "map_source", "level"]
    acc = observer_accuracy(trials)
    sdt = observer_sdt(trials)
    pd.testing.assert_frame_equal(sdt[keys], acc[keys])
    assert (sdt["n_animal"] + sdt["n_nonanimal"]).tolist() == acc["n"].tolist()
    assert list(sdt.columns) == keys + ["n_animal", "n_nonanimal", "hits", "false_alarms", "hit_rate", "fa_rate",
                                        "dprime", "criterion"]


def test_a_level_without_animal_trials_is_nan():
    trials = _trials(_observer("p1", "10", 0, 0, 2, 5) + _observer("p1", "1", 3, 4, 0, 0))
    sdt = observer_sdt(trials).set_index("level")
    assert np.isnan(sdt.loc["10", "hit_rate"]) and sdt.loc["10", "fa_rate"] == 0.4
    assert np.isnan(sdt.loc["1", "fa_rate"]) and sdt.loc["1", "hit_rate"] == 0.75
    assert sdt[["dprime", "criterion"]].isna().all().all()


def test_timed_out_trials_count_as_not_saying_animal():
    rows = _observer("p1", "10", 3, 4, 1, 4)
    # two timeouts on animal images (misses), two on non-animal images (correct rejections), and one
    # whose response says animal but that timed out (no answer in time: not a hit)
    rows += [("p1", "human", "clickme", "10", "animal", "none", 1)] * 2
    rows += [("p1", "human", "clickme", "10", "nonanimal", "none", 1)] * 2
    rows += [("p1", "human", "clickme", "10", "animal", "animal", 1)]
    row = observer_sdt(_trials(rows)).iloc[0]
    assert (row["n_animal"], row["hits"], row["n_nonanimal"], row["false_alarms"]) == (7, 3, 6, 1)
    assert (row["dprime"], row["criterion"]) == pytest.approx(_hand(3, 7, 1, 6))


def test_the_exclusions_decide_whether_timeouts_reach_sdt_as_they_do_accuracy():
    rows = []
    for level in ("10", "full"):
        rows += _observer("p1", level, 4, 5, 1, 5)
        rows += [("p1", "human", "clickme", level, "animal", "none", 1),
                 ("p1", "human", "clickme", level, "nonanimal", "none", 1)]
    trials = _trials(rows)
    left_out = apply_exclusions(trials, ExclusionSettings(max_timeout_rate=1.0)).trials
    counted = apply_exclusions(trials, ExclusionSettings(max_timeout_rate=1.0, timeouts_as_errors=True)).trials
    for kept, n in ((left_out, 5), (counted, 6)):
        row = observer_sdt(kept).set_index("level").loc["10"]
        assert observer_accuracy(kept).set_index("level").loc["10", "n"] == 2 * n
        assert (row["n_animal"], row["hits"], row["n_nonanimal"], row["false_alarms"]) == (n, 4, n, 1)


# ----------------------------------------------------------------------------- per series

def _obs_sdt(rows):
    """rows: (kind, observer, group, level, hits, n_animal, fa, n_nonanimal)."""
    trials = []
    for kind, observer, group, level, hits, n_a, fa, n_n in rows:
        trials += _observer(observer, level, hits, n_a, fa, n_n, kind=kind, group=group)
    return observer_sdt(_trials(trials))


def test_group_sdt_mean_and_sem_over_observers():
    obs = _obs_sdt([("human", "p1", "clickme", "10", 9, 10, 1, 10), ("human", "p2", "clickme", "10", 7, 10, 3, 10),
                    ("human", "p3", "clickme", "10", 6, 10, 2, 10)])
    row = group_sdt(obs).iloc[0]
    assert row["label"] == "clickme (humans)" and row["n_observers"] == 3 and row["n_trials"] == 60
    assert row["error_kind"] == "SEM over observers"
    for q in ("hit_rate", "fa_rate", "dprime", "criterion"):
        v = obs[q].to_numpy()
        assert row[q] == pytest.approx(v.mean())
        assert row[f"{q}_sem"] == pytest.approx(v.std(ddof=1) / np.sqrt(3))


def test_group_sdt_leaves_out_undefined_values():
    obs = _obs_sdt([("human", "p1", "clickme", "10", 9, 10, 1, 10), ("human", "p2", "clickme", "10", 7, 10, 3, 10),
                    ("human", "p3", "clickme", "10", 0, 0, 2, 10)])  # p3 saw no animal there
    row = group_sdt(obs).iloc[0]
    assert row["n_observers"] == 3
    defined = obs["dprime"].dropna().to_numpy()
    assert len(defined) == 2 and row["dprime"] == pytest.approx(defined.mean())
    assert row["fa_rate"] == pytest.approx(obs["fa_rate"].mean())  # all three have a false-alarm rate


def _exact_sd(hits, n_a, fa, n_n):
    """SD of the corrected d′ over every pair of counts drawn from binomials with the observed rates."""
    values, weights = [], []
    for kh, kf in itertools.product(range(n_a + 1), range(n_n + 1)):
        values.append(dprime_criterion(kh, n_a, kf, n_n)[0])
        weights.append(binom.pmf(kh, n_a, hits / n_a) * binom.pmf(kf, n_n, fa / n_n))
    values, weights = np.array(values), np.array(weights)
    mean = np.sum(weights * values)
    return np.sqrt(np.sum(weights * (values - mean) ** 2))


def test_a_model_has_the_sampling_se_over_its_trials():
    obs = _obs_sdt([("model", "net", "clickme", "10", 14, 20, 5, 16), ("model", "net", "clickme", "full", 20, 20,
                                                                        0, 16)])
    curves = group_sdt(obs).set_index("level")
    row = curves.loc["10"]
    assert row["label"] == "net on clickme (model)" and row["n_observers"] == 1
    assert row["error_kind"] == "sampling SE over trials"
    assert row["hit_rate_sem"] == pytest.approx(np.sqrt(0.7 * 0.3 / 20))
    assert row["fa_rate_sem"] == pytest.approx(np.sqrt(5 / 16 * 11 / 16 / 16))
    assert row["dprime_sem"] == pytest.approx(_exact_sd(14, 20, 5, 16))
    assert row["criterion_sem"] == pytest.approx(row["dprime_sem"] / 2)
    # always right: no sampling variability, as a model's accuracy of 1 has binomial SE 0
    perfect = curves.loc["full"]
    assert perfect[["hit_rate_sem", "fa_rate_sem", "dprime_sem", "criterion_sem"]].tolist() == [0, 0, 0, 0]


# ----------------------------------------------------------------------------- tests and figure

def _two_groups(rng):
    rows = []
    for g, (group, shift) in enumerate((("clickme", 2), ("salicon", 0))):
        for i in range(5):
            for level in ("1", "10", "full"):
                hits = int(np.clip(5 + shift + rng.integers(-1, 2), 0, 10))
                fa = int(np.clip(3 - shift + rng.integers(-1, 2), 0, 10))
                rows.append(("human", f"{group[:2]}{i}", group, level, hits, 10, fa, 10))
    return _obs_sdt(rows)


def test_compare_groups_on_dprime_is_the_accuracy_test_on_another_column():
    obs = _two_groups(np.random.default_rng(1))
    tests = compare_groups(obs, rng=5, n_resamples=199, n_bootstrap=199, value="dprime")
    same = compare_groups(obs.drop(columns="dprime").assign(accuracy=obs["dprime"]), rng=5, n_resamples=199,
                          n_bootstrap=199)
    pd.testing.assert_frame_equal(tests, same)
    assert tests["level"].tolist() == ["1", "10", "full"]
    means = obs.groupby(["group", "level"])["dprime"].mean()
    assert tests["mean_a"].to_numpy() == pytest.approx(means["clickme"].to_numpy())
    assert (tests["difference"] > 0).all()
    with pytest.raises(ValueError, match="dprime"):
        compare_groups(obs.drop(columns="dprime"), value="dprime")


def test_compare_groups_default_is_unchanged_by_other_columns():
    obs = _two_groups(np.random.default_rng(2))
    obs["accuracy"] = (obs["hits"] + obs["n_nonanimal"] - obs["false_alarms"]) / 20
    plain = compare_groups(obs[["observer_kind", "observer", "group", "level", "accuracy"]], rng=3,
                           n_resamples=199, n_bootstrap=199)
    pd.testing.assert_frame_equal(compare_groups(obs, rng=3, n_resamples=199, n_bootstrap=199), plain)
    pd.testing.assert_frame_equal(compare_groups(obs, rng=3, n_resamples=199, n_bootstrap=199, value="accuracy"),
                                  plain)


def test_sdt_figure_has_a_dprime_and_a_criterion_panel():
    obs = _two_groups(np.random.default_rng(3))
    obs = pd.concat([obs, _obs_sdt([("model", "net", "clickme", lv, 9, 10, 1, 10) for lv in ("1", "10", "full")]),
                     _obs_sdt([("human", "x1", "salicon", "1", 0, 0, 3, 10)])])  # an undefined d′ too
    curves = group_sdt(obs)
    tests = compare_groups(obs, rng=0, n_resamples=99, n_bootstrap=99, value="dprime")
    fig = sdt_figure(curves, tests, pd.Series({"1": 0.3, "10": 3.0, "full": 100.0}))
    main = [ax for ax in fig.axes if ax.get_ylabel()]
    assert [ax.get_ylabel() for ax in main] == ["Sensitivity d′", "Criterion c (dotted: 0, unbiased)"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "clickme (humans)", "salicon (humans)", "net on clickme (model)"]
    assert [t.get_text() for t in main[1].get_xticklabels()] == ["1", "10"]
    assert main[0].get_xscale() == "log" and main[0].get_xlim() == main[1].get_xlim()


# --- cue-strength sweeps (cued observers' labels: <base>+fsg(<target>,<layer>,<strength>)) ---

from reveal.analysis.sdt import CUED_LABEL, has_sweep, parse_cued_label, strength_sweeps  # noqa: E402


@pytest.mark.parametrize("label, want", [
    ("efficientnet_lite0+fsg(animal,head,1)", ("efficientnet_lite0", "animal", "head", 1.0)),
    ("efficientnet_lite0+fsg(nonanimal,head,0)", ("efficientnet_lite0", "nonanimal", "head", 0.0)),
    ("resnet50+fsg(animal,head,0.5)", ("resnet50", "animal", "head", 0.5)),
    ("my-net.v2+fsg(animal,head,1e-05)", ("my-net.v2", "animal", "head", 1e-5)),
    ("a+b+fsg(animal,head,2)", ("a+b", "animal", "head", 2.0)),
    (" net+fsg(animal,head,12) ", ("net", "animal", "head", 12.0)),
    ("vgg16+toad(animal,block5_pool,1)", ("vgg16", "animal", "block5_pool", 1.0)),
    ("net+fsg-tuning(nonanimal,blocks.10.depthwise,0.5)", ("net", "nonanimal", "blocks.10.depthwise", 0.5)),
])
def test_parse_cued_label(label, want):
    got = parse_cued_label(label)
    assert (got["base"], got["target"], got["layer"], got["strength"]) == want
    assert got["method"] == label.strip().split("+")[-1].split("(")[0]


@pytest.mark.parametrize("label", ["efficientnet_lite0", "p01", "clickme", "", "net+fsg(animal,head)",
                                   "net+fsg(animal,head,-1)", "net+fsg(animal,head,1.2.3)",
                                   "+fsg(animal,head,1)", "net+fsg(animal,head,1) extra", "net+fsg(,head,1)",
                                   "net+gain(animal,head,1)", "net+fsg-other(animal,head,1)"])
def test_labels_that_are_not_cued_observers_are_ignored(label):
    assert parse_cued_label(label) is None


def test_the_label_format_matches_what_predict_writes():
    # reveal.models.cueing.cue_observer: f"{name}+fsg({target},{layer},{format_strength(beta)})",
    # format_strength = format(beta, ".12g")
    for beta in (0, 0.25, 1, 2, 10, 1e-3, 1e-7, 123456.5):
        label = f"net+fsg(animal,head,{format(float(beta) + 0.0, '.12g')})"
        assert CUED_LABEL.match(label), label
        assert parse_cued_label(label)["strength"] == pytest.approx(beta)


def _sdt_row(observer, level, hits, fa, n=10, source="clickme", kind="model"):
    d, c = dprime_criterion(hits, n, fa, n)
    return {"observer_kind": kind, "observer": observer, "group": source, "series": observer, "map_source": source,
            "level": level, "n_animal": n, "n_nonanimal": n, "hits": hits, "false_alarms": fa,
            "hit_rate": hits / n, "fa_rate": fa / n, "dprime": d, "criterion": c}


def test_strength_sweeps_on_hand_made_rows():
    rows = [_sdt_row("net", "10", 6, 2), _sdt_row("p01", "10", 5, 5, kind="human"),
            _sdt_row("net+fsg(animal,head,2)", "10", 9, 6), _sdt_row("net+fsg(animal,head,0)", "10", 6, 2),
            _sdt_row("net+fsg(animal,head,1)", "full", 10, 1), _sdt_row("net+fsg(animal,head,0)", "full", 9, 0),
            _sdt_row("net+fsg(animal,head,1)", "10", 8, 4),
            _sdt_row("net+fsg(nonanimal,head,1)", "10", 4, 1),
            _sdt_row("other+fsg(animal,head,1)", "10", 7, 3)]
    sweeps = strength_sweeps(pd.DataFrame(rows))
    # p01 left out; the plain net is strength 0 of its cue that has none (nonanimal), not of the animal cue
    assert set(sweeps["observer"]) == {r["observer"] for r in rows[2:]} | {"net"}
    assert set(sweeps.loc[sweeps["observer"] == "net", "target"]) == {"nonanimal"}
    assert list(sweeps.columns[:9]) == ["base", "method", "target", "layer", "strength", "n_strengths",
                                        "observer", "map_source", "level"]
    animal = sweeps[(sweeps["base"] == "net") & (sweeps["target"] == "animal")]
    # sorted by level, then strength; the values are those of observer_sdt
    assert list(zip(animal["level"], animal["strength"])) == [("10", 0.0), ("10", 1.0), ("10", 2.0),
                                                               ("full", 0.0), ("full", 1.0)]
    assert (animal["n_strengths"] == 3).all() and (animal["layer"] == "head").all()
    assert animal["hit_rate"].tolist() == [0.6, 0.8, 0.9, 0.9, 1.0]
    assert animal["fa_rate"].tolist() == [0.2, 0.4, 0.6, 0.0, 0.1]
    assert (animal["n"] == 20).all()
    want_d, want_c = _hand(9, 10, 6, 10)
    top = animal[(animal["level"] == "10") & (animal["strength"] == 2.0)].iloc[0]
    assert top["dprime"] == pytest.approx(want_d) and top["criterion"] == pytest.approx(want_c)
    # one strength and the plain observer: a sweep from 0; one strength alone: in the table, not a sweep
    nonanimal = sweeps[sweeps["target"] == "nonanimal"]
    assert nonanimal["strength"].tolist() == [0.0, 1.0] and (nonanimal["n_strengths"] == 2).all()
    assert nonanimal["hit_rate"].tolist() == [0.6, 0.4]
    assert sweeps.loc[sweeps["base"] == "other", "n_strengths"].tolist() == [1]
    assert has_sweep(sweeps)
    assert not has_sweep(strength_sweeps(pd.DataFrame(rows[-2:])))
    none = strength_sweeps(pd.DataFrame(rows[:2]))
    assert none.empty and "dprime" in none.columns and not has_sweep(none)


def _cued_model_files(human_trials, model_csv, root, strengths=(0, 1, 2)):
    """Model trial data of three cued observers: the same evidence, a more liberal threshold per strength."""
    base = model_csv(human_trials, np.random.default_rng(0))
    parts = []
    for beta in strengths:
        part = base.copy()
        part["observer"] = f"toynet+fsg(animal,head,{beta})"
        said = part["p_animal"] >= 0.5 - 0.2 * beta  # β raises the readiness to say "animal"
        part["response"] = np.where(said, "animal", "nonanimal")
        part["correct"] = (part["response"] == part["category"]).astype(int)
        parts.append(part)
    path = root / "toynet_cued.csv"
    pd.concat(parts, ignore_index=True).to_csv(path, index=False)
    return path


def _analyse(paths, stim, out):
    from reveal.analysis.pipeline import AnalysisSettings, analyze, write_outputs

    result = analyze(paths, stimuli=stim, settings=AnalysisSettings(n_resamples=99, n_bootstrap=99, fit=False))
    return result, write_outputs(result, out)


@pytest.fixture(scope="module")
def sweep_inputs(tmp_path_factory, human_trials, manifest_for, model_csv):
    root = tmp_path_factory.mktemp("sweeps")
    stim = root / "stimset"
    stim.mkdir()
    manifest_for(human_trials).to_csv(stim / "manifest.csv", index=False)
    return root, stim, _cued_model_files(human_trials, model_csv, root)


@pytest.mark.slow  # reveal analyze end to end (13 s): the full suite, not the everyday loop
def test_the_analysis_writes_sweeps_of_cued_observers(sweep_inputs):
    root, stim, cued = sweep_inputs
    result, paths = _analyse([cued], stim, root / "out")
    sweeps = pd.read_csv(root / "out" / "sweeps.csv", dtype={"level": str})
    n_levels = result.sdt.groupby("map_source")["level"].nunique().sum()
    assert len(sweeps) == 3 * n_levels  # three strengths × (map source, level)
    assert sorted(sweeps["strength"].unique()) == [0.0, 1.0, 2.0]
    assert (sweeps["base"] == "toynet").all() and (sweeps["target"] == "animal").all()
    assert (sweeps["n_strengths"] == 3).all()
    # the more liberal threshold: hits and false alarms rise with β, c falls, at every level and map source
    for _, sub in sweeps.groupby(["map_source", "level"]):
        sub = sub.sort_values("strength")
        assert sub["hit_rate"].is_monotonic_increasing and sub["fa_rate"].is_monotonic_increasing
        assert sub["criterion"].is_monotonic_decreasing
    pooled = sweeps.groupby("strength")["criterion"].mean()
    assert pooled[0.0] > pooled[2.0]
    assert (root / "out" / "sweeps.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (root / "out" / "sweeps.svg").read_bytes()[:2000]
    report = (root / "out" / "report.html").read_text(encoding="utf-8")
    sdt_section = report.split("Signal detection (animal = signal)</h2>", 1)[1].split("<h2>", 1)[0]
    assert "Cue-strength sweeps" in sdt_section and "data:image/png;base64," in sdt_section
    assert "criterion" in sdt_section and "Luo, Roads &amp; Love 2021" in sdt_section
    assert {"sweeps_png", "sweeps_svg", "sweeps"} <= set(paths)


@pytest.mark.slow  # reveal analyze end to end (13 s): the full suite, not the everyday loop
def test_no_sweep_no_sweeps_file(sweep_inputs, human_trials, model_csv):
    root, stim, _ = sweep_inputs
    plain = root / "toynet.csv"
    model_csv(human_trials, np.random.default_rng(0)).to_csv(plain, index=False)
    (root / "one").mkdir()
    one = _cued_model_files(human_trials, model_csv, root / "one", strengths=(1,))
    for name, files in (("plain", [plain]), ("one_strength", [one])):
        out = root / f"out_{name}"
        result, paths = _analyse(files, stim, out)
        assert not (out / "sweeps.csv").exists() and not (out / "sweeps.png").exists()
        assert "sweeps_png" not in paths
        assert "Cue-strength sweeps" not in (out / "report.html").read_text(encoding="utf-8")
    assert len(result.sweeps) and not has_sweep(result.sweeps)  # one strength: cued, but no sweep


@pytest.mark.slow  # reveal analyze end to end (13 s): the full suite, not the everyday loop
def test_reveal_analyze_prints_each_sweep_per_strength(sweep_inputs, tmp_path, capsys):
    from reveal.analysis.sdt import sweep_summary
    from reveal.cli.main import main

    root, stim, cued = sweep_inputs
    out = tmp_path / "out"
    assert main(["analyze", str(cued), "--stimuli", str(stim), "--out", str(out), "--resamples", "99",
                 "--bootstrap", "99", "--no-fits", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    summary = sweep_summary(pd.read_csv(out / "sweeps.csv", dtype={"level": str}))
    assert list(summary["strength"]) == [0.0, 1.0, 2.0]
    assert "toynet, fsg cue toward animal at head:" in printed and str(out / "sweeps.csv") in printed
    for r in summary.itertuples(index=False):  # the numbers printed are the sweeps.csv means
        assert (f"β = {r.strength:<6g} hits {r.hit_rate:.3f}  false alarms {r.fa_rate:.3f}  d′ {r.dprime:+.3f}  "
                f"c {r.criterion:+.3f}") in printed
    assert summary["hit_rate"].is_monotonic_increasing and summary["criterion"].is_monotonic_decreasing
