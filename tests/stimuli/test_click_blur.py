"""The ClickMe disk blur: exact, so that values equal in exact arithmetic tie for ranking."""
import numpy as np
from scipy import signal, stats

from reveal.stimuli.loaders.clickme import blur_click_map, clicks_to_map, disk_kernel


def _exact_disk_sums(counts, passes=2):
    # integer convolution (int64, no floating point at all): the reference
    k = (disk_kernel() > 0).astype(np.int64)
    out = counts.astype(np.int64)
    for _ in range(passes):
        out = signal.convolve2d(out, k, mode="same", boundary="fill", fillvalue=0)
    return out, int(k.sum())


def test_one_click_blurs_to_an_exactly_symmetric_map():
    # a disk blurred by a disk around one click has the square's 8 symmetries; the FFT blur
    # broke them in the last bits at ~1000 of the 1681 pixels around the click
    m = clicks_to_map([np.array([[60, 50]])], (128, 128))
    w = m[50 - 20:50 + 21, 60 - 20:60 + 21]
    for sym in (w[::-1], w[:, ::-1], w.T):
        np.testing.assert_array_equal(w, sym)
    assert np.isclose(m.sum(), 1)


def test_blurred_clicks_equal_the_integer_convolution_and_tie_exactly():
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 128, (20, 2)) for _ in range(5)]
    m = clicks_to_map(parts, (128, 128))
    counts = np.zeros((128, 128), np.int64)
    for p in parts:
        np.add.at(counts, (p[:, 1], p[:, 0]), 1)
    exact, area = _exact_disk_sums(counts)
    # one division of exact integers: equal sums give equal floats, and nothing else
    np.testing.assert_array_equal(m, exact / (5 * area ** 2))
    assert len(np.unique(m)) == len(np.unique(exact))
    # so Spearman sees the ties of the exact map: identical average ranks
    np.testing.assert_array_equal(stats.rankdata(m), stats.rankdata(exact))
    assert (m[exact == 0] == 0).all() and (m[exact > 0] > 0).all()


def test_non_integer_input_is_blurred_directly_with_exact_zeros():
    rng = np.random.default_rng(1)
    counts = np.zeros((64, 64))
    counts[20, 22], counts[40, 41] = 1 / 3, 2 / 3  # far enough from the border to keep all mass
    out = blur_click_map(counts)
    exact, area = _exact_disk_sums(np.where(counts > 0, 1, 0))
    assert ((out == 0) == (exact == 0)).all()  # no ±1e-20 where no click reaches
    assert np.isclose(out.sum(), 1.0)
    scaled = rng.integers(0, 4, (64, 64))
    np.testing.assert_allclose(blur_click_map(scaled / 7), blur_click_map(scaled) / 7, rtol=1e-12)
