"""Atomic files: write all-or-nothing, check a destination early, sweep stale temporaries.

A file is encoded into a temporary ``.{name}.{pid}.{8 hex}.tmp`` in the
destination folder, flushed, ``fsync``-ed and moved onto the final name with
``os.replace``; on any failure the temporary is removed and the previous file
(if any) is untouched.  Used for images (:func:`~fastshade.io.write.write_image`)
and for every report, statistics file and figure the drivers write.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Callable
from typing import IO

from fastshade.io.errors import ImageError

__all__ = ["check_writable", "sweep_stale_temps", "write_atomic", "write_file"]

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<token>[0-9a-f]{8})\.tmp$")


def _temp_name(final_name: str) -> str:
    return f".{final_name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def check_writable(path: str | os.PathLike[str], what: str) -> None:
    """Fail early when a file cannot be written at ``path``; creates nothing.

    Parameters
    ----------
    path : str or os.PathLike
        The file to be written later.
    what : str
        What the file is for, named in the message (``"the output"``, ``"--stats"``).

    Raises
    ------
    ValueError
        One line naming ``path`` and ``what`` when ``path`` is a folder, a file
        stands where a folder is needed, or the nearest existing folder cannot
        take a new file (probed with a temporary file, which works for root
        too, unlike permission bits).
    """
    spath = os.fspath(path)
    if os.path.isdir(spath):
        raise ValueError(f"{spath}: {what} names a folder")
    directory = os.path.dirname(os.path.abspath(spath))
    existing = directory  # nothing is created here: probe the nearest existing ancestor
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{spath}: cannot write {what} there: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ValueError(f"{spath}: cannot write {what} there: {exc.strerror or exc}") from None


def write_file(path: str | os.PathLike[str], data: str | bytes, what: str) -> None:
    """:func:`write_atomic` of ``data`` (text as UTF-8): reports, statistics, figures.

    Raises
    ------
    ImageError
        ``write_error`` naming ``path``, as :func:`write_atomic`.
    """
    blob = data.encode() if isinstance(data, str) else data
    write_atomic(path, lambda fh: fh.write(blob), what)


def write_atomic(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None], what: str) -> None:
    """Write a file all-or-nothing.

    ``write(fh)`` fills a temp file (``.{name}.{pid}.{8 hex}.tmp``) in the
    destination folder (made if missing), which is flushed, fsynced and renamed
    over ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name.
    write : callable
        Called once with the open binary temp file.
    what : str
        What is written (``"PNG"``, ``"JSON"``), named in the error message.

    Raises
    ------
    ImageError
        ``write_error`` naming ``path`` on any failure; the temp file is
        removed and ``path`` is untouched.  ``KeyboardInterrupt`` /
        ``SystemExit`` propagate unchanged (temp removed).
    """
    spath = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(spath))
    if not name or os.path.isdir(spath):
        raise ImageError(spath, "write_error", "output path names a directory")
    tmp = os.path.join(directory, _temp_name(name))
    try:
        os.makedirs(directory, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, spath)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if not isinstance(exc, Exception):
            raise
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise ImageError(spath, "write_error", f"cannot write {what}: {reason}") from exc
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Best-effort fsync of a directory so the rename itself is durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sweep_stale_temps(directory: str | os.PathLike[str], *, recursive: bool = True) -> int:
    """Remove temporary files left by interrupted :func:`write_atomic` calls (images and reports).

    Parameters
    ----------
    directory : str or os.PathLike
        Output root to clean (a missing directory counts as clean).
    recursive : bool, optional
        Also clean sub-directories (default), without following symlinks.

    Returns
    -------
    int
        Number of files removed.  Only regular files named exactly like our
        temps (``.{name}.{pid}.{8 hex}.tmp``) are touched, and never those of the
        calling process.  Meant to run at start-up, before any writer.
    """
    removed = 0
    own_pid = str(os.getpid())
    pending = [os.fspath(directory)]
    while pending:
        current = pending.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        pending.append(entry.path)
                    continue
                match = _TEMP_RE.match(entry.name)
                if match and match["pid"] != own_pid and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
    return removed

