"""``reveal --help`` starts fast: building the parser imports none of the heavy packages.

Each subcommand imports what it needs when it runs (benchmarks/bench_startup.py times the
start-up; no test here times anything). Each check runs in a fresh interpreter, since this
process has long imported numpy and pandas.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys

from reveal.cli.main import build_parser

#: Packages that take 0.1 s to seconds to import, none of which ``reveal --help`` needs.
HEAVY = ("numpy", "pandas", "scipy", "skimage", "cv2", "numba", "matplotlib", "torch", "torchvision",
         "psychopy", "psignifit", "dask", "distributed", "PIL")


def _python(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def test_building_the_parser_imports_nothing_heavy(tmp_path):
    # every parser's help is formatted too (`reveal stimuli build --help` and the like)
    code = ("import argparse, sys\n"
            "from reveal.cli.main import build_parser\n"
            "todo = [build_parser()]\n"
            "while todo:\n"
            "    p = todo.pop()\n"
            "    p.format_help()\n"
            "    todo += [q for a in p._actions if isinstance(a, argparse._SubParsersAction)\n"
            "             for q in a.choices.values()]\n"
            f"heavy = set({HEAVY!r})\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n")
    run = _python(code, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_help_lists_every_subcommand(tmp_path):
    commands = list(_subparsers(build_parser()))
    assert commands  # guards against a parser without subcommands passing vacuously
    run = _python("from reveal.cli.main import main; main(['--help'])", tmp_path)
    assert run.returncode == 0, run.stderr  # argparse's SystemExit(0)
    listed = re.findall(r"^ {4}(\S+)", run.stdout, flags=re.MULTILINE)
    assert listed == commands
