"""The resident process behind `fastshade shade`: same bytes, started after an in-process run, the
client's folder and streams, Ctrl-C and a killed client, stale sources, the switches.

Real processes throughout: `python -m fastshade` clients and a real resident process on a real
Unix socket in a private folder per test (the suite itself runs with FASTSHADE_RESIDENT=0).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from fastshade.resident import client

ROOT = Path(__file__).resolve().parents[1]
STARTED = "fastshade: started a resident process"


@pytest.fixture
def resident_env() -> Iterator[dict[str, str]]:
    """The environment of clients that use a resident process with a private socket folder."""
    folder = tempfile.mkdtemp(prefix="fsr")  # short: a socket path has at most ~100 bytes
    env = dict(os.environ, FASTSHADE_RESIDENT="1", FASTSHADE_RESIDENT_DIR=folder, PYTHONPATH=str(ROOT))
    yield env
    _fastshade(["resident", "stop"], env)
    shutil.rmtree(folder, ignore_errors=True)


def _fastshade(args: list[str], env: dict[str, str], cwd: Path = ROOT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastshade", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, **kw)


def _status(env: dict[str, str]) -> str:
    res = _fastshade(["resident", "status"], env)
    assert res.returncode == 0, res.stderr
    return res.stdout


def _drawing(path: Path, size: int = 96) -> Path:
    from fastshade.demo import demo_image

    iio.imwrite(path, (demo_image(size, size) * 255).round().astype(np.uint8))
    return path


def _served(env: dict[str, str]) -> int:
    out = _status(env)
    assert "none listening" not in out, out
    return int(out.split(" served")[0].rsplit(" ", 1)[1])


def test_a_shade_starts_one_and_the_next_shade_runs_in_it_with_the_same_bytes(tmp_path, resident_env):
    src = _drawing(tmp_path / "in.png")
    first = _fastshade(["shade", str(src), "-o", str(tmp_path / "own.png")], resident_env)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count(STARTED) == 1, first.stderr
    deadline = time.monotonic() + 120
    while "none listening" in _status(resident_env):
        assert time.monotonic() < deadline, "the resident process never listened"
        time.sleep(0.2)
    assert _served(resident_env) == 0
    # relative paths resolve in the client's folder; stdout and stderr are the client's
    second = _fastshade(["shade", "in.png", "-o", "served.png", "--stats", "s.json"], resident_env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert STARTED not in second.stderr and "in.png -> served.png: self, " in second.stderr, second
    assert _served(resident_env) == 1
    assert (tmp_path / "s.json").is_file()
    assert (tmp_path / "served.png").read_bytes() == (tmp_path / "own.png").read_bytes()
    # errors are the same one line and exit status as in a process of its own
    bad = _fastshade(["shade", "missing.png", "-o", "x.png"], resident_env, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == "fastshade: error: missing.png: no such file " \
        "(No such file or directory)", bad.stderr
    usage = _fastshade(["shade", "in.png"], resident_env, cwd=tmp_path)
    assert usage.returncode == 2 and "the following arguments are required: -o/--output" in usage.stderr
    assert _served(resident_env) == 3
    stop = _fastshade(["resident", "stop"], resident_env)
    assert stop.returncode == 0 and "stopped pid" in stop.stdout
    assert "none listening" in _status(resident_env)


def test_parallel_kernels_run_in_the_resident_process_with_the_same_bytes(tmp_path, resident_env):
    from fastshade.threads import PARALLEL_MIN_ROWS

    size = int(np.ceil(np.sqrt(PARALLEL_MIN_ROWS)))  # big enough for the kernels' parallel twins
    src = _drawing(tmp_path / "big.png", size)
    assert _fastshade(["resident", "start", "--idle", "120"], resident_env).returncode == 0
    served = _fastshade(["shade", str(src), "-o", str(tmp_path / "served.png"), "--threads", "2"], resident_env)
    assert served.returncode == 0, served.stderr
    assert _served(resident_env) == 1
    own = _fastshade(["shade", str(src), "-o", str(tmp_path / "own.png"), "--threads", "2"],
                     dict(resident_env, FASTSHADE_RESIDENT="0"))
    assert own.returncode == 0 and STARTED not in own.stderr, own.stderr
    assert (tmp_path / "served.png").read_bytes() == (tmp_path / "own.png").read_bytes()


def _wait_running(env: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while "one running now" not in _status(env):
        assert time.monotonic() < deadline, "the command never started in the resident process"
        time.sleep(0.05)


def test_ctrl_c_and_a_killed_client_interrupt_the_command_and_write_nothing(tmp_path, resident_env):
    src = _drawing(tmp_path / "in.png", 256)
    assert _fastshade(["resident", "start", "--idle", "120"], resident_env).returncode == 0
    slow = ["shade", str(src), "--passes", "40"]  # several seconds
    proc = subprocess.Popen([sys.executable, "-m", "fastshade", *slow, "-o", str(tmp_path / "a.png")],
                            cwd=ROOT, env=resident_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_running(resident_env)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().endswith("fastshade: interrupted"), err
    assert not (tmp_path / "a.png").exists()
    killed = subprocess.Popen([sys.executable, "-m", "fastshade", *slow, "-o", str(tmp_path / "b.png")],
                              cwd=ROOT, env=resident_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_running(resident_env)
    killed.kill()
    killed.wait(timeout=60)
    deadline = time.monotonic() + 60
    while "one running now" in _status(resident_env):  # the resident process noticed and stopped
        assert time.monotonic() < deadline, "the command of a killed client kept running"
        time.sleep(0.1)
    assert not (tmp_path / "b.png").exists()
    assert not [p for p in tmp_path.iterdir() if p.name not in ("in.png",)], list(tmp_path.iterdir())
    # and it still serves
    after = _fastshade(["shade", str(src), "-o", str(tmp_path / "c.png")], resident_env)
    assert after.returncode == 0 and (tmp_path / "c.png").is_file(), after.stderr
    assert _served(resident_env) == 3


def test_switched_off_no_process_is_asked_nor_started(tmp_path, resident_env):
    src = _drawing(tmp_path / "in.png")
    env = dict(resident_env, FASTSHADE_RESIDENT="0")
    res = _fastshade(["shade", str(src), "-o", str(tmp_path / "a.png")], env)
    assert res.returncode == 0 and STARTED not in res.stderr, res.stderr
    assert "none listening" in _status(resident_env)
    assert not list(Path(resident_env["FASTSHADE_RESIDENT_DIR"]).glob("*.sock"))


def test_the_socket_name_follows_the_sources_and_the_thread_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(client.FOLDER_VARIABLE, str(tmp_path / "r"))
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    base = client.socket_path()
    assert base is not None and base.parent == tmp_path / "r" and base.suffix == ".sock"
    assert (tmp_path / "r").stat().st_mode & 0o777 == 0o700
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    assert client.socket_path() != base
    monkeypatch.delenv("NUMBA_NUM_THREADS")
    monkeypatch.setenv(client.SWITCH, "1")  # its own switches are not part of the name
    assert client.socket_path() == base
    # an upgraded dependency changes it (the resident process holds the old one loaded)
    (tmp_path / "deps" / "fsdepprobe").mkdir(parents=True)
    (tmp_path / "deps" / "fsdepprobe" / "__init__.py").write_text("v = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "deps"))
    monkeypatch.setattr(client, "DEPENDENCIES", (*client.DEPENDENCIES, "fsdepprobe"))
    before = client.source_digest()
    (tmp_path / "deps" / "fsdepprobe" / "__init__.py").write_text("v = 22\n")
    assert client.source_digest() != before
    digest = client.source_digest()
    monkeypatch.setattr(client, "package_folder", lambda: tmp_path / "pkg")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    assert client.source_digest() != digest
    first = client.source_digest()
    (tmp_path / "pkg" / "a.py").write_text("x = 22\n")
    assert client.source_digest() != first


def test_a_folder_others_can_enter_is_not_used(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    monkeypatch.setenv(client.FOLDER_VARIABLE, str(shared))
    assert client.socket_folder() is None and client.socket_path() is None
    monkeypatch.setenv(client.FOLDER_VARIABLE, str(tmp_path / ("x" * 60)))
    assert client.socket_path() is None  # too long for a Unix socket's name


_SOURCES_PROBE = """
import sys
from pathlib import Path
from fastshade.resident import client, server
marker = Path(sys.argv[2])
client.source_digest = lambda: marker.read_text()  # the package's files, as the test edits them
server.SOURCE_CHECK_SECONDS = 0.2
sys.exit(server.main([sys.argv[1], "--idle", "120"]))
"""


def test_a_resident_process_ends_when_its_sources_change(tmp_path, resident_env):
    marker = tmp_path / "sources"
    marker.write_text("before")
    sock = Path(resident_env["FASTSHADE_RESIDENT_DIR"]) / "probe.sock"
    proc = subprocess.Popen([sys.executable, "-c", _SOURCES_PROBE, str(sock), str(marker)], cwd=ROOT,
                            env=resident_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while client.ask({"status": True}, sock) is None:
        assert proc.poll() is None and time.monotonic() < deadline, "it never listened"
        time.sleep(0.1)
    time.sleep(1.0)
    assert client.ask({"status": True}, sock) is not None  # unchanged sources: it stays
    marker.write_text("after")  # an upgrade or an edit
    assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    assert not sock.exists()


def test_a_shade_that_comes_while_it_is_busy_runs_in_its_own_process(tmp_path, resident_env):
    src = _drawing(tmp_path / "in.png", 256)
    small = _drawing(tmp_path / "small.png")
    assert _fastshade(["resident", "start", "--idle", "120"], resident_env).returncode == 0
    slow = subprocess.Popen([sys.executable, "-m", "fastshade", "shade", str(src), "--passes", "64",
                             "-o", str(tmp_path / "slow.png")],
                            cwd=ROOT, env=resident_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_running(resident_env)
    quick = _fastshade(["shade", str(small), "-o", str(tmp_path / "quick.png")], resident_env)
    assert quick.returncode == 0 and STARTED not in quick.stderr, quick.stderr
    running = _status(resident_env)
    assert "one running now" in running and " 0 served" in running, running  # the slow one only
    own = _fastshade(["shade", str(small), "-o", str(tmp_path / "own.png")], dict(resident_env, FASTSHADE_RESIDENT="0"))
    assert own.returncode == 0
    assert (tmp_path / "quick.png").read_bytes() == (tmp_path / "own.png").read_bytes()
    _fastshade(["resident", "stop"], resident_env)  # ends once the slow one is done
    assert slow.wait(timeout=600) == 0, slow.stderr.read() if slow.stderr else ""


def test_the_files_of_sockets_gone_for_a_week_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv(client.FOLDER_VARIABLE, str(tmp_path))
    old, recent, live = (tmp_path / f"{name}.log" for name in ("old", "recent", "live"))
    for log in (old, recent, live):
        log.write_text("x")
        log.with_suffix(".sock.lock").write_text("")
    (tmp_path / "live.sock").write_text("")
    week = client.FORGET_SECONDS + 60
    for log in (old, live):
        os.utime(log, (time.time() - week, time.time() - week))
    client._forget_old(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "live.log", "live.sock", "live.sock.lock", "recent.log", "recent.sock.lock"]
