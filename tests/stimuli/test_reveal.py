import inspect

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage as ndi, stats

from reveal.stimuli.reveal import flood_priority, reveal_mask, reveal_order

maps = arrays(np.float64, st.tuples(st.integers(2, 24), st.integers(2, 24)),
              elements=st.floats(0, 1, allow_nan=False, width=32)).filter(lambda m: m.max() > m.min())

STRUCTURE = {4: ndi.generate_binary_structure(2, 1), 8: ndi.generate_binary_structure(2, 2)}


@settings(max_examples=60, deadline=None)
@given(m=maps, seed=st.integers(0, 2**32 - 1), connectivity=st.sampled_from([4, 8]))
def test_order_is_a_connected_nested_flood_from_the_argmax(m, seed, connectivity):
    rank = reveal_order(m, np.random.default_rng(seed), connectivity)
    assert rank.shape == m.shape
    assert np.array_equal(np.sort(rank.ravel()), np.arange(m.size))  # a permutation
    assert rank.flat[np.argmax(m)] == 0  # first the argmax (first one on ties)
    # every prefix is one connected region (nesting holds by construction of prefixes
    # of one ranking; connectivity is the property that can fail)
    for n in np.unique(np.linspace(1, m.size, 12).astype(int)):
        _, n_regions = ndi.label(reveal_mask(rank, n), STRUCTURE[connectivity])
        assert n_regions == 1


@settings(max_examples=30, deadline=None)
@given(m=maps, seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_order(m, seed):
    a = reveal_order(m, np.random.default_rng(seed))
    b = reveal_order(m, np.random.default_rng(seed))
    assert np.array_equal(a, b)


def test_order_is_a_permutation_and_every_prefix_one_4_connected_region():
    # (Nested prefixes hold by construction of reveal_mask; what can fail is the order.)
    m = ndi.gaussian_filter(np.random.default_rng(0).random((40, 50)), 3)
    rank = reveal_order(m, np.random.default_rng(1))
    assert np.array_equal(np.sort(rank.ravel()), np.arange(rank.size))
    assert rank.ravel()[np.argmax(m)] == 0
    # The pixel revealed k-th must touch one revealed before it: then every prefix is connected.
    padded = np.pad(rank, 1, constant_values=rank.size)
    neighbours = np.stack([padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])
    touches_earlier = (neighbours < rank).any(axis=0)
    touches_earlier[rank == 0] = True
    assert touches_earlier.all()
    for n in (10, 100, 500, 2000):
        assert ndi.label(reveal_mask(rank, n))[1] == 1


def test_different_seeds_differ_where_the_map_has_ties():
    m = np.zeros((32, 32))
    m[16, 16] = 1.0  # one peak on a flat plateau: the order on the plateau is the noise's
    orders = {reveal_order(m, np.random.default_rng(s)).tobytes() for s in range(4)}
    assert len(orders) == 4


def test_without_noise_growth_follows_importance():
    # two ridges from the peak: the brighter one is flooded first
    m = np.zeros((21, 21))
    m[10, 10] = 1.0
    m[10, 11:] = 0.9  # bright ridge to the right
    m[10, :10] = 0.3  # dim ridge to the left
    rank = reveal_order(m, np.random.default_rng(0), noise=0, distance_weight=0)
    assert rank[10, 11:].max() < rank[10, :10].min()


def test_growth_prefers_important_pixels_on_a_smooth_map():
    rng = np.random.default_rng(3)
    m = ndi.gaussian_filter(rng.random((64, 64)), 4)
    rank = reveal_order(m, rng)
    first = reveal_mask(rank, 400)
    assert m[first].mean() > np.quantile(m, 0.75)


def test_on_a_flat_map_the_region_grows_as_a_disc_around_the_peak():
    # the distance term: where importance does not decide, the revealed region grows compactly from
    # the most important pixel (a disc), it does not sprawl along its edge (noise off: at its
    # default, the smoothed noise outweighs the distance term on a flat map, by design)
    # (a map wider than high, the peak off its diagonal: rows and columns measured from their own
    # coordinate of the peak)
    m = np.zeros((61, 90))
    m[24, 58] = 1.0
    rank = reveal_order(m, np.random.default_rng(5), noise=0)
    rows, cols = np.indices(m.shape)
    dist = np.hypot(rows - 24, cols - 58)
    for n in (50, 400, 1000):
        first = reveal_mask(rank, n)
        radius = np.sqrt(n / np.pi)  # of a disc of n pixels
        assert dist[first].max() < radius + 3, n
        assert (dist < radius - 3)[~first].sum() == 0, n  # and it has no holes


def test_the_noise_perturbs_the_order_and_importance_still_decides_it():
    # the default noise (0.05 of the importance range, smoothed): the order stays close to the
    # noise-free one (rank correlation > 0.8 for every seed) but is not that order
    m = ndi.gaussian_filter(np.random.default_rng(3).random((64, 64)), 4)
    plain = reveal_order(m, np.random.default_rng(1), noise=0).ravel()
    for seed in range(4):
        rho = stats.spearmanr(reveal_order(m, np.random.default_rng(seed)).ravel(), plain)[0]
        assert 0.8 < rho < 0.99, (seed, rho)


def test_the_defaults_are_the_published_parameters():
    # DESIGN.md: noise 0.05 of the importance range, smoothed over 2 px; distance 0.25 per diagonal
    defaults = {k: v.default for k, v in inspect.signature(reveal_order).parameters.items()}
    assert defaults == {"importance": inspect.Parameter.empty, "rng": None, "connectivity": 4, "noise": 0.05,
                        "noise_scale": 2.0, "distance_weight": 0.25}


def test_with_8_neighbours_the_flood_follows_diagonal_and_straight_ridges_alike():
    # a star of eight ridges from the peak, slowly falling: 8-connected, every ridge pixel comes
    # before any pixel off the star (a missing or wrong neighbour offset would detour)
    m = np.zeros((15, 15))
    for dr, dc in [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]:
        for k in range(8):
            m[7 + dr * k, 7 + dc * k] = 1.0 - 0.01 * k - 0.001 * (dr + 2 * dc + 3)
    rank = reveal_order(m, np.random.default_rng(0), connectivity=8, noise=0, distance_weight=0)
    star = m > 0
    assert rank[star].max() == star.sum() - 1


@pytest.mark.parametrize("n", [0, 1, 17, 63, 64])
def test_a_mask_reveals_exactly_n_pixels_the_first_n(n):
    rank = reveal_order(np.random.default_rng(2).random((8, 8)), np.random.default_rng(2))
    mask = reveal_mask(rank, n)
    assert mask.sum() == n and (rank[mask] < n).all()


@pytest.mark.parametrize("n", [-1, 65])
def test_a_mask_of_more_pixels_than_the_map_or_fewer_than_none_is_refused(n):
    rank = reveal_order(np.random.default_rng(2).random((8, 8)), np.random.default_rng(2))
    with pytest.raises(ValueError):
        reveal_mask(rank, n)


def test_the_noise_is_smooth_alike_in_both_directions():
    # noise_scale smooths the noise field over ~2 px with a round Gaussian: neighbouring pixels'
    # noise is correlated, as strongly across as down (a blur along one axis only would not be)
    m = np.zeros((128, 128))
    m[0, 0] = 1.0
    field = flood_priority(m, 7, distance_weight=0)[0] - flood_priority(m, 7, noise=0, distance_weight=0)[0]
    across = np.corrcoef(field[:, :-1].ravel(), field[:, 1:].ravel())[0, 1]
    down = np.corrcoef(field[:-1].ravel(), field[1:].ravel())[0, 1]
    assert across > 0.7 and down > 0.7 and abs(across - down) < 0.05, (across, down)
    assert field.std() == pytest.approx(0.05, rel=1e-3)  # noise: its size in units of the importance range


def test_the_options_are_keyword_only():
    m = np.random.default_rng(0).random((8, 8))
    with pytest.raises(TypeError):
        flood_priority(m, 0, 0.1)
    with pytest.raises(TypeError):
        reveal_order(m, 0, 4, 0.1)


@pytest.mark.parametrize("bad, message", [
    (np.full((5, 5), 0.3), "constant"),
    (np.array([[0.0, np.nan], [1.0, 0.5]]), "NaN"),
    (np.zeros(5), "2-D"),
])
def test_bad_maps_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        reveal_order(bad, np.random.default_rng(0))


def test_connectivity_must_be_4_or_8():
    with pytest.raises(ValueError, match="connectivity"):
        reveal_order(np.eye(4), np.random.default_rng(0), connectivity=6)


def test_the_flood_defaults_are_the_documented_ones():
    # noise 0.05 of the importance range, smoothed at 2 px, distance penalty 0.25 per image diagonal
    # (the module docstring): a study's stimuli depend on them, so a changed default must be seen
    m = ndi.gaussian_filter(np.random.default_rng(2).random((48, 40)), 3)
    default, seed = flood_priority(m, np.random.default_rng(4))
    explicit, _ = flood_priority(m, np.random.default_rng(4), noise=0.05, noise_scale=2.0, distance_weight=0.25)
    assert np.array_equal(default, explicit) and seed == np.unravel_index(np.argmax(m), m.shape)
    assert np.array_equal(reveal_order(m, np.random.default_rng(4)),
                          reveal_order(m, np.random.default_rng(4), noise=0.05, noise_scale=2.0, distance_weight=0.25))


def test_the_reveal_order_of_a_fixed_map_is_pinned_across_versions():
    """A study's stimuli must rebuild identically: the order, ties included, is pinned.

    Without noise the priority is numpy float32 arithmetic (IEEE-exact everywhere), so the
    digest depends on the flood alone: its bucket FIFO order and the order it visits
    neighbours in, which decide among pixels of one priority level. A change that moves it
    changes every stimulus set built since; if deliberate, update the digests and say so.
    """
    import hashlib

    y, x = np.mgrid[:48, :64]
    importance = (np.exp(-((y - 20) ** 2 + (x - 40) ** 2) / 200.0)
                  + 0.5 * np.exp(-((y - 35) ** 2 + (x - 12) ** 2) / 60.0))
    importance = np.round(importance * 20) / 20  # plateaus: many pixels share a level
    digests = {}
    for connectivity in (4, 8):
        rank = reveal_order(importance, rng=0, connectivity=connectivity, noise=0.0)
        digests[connectivity] = hashlib.sha256(rank.astype("<i8").tobytes()).hexdigest()[:16]
    assert digests == {4: "9e7053d9c636d3ba", 8: "2a77d755f900d1cd"}
