"""The browser's round rules (templates/game_rules.js, under node) place the lab's bubbles exactly.

The same cursor paths (random strokes at random display sizes and speeds, paths leaving and
entering the photograph, presses off it) go through Python's ``GameRound`` and the JavaScript
port; clicks and both masks must be identical. Needs node: outside CI a machine without it skips
(the reason says so); with ``CI`` set it fails.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from reveal.experiments.game import GameRound, GameRules

SCRIPT = Path(__file__).resolve().parents[1] / "browser" / "game_rules_check.mjs"


def _cases(rng):
    cases = []
    for k in range(12):
        size = int(rng.choice([256, 384, 512, 300]))
        rect = [float(rng.integers(0, 300)), float(rng.integers(0, 200)), float(size), float(size)]
        n = int(rng.integers(20, 200))
        pts = np.cumsum(rng.normal(0, rng.choice([1.5, 6.0, 20.0]), (n, 2)), axis=0) + [rect[0] + size / 2,
                                                                                           rect[1] + size / 2]
        if k % 3 == 0:
            pts = np.rint(pts)  # integer cursor positions, as a mouse gives them: half-pixel frame positions
        press = int(rng.integers(0, n // 2))
        rules = {"spacing": float(rng.choice([7.0, 3.0, 5.5])), "playerBubble": 14, "partnerBubble": 21,
                 "roundS": 7.0}
        samples = [[i / 60, float(x), float(y), int(i == press)] for i, (x, y) in enumerate(pts)]
        cases.append({"rect": rect, "rules": rules, "samples": samples})
    # a press off the photograph, then a path that never enters it: nothing
    cases.append({"rect": [100.0, 100.0, 256.0, 256.0], "rules": {},
                  "samples": [[0, 50.0, 50.0, 1], [0.1, 90.0, 60.0, 0], [0.2, 99.0, 400.0, 1]]})
    return cases


def test_javascript_rules_place_the_same_bubbles_as_python(tmp_path):
    if shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("node (Node.js 20+) is needed on PATH")
        pytest.skip("the JavaScript rules check needs node (Node.js 20+) on PATH")
    cases = _cases(np.random.default_rng(6))
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    rules_js = Path(str(resources.files("reveal.experiments").joinpath("templates", "game_rules.js")))
    run = subprocess.run(["node", str(SCRIPT), str(path)], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, REVEAL_GAME_RULES_JS=rules_js.as_uri()))
    assert run.returncode == 0, run.stderr[-2000:]
    js = json.loads(run.stdout)
    placed = 0
    for case, got in zip(cases, js):
        r = case["rules"]
        rules = GameRules(round_s=r.get("roundS", 7.0), player_bubble=r.get("playerBubble", 14),
                          partner_bubble=r.get("partnerBubble", 21), spacing=r.get("spacing", 7.0))
        rnd = GameRound(case["rect"], rules)
        for t, x, y, pressed in case["samples"]:
            rnd.update(t, (x, y), bool(pressed))
            rnd.tick(t)
        assert got["clicks"] == [list(c) for c in rnd.clicks]
        assert got["player"] == "".join(map(str, rnd.player_mask.astype(int).ravel()))
        assert got["partner"] == "".join(map(str, rnd.partner_mask.astype(int).ravel()))
        assert got["end"] == rnd.end_reason
        placed += rnd.n_bubbles
    assert placed > 200  # the paths did paint


def test_the_online_game_gives_each_id_pythons_player_number(tmp_path):
    """The player-number rule of the online setup (game_setup.js.tmpl) against game.player_number."""
    import re

    from reveal.experiments.game import player_number

    if shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("node (Node.js 20+) is needed on PATH")
        pytest.skip("the JavaScript player-number check needs node (Node.js 20+) on PATH")
    setup = resources.files("reveal.experiments").joinpath("templates", "game_setup.js.tmpl").read_text("utf-8")
    fn = re.search(r"^function rv_player_number\(.*?^}$", setup, re.S | re.M).group(0)
    ids = ["1", "007", "p12", "ab", "", "5f8d0d55b54764421b715e07", "x" * 40, "élève", "😀id", "99999999999999999999"]
    cycles = [1, 3, 7, 1000]
    script = tmp_path / "numbers.mjs"
    script.write_text(fn + f"\nconsole.log(JSON.stringify({json.dumps(ids)}.map((pid) => "
                      f"{json.dumps(cycles)}.map((c) => rv_player_number(pid, c)))));\n", encoding="utf-8")
    run = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [[player_number(pid, c) for c in cycles] for pid in ids]
