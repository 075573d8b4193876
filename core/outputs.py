"""Files the toolkit writes: atomically, and only into folders whose contents it owns.

Two rules every command follows:

- **Atomic files.** A file is written under a temporary name in its own folder and renamed
  over the target (:func:`atomic_write`), so a reader, or a crash, never meets half a file.
  The exceptions — ``reveal predict``'s appended CSV, the files PsychoPy writes itself, the
  sample inputs — are listed with their reasons in docs/conventions.md ("Files the toolkit
  writes").
- **Owned folders.** An output folder holds a record, ``.reveal-outputs.json``, of the files
  the command wrote there (:class:`OutputFolder`). A rerun replaces only the recorded files
  and never deletes anything else; a non-empty folder without a record holds someone else's
  files and is refused, with a message that says what is there.

(No library does the second: ``shutil`` and ``tempfile`` give the pieces, not the record.)
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import InputError

__all__ = ["RECORD", "atomic_write", "OutputFolder"]

#: The record of what a command wrote into its output folder.
RECORD = ".reveal-outputs.json"


def atomic_write(path, data, *, sync: bool = True) -> Path:  # pragma: no mutate (sync: durability on power loss only)
    """Write ``data`` (bytes or str, UTF-8) to ``path`` through a temporary name and a rename.

    Parameters
    ----------
    path : path-like
    data : bytes or str
    sync : bool
        Flush the data to the disk (``fsync``) before the rename, so that even a power cut
        leaves the old file or the whole new one. Off only for files a rerun checks and
        rewrites anyway (a build's PNGs, which a resumed build decodes and compares): the
        fsync costs milliseconds per file, a large share of a build of thousands of PNGs.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write(d / "a.txt", "hello").read_text()
    'hello'
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            if sync:  # pragma: no mutate (durability on power loss: no test pulls the plug)
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _describe(names, n=5):
    shown = ", ".join(sorted(names)[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


class OutputFolder:
    """An output folder whose toolkit-written files are recorded.

    Parameters
    ----------
    root : path-like
        The folder (created if missing).
    command : str
        The command that owns it (``"reveal analyze"``), written into the record; a folder
        recorded by another command is refused.
    overwrite : bool
        Replace the files of an earlier run of the same command. Without it, an earlier
        run's folder is refused, unless ``resume`` is given.
    resume : bool
        Keep an earlier run's files and go on writing (for builds that can resume).

    Raises
    ------
    InputError
        ``root`` is a file or cannot be created or written; it holds files the toolkit did
        not write; it holds another command's outputs; or an earlier run without
        ``overwrite``/``resume``.
    """

    def __init__(self, root, command: str, *, overwrite: bool = False, resume: bool = False):
        self.root = Path(root)
        self.command = command
        self.files: set[str] = set()
        self.meta: dict = {}
        if self.root.exists() and not self.root.is_dir():
            raise InputError("the output folder is a file, not a folder", self.root)
        self.created = not self.root.exists()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"cannot create the output folder ({err.strerror})", self.root) from None
        # not mutated: as root (how the suite runs) os.access says yes to every folder; it matters for other users
        if not os.access(self.root, os.W_OK | os.X_OK):  # pragma: no mutate
            raise InputError("the output folder is not writable", self.root)
        self.previous = self._read_record()
        present = {p.name for p in self.root.iterdir() if p.name != RECORD}
        if self.previous is None:
            if present:
                raise InputError(f"the output folder is not empty and holds nothing this toolkit wrote "
                                 f"({_describe(present)}); choose an empty or new folder", self.root)
            return
        if self.previous["command"] != command:
            raise InputError(f"the output folder holds the outputs of {self.previous['command']!r}; "
                             f"choose another folder", self.root)
        if resume:
            self.files = set(self.previous["files"])
            self.meta = dict(self.previous["meta"])
            self.remove_stale_parts()
        elif overwrite:
            self.remove_previous()
        else:
            raise InputError(f"the output folder already holds the outputs of an earlier "
                             f"{command!r}; use --overwrite to replace them", self.root)

    @staticmethod  # pragma: no mutate (called on the class only, where a plain function behaves the same)
    def previous_record(root):
        """The record an earlier run left in ``root`` (``{"command", "files", "meta"}``), or None."""
        folder = OutputFolder.__new__(OutputFolder)
        folder.root = Path(root)
        return folder._read_record() if folder.root.is_dir() else None

    def _read_record(self):
        path = self.root / RECORD
        if not path.is_file():
            return None
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
            files = [str(f) for f in rec["files"]]
            command = str(rec["command"])
            meta = dict(rec.get("meta", {}))
        except (OSError, ValueError, KeyError, TypeError, RecursionError):  # RecursionError: JSON nested too deeply
            raise InputError("the toolkit's record of this folder is unreadable; remove the folder's "
                             "files yourself or choose another folder", path) from None
        return {"command": command, "files": files, "meta": meta}

    def remove_stale_parts(self):
        """Delete the temporary files (:func:`atomic_write`'s ``.NAME.PID.part``) that a killed
        run left beside its recorded files, and only those."""
        root = self.root.resolve()
        by_dir = {}
        for rel in self.files:
            parent, _, name = rel.rpartition("/")
            by_dir.setdefault(parent, set()).add(name)
        for parent, names in sorted(by_dir.items()):  # a fixed order: the same folders cleaned every time
            folder = (self.root / parent).resolve() if parent else root
            if not folder.is_dir() or (folder != root and root not in folder.parents):
                continue
            for p in folder.iterdir():
                stem, _, pid = p.name.removesuffix(".part").rpartition(".")
                if (p.name.endswith(".part") and p.name.startswith(".") and pid.isdigit()
                        and stem[1:] in names and p.is_file() and not p.is_symlink()):
                    p.unlink()

    def remove_previous(self):
        """Delete the files the earlier run recorded (and only those), then empty folders it made."""
        root = self.root.resolve()
        for rel in sorted(self.previous["files"]):  # emptied folders are removed after each file, in any order
            target = (self.root / rel).resolve()
            if root not in target.parents:  # a tampered record never reaches outside
                continue
            if target.is_file() or target.is_symlink():
                target.unlink()
            parent = target.parent
            while parent != root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
        self.files = set()
        self._save_record()

    def declare(self, rels, meta=None):
        """Record files about to be written (by this process or by workers) and what run they
        belong to, before any is written: a crash never leaves a file the record lacks."""
        for rel in rels:
            self.path(rel, make_parent=False)
        if meta is not None:
            self.meta = dict(meta)
        self._save_record()

    def path(self, rel, make_parent: bool = True) -> Path:
        """Where to write ``rel`` (POSIX, relative); recorded as this folder's output."""
        rel = Path(rel).as_posix()
        if rel.startswith("/") or ".." in rel.split("/"):
            raise ValueError(f"output name {rel!r} must stay inside the folder")
        self.files.add(rel)
        target = self.root / rel
        if make_parent:
            target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write(self, rel, data) -> Path:
        """Write one output file atomically (see :func:`atomic_write`) and record it."""
        target = self.path(rel)
        self._save_record()  # recorded before it exists: a crash never leaves an unrecorded file
        return atomic_write(target, data)

    def _save_record(self):
        atomic_write(self.root / RECORD, json.dumps(
            {"command": self.command, "files": sorted(self.files), "meta": self.meta},
            indent=1) + "\n")  # pragma: no mutate (the indent is layout: any value reads back the same)

    def abandon(self):
        """The command failed before writing anything: remove the folder if it made it empty."""
        if self.created and not self.files and self.root.is_dir() and not any(self.root.iterdir()):
            self.root.rmdir()

    def close(self):
        """Write the final record."""
        self._save_record()
