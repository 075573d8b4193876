"""`reveal game build` refuses bad input with exit code 2, a named file, and nothing written; `collect` adds
the online game's data."""
import json
from pathlib import Path

import pytest

from reveal.cli.main import main


@pytest.fixture
def photos(tmp_path):
    from PIL import Image
    from skimage import data

    (tmp_path / "photos").mkdir()
    Image.fromarray(data.chelsea()).save(tmp_path / "photos" / "cat01.png")
    return tmp_path / "photos"


@pytest.mark.parametrize("labels, extra, message", [
    ("image_id,imagenet_class,label\ncat01,282,cat\ndog01,207,dog\n", [], "no file in"),
    ("image_id,imagenet_class,label\ncat01,1200,cat\n", [], "row 1: imagenet_class '1200'"),
    ("image_id,label\ncat01,cat\n", [], "missing column(s) imagenet_class"),
    ("image_id,imagenet_class,label\ncat01,282,cat\n", ["--player-bubble", "0"], "bubble diameters"),
    ("image_id,imagenet_class,label\ncat01,282,cat\n", ["--per-player", "2"], "--per-player must be 1 to the 1"),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, photos, capsys, labels, extra, message):
    path = tmp_path / "labels.csv"
    path.write_text(labels)
    out = tmp_path / "game"
    assert main(["game", "build", "--images", str(photos), "--labels", str(path), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.slow  # the real network plays 18 rounds, twice, then reliability and a stimulus build: ~30 s
def test_the_game_demo_closes_the_loop_and_a_seeded_game_is_reproducible(tmp_path, capsys):
    import pandas as pd

    from reveal.core.gamelog import read_round_log
    from reveal.core.stimset import read_stimulus_set
    from reveal.stimuli.loaders.clickme import read_click_csv

    assert main(["game", "demo", "--out", str(tmp_path / "a"), "--players", "4"]) == 0
    out = capsys.readouterr().out
    assert "share of rounds recognised by the partner" in out
    dump = tmp_path / "a" / "game" / "data" / "clicks.csv"
    read = read_click_csv(dump)
    assert read.image_ids() == ["chelsea", "motorcycle", "rocket"]
    assert all(len(read.participants(i)) >= 2 for i in read.image_ids())  # what split halves need
    log = read_round_log(tmp_path / "a" / "game" / "data" / "rounds.csv")
    assert len(log) == 12 and set(log["end_reason"]) <= {"recognised", "time"}
    assert (log["evaluations"] > 0).all() and (log["latency_median_s"] > 0).all()
    rel = pd.read_csv(tmp_path / "a" / "reliability" / "reliability.csv")
    assert rel.loc[rel["scope"] == "image", "image_id"].tolist() == ["chelsea", "motorcycle", "rocket"]
    assert rel["reliability"].notna().all() and (rel["scope"] == "overall").sum() == 1
    stimset = read_stimulus_set(tmp_path / "a" / "stimuli")
    assert sorted(stimset.images["image_id"]) == ["chelsea", "motorcycle", "rocket"]
    assert list(stimset.sources) == ["clickme"]
    assert main(["game", "summary", "--game", str(tmp_path / "a" / "game")]) == 0
    assert "12 rounds by 4 players" in capsys.readouterr().out
    assert main(["game", "summary", "--game", str(tmp_path / "nothing")]) == 2
    # the same seed: the same rounds, bubble for bubble
    assert main(["game", "demo", "--out", str(tmp_path / "b"), "--players", "4"]) == 0
    assert (tmp_path / "b" / "game" / "data" / "clicks.csv").read_bytes() == dump.read_bytes()


def test_a_summary_of_practice_only_says_so(tmp_path, capsys):
    from reveal.core.gamelog import ROUND_COLUMNS, append_round

    row = dict.fromkeys(ROUND_COLUMNS, 0)
    row.update(participant="1", image_id="coffee", started="t", end_reason="time", practice=1, top5=None)
    append_round(tmp_path / "rounds.csv", row)
    assert main(["game", "summary", "--game", str(tmp_path / "rounds.csv")]) == 0
    assert "no game rounds yet" in capsys.readouterr().out


#: A data file of the online game, written by PsychoJS in Chromium (4 rounds: practice, recognised, flagged, empty).
ONLINE_DATA = Path(__file__).parents[1] / "fixtures" / "game_online" / "1_clickme_game_2026-12-06_07h57.27.539.csv"


@pytest.fixture
def game_folder(tmp_path):
    """What `collect` needs of a game folder: the design.json `reveal game build` writes."""
    game = tmp_path / "game"
    game.mkdir()
    (game / "design.json").write_text(json.dumps({"name": "clickme_game", "kind": "clickme game"}))
    return game


def test_collected_online_rounds_are_a_click_dump_and_a_round_log(game_folder, capsys):
    from reveal.core.gamelog import read_round_log
    from reveal.stimuli.loaders.clickme import read_click_csv

    assert main(["game", "collect", "--game", str(game_folder), str(ONLINE_DATA)]) == 0
    out = capsys.readouterr().out
    assert "collected 4 rounds of 1 player(s) from 1 file(s): 1 map(s)" in out and "(0 already collected)" in out
    dump = read_click_csv(game_folder / "data" / "clicks.csv")
    assert dump.image_ids() == ["motorcycle"] and dump.participants("motorcycle") == ["1"]
    assert dump.points("motorcycle")[0].shape == (96, 2) and dump.dropped == 0
    log = read_round_log(game_folder / "data" / "rounds.csv")
    assert log["end_reason"].tolist() == ["time", "recognised", "flagged", "time"]
    assert main(["game", "summary", "--game", str(game_folder)]) == 0
    assert "3 rounds by 1 players: 33% recognised" in capsys.readouterr().out
    # again (and the same file twice in one call): nothing added
    before = {p.name: p.read_bytes() for p in (game_folder / "data").iterdir()}
    assert main(["game", "collect", "--game", str(game_folder), str(ONLINE_DATA), str(ONLINE_DATA)]) == 0
    assert "0 map(s) added" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in (game_folder / "data").iterdir()} == before


def test_a_collection_cut_short_between_its_two_files_adds_no_map_twice(game_folder, capsys):
    assert main(["game", "collect", "--game", str(game_folder), str(ONLINE_DATA)]) == 0
    dump = game_folder / "data" / "clicks.csv"
    written = dump.read_bytes()
    (game_folder / "data" / "rounds.csv").unlink()  # killed after the dump, before the round log
    capsys.readouterr()
    assert main(["game", "collect", "--game", str(game_folder), str(ONLINE_DATA)]) == 0
    assert "0 map(s) added" in capsys.readouterr().out and dump.read_bytes() == written
    assert len((game_folder / "data" / "rounds.csv").read_text().splitlines()) == 1 + 4


def test_collect_refuses_a_bad_file_or_folder_and_writes_nothing(game_folder, tmp_path, capsys):
    bad = tmp_path / "2_clickme_game.csv"
    bad.write_text(ONLINE_DATA.read_text(encoding="utf-8-sig").replace(",recognised,", ",won,"))
    assert main(["game", "collect", "--game", str(game_folder), str(ONLINE_DATA), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}, row 3: unknown end_reason 'won'" in err and "Traceback" not in err
    assert not (game_folder / "data").exists()
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "design.json").write_text(json.dumps({"name": "exp"}))
    for folder in (tmp_path / "experiment", tmp_path / "nothing"):
        assert main(["game", "collect", "--game", str(folder), str(ONLINE_DATA)]) == 2
        err = capsys.readouterr().err
        assert f"{folder}: not a game folder" in err and "Traceback" not in err
        assert not (folder / "data").exists()


@pytest.mark.parametrize("name, text", [
    ("clicks.csv", "image_path,clicks,user_id,timestamp,notes\nphotos/a.png,[],1,t,x\n"),  # another header
    ("clicks.csv", b"image_path,clicks,user_id,timestamp\n\xff\n"),
    ("rounds.csv", "participant,score\n1,3\n"),
])
def test_a_strangers_data_file_is_refused_before_the_session_starts(game_folder, capsys, name, text):
    """`game run` refuses it at once (before any window: here there is no display and no script)."""
    data = game_folder / "data"
    data.mkdir()
    (data / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    before = (data / name).read_bytes()
    assert main(["game", "run", "--game", str(game_folder), "--participant", "1"]) == 2
    err = capsys.readouterr().err
    assert str(data / name) in err and "Traceback" not in err and "display" not in err
    assert (data / name).read_bytes() == before and sorted(p.name for p in data.iterdir()) == [name]
