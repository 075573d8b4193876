"""Benchmark: start-up time of the ``reveal`` command line.

Times, in fresh interpreters, ``python -c pass`` (the reference: the interpreter alone),
``python -c "import reveal.cli.main"``, ``reveal --help`` (the console script next to this
interpreter, or ``python -m reveal.cli.main`` where there is none) and ``reveal info`` (skipped,
with a note, where that subcommand does not exist or fails). The commands are run interleaved,
``REPEATS`` times each, so that a load on the machine weighs on all of them alike; the script
prints the median seconds of each, its difference above ``python -c pass``, and whether the goal
(``reveal --help`` at most 0.5 s above the bare interpreter) holds. It also lists the heavy
packages (numpy, pandas, scipy, torch, ...) that ``import reveal.cli.main`` loads: none is the goal.

Run: ``.venv/bin/python benchmarks/bench_startup.py``
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEATS = 15
GOAL_S = 0.5  # reveal --help, seconds above `python -c pass`

#: Packages that building the parser must not import (each takes 0.1 s to seconds).
HEAVY = ("numpy", "pandas", "scipy", "skimage", "cv2", "numba", "matplotlib", "torch", "torchvision",
         "psychopy", "psignifit", "dask", "distributed", "PIL")


def _reveal() -> list[str]:
    """The console script next to this interpreter, else its ``python -m`` equivalent."""
    script = Path(sys.executable).parent / ("reveal.exe" if sys.platform == "win32" else "reveal")
    return [str(script)] if script.exists() else [sys.executable, "-m", "reveal.cli.main"]


def _run(cmd: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    return time.perf_counter() - t0, rc


def _heavy_imports() -> list[str]:
    code = ("import sys, reveal.cli.main; "
            f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return out.split()


def main() -> None:
    reveal = _reveal()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import reveal.cli.main": [sys.executable, "-c", "import reveal.cli.main"],
        "reveal --help": [*reveal, "--help"],
        "reveal info": [*reveal, "info"],
    }
    # one untimed run of each: compiles the .pyc files and warms the file cache
    for name, cmd in list(commands.items()):
        if _run(cmd)[1] != 0:
            if name == "reveal info":
                print("note: `reveal info` exits non-zero here (no such subcommand yet?): not timed")
                del commands[name]
            else:
                raise SystemExit(f"{name!r} failed: {' '.join(cmd)}")
    times = {name: [] for name in commands}
    for _ in range(REPEATS):  # interleaved: a load on the machine weighs on every command alike
        for name, cmd in commands.items():
            times[name].append(_run(cmd)[0])
    med = {name: statistics.median(ts) for name, ts in times.items()}
    base = med["python -c pass"]
    print(f"start-up, median of {REPEATS} interleaved runs ({' '.join(reveal)}):")
    for name, m in med.items():
        above = "" if name == "python -c pass" else f"   +{m - base:6.3f} s above python -c pass"
        print(f"  {name:<24} {m:6.3f} s{above}")
    help_above = med["reveal --help"] - base
    print(f"goal: reveal --help at most {GOAL_S} s above python -c pass -> "
          f"{'OK' if help_above <= GOAL_S else 'MISSED'} (+{help_above:.3f} s)")
    heavy = _heavy_imports()
    print(f"heavy packages imported by `import reveal.cli.main`: {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
