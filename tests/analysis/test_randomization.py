import numpy as np
import pytest
from scipy import stats

from reveal.analysis.randomization import (_extremeness, _scale, bootstrap_group_effects, hedges_g,
                                           permutation_group_test, sign_flip_test, welch_t, with_alternative)


def _population(rng, n_a, n_b, n_levels, shift=0.0):
    """Accuracies of two groups of observers at n_levels levels (binomial over 7 trials, as in the design)."""
    p = np.linspace(0.55, 0.9, n_levels)
    a = rng.binomial(7, np.clip(p + shift, 0, 1), size=(n_a, n_levels)) / 7
    b = rng.binomial(7, p, size=(n_b, n_levels)) / 7
    return np.vstack([a, b]), np.array(["a"] * n_a + ["b"] * n_b)


def _welch(x, y, axis):
    return stats.ttest_ind(x, y, axis=axis, equal_var=False).statistic


def _mc_tol(p, b):
    # Two independent Monte-Carlo estimates of the same p: difference SD = sqrt(2 p(1-p)/b).
    return 4.5 * np.sqrt(2 * p * (1 - p) / b) + 3 / b


def test_agrees_with_scipy_permutation_test():
    rng = np.random.default_rng(1)
    x, g = _population(rng, 25, 30, 6, shift=0.06)
    b = 4000
    ours = permutation_group_test(x, g, rng=np.random.default_rng(2), n_resamples=b)
    np.testing.assert_allclose(ours.statistic, _welch(x[g == "a"], x[g == "b"], 0))
    # Two-sided as "|t| at least as large" = scipy with |t| and alternative greater.
    ref = stats.permutation_test((x[g == "a"], x[g == "b"]), lambda u, v, axis: np.abs(_welch(u, v, axis)),
                                 n_resamples=b, vectorized=True, axis=0, alternative="greater",
                                 rng=np.random.default_rng(3))
    assert np.all(np.abs(ours.pvalue - ref.pvalue) <= _mc_tol(ref.pvalue, b))
    # One-sided.
    greater = with_alternative(ours, "greater")
    ref1 = stats.permutation_test((x[g == "a"], x[g == "b"]), _welch, n_resamples=b, vectorized=True, axis=0,
                                  alternative="greater", rng=np.random.default_rng(4))
    assert np.all(np.abs(greater.pvalue - ref1.pvalue) <= _mc_tol(ref1.pvalue, b))
    # scipy's null applies one permutation to all levels, so its max over levels is the max-T null too.
    null = np.abs(np.asarray(ref.null_distribution))
    null = null if null.shape[0] == b else null.T
    obs = np.abs(ours.statistic)
    p_fwer_scipy = ((null.max(axis=1)[:, None] >= obs[None, :] * (1 - 1e-14)).sum(0) + 1) / (b + 1)
    assert np.all(np.abs(ours.pvalue_fwer - p_fwer_scipy) <= _mc_tol(p_fwer_scipy, b))


def test_fwer_pvalues_dominate_per_level_pvalues():
    rng = np.random.default_rng(5)
    for shift in (0.0, 0.05, 0.15):
        x, g = _population(rng, 12, 15, 12, shift)
        for alternative in ("two-sided", "greater", "less"):
            res = permutation_group_test(x, g, rng=rng, n_resamples=300, alternative=alternative)
            assert np.all(res.pvalue_fwer >= res.pvalue)
            assert np.all((res.pvalue > 0) & (res.pvalue <= 1))
            assert np.all(res.pvalue >= 1 / 301)


def test_pvalues_uniform_under_the_null_and_fwer_controlled():
    """Many null data sets: per-level p ~ U(0,1) and P(any p_fwer < .05) ≈ .05 (continuous data)."""
    rng = np.random.default_rng(6)
    reps, b, levels = 2000, 199, 4
    p_all, any_fwer = [], 0
    for _ in range(reps):
        x = rng.normal(size=(18, levels)) * np.array([1.0, 2.0, 0.5, 1.0])  # unequal scales across levels
        g = np.array(["a"] * 8 + ["b"] * 10)
        res = permutation_group_test(x, g, rng=rng, n_resamples=b)
        p_all.append(res.pvalue)
        any_fwer += res.pvalue_fwer.min() < 0.05
    p_all = np.concatenate(p_all)
    # p lives on the grid k/(b+1): compare with the discrete uniform it should follow.
    assert stats.kstest(p_all + rng.uniform(-1, 0, p_all.size) / (b + 1), "uniform").pvalue > 0.001
    assert abs(np.mean(p_all < 0.05) - 0.05) < 0.01
    # Family-wise error rate of the max-statistic: binomial test around .05.
    assert stats.binomtest(any_fwer, reps, 0.05).pvalue > 0.001, any_fwer / reps


def test_valid_on_discrete_accuracies():
    """Accuracies over ~7 trials have ties: the test may be conservative, never liberal."""
    rng = np.random.default_rng(16)
    p_all, any_fwer, reps = [], 0, 1000
    for _ in range(reps):
        x, g = _population(rng, 8, 10, 4)
        res = permutation_group_test(x, g, rng=rng, n_resamples=199)
        p_all.append(res.pvalue[res.defined])
        any_fwer += np.nanmin(res.pvalue_fwer) < 0.05
    p_all = np.concatenate(p_all)
    for alpha in (0.01, 0.05, 0.1, 0.2):
        rate = np.mean(p_all <= alpha)
        assert rate <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / p_all.size) + 0.005, (alpha, rate)
    assert any_fwer / reps <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)


def test_power_under_the_alternative():
    rng = np.random.default_rng(7)
    hits = []
    for _ in range(40):
        x, g = _population(rng, 20, 20, 3, shift=0.12)
        hits.append(permutation_group_test(x, g, rng=rng, n_resamples=199, alternative="greater").pvalue < 0.05)
    assert np.mean(hits) > 0.6  # d ≈ 0.7 per level, n = 20 + 20: power ≈ 0.7-0.8 one-sided


def test_ceiling_level_is_not_tested_and_changes_nothing_else():
    rng = np.random.default_rng(8)
    x, g = _population(rng, 10, 10, 5, shift=0.1)
    with_ceiling = np.column_stack([x, np.ones(len(x))])
    r1 = permutation_group_test(x, g, rng=np.random.default_rng(9), n_resamples=500)
    r2 = permutation_group_test(with_ceiling, g, rng=np.random.default_rng(9), n_resamples=500)
    assert not r2.defined[-1] and np.isnan(r2.statistic[-1]) and np.isnan(r2.pvalue_fwer[-1])
    np.testing.assert_array_equal(r1.pvalue_fwer, r2.pvalue_fwer[:-1])
    np.testing.assert_array_equal(r1.pvalue, r2.pvalue[:-1])


def test_missing_cells_are_masked():
    rng = np.random.default_rng(10)
    x, g = _population(rng, 12, 12, 3, shift=0.1)
    x[0, 1] = np.nan
    res = permutation_group_test(x, g, rng=rng, n_resamples=200)
    keep = ~np.isnan(x[:, 1])
    np.testing.assert_allclose(res.statistic[1], _welch(x[keep & (g == "a"), 1], x[keep & (g == "b"), 1], 0))


def test_seeded_and_reproducible():
    x, g = _population(np.random.default_rng(11), 6, 6, 4, 0.1)
    a = permutation_group_test(x, g, rng=np.random.default_rng(1), n_resamples=100)
    b = permutation_group_test(x, g, rng=np.random.default_rng(1), n_resamples=100)
    np.testing.assert_array_equal(a.null_distribution, b.null_distribution)


def test_sign_flip_agrees_with_scipy_and_is_uniform_under_null():
    rng = np.random.default_rng(12)
    d = rng.normal(0.3, 1.0, size=(14, 3))
    b = 4000
    ours = sign_flip_test(d, rng=np.random.default_rng(13), n_resamples=b)
    ref = stats.permutation_test((d,), lambda u, axis: np.abs(stats.ttest_1samp(u, 0, axis=axis).statistic),
                                 permutation_type="samples", n_resamples=b, vectorized=True, axis=0,
                                 alternative="greater", rng=np.random.default_rng(14))
    np.testing.assert_allclose(ours.statistic, stats.ttest_1samp(d, 0, axis=0).statistic)
    assert np.all(np.abs(ours.pvalue - ref.pvalue) <= _mc_tol(ref.pvalue, b))
    assert np.all(ours.pvalue_fwer >= ours.pvalue)
    p = np.concatenate([sign_flip_test(rng.normal(size=(9, 2)), rng=rng, n_resamples=199).pvalue
                        for _ in range(300)])
    assert stats.kstest(p, "uniform").pvalue > 0.001


def test_bootstrap_effects_cover_truth_and_handle_ceiling():
    rng = np.random.default_rng(15)
    a = rng.normal(0.8, 0.1, size=(60, 2))
    b = rng.normal(0.7, 0.1, size=(60, 2))
    a[:, 1] = b[:, 1] = 1.0  # ceiling
    eff = bootstrap_group_effects(a, b, rng=rng, n_resamples=2000)
    assert eff["difference_low"][0] < 0.1 < eff["difference_high"][0]
    assert eff["g_low"][0] < 1.0 < eff["g_high"][0]
    assert eff["difference"][1] == eff["difference_low"][1] == eff["difference_high"][1] == 0
    assert np.isnan(eff["hedges_g"][1])


def test_bad_arguments():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="two groups"):
        permutation_group_test(x, ["a", "b", "c", "c"], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="alternative"):
        permutation_group_test(x, ["a", "a", "b", "b"], rng=np.random.default_rng(0), alternative="both")


@pytest.mark.parametrize("statistic", ["welch_t", "mean_difference"])
def test_an_observed_effect_of_exactly_zero_has_two_sided_p_one(statistic):
    # The second group holds the first group's accuracies reordered: the difference of means
    # is exactly 0, but computing it leaves ±1e-16…1e-14, as it does for every resample that
    # is also exactly 0. Those ties must all count as "as extreme": p = 1, not 0.88–0.99.
    rng = np.random.default_rng(0)
    a = rng.binomial(7, 0.7, size=(12, 3)) / 7
    x = np.vstack([a, rng.permutation(a)])
    g = np.array(["a"] * 12 + ["b"] * 12)
    res = permutation_group_test(x, g, rng=np.random.default_rng(1), n_resamples=2000, statistic=statistic)
    assert np.all(np.abs(res.statistic) < 1e-12)
    np.testing.assert_array_equal(res.pvalue, 1.0)
    np.testing.assert_array_equal(res.pvalue_fwer, 1.0)
    # the same resamples read one-sided: a zero effect is never significant either way
    for alt in ("greater", "less"):
        assert (with_alternative(res, alt).pvalue > 0.3).all()


def test_sign_flip_of_differences_summing_to_zero_has_p_one():
    # each level's differences (k/7 steps) cancel exactly in exact arithmetic, the second
    # half being the first negated and reordered; in floating point the mean comes out as
    # ~1e-16, and so do the many flips that also cancel
    rng = np.random.default_rng(0)
    a = rng.integers(-7, 8, size=(10, 3)) / 7
    d = np.vstack([a, -rng.permutation(a)])
    res = sign_flip_test(d, rng=np.random.default_rng(3), n_resamples=2000)
    assert np.all(np.abs(res.statistic) < 1e-12)
    np.testing.assert_array_equal(res.pvalue, 1.0)


def test_bootstrap_with_one_observer_in_a_group_gives_no_interval():
    a = np.array([[0.9, 0.6]])
    b = np.array([[0.6, 0.5], [0.7, 0.4], [0.65, 0.45]])
    eff = bootstrap_group_effects(a, b, rng=0, n_resamples=200)
    np.testing.assert_allclose(eff["difference"], [0.25, 0.15])
    for key in ("difference_low", "difference_high", "hedges_g", "g_low", "g_high"):
        assert eff[key].shape == (2,) and np.isnan(eff[key]).all()


def test_an_effect_no_resample_reaches_has_p_one_over_resamples_plus_one():
    # every observer of a far above every observer of b: no relabelling is as extreme, and the
    # p-value is the smallest a randomization test can give, (0 + 1) / (resamples + 1), not 0
    values = np.r_[np.full((6, 1), 0.9), np.full((6, 1), 0.1)] + np.linspace(0, 0.01, 12)[:, None]
    labels = np.array(["a"] * 6 + ["b"] * 6)
    res = permutation_group_test(values, labels, rng=1, n_resamples=99, order=("a", "b"))
    greater = with_alternative(res, "greater")
    assert greater.pvalue[0] == pytest.approx(1 / 100) and greater.pvalue_fwer[0] == pytest.approx(1 / 100)


# --- behaviours found unguarded by mutation testing (tools/mutation), each a hand-checked case

def test_at_least_one_resample_is_needed_and_one_is_enough():
    x, labels = np.array([[0.1], [0.2], [0.8], [0.9]]), ["a", "a", "b", "b"]
    with pytest.raises(ValueError, match="n_resamples must be >= 1"):
        permutation_group_test(x, labels, rng=0, n_resamples=0)
    assert permutation_group_test(x, labels, rng=0, n_resamples=1).null_distribution.shape == (1, 1)


def test_the_smallest_groups_each_statistic_is_defined_for():
    # a difference of means needs one observer per group; Welch's t two (a variance)
    x = np.array([[0.2], [0.6], [0.8], [0.5]])
    one = permutation_group_test(x[:3], ["a", "b", "b"], rng=0, n_resamples=9, statistic="mean_difference",
                                 order=("a", "b"))
    assert one.defined.tolist() == [True] and one.statistic[0] == pytest.approx(0.2 - 0.7)
    other = permutation_group_test(x[:3], ["a", "a", "b"], rng=0, n_resamples=9, statistic="mean_difference",
                                   order=("a", "b"))
    assert other.defined.tolist() == [True] and other.statistic[0] == pytest.approx(0.4 - 0.8)
    two = permutation_group_test(x, ["a", "a", "b", "b"], rng=0, n_resamples=9, order=("a", "b"))
    va, vb = np.var([0.2, 0.6], ddof=1), np.var([0.8, 0.5], ddof=1)
    assert two.defined.tolist() == [True]
    assert two.statistic[0] == pytest.approx((0.4 - 0.65) / np.sqrt(va / 2 + vb / 2))
    single = sign_flip_test(np.array([[0.3, -0.1]]), rng=0, n_resamples=9, statistic="mean")
    assert single.defined.tolist() == [True, True] and single.statistic.tolist() == pytest.approx([0.3, -0.1])


def test_paired_differences_without_variance_give_an_infinite_t():
    same = np.full((5, 2), [0.2, -0.1])  # every observer the same difference: t = ±inf, not 0
    res = sign_flip_test(same, rng=0, n_resamples=19)
    assert res.statistic.tolist() == [np.inf, -np.inf]


def test_hedges_g_by_hand():
    a, b = np.array([0.2, 0.4, 0.6]), np.array([0.5, 0.7, 0.9, 1.1])
    pooled = np.sqrt((2 * 0.04 + 3 * (0.2 / 3)) / 5)  # variances 0.04 and 0.0667 (ddof 1)
    expected = (0.4 - 0.8) / pooled * (1 - 3 / (4 * 7 - 9))
    assert hedges_g(a, b) == pytest.approx(expected) and expected == pytest.approx(-1.4234177)
    table = np.c_[np.r_[a, np.nan], b]  # observers along axis 0 by default, NaN = missing
    assert hedges_g(table[:, :1], table[:, 1:]) == pytest.approx([expected])


def test_the_tie_floor_scales_with_the_data_for_differences_and_not_for_t():
    assert _scale("mean_difference", np.array([0.5, -2.0])) == 2.0
    assert _scale("welch_t", np.array([0.5, -2.0])) == 1.0 and _scale("mean_difference", np.zeros(3)) == 1.0
    assert _scale("mean_difference", np.array([0.5, -0.25])) == 0.5 and _scale("mean_difference", np.zeros(0)) == 1.0


def test_the_published_defaults_and_no_progress_bar_unless_asked(capsys):
    import inspect

    for func in (permutation_group_test, sign_flip_test, bootstrap_group_effects):
        assert inspect.signature(func).parameters["n_resamples"].default == 10_000  # the README's and the CLI's
    permutation_group_test(np.array([[0.1], [0.2], [0.8], [0.9]]), ["a", "a", "b", "b"], rng=0, n_resamples=50)
    sign_flip_test(np.array([[0.1], [0.2]]), rng=0, n_resamples=50)
    assert capsys.readouterr().err == ""


def test_two_observers_per_group_are_enough_for_a_bootstrap_interval():
    a, b = np.array([[0.9], [0.7]]), np.array([[0.5], [0.6]])
    eff = bootstrap_group_effects(a, b, rng=0, n_resamples=200, method="percentile")
    assert eff["difference"][0] == pytest.approx(0.25)
    assert np.isfinite([eff[k][0] for k in ("difference_low", "difference_high", "hedges_g")]).all()


def test_batches_do_not_change_the_null():
    x, labels = np.random.default_rng(0).random((8, 3)), ["a"] * 4 + ["b"] * 4
    whole = permutation_group_test(x, labels, rng=5, n_resamples=25)
    batched = permutation_group_test(x, labels, rng=5, n_resamples=25, batch_size=7)  # 7 + 7 + 7 + 4
    np.testing.assert_array_equal(whole.null_distribution, batched.null_distribution)
    d = np.random.default_rng(1).normal(size=(6, 2))
    np.testing.assert_array_equal(sign_flip_test(d, rng=5, n_resamples=25).null_distribution,
                                  sign_flip_test(d, rng=5, n_resamples=25, batch_size=7).null_distribution)


def test_welch_t_by_hand_at_its_edges():
    # (1, 1) vs (0.5, 0.5): no variance, a difference: +inf; (1, 1) vs (1, 1): 0; a group of one: undefined
    t = welch_t(np.array([2.0, 2.0]), np.array([2.0, 2.0]), 2, np.array([1.0, 2.0]), np.array([0.5, 2.0]), 2)
    assert t.tolist() == [np.inf, 0.0]
    one = welch_t(np.array([2.0]), np.array([2.5]), 2, np.array([0.5]), np.array([0.25]), 1)
    assert np.isnan(one).all()
    # no variance and means apart by exactly the 1e-12 round-off floor: a difference, not a tie
    at_floor = welch_t(np.array([2e-12, 2e-12 * 0.999]), np.array([2e-24, 2 * 0.999e-12 ** 2]), 2,
                       np.zeros(2), np.zeros(2), 2)
    assert at_floor.tolist() == [np.inf, 0.0]
    group = permutation_group_test(np.array([[0.2], [0.6], [0.8]]), ["a", "a", "b"], rng=0, n_resamples=9)
    assert group.defined.tolist() == [False] and np.isnan(group.pvalue).all()


def test_an_undefined_resample_is_never_as_extreme():
    assert _extremeness(np.array([np.nan, 1.0, -2.0]), "two-sided").tolist() == [-np.inf, 1.0, 2.0]
    assert _extremeness(np.array([np.nan, 1.0, -2.0]), "less").tolist() == [-np.inf, -1.0, 2.0]


def test_sign_flip_leaves_missing_differences_out_and_zero_differences_untested():
    d = np.array([[0.3, 0.0, 0.2], [0.1, 0.0, np.nan], [0.2, 0.0, 0.4]])
    res = sign_flip_test(d, rng=0, n_resamples=99, statistic="mean")
    assert res.statistic[0] == pytest.approx(0.2) and res.statistic[2] == pytest.approx(0.3)  # NaN left out
    assert res.defined.tolist() == [True, False, True] and np.isnan(res.pvalue[1])  # all zero: nothing to test


def test_two_observers_are_enough_for_a_paired_t():
    res = sign_flip_test(np.array([[0.1], [0.3]]), rng=0, n_resamples=9)
    assert res.defined.tolist() == [True] and res.statistic[0] == pytest.approx(0.2 / (np.std([0.1, 0.3], ddof=1)
                                                                                        / np.sqrt(2)))


@pytest.mark.parametrize("test, args", [(permutation_group_test, ([0.9, 0.8, 0.6, 0.7], list("aabb"))),
                                        (sign_flip_test, ([0.1, 0.2, -0.1],)),
                                        (bootstrap_group_effects, ([0.9, 0.8], [0.6, 0.7]))])
def test_the_seed_can_never_be_passed_by_position(test, args):
    # test(data, groups, 100) meaning 100 resamples would silently be seed 100 of 10,000 resamples
    with pytest.raises(TypeError):
        test(*args, 0)


def test_an_order_naming_two_of_three_groups_is_refused():
    # the third group would otherwise be counted as the second
    with pytest.raises(ValueError, match="exactly two groups"):
        permutation_group_test([0.9, 0.8, 0.6, 0.7, 0.5], list("aabbc"), order=("a", "b"), rng=0, n_resamples=9)
    with pytest.raises(ValueError, match="exactly two groups"):
        permutation_group_test([0.9, 0.8, 0.6, 0.7], list("aabb"), order=("a", "c"), rng=0, n_resamples=9)


def test_a_level_where_every_observer_scores_the_same_is_not_tested_whatever_the_score():
    # the ceiling (1.0) and the floor are not the only constant levels: 0.3 for all is no effect to test
    data = np.array([[0.3, 0.9], [0.3, 0.8], [0.3, 0.85], [0.3, 0.6], [0.3, 0.7], [0.3, 0.65]])
    res = permutation_group_test(data, list("aaabbb"), rng=0, n_resamples=99)
    assert res.defined.tolist() == [False, True] and np.isnan(res.pvalue[0]) and np.isnan(res.statistic[0])


def test_with_no_levels_left_the_tests_return_empty_results():
    res = permutation_group_test(np.empty((6, 0)), list("aaabbb"), rng=0, n_resamples=9)
    assert res.statistic.shape == (0,) and res.null_distribution.shape == (9, 0)
    assert np.isneginf(res.max_null).all() and res.max_null.shape == (9,)


def test_one_dimensional_differences_are_one_level():
    one = sign_flip_test([0.1, 0.2, 0.15, 0.3, 0.25], rng=0, n_resamples=99)
    column = sign_flip_test([[0.1], [0.2], [0.15], [0.3], [0.25]], rng=0, n_resamples=99)
    assert one.statistic.shape == (1,) and one.null_distribution.shape == (99, 1)
    np.testing.assert_array_equal(one.statistic, column.statistic)
    np.testing.assert_array_equal(one.pvalue, column.pvalue)


def test_an_effect_size_between_two_constant_groups_is_undefined_not_infinite():
    g = hedges_g([[1.0], [1.0], [1.0]], [[0.5], [0.5], [0.5]])
    assert np.isnan(g).all()


def test_a_large_t_ties_with_its_own_relabelling_despite_round_off():
    # A constant group against three small values: t = 337. The swapped labelling gives the same |t| in
    # exact arithmetic; the sums-of-squares route gets it 4e-9 lower (values found by a search for
    # round-off above the absolute floor of 1e-9), so only the relative tolerance counts it as "as
    # extreme". Two of the 20 labellings are as extreme: p near 0.1, and exactly the count of ties.
    data = np.array([3 / 7] * 3 + [0.00502243701857817, 0.0007174910026540241, 0.0021524730079620726])
    res = permutation_group_test(data, list("aaabbb"), rng=0, n_resamples=3999)
    null = np.abs(res.null_distribution[:, 0])
    as_extreme = (null >= abs(res.statistic[0]) * (1 - 1e-6)).sum()  # a loose tie rule: no other labelling is near
    assert abs(res.statistic[0]) == pytest.approx(336.57, abs=0.01)
    assert res.pvalue[0] == (as_extreme + 1) / 4000
    assert res.pvalue[0] == pytest.approx(0.1, abs=0.03)
