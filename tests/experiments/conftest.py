"""Fixtures: a written stimulus set, a built experiment, an Xvfb display and a key driver."""
from __future__ import annotations

from pathlib import Path
import csv
import json
import os
import shutil
import subprocess
import threading
import time

from PIL import Image
import numpy as np
import pytest



@pytest.fixture(scope="session")
def stimset_dir(tmp_path_factory):
    """24 images (12 animal, 12 non-animal) x 2 sources x 12 conditions of tiny PNGs."""
    return make_stimulus_set(tmp_path_factory.mktemp("set") / "set")


@pytest.fixture(scope="session")
def built(stimset_dir, tmp_path_factory):
    from reveal.experiments.builder import build_experiment

    return build_experiment(stimset_dir, tmp_path_factory.mktemp("exp") / "rapidcat_exp")


@pytest.fixture(scope="session")
def xvfb():
    """A private Xvfb display (the number Xvfb picks itself); yields its DISPLAY string."""
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.skip("Xvfb and xdotool are needed for the lab-run tests")
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1024x768x24",
                             "-nolisten", "tcp"], pass_fds=(w,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as fh:
        number = fh.readline().strip()
    display = f":{number}"
    yield display
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class KeyDriver:
    """Presses keys in a loop with xdotool (each held 50 ms, >= 2 frames at 60 Hz).

    ``keys`` can be changed while it runs; ``press(key)`` sends one extra press.
    """

    def __init__(self, display: str, keys=("s", "space"), hold: float = 0.05, gap: float = 0.05):
        self.env = dict(os.environ, DISPLAY=display)
        self.keys = list(keys)
        self.hold, self.gap = hold, gap
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _xdo(self, *args):
        subprocess.run(["xdotool", *args], env=self.env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def press(self, key):
        self._xdo("keydown", key)
        time.sleep(self.hold)
        self._xdo("keyup", key)

    def _loop(self):
        while not self._stop.is_set():
            for key in list(self.keys):
                if self._stop.is_set():
                    break
                self.press(key)
                time.sleep(self.gap)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def key_driver(xvfb):
    def make(keys=("s", "space")):
        return KeyDriver(xvfb, keys)
    return make


# ---- fixture writers (formerly a helper module on sys.path)


LEVELS = ["1", "1.58", "2.51", "3.98", "6.31", "10", "15.8", "25.1", "39.8", "63.1", "100", "full"]
COLUMNS = ["stimulus_id", "file", "image_id", "category", "map_source", "level", "level_index",
           "revealed_px", "image_frac", "feature_budget", "seed"]


def make_stimulus_set(root, n_images: int = 24, sources=("clickme", "salicon"), size: int = 16,
                      seed: int = 7, n_animal: int | None = None) -> Path:
    """Write ``n_images`` images x sources x 12 conditions of tiny PNGs and a manifest.

    Images ``img00..`` alternate animal / non-animal (or the first ``n_animal`` are animals).
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    rows = []
    n_animal = n_images // 2 if n_animal is None else n_animal
    for j in range(n_images):
        image_id = f"img{j:02d}"
        category = "animal" if j < n_animal else "nonanimal"
        full_rel = f"png/{image_id}_full.png"
        (root / "png").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / full_rel)
        for source in sources:
            for k, level in enumerate(LEVELS):
                if level == "full":
                    rel = full_rel
                else:
                    rel = f"png/{image_id}_{source}_{k:02d}.png"
                    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / rel)
                frac = 1.0 if level == "full" else float(level) / 100 * 0.3
                rows.append({
                    "stimulus_id": f"{image_id}_{source}_{level}", "file": rel, "image_id": image_id,
                    "category": category, "map_source": source, "level": level, "level_index": k,
                    "revealed_px": int(frac * size * size), "image_frac": round(frac, 6),
                    "feature_budget": int(0.3 * size * size), "seed": j * 100 + k,
                })
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    (root / "stimset.json").write_text(json.dumps({
        "toolkit_version": "test", "parameters": {"seed": seed}, "levels": LEVELS,
        "sources": list(sources), "inputs": {}, "n_stimuli": len(rows)}))
    return root


@pytest.fixture(name="make_stimulus_set", scope="session")
def _make_stimulus_set_fixture():
    return make_stimulus_set
