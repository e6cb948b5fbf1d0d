"""The resident process: load everything once, then run each ``fastshade shade`` sent to it.

Started by :func:`fastshade.resident.client.start_in_background` (or ``fastshade resident
start``) as ``python -m fastshade.resident.server SOCKET``.  It takes a lock beside the socket
(one resident process per socket), shades a small grey, RGB and RGBA drawing through the command
line to load every module and cached kernel a default run calls, then listens.

A thread accepts the requests; the main thread runs the commands, one at a time, each with the
client's stdin, stdout and stderr (``dup2``), working folder, umask, environment and arguments,
through :func:`fastshade.cli.main`, and then gives them back.  Running in the process itself
rather than in a forked copy keeps its heap warm (a fresh copy pays about 0.1 s of page faults
on a 512 x 512 drawing) and any threading layer usable (a fork cannot use GNU OpenMP).  A
request that comes while a command runs is answered "busy" and its client shades in its own
process.  SIGINT from the client (its Ctrl-C, or the client ending) interrupts the command in
progress only.  The process ends after ``--idle`` seconds without a request, on a ``stop``
request, when its socket is removed, or when the package's source files change.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import queue
import select
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

from fastshade.resident import client

__all__ = ["serve"]

TRIM_ABOVE_BYTES = 1 << 30
"""After a command, a resident process bigger than this gives its free heap back to the system."""

SOURCE_CHECK_SECONDS = 5.0
"""How often the resident process checks that the package's source files are unchanged."""


def _warm(package: str | None) -> None:
    """Load the modules and cached kernels of default runs (grey, RGB, RGBA; PNG in and out), and
    grow the heap as a 512 x 512 drawing does, so that the first request finds it warm too.
    """
    import imageio.v3 as iio
    import numpy as np

    import fastshade
    from fastshade.cli import main
    from fastshade.demo import demo_image

    if package and Path(fastshade.__file__).resolve().parent != Path(package).resolve():
        raise RuntimeError(f"imported {fastshade.__file__}, not the client's package {package}")
    with tempfile.TemporaryDirectory(prefix="fastshade-resident-") as tmp:
        for kind, size in (("grey", 96), ("rgba", 96), ("rgb", 96), ("rgb", 512)):
            rgb = np.round(np.asarray(demo_image(size, size)) * 255).astype(np.uint8)
            rgb = np.repeat(rgb[:, :, None], 3, axis=2) if rgb.ndim == 2 else rgb[:, :, :3]
            image = {"grey": rgb[:, :, 0], "rgb": rgb,
                     "rgba": np.concatenate([rgb, np.full((size, size, 1), 255, np.uint8)], axis=2)}[kind]
            iio.imwrite(f"{tmp}/{kind}.png", image)
            main(["shade", f"{tmp}/{kind}.png", "-o", f"{tmp}/{kind}-out.png"])


def _peer_uid(conn: socket.socket) -> int:
    """The user id of the process at the other end of ``conn`` (Linux ``SO_PEERCRED``)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return os.getuid()  # the socket's folder is the user's alone
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                          struct.calcsize("3i")))
    return uid


def _read_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """One framed request and the file descriptors that came with it."""
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    while len(data) < 4 or len(data) < 4 + struct.unpack("!I", data[:4])[0]:
        more = conn.recv(1 << 16)
        if not more:
            for fd in fds:
                os.close(fd)
            raise ConnectionError("request cut short")
        data += more
    size = struct.unpack("!I", data[:4])[0]
    return json.loads(data[4:4 + size]), fds


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    """One JSON line to the client (a client gone meanwhile is not an error here)."""
    try:
        conn.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass


def _text_stream(fd: int, errors: str) -> io.TextIOWrapper:
    """A text stream on ``fd`` as Python makes for its standard streams (line-buffered on a tty)."""
    return io.TextIOWrapper(io.FileIO(fd, "r" if fd == 0 else "w", closefd=False), encoding="utf-8",
                            errors=errors, line_buffering=fd != 0 and (fd == 2 or os.isatty(fd)))


class _Resident:
    """The listening thread and the commands run in the main thread, one at a time."""

    def __init__(self, listener: socket.socket, path: Path, idle: float) -> None:
        self.listener, self.path, self.idle = listener, path, idle
        self.inode = path.stat().st_ino
        self.digest = client.source_digest()
        self.requests: queue.Queue[tuple[socket.socket, dict[str, Any], list[int]]] = queue.Queue()
        self.lock = threading.Lock()
        self.running = False
        self.served = 0
        self.last = time.monotonic()
        self.stop = threading.Event()
        self.interruptible = False

    # -- the listening thread ---------------------------------------------------------------
    def listen(self) -> None:
        """Accept requests until idle, stopped, the socket is gone or the package's files change."""
        checked = time.monotonic()
        while not self.stop.is_set():
            if time.monotonic() - checked > SOURCE_CHECK_SECONDS:
                if client.source_digest() != self.digest:
                    break  # reinstalled or edited: its clients now ask another socket
                checked = time.monotonic()
            with self.lock:
                if not self.running and time.monotonic() - self.last > self.idle:
                    break
            try:
                if self.path.stat().st_ino != self.inode:
                    break
            except FileNotFoundError:
                break
            if select.select([self.listener], [], [], 1.0)[0]:
                self._accept()
        self.stop.set()
        self.close()

    def close(self) -> None:
        """Stop listening: remove the socket (if still this process's) and close it."""
        try:
            if self.path.stat().st_ino == self.inode:
                self.path.unlink()
        except FileNotFoundError:
            pass
        self.listener.close()

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        try:
            if _peer_uid(conn) != os.getuid():
                raise ConnectionError("another user")
            request, fds = _read_request(conn)
        except (OSError, ValueError):
            conn.close()
            return
        with self.lock:
            self.last = time.monotonic()
            busy = self.running
            if "run" in request and not busy:
                self.running = True
                self.requests.put((conn, request, fds))
                return
        for fd in fds:
            os.close(fd)
        with conn:
            if "run" in request:  # one command at a time: the client runs this one itself
                _send(conn, {"busy": True})
                return
            _send(conn, {"pid": os.getpid(), "running": busy, "served": self.served, "idle": self.idle})
            if request.get("stop"):
                self.stop.set()

    # -- the main thread --------------------------------------------------------------------
    def serve_requests(self) -> None:
        """Run the queued commands until the listening thread stops."""
        signal.signal(signal.SIGINT, self._on_interrupt)
        while not self.stop.is_set():
            try:
                conn, request, fds = self.requests.get(timeout=0.5)
            except queue.Empty:
                continue
            with conn:
                try:
                    code = self._run(conn, request, fds)
                except Exception:  # taking over the client's process failed: logged, and it is told
                    traceback.print_exc()
                    code = 1
                with self.lock:
                    self.running = False
                    self.served += 1
                    self.last = time.monotonic()
                _send(conn, {"exit": code})
            _trim_memory()

    def _on_interrupt(self, _signum: int, _frame: object) -> None:
        """SIGINT (passed on by the client): interrupts the command in progress, if any."""
        if self.interruptible:
            self.interruptible = False
            raise KeyboardInterrupt

    def _run(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> int:
        """Take over the client's streams, folder, umask and environment; run; give them back."""
        saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
        saved = (sys.stdin, sys.stdout, sys.stderr, sys.argv, os.getcwd(), dict(os.environ))
        done = threading.Event()
        try:
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            sys.stdin, sys.stdout, sys.stderr = (_text_stream(0, "strict"), _text_stream(1, "strict"),
                                                 _text_stream(2, "backslashreplace"))
            _send(conn, {"pid": os.getpid()})
            threading.Thread(target=self._interrupt_when_client_leaves, args=(conn, done), daemon=True).start()
            return self._command(request)
        finally:
            done.set()
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except OSError:
                    pass
            for target, fd in enumerate(saved_fds):
                os.dup2(fd, target)
                os.close(fd)
            sys.stdin, sys.stdout, sys.stderr, sys.argv = saved[:4]
            os.chdir(saved[4])
            os.environ.clear()
            os.environ.update(saved[5])

    def _command(self, request: dict[str, Any]) -> int:
        """Run the client's command line as ``fastshade`` would; its exit status."""
        from fastshade.cli import main

        mask = os.umask(int(request["umask"]))
        try:
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["env"])
            sys.argv = ["fastshade", *request["run"]]
            tempfile.tempdir = None  # found again from the client's TMPDIR
            with warnings.catch_warnings():  # its own warning filters, each warning shown afresh
                self.interruptible = True
                return main(request["run"])
        except OSError as err:  # the client's working folder is gone
            print(f"fastshade: error: {err}", file=sys.stderr)
            return 2
        except SystemExit as stop:  # argparse: usage errors and --help
            if isinstance(stop.code, str):
                print(stop.code, file=sys.stderr)
            return stop.code if isinstance(stop.code, int) else int(stop.code is not None)
        except KeyboardInterrupt:
            print("fastshade: interrupted", file=sys.stderr)
            return 130
        except Exception:  # a bug: the traceback the same command would print in its own process
            traceback.print_exc()
            return 1
        finally:
            self.interruptible = False
            os.umask(mask)

    def _interrupt_when_client_leaves(self, conn: socket.socket, done: threading.Event) -> None:
        """A client that ends before its command (killed) interrupts it, as Ctrl-C would."""
        try:
            while conn.recv(64):
                pass
        except OSError:
            pass
        if not done.is_set() and self.interruptible:
            os.kill(os.getpid(), signal.SIGINT)


def _trim_memory() -> None:
    """Give the C heap's free memory back after a big image, so that an idle resident stays small."""
    import psutil

    if psutil.Process().memory_info().rss > TRIM_ABOVE_BYTES and sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def serve(path: Path, idle: float, package: str | None = None) -> int:
    """Serve ``path`` until ``idle`` seconds pass without a request; returns the exit status."""
    from filelock import FileLock, Timeout

    client.INSIDE = True  # neither its warm-up nor its commands ask for or start a resident process
    lock = FileLock(os.fspath(path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"{path}: another resident process serves it", file=sys.stderr)
        return 0
    try:
        t0 = time.perf_counter()
        _warm(package)
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(os.fspath(path))
        os.chmod(path, 0o600)
        listener.listen(16)
        resident = _Resident(listener, path, idle)
        print(f"fastshade resident process {os.getpid()}: listening on {path} "
              f"(ready in {time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
        thread = threading.Thread(target=resident.listen, name="fastshade-resident-listen", daemon=True)
        thread.start()
        resident.serve_requests()
        thread.join()
        return 0
    finally:
        lock.release()


def main(argv: list[str] | None = None) -> int:
    """``python -m fastshade.resident.server SOCKET [--idle S] [--package DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m fastshade.resident.server")
    parser.add_argument("socket")
    parser.add_argument("--idle", type=float, default=client.IDLE_SECONDS)
    parser.add_argument("--package", default=None)
    args = parser.parse_args(argv)
    return serve(Path(args.socket), args.idle, args.package)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
