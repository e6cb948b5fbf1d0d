"""``fastshade --version`` and the command line's top-level error handlers (``cli.main``).

Expected errors that escape a sub-command become one line on stderr with exit code 2
(``ImageError``, ``ValueError``, ``OSError``), Ctrl-C becomes ``fastshade: interrupted`` with
exit code 130, and none of them prints a traceback.  Each is driven through a real sub-command
call where one raises it, else through a sub-command ``main`` replaced for the test; the
version and Ctrl-C also in a fresh interpreter.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

import fastshade
from fastshade import cli, shade_cli
from fastshade.io import ImageError

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=300)


def _only_line(err: str) -> str:
    """The one line of ``err``: no traceback, nothing else."""
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------------------------------
# --version
# ------------------------------------------------------------------------------------------


def test_version_prints_the_name_and_version_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"fastshade {fastshade.__version__}\n"
    assert captured.err == ""


def test_version_loads_no_pipeline() -> None:
    """``fastshade --version`` answers without importing the shader, NumPy or Numba."""
    code = ("import sys\nfrom fastshade import cli\nassert cli.main(['--version']) == 0\n"
            "print(sorted(m for m in ('numpy', 'numba', 'fastshade.pipeline') if m in sys.modules))")
    proc = _python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"


def test_version_of_the_installed_command_module() -> None:
    proc = _python("-m", "fastshade", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"fastshade {fastshade.__version__}\n"
    assert proc.stderr == ""


# ------------------------------------------------------------------------------------------
# real sub-command calls whose errors reach the top level
# ------------------------------------------------------------------------------------------


def test_an_unreadable_sample_is_one_image_error_line_exit_2(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad, out = tmp_path / "sample.png", tmp_path / "out.png"
    bad.write_bytes(b"<html>not an image</html>" * 8)
    code = cli.main(["shade", "--demo", "--sample", str(bad), "-o", str(out)])
    line = _only_line(capsys.readouterr().err)
    assert code == 2
    assert line.startswith("fastshade: error: ") and str(bad) in line
    assert not out.exists()


def test_neither_target_nor_demo_is_one_value_error_line_exit_2(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["shade", "-o", str(tmp_path / "out.png")])
    assert code == 2
    assert _only_line(capsys.readouterr().err) == "fastshade: error: give exactly one of TARGET or --demo"


# ------------------------------------------------------------------------------------------
# each handler, with a sub-command main that raises
# ------------------------------------------------------------------------------------------


def _raising(err: BaseException):  # noqa: ANN202 (a sub-command main)
    def main(args: object) -> NoReturn:
        raise err

    return main


@pytest.mark.parametrize(("err", "line", "code"), [
    (ImageError("x.png", "decode_truncated", "the file\n ends early"),
     "fastshade: error: x.png: the file ends early", 2),
    (ValueError("first line\nsecond line\nthird"), "fastshade: error: first line", 2),
    (ValueError(), "fastshade: error: ValueError", 2),
    (OSError(errno.ENOSPC, "No space left on device", "out.png"),
     "fastshade: error: [Errno 28] No space left on device: 'out.png'", 2),
    (PermissionError(errno.EACCES, "Permission denied"), "fastshade: error: [Errno 13] Permission denied", 2),
    (OSError(), "fastshade: error: OSError", 2),
    (KeyboardInterrupt(), "fastshade: interrupted", 130),
], ids=["image-error", "value-error-multiline", "value-error-empty", "os-error", "permission-error",
        "os-error-empty", "keyboard-interrupt"])
def test_top_level_handlers_print_one_line_and_set_the_exit_code(
        err: BaseException, line: str, code: int, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shade_cli, "main", _raising(err))
    try:
        returned = cli.main(["shade", "--demo", "-o", "unused.png"])
    except BaseException as escaped:  # noqa: BLE001 (a KeyboardInterrupt would stop pytest itself)
        pytest.fail(f"{type(escaped).__name__} escaped cli.main")
    assert returned == code
    captured = capsys.readouterr()
    assert _only_line(captured.err) == line
    assert captured.out == ""


def test_unexpected_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the expected errors are turned into one line: a bug still shows its traceback."""
    monkeypatch.setattr(shade_cli, "main", _raising(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["shade", "--demo", "-o", "unused.png"])


def test_ctrl_c_in_a_fresh_interpreter_is_one_line_exit_130() -> None:
    """A real SIGINT delivered while a sub-command runs (its main sends it to its own thread: sent
    to the process, the signal may land on another thread, a BLAS one, and leave a ``pause()``
    waiting for ever; that hung CI once for 300 s)."""
    code = ("import signal, sys, threading, time\n"
            "from fastshade import cli, shade_cli\n"
            "def main(args):\n"
            "    signal.pthread_kill(threading.get_ident(), signal.SIGINT)\n"
            "    time.sleep(60)\n"  # not reached if the signal became KeyboardInterrupt already
            "shade_cli.main = main\n"
            "sys.exit(cli.main(['shade', '--demo', '-o', 'unused.png']))\n")
    proc = _python("-c", code)
    assert proc.returncode == 130, proc.stderr
    assert _only_line(proc.stderr) == "fastshade: interrupted"
    assert proc.stdout == ""
