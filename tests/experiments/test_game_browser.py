"""The game's online study in a real browser: headless Chromium, the real PsychoJS build, the real
network partner in onnxruntime-web, and a mouse moved by the driver.

The game is built with ``reveal game build`` (lab and online: the network exported to ONNX) from
three photographs, and ``tests/browser/drive_game.mjs`` plays one participant through it: it
serves the folder with the PsychoJS build, answers the CDN's URLs (jQuery, PreloadJS,
onnxruntime-web) from ``tests/browser/node_modules``, clicks PsychoJS's start dialog, and in each
round moves the mouse along a planned path in the photograph's frame (playwright's mouse: real
pointer events, which PsychoJS's own Mouse reads). Nothing of PsychoJS, onnxruntime-web or the
export is replaced. ``reveal game collect`` then turns the data file PsychoJS downloads into the
click dump and round log the lab game writes. A second player presses Escape in the middle of a
round. (Closing the tab instead saves data only on Pavlovia's server, which cannot run here.)

Chromium renders here in software (SwiftShader) on 2 cores, at about 30 frames per second: the
frames dropped while painting are reported, not held to a bound.
"""
from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from browser_support import BROWSER_DIR, reveal_command  # (the browser_tools fixture: conftest.py)
from PIL import Image

from reveal.experiments.bubbles import bubble_mask
from reveal.experiments.game import player_images, player_number

pytestmark = pytest.mark.slow

PARTICIPANT = "4"
N_PER_PLAYER = 3
STROKE = [[20, 20], [90, 20], [90, 40], [20, 40], [20, 60], [90, 60], [90, 80], [20, 80], [20, 20]]
OFF_PHOTO = [[-60, -60], [-60, 320], [320, 320], [320, -60]]
# the practice round: a stroke; round 1: the same stroke over the top left; round 2: F at once
# (before the partner could recognise anything); round 3: a path that never enters the
# photograph (the round runs out)
PLAN = [{"path": STROKE, "step_ms": 30}, {"path": STROKE, "step_ms": 30},
        {"path": [], "flag": True}, {"path": OFF_PHOTO, "step_ms": 600, "screenshot": "round3.png"}]


def run(args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def played(browser_tools, game_inputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("game_online")
    game = root / "game"
    r = run(reveal_command() + ["game", "build", "--images", game_inputs / "photos", "--labels",
                                game_inputs / "labels.csv", "--out", game, "--per-player", N_PER_PLAYER])
    assert r.returncode == 0, r.stderr
    plan = [dict(p, screenshot=str(root / p["screenshot"])) if "screenshot" in p else p for p in PLAN]
    spec = {"export": str(game), "psychojs": browser_tools["psychojs"], "chromium": browser_tools["chromium"],
            "participant": PARTICIPANT, "out": str(root / "downloads"), "rounds": plan, "timeout_s": 240}
    d = run(["node", BROWSER_DIR / "drive_game.mjs", json.dumps(spec)], cwd=BROWSER_DIR)
    result = json.loads(d.stdout) if d.stdout.strip() else {"ok": False, "failures": [d.stderr]}
    assert result["ok"], result["failures"]
    data = Path(result["download"]["path"])
    c = run(reveal_command() + ["game", "collect", "--game", game, data])
    assert c.returncode == 0, c.stderr
    with data.open(encoding="utf-8-sig", newline="") as f:
        rounds = [row for row in csv.DictReader(f) if row["end_reason"]]
    return {"game": game, "result": result, "rounds": rounds, "collect": c.stdout, "root": root}


@pytest.fixture(scope="module")
def escaped(browser_tools, played, tmp_path_factory):
    """Another player (id "5") who paints in round 1 and presses Escape in the middle of round 2."""
    root = tmp_path_factory.mktemp("game_escaped")
    plan = [{"path": [], "flag": True}, {"path": STROKE[:4], "step_ms": 30},
            {"path": STROKE[:3], "step_ms": 30, "escape": True}]
    spec = {"export": str(played["game"]), "psychojs": browser_tools["psychojs"],
            "chromium": browser_tools["chromium"], "participant": "5", "out": str(root), "rounds": plan,
            "timeout_s": 240}
    d = run(["node", BROWSER_DIR / "drive_game.mjs", json.dumps(spec)], cwd=BROWSER_DIR)
    result = json.loads(d.stdout) if d.stdout.strip() else {"ok": False, "failures": [d.stderr]}
    assert result["ok"], result["failures"]
    return result


def clicks_of(row):
    return np.array([[int(v) for v in c.split()] for c in row["clicks"].split(";") if c], np.int64).reshape(-1, 2)


def test_every_round_is_played_and_saved(played):
    ends = [r["end"].split(",")[0] for r in played["result"]["rounds"]]
    assert len(played["rounds"]) == 1 + N_PER_PLAYER == len(ends)
    assert [r["end_reason"] for r in played["rounds"]] == ends
    assert [int(r["practice"]) for r in played["rounds"]] == [1, 0, 0, 0]
    assert [int(r["round"]) for r in played["rounds"]] == [0, 1, 2, 3]


def test_the_player_gets_the_photographs_of_pythons_rule_and_downloads_only_those(played):
    labels = list(csv.DictReader((played["game"] / "conditions" / "photos.csv").open()))
    mine = [labels[i]["image_id"] for i in player_images(len(labels), player_number(PARTICIPANT, len(labels)),
                                                           N_PER_PLAYER)]
    assert [r["image_id"] for r in played["rounds"][1:]] == mine
    fetched = [line.split(" ", 1)[1] for line in played["result"]["requests"]["local"]]
    assert sorted(p for p in fetched if p.startswith("photos/")) == sorted(f"photos/{i}.png" for i in mine)
    assert fetched.count("model/partner.onnx") == 1


def test_a_stroke_over_the_top_left_paints_bubbles_there_and_the_collected_map_peaks_there(played):
    from reveal.stimuli.loaders.clickme import read_click_csv

    stroke = played["rounds"][1]
    pts = clicks_of(stroke)
    assert int(stroke["bubbles"]) == len(pts) > 5
    box = np.array(STROKE)
    assert (pts >= box.min(0) - 1).all() and (pts <= box.max(0) + 1).all()  # on the path, spaced along it
    dump = read_click_csv(played["game"] / "data" / "clicks.csv")
    image = stroke["image_id"]
    assert dump.participants(image) == [PARTICIPANT]
    peak_y, peak_x = np.unravel_index(np.argmax(dump.map(image)), dump.shape)
    assert peak_x < 128 and peak_y < 128


def test_a_path_that_never_enters_the_photograph_paints_nothing_and_the_round_runs_out(played):
    off = played["rounds"][3]
    assert off["end_reason"] == "time" and int(off["bubbles"]) == 0 and off["clicks"] == ""
    seen = played["result"]["rounds"][3]
    assert 6.8 <= (seen["end_ms"] - seen["begin_ms"]) / 1000 <= 8.5  # 7 s, as the page's console saw it


def test_the_photograph_stays_on_screen_through_the_round(played):
    """A screenshot of the page 2-3 s into round 3 (after the path around it): the photograph is there."""
    seen = played["result"]["rounds"][3]
    shot = np.asarray(Image.open(played["root"] / "round3.png").convert("RGB")).astype(float)
    left, top, w, h = (int(v) for v in seen["rect"])
    photo = np.asarray(Image.open(played["game"] / "photos" / f"{played['rounds'][3]['image_id']}.png")
                       .convert("RGB")).astype(float)
    shown = shot[top:top + h, left:left + w]
    assert shown.shape == photo.shape
    assert np.abs(shown - photo).mean() < 12  # the photograph as it is (no bubble on it), not the grey screen
    assert np.abs(shot[top:top + h, left:left + w] - shot[5, 5]).mean() > 20


def test_f_flags_the_photograph_and_its_map_is_not_kept(played):
    flagged = played["rounds"][2]
    assert flagged["end_reason"] == "flagged"
    from reveal.stimuli.loaders.clickme import read_click_csv

    dump = read_click_csv(played["game"] / "data" / "clicks.csv")
    assert flagged["image_id"] not in dump.image_ids()


def test_the_browsers_partner_answers_as_pytorch_does_for_the_same_bubbles(played, game_inputs):
    """The page's last answer of each round (onnxruntime-web) against PyTorch on the same mask."""
    from reveal.models import load_observer
    from reveal.models.partner import PartnerNet, partner_top

    net = PartnerNet(load_observer("efficientnet_lite0"))
    design = json.loads((played["game"] / "design.json").read_text())
    checked = 0
    for row in played["rounds"]:
        if not row["top5"]:
            continue
        photo = np.asarray(Image.open(played["game"] / row["image_file"]).convert("RGB"))
        mask = bubble_mask(clicks_of(row)[:int(row["top5_bubbles"])], diameter=design["rules"]["partner_bubble"])
        top, _ = partner_top(net, photo, mask)
        assert [int(v) for v in row["top5"].split()] == top.tolist(), row["image_id"]
        checked += 1
    assert checked >= 2


def test_latency_and_frame_timing_are_saved_per_round(played):
    painted = [r for r in played["rounds"] if int(r["bubbles"])]
    assert painted and all(int(r["evaluations"]) >= 1 and float(r["latency_median_s"]) > 0 for r in painted)
    for r in played["rounds"]:
        assert int(r["frames"]) > (1 if r["end_reason"] == "flagged" else 10)  # F at once: a frame or two
        assert 0 <= int(r["dropped_frames"]) < int(r["frames"]) and float(r["refresh_hz"]) > 0
    assert played["result"]["partner_loaded_ms"] > 0


def test_the_round_log_and_summary_read_the_collected_rounds(played):
    from reveal.core.gamelog import read_round_log

    log = read_round_log(played["game"] / "data" / "rounds.csv")
    assert log["end_reason"].tolist() == [r["end_reason"] for r in played["rounds"]]
    s = run(reveal_command() + ["game", "summary", "--game", played["game"]])
    assert s.returncode == 0 and "3 rounds by 1 players" in s.stdout, s.stdout + s.stderr


def test_a_player_who_quits_mid_round_keeps_the_finished_rounds(escaped):
    """Escape in round 2: PsychoJS saves the session; collected, it holds the two finished rounds."""
    from reveal.core.gameonline import read_online_rounds

    rounds = read_online_rounds(escaped["download"]["path"]).log_rows
    assert [r["round"] for r in rounds] == [0, 1] and rounds[0]["end_reason"] == "flagged"
    assert rounds[1]["participant"] == "5" and rounds[1]["bubbles"] > 0
    assert escaped["rounds"][2].get("escaped") and "end" not in escaped["rounds"][2]
