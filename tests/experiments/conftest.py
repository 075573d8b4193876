"""Fixtures: a written stimulus set, a built experiment, an Xvfb display and a key driver."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest


@pytest.fixture(scope="session")
def stimset_dir(tmp_path_factory, make_stimulus_set):
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
    # a client can connect once Xvfb says its number, but on a loaded machine the first one has
    # been refused ("Cannot connect"): wait until xdotool gets the screen's size
    env = dict(os.environ, DISPLAY=display)
    deadline = time.monotonic() + 20
    while subprocess.run(["xdotool", "getdisplaygeometry"], env=env, capture_output=True).returncode != 0:
        if time.monotonic() > deadline or proc.poll() is not None:
            pytest.fail(f"Xvfb on {display} accepts no client (exit {proc.poll()})")
        time.sleep(0.1)
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


class MouseDriver:
    """Plays the game with xdotool: SPACE for the screens between rounds, and a stroke painted over
    and over (a press held 50 ms where the stroke starts, then the cursor moved along it).

    ``stroke``: window (= screen, full-screen) pixels; ``keys``: extra keys pressed each cycle.
    """

    def __init__(self, display, stroke, keys=(), step_s=0.02):
        self.env = dict(os.environ, DISPLAY=display)
        self.stroke, self.keys, self.step_s = list(stroke), list(keys), step_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _xdo(self, *args):
        subprocess.run(["xdotool", *map(str, args)], env=self.env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _loop(self):
        while not self._stop.is_set():
            self._xdo("key", "space")
            for key in self.keys:
                self._xdo("key", key)
            x, y = self.stroke[0]
            self._xdo("mousemove", x, y)
            self._xdo("mousedown", 1)
            time.sleep(0.05)
            self._xdo("mouseup", 1)
            for x, y in self.stroke[1:]:
                if self._stop.is_set():
                    break
                self._xdo("mousemove", x, y)
                time.sleep(self.step_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def mouse_driver(xvfb):
    def make(stroke, keys=()):
        return MouseDriver(xvfb, stroke, keys)
    return make


@pytest.fixture(scope="session")
def game_inputs(tmp_path_factory):
    """Three scikit-image photographs and their labels file (image_id, imagenet_class, label)."""
    from PIL import Image
    from skimage import data

    root = tmp_path_factory.mktemp("game_inputs")
    (root / "photos").mkdir()
    for name, img in (("cat01", data.chelsea()), ("rocket01", data.rocket()), ("astro01", data.astronaut())):
        Image.fromarray(img).save(root / "photos" / f"{name}.png")
    (root / "labels.csv").write_text("image_id,imagenet_class,label\ncat01,282,cat\nrocket01,657,rocket\n"
                                     "astro01,834,suit\n")
    return root


@pytest.fixture(scope="session")
def built_game(game_inputs, tmp_path_factory):
    from reveal.experiments.game_builder import build_game

    return build_game(game_inputs / "photos", game_inputs / "labels.csv",
                      tmp_path_factory.mktemp("game") / "game")


@pytest.fixture(scope="module")
def browser_tools():
    """Chromium and the PsychoJS build for the tests in a real browser (skipped, or failed in CI, without)."""
    from browser_support import browser_tools_or_skip

    return browser_tools_or_skip()
