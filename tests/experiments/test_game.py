"""The game's rules: balanced photographs per player, and rounds driven by cursor paths."""
import numpy as np
import pytest

from reveal.experiments.game import GameRound, GameRules, player_images, round_points
from reveal.stimuli.loaders.clickme import clicks_to_map

RECT = (200, 100, 512, 512)  # the photograph drawn at twice its size: 2 window px per frame px


def _window(frame_xy):
    """Frame pixel centres (x, y) as window pixels of RECT."""
    return [(RECT[0] + (x + 0.5) * 2, RECT[1] + (y + 0.5) * 2) for x, y in frame_xy]


def _play(path, *, pressed_at=0, rules=GameRules()):
    r = GameRound(RECT, rules)
    for i, xy in enumerate(path):
        r.update(i / 60, xy, pressed=i == pressed_at)
    return r


def test_every_photograph_is_played_equally_often_and_nobody_plays_one_twice():
    n_images, per_player = 13, 5
    plays = [player_images(n_images, p, per_player, seed=3) for p in range(13)]
    assert all(len(set(p.tolist())) == per_player for p in plays)
    assert np.bincount(np.concatenate(plays), minlength=n_images).tolist() == [5] * n_images
    assert player_images(n_images, 4, per_player, seed=3).tolist() == plays[4].tolist()  # seeded
    assert player_images(n_images, 4, per_player, seed=4).tolist() != plays[4].tolist()
    with pytest.raises(ValueError, match="images per player"):
        player_images(3, 0, 4)


def test_a_stroke_paints_bubbles_7_px_apart_whatever_the_hands_speed():
    slow = _play(_window([(x, 120) for x in np.linspace(40, 180, 400)]))   # 0.35 px a frame
    fast = _play(_window([(x, 120) for x in np.linspace(40, 180, 5)]))     # 35 px a frame
    for r in (slow, fast):
        xs = np.array(r.clicks)[:, 0]
        assert xs[0] == 40 and xs[-1] == 180 and set(np.diff(xs).tolist()) == {7}
        assert set(np.array(r.clicks)[:, 1].tolist()) == {120}
    # 14 px bubbles 7 px apart: no gap along the stroke; the partner's 21 px ones are wider
    assert slow.player_mask[120, 33:187].all() and not slow.player_mask[120, 187:].any()
    assert slow.partner_mask.sum() > slow.player_mask.sum()


def test_nothing_is_painted_before_the_first_click_on_the_photograph():
    outside_click = _play(_window([(-30, 50), (40, 50), (200, 50)]), pressed_at=0)  # pressed off the photo
    assert outside_click.n_bubbles == 0 and outside_click.painting_since is None
    late = _play(_window([(10, 10), (100, 10), (100, 100), (150, 100)]), pressed_at=2)
    assert late.clicks[0] == (100, 100) and all(y == 100 for _, y in late.clicks)


def test_a_path_that_never_enters_the_photograph_leaves_no_bubbles():
    r = GameRound(RECT)
    r.update(0.0, (RECT[0] + 100, RECT[1] + 100), pressed=True)  # the click that starts painting
    r2 = _play([(50, 50), (150, 60), (190, 700), (800, 700)], pressed_at=0)  # all left of / below it
    assert r2.n_bubbles == 0
    before = r.n_bubbles
    for i, xy in enumerate([(150, 90), (150, 20), (900, 20)]):  # leaves over the top edge
        r.update(0.1 + i / 60, xy, pressed=False)
    assert all(0 <= x < 256 and 0 <= y < 256 for x, y in r.clicks) and r.n_bubbles > before


def test_the_map_of_a_stroke_peaks_on_the_stroke():
    r = _play(_window([(30, 200), (90, 200)]))
    m = clicks_to_map([np.array(r.clicks)])
    y, x = np.unravel_index(np.argmax(m), m.shape)
    assert y == 200 and 30 <= x <= 90


def test_a_round_ends_at_recognition_time_or_flag_and_scores_the_time_left():
    rules = GameRules(round_s=7.0)
    r = GameRound(RECT, rules)
    r.answer(1.0, [1, 2, 3, 4, 5, 281], target_class=281)  # sixth: not recognised
    assert r.end_reason is None and r.tick(1.0) == 6.0
    r.answer(1.75, [9, 281, 3, 4, 5], target_class=281)
    assert (r.end_reason, r.recognised_at, r.points) == ("recognised", 1.75, 0.75)
    r.tick(8.0)
    r.flag(8.0)
    assert r.end_reason == "recognised" and r.update(9.0, (300, 300), pressed=True).shape == (0, 2)

    late = GameRound(RECT, rules)
    assert late.tick(6.99) > 0 and late.end_reason is None
    late.tick(7.0)
    late.answer(7.01, [281], target_class=281)  # an answer after the time is up does not count
    assert (late.end_reason, late.points) == ("time", 0.0)
    flagged = GameRound(RECT, rules)
    flagged.flag(2.0)
    assert (flagged.end_reason, flagged.ended_at, flagged.points) == ("flagged", 2.0, 0.0)
    assert round_points(0.0, 7.0) == 1.0


@pytest.mark.parametrize("kw", [{"round_s": 0}, {"spacing": 15}, {"spacing": 0.5}, {"player_bubble": 0}])
def test_rules_that_break_the_game_are_refused(kw):
    with pytest.raises(ValueError):
        GameRules(**kw)


def test_the_rounds_masks_are_the_bubble_masks_of_its_clicks():
    from reveal.experiments.bubbles import bubble_mask

    r = _play(_window([(0, 3), (60, 40), (255, 250), (120, 255)]))
    pts = np.array(r.clicks)
    np.testing.assert_array_equal(r.player_mask, bubble_mask(pts, diameter=14))
    np.testing.assert_array_equal(r.partner_mask, bubble_mask(pts, diameter=21))
