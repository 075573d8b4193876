"""Simulation-based power: validated against closed forms and against the analysis itself."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reveal.analysis.curves import accuracy_matrix, observer_accuracy
from reveal.analysis.exclusions import ExclusionSettings, apply_exclusions
from reveal.experiments.design import assignment, participant_design
from reveal.experiments.power import (PowerDesign, _latin_rows, draw_counts, estimate_power,
                                      observer_accuracy_from_counts, reveal_power, stated_effect)
from reveal.core.stimset import read_stimulus_set


def _analytic_t_power(d, n, alpha=0.05):
    """Power of the two-sided two-sample t-test, n per group, effect size d (noncentral t)."""
    df = 2 * n - 2
    crit = stats.t.ppf(1 - alpha / 2, df)
    nc = d * np.sqrt(n / 2)
    return stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)


@pytest.mark.parametrize("d, n", [(0.8, 20), (0.5, 40)])
def test_one_level_normal_data_matches_the_t_test_power(d, n):
    def simulate(rng, n):
        values = np.concatenate([rng.normal(d, 1, n), rng.normal(0, 1, n)])[:, None]
        return values, np.array(["a"] * n + ["b"] * n)

    n_studies = 500
    sig, _ = estimate_power(simulate, [n], n_studies=n_studies, n_resamples=999, rng=1)
    simulated = sig[0, :, 0].mean()
    analytic = _analytic_t_power(d, n)
    se = np.sqrt(analytic * (1 - analytic) / n_studies)
    assert abs(simulated - analytic) < 3 * se, (simulated, analytic, se)


def test_no_effect_rejects_at_the_family_wise_alpha():
    same = [stated_effect(name, 5.0, spread_log10=0.15, timeout_rate=0.02) for name in ("a", "b")]
    n_studies = 600
    res = reveal_power(same, [24], n_studies=n_studies, n_resamples=199, rng=2)
    family = res.table.query("level == 'any'")["power"].iat[0]
    se = np.sqrt(0.05 * 0.95 / n_studies)
    assert abs(family - 0.05) < 3 * se, family
    # each level alone is significant less often than alpha: the correction spends alpha on all 12
    levels = res.table.query("level != 'any'")
    assert (levels["power"] <= 0.05 + 3 * se).all()


def test_power_grows_with_n_where_the_curves_differ_and_not_where_they_meet():
    a, b = stated_effect("clickme", 4.0, lapse=0.0), stated_effect("salicon", 7.0, lapse=0.0)
    res = reveal_power([a, b], [6, 12, 40], n_studies=200, n_resamples=199, rng=3)
    power = res.table.pivot(index="level", columns="n_per_group", values="power")
    assert power.loc["6.31", 6] < power.loc["6.31", 12] < power.loc["6.31", 40]
    assert power.loc["6.31", 40] > 0.8 > power.loc["6.31", 6]
    assert power.loc["full", 40] < 0.05  # both groups are at 1 - lapse on intact images
    needed = res.n_needed.set_index("level")["n_per_group"]
    for level, row in power.iterrows():
        reached = [n for n in (6, 12, 40) if row[n] >= 0.8]
        assert (needed[level] == min(reached)) if reached else np.isnan(needed[level])


@pytest.mark.slow  # 300 studies at 2,000 resamples: ~10 s
def test_fewer_resamples_do_not_bias_power():
    a, b = stated_effect("clickme", 4.0, spread_log10=0.2), stated_effect("salicon", 6.0, spread_log10=0.2)
    n_studies = 300
    coarse = reveal_power([a, b], [30], n_studies=n_studies, n_resamples=200, rng=4).table.set_index("level")
    fine = reveal_power([a, b], [30], n_studies=n_studies, n_resamples=2000, rng=4).table.set_index("level")
    for level in ("3.98", "6.31", "any"):
        p1, p2 = coarse.loc[level, "power"], fine.loc[level, "power"]
        se = np.hypot(coarse.loc[level, "power_se"], fine.loc[level, "power_se"])
        assert abs(p1 - p2) < 3 * max(se, 0.01), (level, p1, p2)


def _tidy_from_counts(design, counts, timed, correct, group):
    """Trial rows carrying exactly these counts, in the tidy trial format."""
    rows = []
    for i in range(counts.shape[0]):
        for j, level in enumerate(design.levels):
            for t in range(counts[i, j]):
                is_timeout = t < timed[i, j]
                ok = (not is_timeout) and (t - timed[i, j]) < correct[i, j]
                rows.append({"observer": f"{group}{i:03d}", "observer_kind": "simulated", "group": group,
                             "map_source": group, "level": level, "correct": int(ok), "timed_out": int(is_timeout),
                             "source_file": f"{group}{i}.csv"})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("timeouts_as_errors", [False, True])
def test_count_form_agrees_with_the_analysis_exclusions_and_accuracy(timeouts_as_errors):
    # a group that times out a lot and one near chance on intact images: both exclusion rules fire
    design = PowerDesign(n_images=40)
    rng = np.random.default_rng(5)
    settings = ExclusionSettings(timeouts_as_errors=timeouts_as_errors)
    effects = [stated_effect("lazy", 4.0, spread_log10=0.3, timeout_rate=0.2),
               stated_effect("guessing", 4.0, lapse=0.45, spread_log10=0.3)]
    rows = _latin_rows([e.name for e in effects], 30)
    for effect in effects:
        counts, timed, correct = draw_counts(design, effect, rows[effect.name], rng)
        acc, excluded = observer_accuracy_from_counts(design, counts, timed, correct, settings)
        tidy = _tidy_from_counts(design, counts, timed, correct, effect.name)
        result = apply_exclusions(tidy, settings)
        flags = result.observers.set_index("observer")["excluded"]
        assert flags.to_numpy().tolist() == excluded.tolist()
        assert 0 < excluded.sum() < len(excluded)
        values, observers, _ = accuracy_matrix(observer_accuracy(result.trials), list(design.levels))
        np.testing.assert_allclose(values, acc[~excluded], equal_nan=True)


def test_latin_rows_are_the_experiments_list_rule(make_stimulus_set, tmp_path):
    stimset = read_stimulus_set(make_stimulus_set(tmp_path / "set", n_images=24))
    design = PowerDesign(levels=tuple(stimset.levels), n_images=len(stimset.images))
    rows = _latin_rows(list(stimset.sources), 30)
    for group in stimset.sources:
        for k in (0, 5, 13, 29):
            trials = participant_design(stimset, k, group=group).test
            assert assignment(k, stimset.sources, group=group).group == group
            expected = np.bincount(trials["level_index"].astype(int), minlength=12)
            np.testing.assert_array_equal(design.counts_by_row()[rows[group][k]], expected)


def test_seeded_and_reproducible():
    a, b = stated_effect("a", 4.0), stated_effect("b", 6.0)
    one = reveal_power([a, b], [10, 20], n_studies=30, n_resamples=99, rng=7).table
    two = reveal_power([a, b], [10, 20], n_studies=30, n_resamples=99, rng=7).table
    pd.testing.assert_frame_equal(one, two)
