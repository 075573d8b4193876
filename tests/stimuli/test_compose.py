"""Hand-computed cases of the feature budget, the level counts and the centring shifts."""
import warnings

import numpy as np
import pytest

from reveal.stimuli.compose import centring_shift, important_pixels, level_pixel_counts, level_shifts


def test_important_pixels_counts_what_lies_above_the_threshold_after_min_max_scaling():
    assert important_pixels(np.array([[0, 0.5], [2, 1]])) == 3  # by default every pixel above the minimum
    # a map whose minimum is 1 scales to [[0, .5], [1, 0]]: above 0.6 lies one pixel, above 0 two
    shifted = np.array([[1, 2], [3, 1]])
    assert important_pixels(shifted, 0.6) == 1
    assert important_pixels(shifted) == 2


def test_a_flat_map_has_no_important_pixels_and_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert important_pixels(np.full((4, 4), 0.3)) == 0
        assert important_pixels(np.zeros((4, 4))) == 0


def test_level_counts_round_the_share_of_the_budget():
    # 1 % of 150 is 1.5 pixels: rounded to 2 (to even), never floored; 100 % is the whole budget
    assert level_pixel_counts(150, (1, 10, 100)).tolist() == [2, 15, 150]
    assert level_pixel_counts(1000, (1, 100)).tolist() == [10, 1000]
    assert level_pixel_counts(250, (1,)).tolist() == [2]  # 2.5 to even


def test_full_extent_centres_exactly_the_largest_levels_region():
    # rank in reading order: the largest level (2 pixels) is (0, 0) and (0, 1), centroid column 0.5,
    # so dx = rint(4 - 0.5) = 4; one pixel more would give 3
    rank = np.arange(81).reshape(9, 9)
    assert level_shifts(rank, [1, 2], "full_extent") == [(4, 4), (4, 4)]
    assert level_shifts(rank, [1, 3]) == [(4, 4), (4, 3)]


def test_an_empty_region_cannot_be_centred():
    with pytest.raises(ValueError, match="empty region"):
        centring_shift(np.zeros((4, 4), bool))
