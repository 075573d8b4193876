"""Run the compiled lab experiment for one participant.

:func:`run_experiment` starts a separate Python process that imports the compiled
``<name>.py`` (a PsychoPy Builder script, whose steps are functions) and calls its steps
in Builder's order — participant dialog (only when no id is given), data file, window,
**refresh-rate check**, devices, the experiment, saving.  A child process keeps PsychoPy's
``core.quit()`` and any crash of the display stack away from the caller; the data file is
already on disk trial by trial.

Data land where PsychoPy puts them: ``<experiment>/data/<participant>_<name>_<date>.csv``
(plus ``.psydat`` and ``.log``).  The date stamp has milliseconds and PsychoPy renames
on collision, so an existing participant id never overwrites earlier data.

Pilot/test options (environment of the child, read by the experiment's setup code):
``max_trials`` / ``max_blocks`` / ``training_trials`` shorten the session
(``REVEAL_MAX_TRIALS``, ``REVEAL_MAX_BLOCKS``, ``REVEAL_TRAINING_TRIALS``) and
``emulate_hz`` paces frames on a display without vsync, such as Xvfb
(``REVEAL_EMULATE_HZ``).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..core.errors import InputError
from ..core.extras import require_extra

log = logging.getLogger(__name__)

__all__ = ["run_experiment", "find_script", "reused_id_warning", "display_available", "NoDisplayError",
           "NoRefreshError", "SessionKilledError"]

#: Exit code of the child when no display can be opened.
NO_DISPLAY_EXIT = 3
NO_REFRESH_EXIT = 4
#: Tries at opening the window before a session is given up as having no display.
DISPLAY_ATTEMPTS = 3


class NoDisplayError(RuntimeError):
    """No display to open the experiment window on."""


class NoRefreshError(RuntimeError):
    """The display's refresh rate could not be measured, and none was stated."""


class SessionKilledError(RuntimeError):
    """The session's process was ended by a signal (kill, power-off script, out of memory)."""

    def __init__(self, message, signal_number):
        super().__init__(message)
        self.signal_number = signal_number


def display_available() -> bool:
    """Whether a window can be opened (X11/Wayland on Linux; always assumed elsewhere)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def find_script(experiment_dir) -> Path:
    """The compiled lab script of an experiment folder built by ``reveal experiment build``."""
    folder = Path(experiment_dir).resolve()  # the child runs in the folder: no relative paths
    info = folder / "design.json"
    if info.is_file():
        name = json.loads(info.read_text(encoding="utf-8"))["name"]
        script = folder / f"{name}.py"
    else:
        psyexps = sorted(folder.glob("*.psyexp"))
        if len(psyexps) != 1:
            raise InputError("not an experiment folder (no design.json and not exactly one "
                             ".psyexp); build one with `reveal experiment build`", path=folder)
        script = psyexps[0].with_suffix(".py")
    if not script.is_file():
        raise InputError(f"compiled script {script.name} is missing; rebuild the experiment",
                         path=folder)
    return script


def reused_id_warning(experiment_dir, participant: str) -> str | None:
    """The warning for a participant id that already has data here, or ``None``.

    PsychoPy's file names carry the date to the millisecond (and it renames on collision),
    so the earlier files are kept; the warning says so and names them, because a reused id
    usually is a typo or a participant who came twice.
    """
    data = Path(experiment_dir) / "data"
    earlier = sorted(p.name for p in data.glob(f"{participant}_*.csv")) if data.is_dir() else []
    if not earlier:
        return None
    return (f"participant {participant} already has {len(earlier)} data file(s) in {data} "
            f"({', '.join(earlier)}); they are kept, this session is written to a new file")


def run_experiment(experiment_dir, participant: str | None = None, *, session: str = "001",
                   group: str | None = None, fullscreen: bool = True, pilot: bool = False,
                   max_trials: int | None = None, max_blocks: int | None = None,
                   training_trials: int | None = None, emulate_hz: float | None = None,
                   assume_hz: float | None = None, timeout: float | None = None,
                   max_rounds: int | None = None) -> int:
    """Run the lab experiment for one participant and wait for it to end.

    Parameters
    ----------
    experiment_dir : str or Path
        Folder written by :func:`reveal.experiments.builder.build_experiment`.
    participant : str, optional
        Participant id; its digits give the participant index (list = index mod the
        number of lists).  ``None`` shows PsychoPy's participant dialog.
    session : str
    group : str, optional
        Force a map source (between-subjects group).
    fullscreen : bool
        Full-screen window (default) or a 1024 × 768 window.
    pilot : bool
        PsychoPy pilot mode (windowed, pilot indicator, verbose log).
    max_trials, max_blocks, training_trials : int, optional
        Shorten the session (pilot / tests).
    emulate_hz : float, optional
        Pace frames at this rate on displays without vsync (virtual displays, tests).
    assume_hz : float, optional
        The display's rate, used only when none can be measured; without it such a
        session does not start (:class:`NoRefreshError`).
    timeout : float, optional
        Seconds after which the child is killed (tests).
    max_rounds : int, optional
        The ClickMe game (``reveal game run``): at most N rounds after the practice (pilot / tests).

    Returns
    -------
    int
        The child's exit code (0 = ended normally, including Escape).

    Raises
    ------
    NoDisplayError
        When there is no display to open a window on.
    """
    require_extra("experiment", "reveal.experiments.run")  # the script it starts imports PsychoPy
    script = find_script(experiment_dir)
    if participant is not None:
        participant = str(participant).strip()
        if not participant or any(c in participant for c in '/\\:*?"<>|'):
            raise InputError(f"participant id {participant!r} is empty or has characters "
                             f"that cannot be part of a file name")
    info = json.loads((script.parent / "design.json").read_text(encoding="utf-8")) \
        if (script.parent / "design.json").is_file() else {}
    if group is not None and info.get("sources") and group not in info["sources"]:
        raise InputError(f"group {group!r} is not a map source of this experiment "
                         f"({', '.join(info['sources'])})", path=script.parent / "design.json")
    if not display_available():
        raise NoDisplayError(
            "no display: the experiment needs a screen (DISPLAY is not set). Run it on the "
            "lab station's desktop, or for a test under a virtual display: "
            "xvfb-run -a --server-args=\"-screen 0 1024x768x24\" reveal experiment run ...")
    if participant is not None:
        warning = reused_id_warning(script.parent, participant)
        if warning:
            log.warning("%s", warning)
    env = dict(os.environ)
    for var, val in (("REVEAL_MAX_TRIALS", max_trials), ("REVEAL_MAX_BLOCKS", max_blocks),
                     ("REVEAL_TRAINING_TRIALS", training_trials),
                     ("REVEAL_EMULATE_HZ", emulate_hz), ("REVEAL_ASSUME_HZ", assume_hz),
                     ("REVEAL_MAX_ROUNDS", max_rounds)):
        if val is not None:
            env[var] = str(val)
        else:
            env.pop(var, None)
    cmd = [sys.executable, "-m", "reveal.experiments.run", str(script), "--session", session,
           "--fullscreen" if fullscreen else "--windowed"]
    if participant is not None:
        cmd += ["--participant", participant]
    if group:
        cmd += ["--group", group]
    if pilot:
        cmd += ["--pilot"]
    log.info("running %s", " ".join(cmd))
    for attempt in range(DISPLAY_ATTEMPTS):
        proc = subprocess.run(cmd, env=env, timeout=timeout, cwd=script.parent)
        if proc.returncode != NO_DISPLAY_EXIT or attempt + 1 == DISPLAY_ATTEMPTS:
            break
        # an X server on a loaded machine has refused a client now and then ("Cannot connect",
        # Xvfb in CI); the window is opened before any data is written, so the session starts again
        log.warning("the display refused the window; trying again (%d of %d)", attempt + 2, DISPLAY_ATTEMPTS)
        time.sleep(1.0)
    if proc.returncode == NO_DISPLAY_EXIT:
        raise NoDisplayError(f"no display: PsychoPy could not open a window on DISPLAY="
                             f"{env.get('DISPLAY', '')!r} (is an X server running there?)")
    if proc.returncode < 0:  # ended by a signal: say so, and where the answered trials are
        number = -proc.returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        raise SessionKilledError(
            f"the session was killed ({name}) before it ended: every trial answered before "
            f"that is in {script.parent / 'data'} (the row of a trial in progress is not), "
            f"and `reveal analyze` reads the file as a session that ended early", number)
    if proc.returncode == NO_REFRESH_EXIT:
        raise NoRefreshError("the display's refresh rate could not be measured (is vsync on?), and every "
                             "duration is counted in frames of it: the session did not start. Fix the "
                             "display settings, or give --assume-refresh HZ if you know its rate.")
    return proc.returncode


def _is_display_error(err: BaseException) -> bool:
    # pyglet raises its own types for a missing or unreachable display
    # (NoSuchDisplayException: 'Cannot connect to ":87"'), from several places
    return "display" in type(err).__name__.lower() or "display" in str(err).lower()


def _replace_atomically(path: str, write) -> None:
    """``write(tmp)`` a hidden file beside ``path`` (``.<stem>.final.part<ext>``), flush it to the disk,
    rename it over ``path``: ``path`` is always either the old or the new complete file."""
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    tmp = os.path.join(folder, f".{stem}.final.part{ext}")  # hidden: no reader takes it for data
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _save_data(thisExp) -> None:
    """The session's final save, in place of the compiled script's ``saveData``.

    PsychoPy's ``saveData`` rewrites ``<file>.csv`` and ``<file>.psydat`` in place; here each
    is written beside and renamed over, as each trial's save does (feedback_end template),
    so a kill at any instant leaves the previous complete file.
    """
    base = thisExp.dataFileName
    _replace_atomically(base + ".csv", lambda tmp: thisExp.saveAsWideText(
        tmp, delim="comma", fileCollisionMethod="overwrite"))
    _replace_atomically(base + ".psydat", lambda tmp: thisExp.saveAsPickle(tmp, fileCollisionMethod="overwrite"))


def _child(argv=None) -> int:
    """In the child process: drive the compiled script's Builder steps."""
    import argparse
    import importlib.util

    ap = argparse.ArgumentParser(prog="reveal.experiments.run")
    ap.add_argument("script")
    ap.add_argument("--participant")
    ap.add_argument("--session", default="001")
    ap.add_argument("--group")
    ap.add_argument("--fullscreen", dest="fullscreen", action="store_true", default=True)
    ap.add_argument("--windowed", dest="fullscreen", action="store_false")
    ap.add_argument("--pilot", action="store_true")
    args = ap.parse_args(argv)
    # The compiled script reads --pilot from sys.argv when it is imported.
    sys.argv = [args.script] + (["--pilot"] if args.pilot else [])
    spec = importlib.util.spec_from_file_location("reveal_lab_experiment", args.script)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)  # psychopy.visual opens pyglet's shadow window on import
    except Exception as err:
        if _is_display_error(err):
            print(f"reveal: error: no display ({err})", file=sys.stderr)
            return NO_DISPLAY_EXIT
        raise
    expInfo = mod.expInfo
    if args.pilot:
        mod._fullScr = False
    else:
        mod._fullScr = args.fullscreen
    if args.participant is None:
        expInfo = mod.showExpInfoDlg(expInfo=expInfo)  # quits on Cancel
        # the id typed in the dialog: the same check as for --participant
        warning = reused_id_warning(Path(args.script).parent, str(expInfo["participant"]))
        if warning:
            print(f"reveal: warning: {warning}", file=sys.stderr, flush=True)
            logging.getLogger(__name__).warning("%s", warning)
    else:
        expInfo["participant"] = args.participant
    expInfo["session"] = args.session  # not a dialog field: the experimenter's (--session)
    if args.group:
        expInfo["group"] = args.group
    thisExp = mod.setupData(expInfo=expInfo)
    # PsychoPy would rewrite the data file (and .psydat) in place when the handler ends (its
    # end-of-session and exit saves): a kill during that write leaves it empty. The rows are written by the
    # experiment's own atomic save after each trial and by _save_data at the end; a session
    # that never starts (no window, no refresh rate) leaves no data file.
    thisExp.saveWideText = False
    thisExp.savePickle = False
    mod.setupLogging(filename=thisExp.dataFileName)
    try:
        win = mod.setupWindow(expInfo=expInfo)
    except Exception as err:
        if _is_display_error(err):
            print(f"reveal: error: no display ({err})", file=sys.stderr)
            return NO_DISPLAY_EXIT
        raise
    # Refresh-rate check: Builder's setupWindow measured it (None = not stable).
    hz = expInfo.get("frameRate")
    if os.environ.get("REVEAL_EMULATE_HZ"):
        print(f"reveal: refresh rate measured {hz}; emulating "
              f"{os.environ['REVEAL_EMULATE_HZ']} Hz (REVEAL_EMULATE_HZ)", file=sys.stderr)
    elif hz is None and os.environ.get("REVEAL_ASSUME_HZ"):
        print(f"reveal: warning: could not measure a stable refresh rate; using "
              f"{os.environ['REVEAL_ASSUME_HZ']} Hz as stated (--assume-refresh)", file=sys.stderr)
    elif hz is None:
        win.close()
        return NO_REFRESH_EXIT
    else:
        game = "game_round" in Path(args.script).read_text(encoding="utf-8")  # the ClickMe game: no trial timing
        detail = "" if game else f": image {round(0.4 * hz)} frames, deadline {round(0.55 * hz)} frames"
        print(f"reveal: refresh rate {hz:.2f} Hz{detail}", file=sys.stderr)
    mod.setupDevices(expInfo=expInfo, thisExp=thisExp, win=win)
    mod.run(expInfo=expInfo, thisExp=thisExp, win=win, globalClock="float")
    _save_data(thisExp)
    print(f"reveal: data saved to {thisExp.dataFileName}.csv", file=sys.stderr)
    mod.quit(thisExp=thisExp, win=win)  # ends the process
    return 0


if __name__ == "__main__":
    sys.exit(_child())
