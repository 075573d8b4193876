"""The ``reveal`` console command: a thin argparse layer over each package's Python API.

Each package keeps its own subcommands in a ``cli`` module with a
``register(subparsers)`` function; this module only gathers them, so that adding a
command never means editing another package's code.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from ..stimuli.errors import InputError, toolkit_version

#: Modules that contribute subcommands, in the order ``reveal --help`` lists them.
COMMAND_MODULES = (
    "..experiments.demo",
    "..stimuli.cli",
    "..experiments.commands",
    "..models.cli",
    "..analysis.cli",
    "..analysis.maps.cli",
    "..experiments.power_cli",
)


version = toolkit_version


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reveal",
        description="Reveal stimuli, the rapid-categorization experiment, model observers and analysis.",
    )
    parser.add_argument("--version", action="version", version=f"reveal {version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an unexpected error instead of saving it to a file")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name, __package__).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        result = args.func(args)
    except InputError as err:
        print(f"reveal: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("reveal: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        # the system refused a file the user named (read-only, disk full, not a folder...)
        if args.debug:
            raise
        where = f"{err.filename}: " if err.filename else ""
        print(f"reveal: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except Exception as err:  # a bug of ours: one line for the user, the traceback kept for a report
        if args.debug:
            raise
        print(f"reveal: internal error: {type(err).__name__}: {err} (full traceback in "
              f"{_save_traceback()}; rerun with --debug to show it)", file=sys.stderr)
        return 1
    return int(result or 0)


def _save_traceback() -> str:
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="reveal-error-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"reveal {version()} {' '.join(sys.argv)}\n\n{traceback.format_exc()}")
    return path


if __name__ == "__main__":
    sys.exit(main())
