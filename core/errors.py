"""The error type for bad input, raised by every package and reported by the command line."""
from __future__ import annotations

import contextlib
import csv
import os


class InputError(ValueError):
    """Bad input, reported with the file (and row) it came from.

    Parameters
    ----------
    message : str
        What is wrong and, where it helps, what to do about it.
    path : str or os.PathLike, optional
        The file or folder the problem is in.
    row : int, optional
        1-based data row (the header is row 0) for tabular files.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, row: int | None = None):
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.row = row
        where = ""
        if self.path is not None:
            where = self.path if row is None else f"{self.path}, row {row}"
            where += ": "
        super().__init__(where + message)



@contextlib.contextmanager
def reading_csv(path, what: str, not_utf8: str = ""):
    """Turn what reading a CSV file can raise into an :class:`InputError` naming it.

    ``with reading_csv(path, "game labels"):`` around the reading: a file that cannot be read
    (``cannot read game labels: ...``), is not UTF-8 (``not UTF-8 text (byte N)`` and ``not_utf8``,
    what to do about it) or is not CSV.
    """
    try:
        yield
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start}){not_utf8}", path) from None
    except OSError as err:
        raise InputError(f"cannot read {what}: {err.strerror}", path) from None
    except csv.Error as err:
        raise InputError(f"not a readable CSV ({err})", path) from None
