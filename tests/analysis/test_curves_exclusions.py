import numpy as np
import pandas as pd
import pytest

from reveal.analysis.curves import ceiling_level, group_curves, observer_accuracy, series_label
from reveal.analysis.exclusions import ExclusionSettings, apply_exclusions
from reveal.analysis.synthetic import simulate_trials


@pytest.fixture(scope="module")
def trials():
    rng = np.random.default_rng(3)
    t = simulate_trials({"clickme": 0.6, "salicon": 0.8}, 6, rng=rng, timeout_rate=0.05, kind="human")
    # One participant at chance on intact images, one who mostly timed out.
    bad = t["observer"] == "cl0000"
    t.loc[bad & (t["level"] == "full"), "correct"] = 0
    slow = t["observer"] == "sa1001"
    t.loc[slow, "timed_out"] = (np.arange(slow.sum()) % 2 == 0).astype(int)
    t.loc[slow & (t["timed_out"] == 1), ["response", "correct"]] = ["none", 0]
    return t.assign(source_file="f.csv")


def test_exclusions_counted_with_reasons(trials):
    res = apply_exclusions(trials)
    excluded = res.observers[res.observers["excluded"]].set_index("observer")
    assert set(excluded.index) == {"cl0000", "sa1001"}
    assert "chance" in excluded.loc["cl0000", "reason"] and "timeouts" in excluded.loc["sa1001", "reason"]
    # Every row left out is in the ledger: observers' rows + remaining timeouts.
    assert len(res.trials) + res.dropped["rows"].sum() == len(trials)
    assert (res.trials["timed_out"] == 0).all()


def test_timeouts_as_errors_flag(trials):
    res = apply_exclusions(trials, ExclusionSettings(timeouts_as_errors=True))
    timed = res.trials[res.trials["timed_out"] == 1]
    assert len(timed) > 0 and (timed["correct"] == 0).all()


def test_models_not_excluded_by_participant_rules(trials):
    model = trials[trials["observer"] == "cl0000"].assign(observer="net", observer_kind="model")
    res = apply_exclusions(pd.concat([trials, model]))
    assert not res.observers.set_index("observer").loc["net", "excluded"]


def test_curves_mean_and_sem_over_observers(trials):
    kept = apply_exclusions(trials).trials
    acc = observer_accuracy(kept)
    curves = group_curves(acc)
    row = curves[(curves["series"] == "clickme") & (curves["level"] == "10")].iloc[0]
    per_obs = acc[(acc["group"] == "clickme") & (acc["level"] == "10")]["accuracy"]
    assert row["mean"] == pytest.approx(per_obs.mean())
    assert row["sem"] == pytest.approx(per_obs.std(ddof=1) / np.sqrt(len(per_obs)))
    assert row["n_observers"] == 5 and row["label"] == "clickme (humans)"
    assert list(curves[curves["series"] == "clickme"]["level"])[-1] == "full"


def test_labels_name_the_kind():
    assert "(model)" in series_label("model", "resnet50", "", "clickme")
    assert "simulated" in series_label("simulated", "x", "clickme", "clickme")


def test_ceiling_level():
    levels = ["1", "10", "100", "3.98"]
    assert ceiling_level(levels, [0.6, 0.95, 0.96, 0.8], 0.97) == "10"
    assert ceiling_level(levels, [0.6, 0.95, 0.90, 0.8], 0.97) is None  # falls off again at 100


def test_trials_whose_image_timing_failed_are_left_out_and_counted():
    trials = simulate_trials({"a": 0.6, "b": 0.8}, 4, rng=0)
    trials["source_file"] = "f.csv"
    trials["timing_ok"] = "1"
    bad = trials.index[::10]
    trials.loc[bad, "timing_ok"] = "0"
    trials.loc[trials.index[1], "timing_ok"] = ""  # not measured: not judged
    res = apply_exclusions(trials, ExclusionSettings(max_timeout_rate=1.0, chance=0.0))
    assert len(res.trials) == len(trials) - len(bad) - int(trials["timed_out"].drop(bad).sum())
    timing = res.dropped[res.dropped["reason"].str.startswith("image timing failed")]
    assert timing["rows"].sum() == len(bad)
    kept = apply_exclusions(trials, ExclusionSettings(max_timeout_rate=1.0, chance=0.0, keep_timing_failures=True))
    assert len(kept.trials) == len(trials) - int(trials["timed_out"].sum())
