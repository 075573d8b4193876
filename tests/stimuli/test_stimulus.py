import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import data

from reveal.core.levels import LEVELS, level_label
from reveal.stimuli.compose import centring_shift, level_pixel_counts, shift
from reveal.stimuli.geometry import fit_image, fit_map
from reveal.stimuli.scramble import phase_scramble
from reveal.core.seeding import derive_rng
from reveal.stimuli.stimulus import RevealParams, image_stimuli


def _maps(image):
    rng = np.random.default_rng(0)
    a = ndi.gaussian_filter(rng.random(image.shape[:2]), 6)
    b = ndi.gaussian_filter(rng.random(image.shape[:2]), 3)
    a[a < np.quantile(a, 0.5)] = 0  # half the pixels important
    b[b < np.quantile(b, 0.7)] = 0  # 30 %: the smaller budget
    return {"clickme": a, "salicon": b}


@pytest.fixture(scope="module")
def chelsea_stimuli():
    image = fit_image(data.chelsea(), 128)
    maps = _maps(image)
    return image, maps, image_stimuli("chelsea", image, maps, RevealParams(size=128, seed=7))


def test_levels_are_the_papers():
    assert [level_label(v) for v in LEVELS] == ["1", "1.58", "2.51", "3.98", "6.31", "10", "15.8",
                                                "25.1", "39.8", "63.1", "100"]


def test_exact_revealed_counts_equal_across_sources(chelsea_stimuli):
    image, maps, stims = chelsea_stimuli
    budget = min(int((m > 0).sum()) for m in maps.values())
    expected = level_pixel_counts(budget)
    for src in maps:
        levels = [s for s in stims if s.map_source == src and s.level != "full"]
        assert [s.revealed_px for s in levels] == list(expected)
        for s in levels:
            differs = np.any(s.pixels != _background(stims, src), axis=2)
            # pixels that equal the scramble by chance are few; the count is exact from the mask
            assert differs.sum() <= s.revealed_px
            assert s.feature_budget == budget


def _background(stims, src):
    # The scramble the stimuli were composed on, drawn as image_stimuli draws it (seed 7).
    # (The 1 % stimulus is no stand-in since each level is centred on its own: its patch
    # sits at the centre, where larger levels may show background.)
    image = [s for s in stims if s.map_source == src and s.level == "full"][0].pixels
    return phase_scramble(image, derive_rng(7, "chelsea", "scramble"))


def test_full_condition_is_the_intact_image(chelsea_stimuli):
    image, _, stims = chelsea_stimuli
    fulls = [s for s in stims if s.level == "full"]
    assert len(fulls) == 2
    for s in fulls:
        assert np.array_equal(s.pixels, image) and s.revealed_px == image.shape[0] * image.shape[1]


def test_each_source_has_twelve_conditions(chelsea_stimuli):
    _, maps, stims = chelsea_stimuli
    for src in maps:
        assert [s.level_index for s in stims if s.map_source == src] == list(range(12))


def test_revealed_region_is_centred():
    # a region in a corner of the map is moved to the middle of the stimulus
    image = fit_image(data.astronaut(), 96)
    m = np.zeros((96, 96))
    m[10:30, 12:28] = ndi.gaussian_filter(np.random.default_rng(0).random((20, 16)), 2) + 0.1
    stims = image_stimuli("astronaut", image, {"s": m}, RevealParams(size=96, seed=1))
    top = [s for s in stims if s.level_index == 10][0]
    # the 100 % region: pixels that come from the (shifted) photograph
    dy, dx = top.shift
    region = np.all(shift(image, dy, dx) == top.pixels, axis=2) & (shift(m, dy, dx) > 0)
    rows, cols = np.nonzero(region)
    assert abs(rows.mean() - 47.5) < 1.5 and abs(cols.mean() - 47.5) < 1.5


def test_centring_never_pushes_the_region_out():
    region = np.zeros((10, 10), bool)
    region[0, :] = True  # a row along the top edge, centroid (0, 4.5)
    region[:, 0] = True  # and the left column
    dy, dx = centring_shift(region)
    moved = shift(region, dy, dx)
    assert moved.sum() == region.sum()


def test_same_seed_identical_other_seed_different():
    image = fit_image(data.coffee(), 64)
    maps = _maps(image)
    a = image_stimuli("coffee", image, maps, RevealParams(size=64, seed=3))
    b = image_stimuli("coffee", image, maps, RevealParams(size=64, seed=3))
    c = image_stimuli("coffee", image, maps, RevealParams(size=64, seed=4))
    assert all(np.array_equal(x.pixels, y.pixels) for x, y in zip(a, b))
    assert not all(np.array_equal(x.pixels, y.pixels) for x, y in zip(a, c))


def test_too_few_important_pixels_is_refused():
    image = fit_image(data.coffee(), 64)
    m = np.zeros((64, 64))
    m[30:32, 30:35] = 1  # 10 pixels: 1 % of them rounds to 0
    with pytest.raises(ValueError, match="needs at least 50"):
        image_stimuli("coffee", image, {"tiny": m})


def test_fit_crops_the_centre_square_identically_for_image_and_map():
    image = np.zeros((60, 100, 3), np.uint8)
    image[:, 20:80] = 200  # the centre square 60x60 spans columns 20..79
    m = np.zeros((60, 100))
    m[:, 20:80] = 1
    assert fit_image(image, 30).min() == 200
    assert np.allclose(fit_map(m, 30), 1)
