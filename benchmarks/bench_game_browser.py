"""The online game's painting in a browser: frames dropped while the partner runs in the page.

Builds the game's online study (``reveal game build``) from scikit-image photographs labelled with
a class the partner never finds in them (ImageNet 0, tench), so that every round runs its full
7 s, and plays it in headless Chromium with ``tests/browser/drive_game.mjs`` (real PsychoJS, real
onnxruntime-web), alternating:

* **reference**: the hand rests (no painting, so no evaluation of the partner);
* **painting**: the hand paints a wandering stroke for the whole round while the partner
  evaluates the newest mask in its worker whenever it is free (the game's cadence).

Per round, from the data file PsychoPy downloads: the share of frame intervals over 1.5 frames
of the display (measured by the game on the instructions screen), the longest interval, the
partner's evaluations and their median latency. Medians over the rounds of each kind; the
painting/reference ratio of dropped frames. Headless Chromium renders in software here: a
participant's browser on a GPU draws faster.

Needs node 20+, Chromium, ``npm ci --prefix tests/browser`` and a PsychoJS build
(``../shared/vendor/psychojs`` or ``--psychojs``).

Run: ``.venv/bin/python benchmarks/bench_game_browser.py [--rounds 6] [--psychojs DIR]``
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DRIVER = REPO / "tests" / "browser" / "drive_game.mjs"


def wander(n_points, rng):
    """A stroke wandering over the photograph (frame pixels), 12-30 px between points."""
    p = np.array([128.0, 128.0])
    out = []
    for _ in range(n_points):
        step = rng.normal(0, 1, 2)
        p = np.clip(p + 21 * step / max(np.linalg.norm(step), 1e-9), 8, 247)
        out.append([int(p[0]), int(p[1])])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=6, help="rounds after the practice (half painted; default 6)")
    ap.add_argument("--psychojs", default=str(REPO.parent / "shared" / "vendor" / "psychojs"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    from PIL import Image
    from skimage import data

    from reveal.core.gameonline import read_online_rounds

    reveal = shutil.which("reveal", path=str(Path(sys.executable).parent)) or "reveal"
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "photos").mkdir()
        names = ["chelsea", "rocket", "astronaut", "coffee", "camera", "stereo_motorcycle"]
        rows = ["image_id,imagenet_class,label"]
        for k in range(args.rounds):
            img = getattr(data, names[k % len(names)])()
            img = img[0] if isinstance(img, tuple) else img
            Image.fromarray(img).convert("RGB").save(tmp / "photos" / f"p{k}.png")
            rows.append(f"p{k},0,fish")  # never recognised: every round runs its 7 s
        (tmp / "labels.csv").write_text("\n".join(rows) + "\n")
        r = subprocess.run([reveal, "game", "build", "--images", str(tmp / "photos"), "--labels",
                            str(tmp / "labels.csv"), "--out", str(tmp / "game")], capture_output=True, text=True)
        if r.returncode:
            sys.exit(r.stderr)
        # the practice round and then alternately: painting, reference
        plan = [{"path": []}] + [{"path": wander(400, rng), "step_ms": 12} if k % 2 == 0 else {"path": []}
                                 for k in range(args.rounds)]
        spec = {"export": str(tmp / "game"), "psychojs": args.psychojs, "participant": "1",
                "out": str(tmp / "out"), "rounds": plan, "timeout_s": 60 + 12 * (args.rounds + 1)}
        d = subprocess.run(["node", str(DRIVER), json.dumps(spec)], capture_output=True, text=True,
                           cwd=DRIVER.parent)
        result = json.loads(d.stdout) if d.stdout.strip() else {"ok": False, "failures": [d.stderr]}
        if not result["ok"]:
            sys.exit(f"the browser run failed: {result['failures']}")
        rounds = [r for r in read_online_rounds(result["download"]["path"]).log_rows if not r["practice"]]
    print(f"partner loaded in {result['partner_loaded_ms']} ms; page frames: median "
          f"{result['page_frames']['frame_ms_median']} ms")
    kinds = {"reference": [], "painting": []}
    for row in rounds:
        kind = "painting" if row["bubbles"] else "reference"
        kinds[kind].append(row)
        print(f"  {kind:9s} {row['image_id']}: {row['bubbles']:4d} bubbles, {row['evaluations']:3d} evaluations "
              f"(median {row['latency_median_s'] or '-'} s), dropped {row['dropped_frames']}/{row['frames']} frames, "
              f"longest {row['longest_frame_s']} s, display {row['refresh_hz']} Hz")
    share = {k: float(np.median([r["dropped_frames"] / r["frames"] for r in v])) if v else math.nan
             for k, v in kinds.items()}
    latency = [r["latency_median_s"] for r in kinds["painting"] if r["latency_median_s"]]
    ratio = f"{share['painting'] / share['reference']:.1f}x" if share["reference"] > 0 else "n/a (none dropped at rest)"
    print(f"dropped frames (median over rounds): painting {share['painting']:.1%}, reference "
          f"{share['reference']:.1%}; ratio {ratio}")
    print(f"partner latency (median of the rounds' medians): {np.median(latency) * 1000:.0f} ms; evaluations per "
          f"painted round: {np.median([r['evaluations'] for r in kinds['painting']]):.0f}")


if __name__ == "__main__":
    main()
