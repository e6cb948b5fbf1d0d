"""The client side of the resident process: find it, hand it a command line, relay signals.

Standard library only: this runs before NumPy loads, and its whole point is that a ``fastshade
shade`` which finds a resident process never loads NumPy, SciPy nor Numba itself.

The protocol, on a Unix stream socket in a folder only the user can enter: the client sends one
message, a 4-byte big-endian length and a JSON object (``{"run": argv, "cwd", "env", "umask"}``,
or ``{"status": true}`` / ``{"stop": true}``), with its stdin, stdout and stderr attached as
``SCM_RIGHTS`` file descriptors for a run; the resident process answers with JSON lines:
``{"pid": N}`` when the command starts, ``{"exit": code}`` when it is done, or ``{"busy": true}``
when it is running another client's command (this one then runs in its own process).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import stat
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastshade.children import package_folder, start_module

if TYPE_CHECKING:  # the client imports only what it uses (it runs before every served shade)
    from typing import TextIO

__all__ = ["IDLE_SECONDS", "ask", "enabled", "installation_file", "run_resident", "socket_path",
           "start_in_background"]

SWITCH = "FASTSHADE_RESIDENT"
"""Environment variable: ``0``, ``off``, ``no`` or ``false`` turns the resident process off."""

FOLDER_VARIABLE = "FASTSHADE_RESIDENT_DIR"
"""Environment variable: the folder of the sockets (default: ``$XDG_RUNTIME_DIR`` or the
temporary folder, then ``fastshade-resident-UID``)."""

IDLE_SECONDS = 900.0
"""A resident process ends after this many seconds without a request."""

KEY_PREFIXES = ("NUMBA_", "OMP_", "MKL_", "OPENBLAS_", "BLIS_", "VECLIB_", "NUMEXPR_", "PYTHON", "FASTSHADE_")
"""Environment variables read when the modules load: a resident process serves only clients
whose values of these are its own (its socket's name hashes them)."""

INSIDE = False
"""True in the resident process: it neither asks nor starts one."""


def enabled() -> bool:
    """Whether ``fastshade shade`` may use (and start) a resident process here."""
    if INSIDE or os.environ.get(SWITCH, "").strip().lower() in ("0", "off", "no", "false"):
        return False
    return hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds")


DEPENDENCIES = ("numpy", "scipy", "numba", "llvmlite", "pyamg", "imageio", "PIL", "tifffile")
"""Packages whose upgrade ends a resident process (it holds the old versions loaded)."""


def source_digest() -> str:
    """A hash of every ``.py`` file of the package and of the ``__init__.py`` of each of
    :data:`DEPENDENCIES` (path, size, modification time): an edit, a reinstall or an upgrade
    changes it.
    """
    import importlib.util

    h = hashlib.sha256()
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            st = os.stat(spec.origin)
            h.update(f"{spec.origin}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    for root, dirs, files in os.walk(package_folder(), followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(root, name))
                h.update(f"{root}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _fingerprint() -> str:
    """A hash of what a resident process must share with its client (16 hex digits).

    The interpreter and its module path (bar the script's folder), the package's source files
    (:func:`source_digest`) and the environment variables of :data:`KEY_PREFIXES` (bar this
    module's own switches).
    """
    h = hashlib.sha256()
    h.update(repr((sys.executable, sys.version, sys.path[1:], source_digest())).encode())
    for key in sorted(os.environ):
        if key.startswith(KEY_PREFIXES) and not key.startswith((SWITCH, FOLDER_VARIABLE)):
            h.update(f"{key}={os.environ[key]}\n".encode())
    return h.hexdigest()[:16]


def socket_folder() -> Path | None:
    """The user's socket folder (created mode 0700), or None when it is not safely usable."""
    base = os.environ.get(FOLDER_VARIABLE)
    if base:
        folder = Path(base)
    else:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if runtime and os.path.isdir(runtime):
            parent = Path(runtime)
        else:
            import tempfile

            parent = Path(tempfile.gettempdir())
        folder = parent / f"fastshade-resident-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None  # someone else's folder, or one others can write to
    return folder


def installation_file(suffix: str) -> Path | None:
    """``FINGERPRINT + suffix`` in the user's socket folder: a file of this installation and
    configuration (the resident process listens on ``.sock``), or None when no folder is usable.
    """
    try:
        folder = socket_folder()
    except (AttributeError, OSError):  # no os.getuid on this platform
        return None
    return None if folder is None else folder / f"{_fingerprint()}{suffix}"


def socket_path() -> Path | None:
    """The socket path of this installation, or None (no usable folder, or a path too long)."""
    path = installation_file(".sock")
    return path if path is not None and len(os.fsencode(path)) < 100 else None


def _frame(message: dict[str, Any]) -> bytes:
    """One request: 4-byte big-endian length, then the JSON."""
    body = json.dumps(message).encode()
    return struct.pack("!I", len(body)) + body


def _connect(path: Path) -> socket.socket | None:
    """A connection to the resident process at ``path``, or None when none is listening."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(os.fspath(path))
    except OSError:
        sock.close()
        return None
    return sock


def ask(message: dict[str, Any], path: Path | None = None) -> dict[str, Any] | None:
    """Send a ``status`` or ``stop`` request; the answer, or None when no process listens."""
    path = path or socket_path()
    sock = _connect(path) if path else None
    if sock is None:
        return None
    try:
        with sock:
            sock.sendall(_frame(message))
            line = sock.makefile("rb").readline()
    except OSError:  # it was ending
        return None
    return json.loads(line) if line else None


def _standard_streams_open() -> bool:
    """Whether file descriptors 0, 1 and 2 are open (they are handed over)."""
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True


def run_resident(argv: list[str]) -> int | None:
    """Run ``fastshade ARGV`` in a resident process; its exit status, or None when there is none.

    None also when the resident process is busy with another command or ended before starting
    this one (the caller then runs it itself).  SIGINT, SIGTERM and SIGHUP received meanwhile
    interrupt the command (passed on as SIGINT: the resident process outlives them), which ends
    as ``fastshade`` would on Ctrl-C ("interrupted", exit 130).
    """
    if not enabled() or not _standard_streams_open():
        return None
    path = socket_path()
    sock = _connect(path) if path else None
    if sock is None:
        return None
    request = {"run": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": _umask()}
    with sock:
        try:
            socket.send_fds(sock, [_frame(request)], [0, 1, 2])
            answers = sock.makefile("rb")
            first = answers.readline()
        except OSError:
            return None
        answer = json.loads(first) if first else {}
        if "pid" not in answer:
            return None
        pid = int(answer["pid"])
        previous = {sig: signal.signal(sig, lambda _s, _f: _interrupt(pid))
                    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            line = answers.readline()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    if not line:
        print(f"fastshade: error: the resident process (pid {pid}) ended without an exit status; "
              f"run again with {SWITCH}=0 to shade in this process", file=sys.stderr)
        return 1
    return int(json.loads(line)["exit"])


def _interrupt(pid: int) -> None:
    """Signal handler: interrupt the command in the resident process ``pid``."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        pass


def _umask() -> int:
    """The process's umask (read by setting it and back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FORGET_SECONDS = 7 * 24 * 3600.0
"""The log and lock files of a socket that is gone are removed after a week (old installs)."""


def _forget_old(folder: Path) -> None:
    """Remove the log, lock and ``.compiled`` files of sockets that are gone and untouched for a week."""
    import time

    now = time.time()
    for old in [*folder.glob("*.log"), *folder.glob("*.compiled")]:
        try:
            if not old.with_suffix(".sock").exists() and now - old.stat().st_mtime > FORGET_SECONDS:
                old.unlink()
                if old.suffix == ".log":
                    old.with_suffix(".sock.lock").unlink(missing_ok=True)
        except OSError:
            pass


def start_in_background(stream: TextIO | None = None, idle: float = IDLE_SECONDS) -> int | None:
    """Start a resident process for this installation unless one listens; its pid, or None.

    It runs detached (its own session, no inherited file descriptors, logging to
    ``SOCKET.log``), so it outlives this process and holds no pipe of its caller open.  When
    ``stream`` is given, one line there says so.  The files of sockets gone for a week go.
    """
    if not enabled():
        return None
    path = socket_path()
    if path is None or ask({"status": True}, path) is not None:
        return None
    import subprocess

    _forget_old(path.parent)
    with open(path.with_suffix(".log"), "ab") as log:
        proc = start_module("fastshade.resident.server",
                            [os.fspath(path), "--idle", str(idle), "--package", os.fspath(package_folder())],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                            close_fds=True)
    if stream is not None:
        print(f"fastshade: started a resident process (pid {proc.pid}) so that the next runs start "
              f"at once; it ends after {idle / 60:g} min idle ('fastshade resident stop'; "
              f"{SWITCH}=0 turns it off)", file=stream)
    return proc.pid
