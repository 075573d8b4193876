"""The ClickMe game's bubbles and its click dump: strokes painted in the photograph's frame, read
back by the toolkit's own click-dump reader and made into maps as ClickMe's were."""
import numpy as np
import pytest

from reveal.experiments.bubbles import PARTNER_BUBBLE, PLAYER_BUBBLE, bubble_mask, stroke_points, to_frame
from reveal.stimuli.loaders.clickme import append_click_rows, read_click_csv


def test_the_papers_bubble_sizes():
    assert (PLAYER_BUBBLE, PARTNER_BUBBLE) == (14, 21)
    one = [[128, 128]]
    assert bubble_mask(one).sum() < bubble_mask(one, diameter=PARTNER_BUBBLE).sum()
    rows, cols = np.nonzero(bubble_mask(one))
    assert np.ptp(rows) + 1 == np.ptp(cols) + 1 == 14  # 14 px across, both ways


def test_a_photograph_shown_at_any_size_maps_to_the_256_frame():
    # shown 512 px wide at (100, 50): the window's point (356, 306) is the frame's centre, half
    # way between its pixels 127 and 128
    assert to_frame([[356, 306]], (100, 50, 512, 512)).tolist() == [[127.5, 127.5]]
    assert to_frame([[358, 308]], (100, 50, 512, 512)).tolist() == [[128.5, 128.5]]
    assert to_frame([[164, 114]], (100, 50, 128, 128)).tolist() == [[127.5, 127.5]]  # shown at half size


def test_a_fast_stroke_leaves_no_gaps():
    # two samples 190 px apart (one frame of a fast stroke): every pixel between is painted
    pts = stroke_points([[10, 100], [200, 100]])
    assert pts[:, 0].tolist() == list(range(10, 201)) and (pts[:, 1] == 100).all()
    mask = bubble_mask(pts)
    assert mask[100, 10:201].all() and not mask[100, 220]
    assert mask[93:107, 100].all() and not mask[92, 100] and not mask[107, 100]  # 14 px across the stroke
    diagonal = stroke_points([[0, 0], [50, 30], [50, 31]])
    assert (np.abs(np.diff(diagonal, axis=0)) <= 1).all()  # neighbours all the way
    assert diagonal[-1].tolist() == [50, 31]


def test_a_path_that_never_enters_the_photograph_gives_no_bubbles():
    assert stroke_points([[-30, -5], [-1, 300], [300, 300]]).shape == (0, 2)
    assert not bubble_mask(stroke_points([[-30, -5], [-1, 300]])).any()
    part = stroke_points([[-10, 5], [10, 5]])  # enters the frame half way
    assert part[:, 0].tolist() == list(range(0, 11))


def test_a_resting_cursor_gives_one_bubble():
    assert stroke_points([[5, 5], [5.2, 4.9], [5, 5]]).tolist() == [[5, 5]]


def test_game_rows_read_back_as_a_click_dump_whose_map_peaks_on_the_stroke(tmp_path):
    dump = tmp_path / "clicks.csv"
    stroke = stroke_points([[40, 200], [90, 200]])
    elsewhere = stroke_points([[200, 30], [205, 35]])
    append_click_rows(dump, [{"image_path": "photos/cat01.png", "clicks": stroke, "user_id": "p1",
                              "timestamp": "2026-12-06T01:00:00Z"}])
    append_click_rows(dump, [{"image_path": "photos/cat01.png", "clicks": stroke[::2], "user_id": "p2",
                              "timestamp": "2026-12-06T01:00:09Z"},
                             {"image_path": "photos/cup01.png", "clicks": elsewhere, "user_id": "p2",
                              "timestamp": "2026-12-06T01:00:17Z"}])
    assert dump.read_text().splitlines()[0] == "image_path,clicks,user_id,timestamp"  # the header once
    read = read_click_csv(dump)
    assert read.image_ids() == ["cat01", "cup01"] and read.participants("cat01") == ["p1", "p2"]
    np.testing.assert_array_equal(read.points("cat01")[0], stroke)
    peak_y, peak_x = np.unravel_index(np.argmax(read.map("cat01")), (256, 256))
    assert peak_y == 200 and 40 <= peak_x <= 90
    assert not list(tmp_path.glob(".*part"))  # written through a temporary file, none left


def test_a_failed_append_leaves_the_dump_as_it_was(tmp_path, monkeypatch):
    import os

    dump = tmp_path / "clicks.csv"
    append_click_rows(dump, [{"image_path": "a.png", "clicks": [[1, 2]], "user_id": "p1", "timestamp": "t0"}])
    before = dump.read_bytes()

    def refuse(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        append_click_rows(dump, [{"image_path": "b.png", "clicks": [[3, 4]], "user_id": "p1", "timestamp": "t1"}])
    assert dump.read_bytes() == before and not list(tmp_path.glob(".*part"))


@pytest.mark.parametrize("content", [b"image,x,y\na.png,1,2\n", b"\xff\xfe binary\n"])
def test_appending_to_a_file_that_is_not_a_game_dump_is_refused_and_leaves_it(tmp_path, content):
    from reveal.core.errors import InputError

    other = tmp_path / "clicks.csv"
    other.write_bytes(content)
    with pytest.raises(InputError, match="not a click dump this toolkit wrote") as err:
        append_click_rows(other, [{"image_path": "b.png", "clicks": [[3, 4]], "user_id": "p1", "timestamp": "t1"}])
    assert "clicks.csv" in str(err.value) and other.read_bytes() == content


def test_a_dump_whose_last_row_lacks_its_line_end_keeps_both_rows(tmp_path):
    dump = tmp_path / "clicks.csv"
    dump.write_text('image_path,clicks,user_id,timestamp\na.png,"{""(1,2)""}",p1,t0')
    append_click_rows(dump, [{"image_path": "b.png", "clicks": [[3, 4]], "user_id": "p1", "timestamp": "t1"}])
    assert read_click_csv(dump).image_ids() == ["a", "b"]
