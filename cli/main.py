"""The ``reveal`` console command: a thin argparse layer over each package's Python API.

Each subcommand has a module of this package with a ``register(subparsers)`` function that
adds its parser; this module lists them (explicitly, so that every dependency of the command
line is an import the import contracts see) and turns errors into exit codes.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from ..core.errors import InputError
from ..core.extras import MissingExtraError
from ..core.version import toolkit_version
from . import analyze, demo, experiment, game, gains, info, maps, power, predict, stimuli, train

#: The subcommands' modules, in the order ``reveal --help`` lists them.
COMMAND_MODULES = (demo, stimuli, experiment, game, predict, gains, train, analyze, maps, power, info)


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
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        result = args.func(args)
    except MissingExtraError as err:  # one line naming the extra and the pip command, no traceback
        who = " ".join(["reveal", *_command_words(parser, sys.argv[1:] if argv is None else argv)])
        print(f"reveal: error: {MissingExtraError(err.extra, err.missing, who)}", file=sys.stderr)
        return 2
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


def _command_words(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """The (sub)command names at the start of ``argv``: ``["experiment", "build"]``."""
    words = []
    for word in argv:
        if word.startswith("-"):
            continue
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subparsers or word not in subparsers[0].choices:
            break
        words.append(word)
        parser = subparsers[0].choices[word]
    return words


def _save_traceback() -> str:
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="reveal-error-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"reveal {version()} {' '.join(sys.argv)}\n\n{traceback.format_exc()}")
    return path


if __name__ == "__main__":
    sys.exit(main())
