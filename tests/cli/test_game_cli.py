"""`reveal game build` refuses bad input with exit code 2, a named file, and nothing written."""
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
