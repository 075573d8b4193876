"""Centring per stimulus: every level's revealed region is moved to the image centre."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage as ndi
from skimage import data

from reveal.stimuli.compose import centring_shift, level_pixel_counts, level_shifts, shift
from reveal.stimuli.geometry import fit_image
from reveal.stimuli.reveal import reveal_order
from reveal.stimuli.sample import sample_maps
from reveal.stimuli.stimulus import RevealParams, image_stimuli


def _assert_centred_as_far_as_allowed(moved, n):
    """The moved region keeps its n pixels, and per axis its centroid is within 0.5 px of the
    centre or the region touches the border on the far side (no further shift possible)."""
    assert moved.sum() == n  # no revealed pixel left the image
    rows, cols = np.nonzero(moved)
    for coords, size in ((rows, moved.shape[0]), (cols, moved.shape[1])):
        off = coords.mean() - (size - 1) / 2
        if off < -0.5:
            assert coords.max() == size - 1  # wanted to move further down/right: blocked
        elif off > 0.5:
            assert coords.min() == 0
        # otherwise |off| <= 0.5: the best an integer shift can do


@settings(max_examples=60, deadline=None)
@given(region=hnp.arrays(bool, st.tuples(st.integers(1, 24), st.integers(1, 24)))
       .filter(lambda r: r.any()))
def test_centring_shift_is_the_clipped_one(region):
    dy, dx = centring_shift(region)
    _assert_centred_as_far_as_allowed(shift(region, dy, dx), int(region.sum()))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), h=st.integers(12, 40), w=st.integers(12, 40),
       sigma=st.floats(0.5, 4), frac=st.floats(0.1, 0.9))
def test_every_level_is_centred_as_far_as_its_region_allows(seed, h, w, sigma, frac):
    rng = np.random.default_rng(seed)
    m = ndi.gaussian_filter(rng.random((h, w)), sigma)
    m[m < np.quantile(m, 1 - frac)] = 0
    budget = int(np.count_nonzero(m))
    rank = reveal_order(m, rng)
    counts = level_pixel_counts(budget)
    counts = counts[counts > 0]
    for (dy, dx), n in zip(level_shifts(rank, counts), counts):
        _assert_centred_as_far_as_allowed(shift(rank, dy, dx, fill=rank.size) < n, int(n))


def test_full_extent_reuses_the_100_percent_shift():
    rng = np.random.default_rng(0)
    m = ndi.gaussian_filter(rng.random((40, 40)), 3)
    rank = reveal_order(m, rng)
    counts = level_pixel_counts(800)
    shifts = level_shifts(rank, counts, "full_extent")
    assert shifts == [centring_shift(rank < 800)] * len(counts)
    with pytest.raises(ValueError, match="centring"):
        level_shifts(rank, counts, "sideways")
    with pytest.raises(ValueError, match="centring"):
        RevealParams(centring="sideways")
    assert RevealParams().to_dict()["centring"] == "per_level"


def _one_percent_offsets(**params):
    """Distance of the 1 % patch's centroid from the centre, per source, on chelsea at 256 px."""
    image = fit_image(data.chelsea(), 256)
    maps = {k: v.astype(float) for k, v in sample_maps(image).items()}
    params = RevealParams(seed=0, **params)
    out = {}
    for s in image_stimuli("chelsea", image, maps, params):
        if s.level_index != 0:
            continue
        rank = reveal_order(maps[s.map_source], np.random.default_rng(s.seed))
        unmoved = rank < s.revealed_px
        moved = shift(rank, *s.shift, fill=rank.size) < s.revealed_px
        # the stimulus shows the photograph, moved by the recorded shift, exactly there
        np.testing.assert_array_equal(s.pixels[moved], shift(image, *s.shift)[moved])
        rows, cols = np.nonzero(moved)
        # room to move: the unmoved patch's bounding box fits anywhere, so no clipping
        r0, c0 = np.nonzero(unmoved)
        out[s.map_source] = (float(np.hypot(rows.mean() - 127.5, cols.mean() - 127.5)),
                             (r0.max() - r0.min(), c0.max() - c0.min()))
    return out


def test_one_percent_patch_sits_at_fixation_on_the_sample():
    per_level = _one_percent_offsets()  # the default
    for dist, (height, width) in per_level.values():
        assert height < 128 and width < 128  # the region allows full centring ...
        assert dist <= 1.0  # ... and gets it
    # the whole-extent shift (the option) leaves the 1 % patch away from fixation
    full = _one_percent_offsets(centring="full_extent")
    assert max(d for d, _ in full.values()) > 5


def test_cli_records_the_centring_and_fills_shifts_per_stimulus(inputs, tmp_path):
    import csv
    import json

    from reveal.cli.main import main

    base = ["stimuli", "build", "--images", str(inputs["images"]), "--maps", f"a={inputs['maps']['a']}",
            "--categories", str(inputs["categories"]), "--size", "48", "--no-progress"]
    shifts = {}
    for mode in ("per_level", "full_extent"):
        out = tmp_path / mode
        assert main(base + ["--out", str(out), "--centring", mode]) == 0
        assert json.loads((out / "stimset.json").read_text())["parameters"]["centring"] == mode
        with open(out / "manifest.csv", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["level"] != "full"]
        per_image = {}
        for r in rows:
            per_image.setdefault(r["image_id"], set()).add((int(r["shift_y"]), int(r["shift_x"])))
        shifts[mode] = per_image
    assert all(len(s) == 1 for s in shifts["full_extent"].values())  # one shift for every level
    assert any(len(s) > 1 for s in shifts["per_level"].values())  # a shift per level


def _hot_spots(size, spots=((0.2, 0.25), (0.7, 0.8), (0.8, 0.15)), sigma=0.07):
    """A saliency map with several separate hot spots, none at the centre (0 between them)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    m = sum(np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * sigma ** 2)) for y, x in spots)
    return np.where(m > 0.1, m, 0.0)


_CACHE = {}


def _stimuli_of(case):
    """(image, maps, stimuli) of a case, computed once: the sample photos with the sample's
    maps (as the sample build makes them), or coffee/rocket/chelsea with a multi-hot-spot map."""
    if case not in _CACHE:
        from reveal.stimuli.geometry import fit_map
        from reveal.stimuli.sample import SAMPLE_IMAGES, _rgb

        kind, name = case.split(":")
        params = RevealParams(seed=0, size=128)
        if kind == "sample":
            raw = _rgb(SAMPLE_IMAGES[name][0]())
            maps = {k: fit_map(v.astype(float), params.size, params.fit) for k, v in sample_maps(raw).items()}
        else:
            raw = getattr(data, name)()
            maps = {"hot_spots": _hot_spots(params.size)}
        image = fit_image(raw, params.size, params.fit)
        _CACHE[case] = image, maps, image_stimuli(name, image, maps, params)
    return _CACHE[case]


CASES = ["sample:chelsea", "sample:horse", "sample:coffee", "sample:rocket",
         "photo:coffee", "photo:rocket", "photo:chelsea"]


@pytest.mark.parametrize("level_index", range(11))
@pytest.mark.parametrize("case", CASES)
def test_every_levels_patch_is_centred_on_sample_and_photos(case, level_index):
    image, maps, stimuli = _stimuli_of(case)
    for s in (s for s in stimuli if s.level_index == level_index):
        rank = reveal_order(maps[s.map_source], np.random.default_rng(s.seed))
        moved = shift(rank, *s.shift, fill=rank.size) < s.revealed_px
        _assert_centred_as_far_as_allowed(moved, s.revealed_px)
        # the stimulus shows the photograph, moved by the recorded shift, exactly there
        np.testing.assert_array_equal(s.pixels[moved], shift(image, *s.shift)[moved])
        if case.startswith("photo") and level_index == 0:
            # the hot spots are off-centre: the 1 % patch had to move, and now sits at fixation
            assert max(map(abs, s.shift)) > 10
            rows, cols = np.nonzero(moved)
            assert np.hypot(rows.mean() - 63.5, cols.mean() - 63.5) <= 1.0
