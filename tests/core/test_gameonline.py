"""The online game's PsychoJS data file: read as the lab records rounds, hostile files refused by row."""
from pathlib import Path

import numpy as np
import pytest

from reveal.core.errors import InputError
from reveal.core.gamelog import ROUND_COLUMNS, append_round, read_round_log
from reveal.core.gameonline import read_online_rounds

#: Written by PsychoJS in Chromium from this project's own export (tests/browser).
FIXTURE = Path(__file__).parents[1] / "fixtures" / "game_online" / "1_clickme_game_2026-12-06_07h57.27.539.csv"
#: The fixture's data rows: the instructions (1), the rounds (2-5: coffee, motorcycle, rocket, chelsea), goodbye (6).
MOTORCYCLE_ROW = 3


def _lines():
    return FIXTURE.read_text(encoding="utf-8-sig").splitlines()


def _variant(tmp_path, column, data_row, value):
    """The fixture with one cell of one data row (1-based) replaced."""
    lines = _lines()
    header = lines[0].split(",")
    cells = lines[data_row].split(",")
    cells[header.index(column)] = value
    lines[data_row] = ",".join(cells)
    path = tmp_path / "1_clickme_game.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_fixture_gives_every_round_and_one_map():
    r = read_online_rounds(FIXTURE)
    log = r.log_rows
    assert [(x["image_id"], x["end_reason"], x["practice"], x["bubbles"]) for x in log] == [
        ("coffee", "time", 1, 23), ("motorcycle", "recognised", 0, 96), ("rocket", "flagged", 0, 3),
        ("chelsea", "time", 0, 0)]
    assert all(list(x) == list(ROUND_COLUMNS) for x in log)
    assert [x["round"] for x in log] == [0, 1, 2, 3] and log[1]["recognised_s"] == 2.8942
    assert log[3]["top5"] is None and log[3]["latency_median_s"] is None and log[0]["recognised_s"] is None
    assert log[1]["participant"] == "1" and log[1]["imagenet_class"] == 665 and log[1]["top5"] == "870 670 450 526 665"
    # the dump: the motorcycle alone (practice, flagged and bubble-less rounds give no map)
    [dump] = r.dump_rows
    cell = _lines()[MOTORCYCLE_ROW].split(",")[_lines()[0].split(",").index("clicks")]
    expected = np.array([[int(v) for v in p.split()] for p in cell.split(";")])
    assert dump["image_path"] == "photos/motorcycle.png" and dump["user_id"] == "1"
    assert dump["timestamp"] == "2026-12-06T07:57:40.586Z" and dump["clicks"].dtype == np.int64
    assert np.array_equal(dump["clicks"], expected) and len(dump["clicks"]) == log[1]["bubbles"]


def test_the_rounds_go_through_the_round_log(tmp_path):
    rows = read_online_rounds(FIXTURE).log_rows
    for row in rows:
        append_round(tmp_path / "rounds.csv", row)
    log = read_round_log(tmp_path / "rounds.csv")
    assert log["image_id"].tolist() == ["coffee", "motorcycle", "rocket", "chelsea"]
    assert log["points"].tolist() == [x["points"] for x in rows] and log["top5"].tolist()[3] == ""
    assert log["latency_median_s"].isna().tolist() == [False, False, False, True]


@pytest.mark.parametrize("column, row, value, match", [
    ("end_reason", 3, "won", "unknown end_reason 'won'"),
    ("clicks", 3, "3 x", "'3 x' is not a bubble"),
    ("clicks", 4, "50 50;55 256;60 60", r"bubble \(55, 256\) is outside"),
    ("bubbles", 4, "4", "clicks hold 3 bubble\\(s\\) but bubbles is 4"),
    ("clicks", 5, "10 10", "clicks hold 1 bubble\\(s\\) but bubbles is 0"),
    ("points", 2, "lots", "points 'lots' is not a number"),
    ("frames", 5, "2.5", "frames '2.5' is not a whole number"),
    ("practice", 2, "2", "practice '2' is not 0 or 1"),
    ("started", 4, "", "a round without started"),
    ("image_file", 3, "../../etc/motorcycle.png", "image_file '../../etc/motorcycle.png' is not photos/motorcycle"),
    ("image_file", 3, "/data/photos/motorcycle.png", "is not photos/motorcycle.png"),
    ("image_file", 2, "photos/coffee.png", "is not practice/coffee.png"),
])
def test_a_bad_cell_is_named_with_its_row(tmp_path, column, row, value, match):
    path = _variant(tmp_path, column, row, value)
    with pytest.raises(InputError, match=match) as err:
        read_online_rounds(path)
    assert err.value.path == str(path) and err.value.row == row


def test_files_that_are_not_the_games_data_are_refused(tmp_path):
    lines = _lines()
    header = lines[0].split(",")
    drop = header.index("clicks")
    no_clicks = tmp_path / "no_clicks.csv"
    no_clicks.write_text("\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != drop)
                                   for line in lines) + "\n")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(FIXTURE.read_bytes().replace(b"motorbike", b"motorb\xefke"))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    no_rounds = tmp_path / "no_rounds.csv"
    no_rounds.write_text("\n".join([lines[0], lines[1], lines[-1]]) + "\n")
    for path, match in [(no_clicks, "missing column\\(s\\) clicks$"), (latin1, "not UTF-8"),
                        (empty, "empty file"), (no_rounds, "no rounds in this data file"),
                        (tmp_path / "absent.csv", "cannot read")]:
        with pytest.raises(InputError, match=match) as err:
            read_online_rounds(path)
        assert err.value.path == str(path) and err.value.row is None
