"""The game's round log: rows appended in one step each, read back typed, strangers' files refused."""
import pytest

from reveal.core.errors import InputError
from reveal.core.gamelog import ROUND_COLUMNS, append_round, read_round_log


def _row(**kw):
    row = dict.fromkeys(ROUND_COLUMNS)
    row.update(participant="007", round=1, practice=0, image_id="cat01", label="cat", imagenet_class=282,
               started="2026-12-06T04:00:00.000+00:00", end_reason="recognised", recognised_s=1.75, points=0.75,
               score=0.75, top5="282 281 285 287 283", bubbles=40, evaluations=12, latency_median_s=0.03,
               frames=105, dropped_frames=1, longest_frame_s=0.034, refresh_hz=60.0)
    row.update(kw)
    return row


def test_rounds_read_back_typed_with_ids_kept_as_text(tmp_path):
    path = tmp_path / "rounds.csv"
    append_round(path, _row())
    append_round(path, _row(round=2, image_id="0042", end_reason="time", recognised_s=None, points=0.0,
                            latency_median_s=None))
    log = read_round_log(path)
    assert log["participant"].tolist() == ["007", "007"] and log["image_id"].tolist() == ["cat01", "0042"]
    assert log["points"].tolist() == [0.75, 0.0] and log["recognised_s"].isna().tolist() == [False, True]
    assert path.read_text().count("participant,round") == 1 and not list(tmp_path.glob(".*part*"))


def test_a_file_that_is_not_a_round_log_is_refused_and_kept(tmp_path):
    other = tmp_path / "rounds.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not a log this toolkit wrote"):
        append_round(other, _row())
    assert other.read_text() == "a,b\n1,2\n"


@pytest.mark.parametrize("change, match, row", [({"end_reason": "bored"}, "unknown end_reason 'bored'", 2),
                                                 ({"points": "many"}, "points 'many' is not a number", 2)])
def test_bad_rows_are_named(tmp_path, change, match, row):
    path = tmp_path / "rounds.csv"
    append_round(path, _row())
    append_round(path, _row(**change))
    with pytest.raises(InputError, match=match) as err:
        read_round_log(path)
    assert err.value.row == row and err.value.path == str(path)


def test_a_row_missing_a_column_is_a_bug_not_a_file(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        append_round(tmp_path / "rounds.csv", {"participant": "1"})
    assert not (tmp_path / "rounds.csv").exists()


def test_a_log_cut_short_is_refused_naming_the_row(tmp_path):
    path = tmp_path / "rounds.csv"
    append_round(path, _row())
    append_round(path, _row(round=2))
    text = path.read_text()
    path.write_text(text[:len(text) - 40])  # the second round's row cut in the middle
    with pytest.raises(InputError, match="incomplete round: no .*frames.*cut short") as err:
        read_round_log(path)
    assert err.value.row == 2
