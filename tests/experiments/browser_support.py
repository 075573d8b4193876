"""What the tests in a real browser share (test_browser.py, test_game_browser.py): where the
driver, Chromium and the PsychoJS build are, and what is missing to run them."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BROWSER_DIR = REPO / "tests" / "browser"
#: npm packages of tests/browser/package.json the drivers load (onnxruntime-web: the game's partner)
NODE_PACKAGES = ("playwright-core", "jquery", "jquery-ui-dist", "preloadjs", "onnxruntime-web")
PSYCHOJS_FILES = ("psychojs.js", "psychojs.css")


def psychojs_dir() -> Path:
    return Path(os.environ.get("REVEAL_PSYCHOJS") or REPO.parent / "shared" / "vendor" / "psychojs")


def chromium_path() -> str | None:
    given = os.environ.get("CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing_tools() -> list[str]:
    """What the browser tests need and this machine lacks, each with how to get it."""
    missing = []
    if shutil.which("node") is None:
        missing.append("node (Node.js 20+) on PATH")
    if chromium_path() is None:
        missing.append("Chromium (Debian: apt-get install --no-install-recommends chromium; "
                       "or set CHROMIUM to its executable)")
    lacking = [p for p in NODE_PACKAGES
               if not (BROWSER_DIR / "node_modules" / p / "package.json").is_file()]
    if lacking:
        missing.append(f"npm packages {', '.join(lacking)} in tests/browser/node_modules "
                       "(npm ci --prefix tests/browser)")
    lib = psychojs_dir()
    if not all((lib / f).is_file() for f in PSYCHOJS_FILES):
        missing.append(f"the PsychoJS build ({', '.join(PSYCHOJS_FILES)}) in {lib} "
                       "(or set REVEAL_PSYCHOJS)")
    return missing


def browser_tools_or_skip():
    """``{"chromium", "psychojs"}``, or the test skipped (failed with ``CI`` set) naming what is missing."""
    missing = missing_tools()
    if missing:
        reason = "the browser test needs " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return {"chromium": chromium_path(), "psychojs": str(psychojs_dir())}


def reveal_command() -> list[str]:
    exe = Path(sys.executable).with_name("reveal")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("reveal")
    assert found, "the `reveal` command is not installed next to this Python"
    return [found]
