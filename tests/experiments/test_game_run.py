"""The ClickMe game at the lab station: PsychoPy under Xvfb, the mouse moved by xdotool, the real network.

Full screen on the 1024 × 768 virtual display: window pixels are screen pixels, and the photograph
(256 px, centred, 20 px below the middle) covers x 384-639, y 276-531. Frames are paced at 60 Hz.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from reveal.core.gamelog import read_round_log
from reveal.experiments.run import SessionKilledError, run_experiment
from reveal.stimuli.loaders.clickme import read_click_csv

pytestmark = pytest.mark.slow  # real PsychoPy sessions with the network: a minute each

LEFT, TOP = 384, 276  # the photograph's top-left corner on the screen
RUN = dict(fullscreen=True, emulate_hz=60, timeout=240)


def _copy(built_game, tmp_path):
    folder = tmp_path / "game"
    shutil.copytree(built_game["folder"], folder)
    return folder


def test_the_build_is_a_builder_experiment_psychopy_reopens(built_game):
    from psychopy.experiment import Experiment

    exp = Experiment()
    exp.loadFromXML(str(built_game["psyexp"]))
    assert [r.name for r in exp.flow if hasattr(r, "name")][:2] == ["game_instructions", "practice_round"]
    script = built_game["py"].read_text()
    assert "rv_player_number" in script and "PartnerThread" in script and "append_click_rows" in script
    assert sorted(p.name for p in (built_game["folder"] / "photos").iterdir()) == ["astro01.png", "cat01.png",
                                                                                   "rocket01.png"]
    # the photograph, its label, the timer and the score stay up for the whole round (Builder's
    # default for an image is 1 s: the photograph vanished after a second of a 7 s round)
    rnd = exp.routines["game_round"]
    for name in ("photo", "label_text", "timer_text", "score_text", "hint_text"):
        assert rnd.getComponentFromName(name).params["stopVal"].val in ("", None), name


def test_a_stroke_over_the_top_left_paints_a_map_that_peaks_there(built_game, tmp_path, mouse_driver, xvfb,
                                                                  monkeypatch):
    monkeypatch.setenv("DISPLAY", xvfb)
    folder = _copy(built_game, tmp_path)
    # a zig-zag in the photograph's top-left quarter: frame x 20-110, y 20-100
    stroke = [(LEFT + 20 + (i % 10) * 10, TOP + 20 + (i // 10) * 20) for i in range(50)]
    with mouse_driver(stroke):
        assert run_experiment(folder, "1", max_rounds=2, **RUN) == 0
    log = read_round_log(folder / "data" / "rounds.csv")
    assert log["practice"].tolist() == [1, 0, 0] and log["round"].tolist() == [0, 1, 2]
    assert set(log["end_reason"]) <= {"recognised", "time"} and (log["bubbles"] > 0).all()
    assert (log["evaluations"] > 0).all() and (log["frames"] > 0).all()
    done = log[log["end_reason"] == "recognised"]
    assert ((done["points"] > 0) & (done["points"] <= 1)).all()
    assert log["score"].iloc[-1] == pytest.approx(log["points"].iloc[1:].sum(), abs=1e-3)
    dump = read_click_csv(folder / "data" / "clicks.csv")  # the two game rounds, not the practice
    assert sorted(dump.participants(i)[0] for i in dump.image_ids()) == ["1", "1"]
    for image_id in dump.image_ids():
        pts = dump.points(image_id)[0]
        assert (pts[:, 0] >= 10).all() and (pts[:, 0] <= 120).all() and (pts[:, 1] <= 110).all()
        y, x = np.unravel_index(np.argmax(dump.map(image_id)), (256, 256))
        assert 10 <= x <= 120 and 10 <= y <= 110


def test_a_path_that_never_enters_the_photograph_paints_nothing_and_7_s_end_the_round(
        built_game, tmp_path, mouse_driver, xvfb, monkeypatch):
    monkeypatch.setenv("DISPLAY", xvfb)
    folder = _copy(built_game, tmp_path)
    stroke = [(100 + i * 5, 100) for i in range(40)] + [(100, 100 + i * 10) for i in range(40)]  # left of it
    with mouse_driver(stroke):
        assert run_experiment(folder, "2", max_rounds=1, **RUN) == 0
    log = read_round_log(folder / "data" / "rounds.csv")
    assert log["end_reason"].tolist() == ["time", "time"] and (log["bubbles"] == 0).all()
    assert (log["points"] == 0).all() and (log["evaluations"] == 0).all()
    # 7 s at 60 Hz: 420 frames, give or take the first and the last
    assert log["frames"].between(418, 423).all(), log["frames"].tolist()
    assert not (folder / "data" / "clicks.csv").exists()


def test_a_flagged_photograph_ends_its_round_and_leaves_the_dump(built_game, tmp_path, mouse_driver, xvfb,
                                                                  monkeypatch):
    monkeypatch.setenv("DISPLAY", xvfb)
    folder = _copy(built_game, tmp_path)
    with mouse_driver([(300, 300), (310, 300)], keys=["f"]):  # never on the photograph; F every cycle
        assert run_experiment(folder, "3", max_rounds=2, **RUN) == 0
    log = read_round_log(folder / "data" / "rounds.csv")
    assert log["end_reason"].tolist() == ["flagged"] * 3
    assert not (folder / "data" / "clicks.csv").exists()


def test_a_kill_during_a_round_loses_only_that_round(built_game, tmp_path, mouse_driver, xvfb, monkeypatch):
    monkeypatch.setenv("DISPLAY", xvfb)
    folder = _copy(built_game, tmp_path)
    result = {}

    def run():
        try:
            result["rc"] = run_experiment(folder, "4", **RUN)
        except SessionKilledError as err:
            result["error"] = err

    runner = threading.Thread(target=run)
    log_path = folder / "data" / "rounds.csv"
    stroke = [(LEFT + 30 + i * 4, TOP + 200) for i in range(40)]
    with mouse_driver(stroke):
        runner.start()
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            if log_path.exists() and len(read_round_log(log_path)) >= 2:  # practice and round 1 done
                break
            time.sleep(0.2)
        time.sleep(2.5)  # into round 2 (after the 2 s of feedback)
        pids = subprocess.run(["pgrep", "-f", "reveal.experiments.run .*--participant 4"],
                              capture_output=True, text=True).stdout.split()
        for pid in pids:
            os.kill(int(pid), signal.SIGKILL)
        runner.join(timeout=60)
    assert result["error"].signal_number == signal.SIGKILL
    log = read_round_log(log_path)
    assert len(log) in (2, 3) and log["participant"].astype(str).eq("4").all()
    dump = read_click_csv(folder / "data" / "clicks.csv")
    assert sum(len(dump.participants(i)) for i in dump.image_ids()) == (log["practice"] == 0).sum() - \
        ((log["practice"] == 0) & (log["bubbles"] == 0)).sum()
    assert not list((folder / "data").glob(".*part*"))
