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


def test_a_model_over_every_map_source_is_listed_in_each_group(trials):
    model = pd.concat([trials[trials["observer"] == ob].assign(observer="net", observer_kind="model")
                       for ob in ("cl0001", "sa1002")])
    obs = apply_exclusions(pd.concat([trials, model])).observers.set_index("observer")
    assert obs.loc["net", "group"] == "clickme, salicon" and obs.loc["cl0001", "group"] == "clickme"


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


def test_ceiling_level_at_its_boundaries():
    levels = ["100", "1", "10"]  # any order
    assert ceiling_level(levels, [0.9, 0.9, 0.9], 0.9) == "1"  # at ceiling throughout: the lowest level
    # exactly at the tolerance counts (0.75 = 1 - 0.25 exactly in binary); a dip restarts the run
    assert ceiling_level(levels, [0.75, 0.75, 0.5], 1.0, tolerance=0.25) == "100"
    assert ceiling_level(levels, [0.75, 0.74, 0.75], 1.0, tolerance=0.25) == "10"
    assert ceiling_level(levels, [0.74, 0.75, 0.75], 1.0, tolerance=0.25) is None
    assert ceiling_level(levels, [0.9, 0.9, 0.9], float("nan")) is None


def _tiny_trials(**columns):
    base = {"group": "clickme", "map_source": "clickme", "observer_kind": "human"}
    return pd.DataFrame({**base, **columns})


def test_a_models_error_bar_is_the_binomial_standard_error_over_its_trials():
    trials = _tiny_trials(observer="net", observer_kind="model", level="10", correct=[1, 1, 1, 0])
    curves = group_curves(observer_accuracy(trials))
    assert curves["mean"].tolist() == [0.75] and curves["n_trials"].tolist() == [4]
    assert curves["sem"].iloc[0] == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
    assert curves["error_kind"].tolist() == ["binomial SE over trials"]
    assert curves["label"].tolist() == ["net on clickme (model)"]


def test_curves_come_sorted_by_level_with_exactly_their_columns():
    trials = _tiny_trials(observer=["p2", "p1", "p2", "p1", "p1", "p2"],
                          level=["full", "full", "10", "10", "1", "1"], correct=[1, 1, 0, 1, 0, 1])
    acc = observer_accuracy(trials)
    assert list(acc.columns) == ["observer_kind", "observer", "group", "series", "map_source", "level", "n",
                                 "n_correct", "accuracy"]
    assert acc[["observer", "level"]].values.tolist() == [
        ["p1", "1"], ["p1", "10"], ["p1", "full"], ["p2", "1"], ["p2", "10"], ["p2", "full"]]
    curves = group_curves(acc)
    assert list(curves.columns) == ["observer_kind", "series", "map_source", "label", "level", "n_observers",
                                    "n_trials", "mean", "sem", "error_kind"]
    assert curves["level"].tolist() == ["1", "10", "full"] and curves["mean"].tolist() == [0.5, 0.5, 1.0]
    assert group_curves(observer_accuracy(trials.iloc[:0])).empty  # no trials left: no curves


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


def test_unattended_online_trials_are_left_out_and_counted():
    from reveal.analysis.exclusions import UNATTENDED_REASON

    trials = simulate_trials({"a": 0.6, "b": 0.8}, 4, rng=0)
    trials["source_file"] = "f.csv"
    trials["timed_out"] = 0  # only the rules under test leave trials out
    observers = sorted(trials["observer"].unique())
    lab = trials["observer"] == observers[0]  # a lab participant: no attention columns (NaN)
    trials["page_hidden"] = np.where(lab, np.nan, 0.0)
    trials["focus_lost"] = np.where(lab, np.nan, 0.0)
    online = trials.index[~lab]
    hidden, blurred, both = online[::9], online[4::11], online[5:6]
    trials.loc[hidden, "page_hidden"] = 1.0
    trials.loc[blurred, "focus_lost"] = 1.0
    trials.loc[both, ["page_hidden", "focus_lost"]] = 1.0
    trials.loc[online[1], "page_hidden"] = np.nan  # not recorded: counts as attended
    unattended = hidden.union(blurred).union(both).difference(online[1:2])
    trials.loc[unattended[0], "timing_ok"] = 0  # a hidden page's timing fails too: counted under its cause
    trials["timing_ok"] = trials["timing_ok"].fillna(1)
    rules = dict(max_timeout_rate=1.0, chance=0.0)
    res = apply_exclusions(trials, ExclusionSettings(**rules))
    assert len(res.trials) == len(trials) - len(unattended)
    assert len(res.trials) + res.dropped["rows"].sum() == len(trials)
    ledger = res.dropped.groupby("reason")["rows"].sum()
    assert ledger.to_dict() == {UNATTENDED_REASON: len(unattended)}
    assert UNATTENDED_REASON == "page hidden or window unfocused during the trial (online)"
    # per observer: the counts before any exclusion; the lab participant has none (not 0)
    obs = res.observers.set_index("observer")
    assert obs.loc[observers[0], ["n_page_hidden", "n_focus_lost"]].isna().all()
    page = trials.groupby("observer")["page_hidden"].apply(lambda f: int((f == 1).sum()))
    focus = trials.groupby("observer")["focus_lost"].apply(lambda f: int((f == 1).sum()))
    for ob in observers[1:]:
        assert (obs.loc[ob, "n_page_hidden"], obs.loc[ob, "n_focus_lost"]) == (page[ob], focus[ob])
    assert obs["n_page_hidden"].sum() == len(hidden.union(both).difference(online[1:2]))
    # --keep-unattended: analysed like the others (the timing failure is now counted as such)
    kept = apply_exclusions(trials, ExclusionSettings(keep_unattended=True, **rules))
    assert len(kept.trials) == len(trials) - 1
    assert kept.dropped["reason"].str.startswith("image timing failed").all()
    assert "n_page_hidden" in kept.observers  # the counts are reported either way
    # observer rules are judged on every trial, the unattended ones included (as for timing failures)
    unattended_obs = trials.loc[unattended, "observer"].iloc[0]
    strict = apply_exclusions(trials.assign(timed_out=trials.index.isin(unattended).astype(int)),
                              ExclusionSettings(max_timeout_rate=0.0, chance=0.0))
    assert strict.observers.set_index("observer").loc[unattended_obs, "excluded"]
    # files without the columns: nothing changes, and no count columns
    plain = apply_exclusions(trials.drop(columns=["page_hidden", "focus_lost"]), ExclusionSettings(**rules))
    assert "n_page_hidden" not in plain.observers and len(plain.trials) == len(trials) - 1


def test_an_observer_whose_intact_image_accuracy_cannot_be_judged_is_excluded_with_the_reason(trials):
    from reveal.analysis.exclusions import NO_INTACT_REASON

    assert NO_INTACT_REASON == "no intact-image trial, so intact-image accuracy cannot be judged"
    # a session that crashed before its first intact image; one that timed out on every intact image
    crashed = trials[(trials["observer"] == "cl0001") & (trials["level"] != "full")].head(10)
    slow = trials["observer"] == "sa1000"
    quiet = trials.copy()
    quiet.loc[slow & (quiet["level"] == "full"), ["timed_out", "response", "correct"]] = [1, "none", 0]
    quiet = pd.concat([quiet[quiet["observer"] != "cl0001"], crashed])
    res = apply_exclusions(quiet)
    obs = res.observers.set_index("observer")
    n_full = int((slow & (trials["level"] == "full")).sum())
    assert obs.loc["cl0001", "excluded"] and obs.loc["cl0001", "reason"] == NO_INTACT_REASON
    assert obs.loc["sa1000", "excluded"] and obs.loc["sa1000", "reason"] == (
        f"no answered intact-image trial (all {n_full} timed out), so intact-image accuracy cannot be judged")
    ledger = res.dropped.set_index("observer")
    assert ledger.loc["cl0001", "reason"] == f"observer excluded: {NO_INTACT_REASON}"
    assert ledger.loc["cl0001", "rows"] == 10
    # every excluded observer has a stated reason; every row is analysed or in the ledger
    assert (obs.loc[obs["excluded"], "reason"] != "").all()
    assert len(res.trials) + res.dropped["rows"].sum() == len(quiet)
    # models are still not judged (a model without intact images is a result)
    model = crashed.assign(observer="net", observer_kind="model")
    assert not apply_exclusions(pd.concat([quiet, model])).observers.set_index("observer").loc["net", "excluded"]


def _one_observer(full_correct, n_timed_out, n_trials=8):
    """An observer with 4 intact-image trials (``full_correct`` right) and ``n_timed_out`` timeouts elsewhere."""
    level = ["full"] * 4 + ["10"] * (n_trials - 4)
    correct = [1] * full_correct + [0] * (4 - full_correct) + [1] * (n_trials - 4)
    timed = [0] * 4 + [1] * n_timed_out + [0] * (n_trials - 4 - n_timed_out)
    return pd.DataFrame({"observer": "p", "observer_kind": "human", "group": "clickme", "level": level,
                         "correct": correct, "timed_out": timed, "source_file": "f.csv"})


@pytest.mark.parametrize("full_correct, excluded", [(2, True), (3, False)])
def test_an_observer_exactly_at_chance_is_excluded_one_above_is_kept(full_correct, excluded):
    # the rule is "at or below chance": 2 of 4 intact images (0.50) is out, 3 of 4 (0.75) stays
    obs = apply_exclusions(_one_observer(full_correct, 0)).observers.iloc[0]
    assert obs["full_accuracy"] == full_correct / 4 and bool(obs["excluded"]) is excluded
    assert ("at or below chance (0.5)" in obs["reason"]) is excluded


@pytest.mark.parametrize("n_timed_out, excluded", [(2, False), (3, True)])
def test_a_timeout_rate_exactly_at_the_limit_is_kept_one_above_is_excluded(n_timed_out, excluded):
    # 2 of 8 = 25 % is the limit itself (kept: "more than 25 %" excludes); 3 of 8 is over
    obs = apply_exclusions(_one_observer(4, n_timed_out)).observers.iloc[0]
    assert obs["timeout_rate"] == n_timed_out / 8 and bool(obs["excluded"]) is excluded


def test_settings_cannot_change_after_they_are_made():
    import dataclasses

    settings = ExclusionSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.chance = 0.4  # the report states the rules the analysis used: they cannot drift


def test_late_answers_counted_per_observer_where_measured(trials):
    # late_key as the readers give it: "" measured and none, a key measured and late, NaN not measured
    # (a file written before the column existed)
    first, second, third, fourth = trials["observer"].unique()[:4]
    t = trials.copy()
    t["late_key"] = np.nan
    t["late_key"] = t["late_key"].astype(object)
    rows = {ob: np.flatnonzero((t["observer"] == ob).to_numpy()) for ob in (first, second, third)}
    column = t.columns.get_loc("late_key")
    t.iloc[rows[first], column] = ""
    t.iloc[rows[first][[1, 4, 6]], column] = "s"
    t.iloc[rows[second], column] = ""
    t.iloc[rows[third][:1], column] = ""  # one measured trial is a measurement
    counts = apply_exclusions(t).observers.set_index("observer")["n_late_answers"]
    assert counts[first] == 3 and counts[second] == 0 and counts[third] == 0 and pd.isna(counts[fourth])


def test_attention_flags_counted_per_observer_where_measured(trials):
    first, second, third = trials["observer"].unique()[:3]
    t = trials.assign(page_hidden=np.nan)
    t.loc[t["observer"] == first, "page_hidden"] = 0
    t.loc[(t["observer"] == first) & (t["level"] == "10"), "page_hidden"] = 1
    t.loc[(t["observer"] == second).to_numpy().nonzero()[0][:1], "page_hidden"] = 0
    obs = apply_exclusions(t, ExclusionSettings(keep_unattended=True)).observers.set_index("observer")
    n_first = int(((t["observer"] == first) & (t["level"] == "10")).sum())
    assert n_first > 0 and obs.loc[first, "n_page_hidden"] == n_first
    assert obs.loc[second, "n_page_hidden"] == 0 and pd.isna(obs.loc[third, "n_page_hidden"])


def test_the_ledger_names_each_file_and_the_tables_keep_their_shape(trials):
    shuffled = trials.sample(frac=1.0, random_state=0).assign(
        source_file=lambda d: np.where(d["observer"] == "cl0000", "a.csv", "b.csv"))
    res = apply_exclusions(shuffled)
    by_observer = res.dropped.set_index("observer")
    assert by_observer.loc["cl0000", "file"] == "a.csv" and set(res.dropped["file"]) <= {"a.csv", "b.csv"}
    assert list(res.observers["observer"]) == sorted(res.observers["observer"])  # sorted, not in file order
    assert list(res.trials.columns) == list(shuffled.columns) and res.trials.index.equals(
        pd.RangeIndex(len(res.trials)))
    one = trials[trials["observer"] == "cl0001"].head(1)  # a session that ended after one trial
    assert apply_exclusions(one).observers["group"].tolist() == [one["group"].iloc[0]]


def test_timeouts_as_errors_scores_every_timeout_wrong(trials):
    # a file whose timed-out trials carry correct = 1 (a foreign writer) or nothing: all become errors,
    # and no answered trial changes
    t = trials.copy()
    timed = (t["timed_out"] == 1).to_numpy()
    t.loc[timed, "correct"] = np.where(np.arange(timed.sum()) % 2, 1, np.nan)
    res = apply_exclusions(t, ExclusionSettings(timeouts_as_errors=True, max_timeout_rate=1.0))
    kept = res.trials
    assert (kept.loc[kept["timed_out"] == 1, "correct"] == 0).all()
    excluded = set(res.observers.loc[res.observers["excluded"], "observer"])
    answered = t[(t["timed_out"] == 0) & ~t["observer"].isin(excluded)]
    assert kept.loc[kept["timed_out"] == 0, "correct"].tolist() == answered["correct"].tolist()
