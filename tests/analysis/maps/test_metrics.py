"""Map metrics against hand-computed values on tiny arrays, and their edge cases."""
import math

import numpy as np
import pytest
from scipy import stats

from reveal.analysis.maps import metrics as M

A = np.array([[1.0, 2.0], [3.0, 4.0]])


# ----------------------------------------------------------------- hand-computed values

def test_cc_hand_values():
    assert M.cc(A, 2 * A + 5) == pytest.approx(1.0)
    assert M.cc(A, -A) == pytest.approx(-1.0)
    b = np.array([[1.0, 0.0], [0.0, 1.0]])
    # Pearson of (1,2,3,4) and (1,0,0,1) is 0
    assert M.cc(A, b) == pytest.approx(0.0, abs=1e-12)


def test_spearman_matches_scipy_with_ties(rng):
    a = rng.integers(0, 4, (16, 16)).astype(float)
    b = a + rng.integers(0, 3, (16, 16))
    assert M.spearman(a, b) == pytest.approx(stats.spearmanr(a.ravel(), b.ravel()).statistic)
    assert M.spearman(A, np.exp(A)) == pytest.approx(1.0)  # rank-based: any monotone map gives 1


def test_nss_hand_value_and_repeated_fixations():
    sal = np.array([[0.0, 0.0], [0.0, 4.0]])
    # mean 1, sample sd sqrt((1+1+1+9)/3) = 2 -> z at (1, 1) = 1.5, elsewhere -0.5
    assert M.nss(sal, np.array([[1, 1]])) == pytest.approx(1.5)
    assert M.nss(sal, np.array([[1, 1], [1, 1], [1, 1]])) == pytest.approx(1.5)  # repeats count once
    assert M.nss(sal, np.array([[0, 0], [1, 1]])) == pytest.approx(0.5)
    # the same as a fixation map (counts > 0 = fixated); an (N, 2) array is always read as points
    big = np.kron(sal, np.ones((2, 2)))
    fmap = np.zeros((4, 4))
    fmap[0, 0], fmap[3, 3] = 3, 1
    assert M.nss(big, fmap) == pytest.approx(M.nss(big, np.array([[0, 0], [3, 3]])))


def test_sim_hand_value():
    a = np.array([[1.0, 0.0], [0.0, 0.0]])
    b = np.array([[1.0, 1.0], [0.0, 0.0]])
    # a -> (1,0,0,0), b -> (.5,.5,0,0): intersection .5
    assert M.sim(a, b) == pytest.approx(0.5)
    assert M.sim(A, 3 * A) == pytest.approx(1.0)
    assert M.sim(a, 1 - a) == pytest.approx(0.0)


def test_kld_hand_value():
    p = np.ones((2, 2))
    q = np.array([[2.0, 0.0], [0.0, 2.0]])
    # q = (.5, 0, 0, .5), p uniform: 2 * .5 * log(.5 / .25) = log 2
    assert M.kld(p, q) == pytest.approx(math.log(2), rel=1e-9)
    assert M.kld(A, A) == pytest.approx(0.0, abs=1e-12)
    assert M.kld(q, p) > 10  # not symmetric: zeros where the reference has mass cost ~ log(1/eps)


def test_auc_judd_hand_values():
    sal = np.array([[0.1, 0.2], [0.3, 0.4]])
    assert M.auc_judd(sal, np.array([[1, 1]])) == pytest.approx(1.0)  # fixated the maximum
    # fixations at 0.2 and 0.4: ROC points (0,0) (0,.5) (.5,1) (1,1) -> .875
    assert M.auc_judd(sal, np.array([[0, 1], [1, 1]])) == pytest.approx(0.875)
    # MIT's curve for a fixation on the minimum: (0,0) (1,1) -> 0.5, not 0
    assert M.auc_judd(sal, np.array([[0, 0]])) == pytest.approx(0.5)


def _auc_judd_mit_jitter(sal, mask, rng):
    """The MIT AUC_Judd loop, verbatim in spirit (jitter, min-max, sweep), as a test oracle."""
    s = sal + rng.random(sal.shape) / 1e7
    s = ((s - s.min()) / (s.max() - s.min())).ravel()
    f = mask.ravel()
    sth = np.sort(s[f])[::-1]
    n_fix, n_pix = len(sth), s.size
    tp, fp = [0.0], [0.0]
    for i, t in enumerate(sth, start=1):
        above = np.sum(s >= t)
        tp.append(i / n_fix)
        fp.append((above - i) / (n_pix - n_fix))
    tp.append(1.0)
    fp.append(1.0)
    return np.trapezoid(tp, fp)


def test_auc_judd_matches_the_mit_loop(rng):
    sal = rng.integers(0, 4, (12, 12)).astype(float)  # many ties
    mask = rng.random((12, 12)) < 0.15
    # with rng: the MIT jitter, the same draws -> the same number
    seed = 7
    ours = M.auc_judd(sal, mask, rng=np.random.default_rng(seed))
    assert ours == pytest.approx(_auc_judd_mit_jitter(sal, mask, np.random.default_rng(seed)), abs=1e-9)
    # without rng: deterministic, close to MIT's average over jitters
    mit = np.mean([_auc_judd_mit_jitter(sal, mask, rng) for _ in range(400)])
    assert M.auc_judd(sal, mask) == M.auc_judd(sal, mask)
    assert M.auc_judd(sal, mask) == pytest.approx(mit, abs=0.03)
    # without ties both are the same number
    smooth = rng.random((12, 12))
    assert M.auc_judd(smooth, mask) == pytest.approx(_auc_judd_mit_jitter(smooth, mask, rng), abs=1e-6)


def test_shuffled_auc_discounts_centre_bias(rng):
    yy, xx = np.mgrid[:64, :64]
    centre = np.exp(-((yy - 32) ** 2 + (xx - 32) ** 2) / (2 * 10 ** 2))

    def near_centre(n):
        return np.clip(np.rint(rng.normal(32, 6, (n, 2))), 0, 63).astype(int)

    fix, other = near_centre(40), near_centre(400)
    assert M.auc_judd(centre, fix) > 0.85  # plain AUC rewards the centre bias ...
    assert M.auc_shuffled(centre, fix, other, rng) == pytest.approx(0.5, abs=0.08)  # ... shuffled AUC does not
    # a map that peaks exactly where this image's fixations are, and not at the others'
    sal = np.zeros((64, 64))
    sal[fix[:, 0], fix[:, 1]] = 1.0
    far = np.array([[2, 2], [60, 60], [2, 60], [60, 2]])
    assert M.auc_shuffled(sal, fix, far, rng) == pytest.approx(1.0)


# ----------------------------------------------------------------- edge cases

def test_constant_and_zero_maps():
    const, zero = np.full((8, 8), 3.0), np.zeros((8, 8))
    ref = np.arange(64.0).reshape(8, 8)
    fix = np.array([[1, 1], [5, 6]])
    for m in (const, zero):
        assert math.isnan(M.spearman(m, ref))
        assert math.isnan(M.cc(m, ref))
        assert math.isnan(M.nss(m, fix))
        assert M.auc_judd(m, fix) == pytest.approx(0.5)
        assert M.auc_shuffled(m, fix, np.array([[0, 0], [7, 7]]), np.random.default_rng(0)) == pytest.approx(0.5)
    assert math.isnan(M.sim(const, ref))  # MIT: 0/0 in the min-max step
    assert M.sim(zero, ref) == 0.0  # MIT: a zero map stays zero
    assert M.kld(const, ref) == pytest.approx(M.kld(np.ones((8, 8)), ref))  # a uniform distribution
    assert M.kld(ref, zero) == 0.0  # nothing to predict
    assert math.isnan(M.spearman(ref, const))


def test_constant_maps_whose_std_rounds_above_zero_are_nan():
    # The mean of 63 copies of 0.1 is not exactly 0.1, so std(ddof=1) is ~6e-17, not 0;
    # dividing by it gave NSS = ±0.99 and CC ~ 1e-17 for a map that ranks nothing.
    ref = np.arange(63.0).reshape(7, 9)
    fix = np.array([[1, 2], [3, 4]])
    for v in (0.1, 0.3, 1 / 3, 0.7):
        m = np.full((7, 9), v)
        assert m.std(ddof=1) > 0  # the premise: rounding defeats "std > 0"
        assert math.isnan(M.nss(m, fix))
        assert math.isnan(M.cc(m, ref)) and math.isnan(M.cc(ref, m))


def test_matlab_colon_reproduces_matlabs_values():
    # MATLAB builds a:d:b symmetrically from both ends and snaps the end onto b
    np.testing.assert_array_equal(M.matlab_colon(0, 0.1, 1),
                                  [0, 0.1, 0.2, 0.1 * 3, 0.4, 0.5, 1 - 0.4, 1 - 0.1 * 3, 0.8, 0.9, 1])
    assert M.matlab_colon(0, 0.1, 1)[6] == 0.6 and M.matlab_colon(0, 0.1, 1)[7] == 0.7
    assert M.matlab_colon(0, 0.1, 0.3)[-1] == 0.3  # 0.1 * 3 would be 0.30000000000000004
    # no snap (0.35 is off the grid): the second half counts down from 0.1 * 3
    assert M.matlab_colon(0, 0.1, 0.35).tolist() == [0, 0.1, 0.1 * 3 - 0.1, 0.1 * 3]
    assert M.matlab_colon(0, 0.1, 0).tolist() == [0.0]


def test_shuffled_auc_thresholds_are_matlabs_colon():
    # Fixated pixels at 1.0 and exactly 0.7, other-image fixations at 0.65 and 0: at MATLAB's
    # threshold 0.7 (exactly 0.7) both fixations are in and no negative: AUC 1. With
    # 0.1 * 7 = 0.7000000000000001 the 0.7 pixel only entered together with the 0.65
    # negative at 0.6000000000000001, giving 0.875.
    sal = np.array([[1.0, 0.7], [0.65, 0.0]])
    fix = np.array([[0, 0], [0, 1]])
    other = np.array([[1, 0], [1, 1]])  # as many as the fixations: every split draws both
    assert M.auc_shuffled(sal, fix, other, np.random.default_rng(0), n_splits=3) == 1.0


def test_no_fixations_is_nan():
    sal = np.random.default_rng(1).random((8, 8))
    none = np.zeros((0, 2))
    assert math.isnan(M.nss(sal, none))
    assert math.isnan(M.auc_judd(sal, none))
    assert math.isnan(M.auc_judd(sal, np.zeros((8, 8))))
    assert math.isnan(M.auc_shuffled(sal, none, np.array([[1, 1]]), np.random.default_rng(0)))
    assert math.isnan(M.auc_shuffled(sal, np.array([[1, 1]]), none, np.random.default_rng(0)))


def test_fixations_outside_or_wrong_shape_raise():
    sal = np.ones((8, 8))
    with pytest.raises(ValueError, match="outside the 8x8 grid"):
        M.nss(sal, np.array([[8, 0]]))
    with pytest.raises(ValueError, match="outside"):
        M.auc_judd(sal, np.array([[-1, 3]]))
    with pytest.raises(ValueError, match="fixation map has shape"):
        M.fixation_mask(np.zeros((4, 5)), (8, 8))
    with pytest.raises(ValueError, match="2-D"):
        M.cc(np.ones((2, 2, 2)), sal)
    with pytest.raises(ValueError, match="non-negative"):
        M.kld(-sal, sal)


def test_different_resolutions_are_resized_to_the_reference(rng):
    ref = rng.random((16, 16))
    ref = np.kron(ref, np.ones((4, 4)))  # 64x64, blocky
    small = ref[::4, ::4]  # the same map at 16x16
    assert M.cc(small, ref) > 0.8
    assert M.spearman(small, ref) > 0.8
    assert M.sim(small, ref) > 0.8
    # fixation points live on the reference grid: a map at another resolution is resized to it
    fix = np.argwhere(ref > np.quantile(ref, 0.95))
    assert M.nss(small, fix, shape=ref.shape) > 1.0
    assert M.auc_judd(small, fix, shape=ref.shape) > 0.9
    with pytest.raises(ValueError, match="outside"):
        M.nss(small, fix)  # points of the 64x64 grid do not fit the 16x16 map's own grid


def test_matlab_colon_gives_the_outputs_mathworks_documents():
    # The two examples of MathWorks' colonop.m ("how the built-in a:d:b is constructed"):
    # 1-eps : eps/4 : 1+eps is the nine floating-point numbers closest to 1 + (-4:4)*eps/4,
    # i.e. [1-eps 1-eps 1-eps/2 1 1 1 1 1+eps 1+eps]; -1 : 0.01 : 1 has 201 elements,
    # built symmetrically (so v(k) == -v(end+1-k) and the middle is exactly 0).
    eps = np.finfo(float).eps
    np.testing.assert_array_equal(M.matlab_colon(1 - eps, eps / 4, 1 + eps),
                                  [1 - eps, 1 - eps, 1 - eps / 2, 1, 1, 1, 1, 1 + eps, 1 + eps])
    v = M.matlab_colon(-1, 0.01, 1)
    assert len(v) == 201 and v[100] == 0 and np.array_equal(v, -v[::-1])
    # the element count of 0:0.1:top is floor(top / 0.1) + 1 away from the tolerance band
    for top, n in ((1.0, 11), (0.3, 4), (0.35, 4), (0.2999, 3), (0.0, 1)):
        assert len(M.matlab_colon(0, 0.1, top)) == n, top


def test_empty_inputs_are_refused_or_mean_no_fixations():
    with pytest.raises(ValueError, match="saliency is empty"):
        M.cc(np.zeros((0, 3)), A)
    assert not M.fixation_mask(np.array([]), (2, 2)).any()  # no points at all: an empty mask
    assert M.fixation_mask(np.array([[1, 0]]), (2, 2)).tolist() == [[False, False], [True, False]]
    assert M.matlab_colon(1, 0.1, 0).size == 0  # b < a: MATLAB's empty 1:0.1:0


def test_matlab_colon_snaps_the_last_element_only_within_its_tolerance():
    # colonop.m: `if sig*(last-b) > -tol, last = b`; here last = 1 - 2 eps = b - tol exactly: kept
    eps = np.finfo(float).eps
    assert M.matlab_colon(0, 1 - 2 * eps, 1).tolist() == [0.0, 1 - 2 * eps]
    assert M.matlab_colon(0, 1 - eps, 1).tolist() == [0.0, 1.0]  # within the tolerance: b itself


def test_resizing_anti_aliases_exactly_when_an_axis_shrinks():
    from skimage.transform import resize

    stripes = np.tile([0.0, 1.0], (8, 4))  # 8 x 8, columns alternate
    for shape, smooth in (((8, 4), True), ((4, 8), True), ((16, 16), False), ((16, 4), True)):
        expected = resize(stripes, shape, order=1, mode="edge", anti_aliasing=smooth, preserve_range=True)
        np.testing.assert_allclose(M.resize_map(stripes, shape), expected)
    assert np.ptp(M.resize_map(stripes, (8, 4))) < 0.5  # the stripes are blurred away, not aliased


def test_shuffled_auc_is_unchanged_by_the_maps_offset_and_scale_and_uses_mits_100_splits(rng):
    sal = rng.random((12, 12))
    fix = np.argwhere(sal > 0.8)
    other = np.argwhere(rng.random((12, 12)) > 0.7)
    base = M.auc_shuffled(sal, fix, other, rng=5)
    assert M.auc_shuffled(3 * sal + 0.333, fix, other, rng=5) == pytest.approx(base, abs=1e-12)
    assert M.auc_shuffled(sal, fix, other, rng=5, n_splits=100) == base  # MIT's default
    assert M.auc_shuffled(sal, fix, other, rng=5, n_splits=99) != base


def test_a_non_square_grid_checks_rows_and_columns_against_their_own_sizes():
    assert M.fixation_mask(np.array([[3, 6], [0, 0], [3, 7]]), (4, 8))[[3, 0, 3], [6, 0, 7]].all()
    with pytest.raises(ValueError, match="1 fixation\\(s\\) outside the 4x8 grid, e.g. \\[row, col\\] = \\[0, 9\\]"):
        M.fixation_mask(np.array([[0, 9], [1, 1]]), (4, 8))
    # each edge just past the grid, one at a time (a negative index would wrap around silently)
    for point in ([4, 0], [0, 8], [-1, 0], [0, -1]):
        with pytest.raises(ValueError, match=f"e.g. \\[row, col\\] = \\[{point[0]}, {point[1]}\\]"):
            M.fixation_mask(np.array([[1, 1], point, [5, 9]]), (4, 8))  # the first point outside is named


def test_maps_with_a_range_of_one_and_shifted_maps():
    ref = np.array([[0.0, 1.0], [2.0, 4.0]])
    binary = np.array([[0.0, 1.0], [1.0, 1.0]])  # range exactly 1: not constant
    assert M.spearman(binary, ref) == pytest.approx(stats.spearmanr(binary.ravel(), ref.ravel()).statistic)
    assert M.spearman(ref, binary) == pytest.approx(M.spearman(binary, ref))
    with pytest.raises(ValueError, match="non-negative"):
        M.kld(ref, binary - 0.5)  # a reference below 0 anywhere, by less than 1 too
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a constant map is NaN by the rule, not by 0/0
        assert math.isnan(M.sim(np.full((2, 2), 3.0), ref))
        assert math.isnan(M.spearman(np.full((2, 2), 3.0), ref)) and math.isnan(M.spearman(ref, np.ones((2, 2))))
    # SIM rescales each map to [0, 1] before normalising it to sum 1: an offset changes nothing
    assert M.sim(ref + 5.0, binary + 2.0) == pytest.approx(M.sim(ref, binary))


def test_matlab_colon_refuses_a_zero_step_and_builds_the_middle_of_an_even_count_as_colonop_does():
    with pytest.raises(ValueError, match="step must be positive"):
        M.matlab_colon(0, 0, 1)
    eps = np.finfo(float).eps
    assert M.matlab_colon(0, 2 - 2 * eps, 2).tolist() == [0.0, 2.0]  # within tol = 2 eps * max(|a|, |b|) = 4 eps
    v = M.matlab_colon(-0.7, 0.1, 0.3)  # 10 intervals: the middle is (a + b) / 2, not b - 5 * 0.1
    assert len(v) == 11 and v[5] == (-0.7 + 0.3) / 2 and v[5] != 0.3 - 5 * 0.1
