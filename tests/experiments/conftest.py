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
