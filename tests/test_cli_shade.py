"""`fastshade shade`: happy path, one-line errors with exit code 2 and no output on bad input."""

from __future__ import annotations

import json
import re

import imageio.v3 as iio
import numpy as np
import pytest

from fastshade import cli
from tests.test_shader import _strokes


def _run(argv, capsys):
    code = cli.main(argv)
    err = capsys.readouterr().err
    return code, err


def _write_png(path, rgb):
    iio.imwrite(path, (np.asarray(rgb) * 255).round().astype(np.uint8))
    return path


def test_demo_writes_an_image_and_stats(tmp_path, capsys):
    out, st = tmp_path / "demo.png", tmp_path / "s.json"
    code, err = _run(["shade", "--demo", "-o", str(out), "--stats", str(st), "--basis", "krylov"], capsys)
    assert code == 0, err
    img = iio.imread(out)
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    stats = json.loads(st.read_text())
    assert stats["mode"] == "self" and stats["basis"]["method"] == "krylov"
    assert "demo ->" in err


def test_file_round_trip_self_and_cross(tmp_path, capsys):
    a = _write_png(tmp_path / "a.png", _strokes(72, 72))
    b = _write_png(tmp_path / "b.png", _strokes(64, 80))
    for argv in (["shade", str(a), "-o", str(tmp_path / "o1.png")],
                 ["shade", str(a), "--sample", str(b), "-o", str(tmp_path / "o2.png"), "--basis", "krylov"]):
        code, err = _run(argv, capsys)
        assert code == 0, err
        assert iio.imread(argv[argv.index("-o") + 1]).shape == (72, 72, 3)


@pytest.mark.parametrize("case", ["missing", "garbage", "truncated", "rgba-to-jpeg", "bad-option"])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, capsys, case):
    out = tmp_path / ("o.jpg" if case == "rgba-to-jpeg" else "o.png")
    extra: list[str] = []
    if case == "missing":
        src = tmp_path / "nope.png"
    elif case == "garbage":
        src = tmp_path / "g.png"
        src.write_bytes(b"<html>not an image</html>" * 10)
    elif case == "truncated":
        src = _write_png(tmp_path / "t.png", _strokes(64, 64))
        src.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    elif case == "rgba-to-jpeg":
        src = tmp_path / "rgba.png"
        rgba = np.concatenate([_strokes(32, 32), np.ones((32, 32, 1))], axis=2)
        iio.imwrite(src, (rgba * 255).astype(np.uint8))
    else:
        src = _write_png(tmp_path / "ok.png", _strokes(32, 32))
        extra = ["--connectivity", "6"]
    code, err = _run(["shade", str(src), "-o", str(out), *extra], capsys)
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("fastshade: error:"), err
    assert (src.name in lines[0]) if case != "bad-option" else ("connectivity" in lines[0])
    assert "Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("command", ["shade", "run", "bench", "diagnose"])
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out.lower()


@pytest.mark.parametrize("argv", [
    ["shade", "in.png", "-o", "out.png", "--shadow-placement", "bogus"],  # bad choice
    ["shade", "in.png", "-o", "out.png", "--no-such-flag"],  # unknown flag
    ["shade", "in.png"],  # missing -o
    ["run", "--workers", "many"],  # wrong type
])
def test_usage_errors_are_one_line_with_exit_code_2(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln]
    assert len(lines) == 1 and re.match(rf"fastshade( {argv[0]})?: error: ", lines[0]), lines
    assert not (tmp_path / "out.png").exists()


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("fastshade: error:"), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("case", ["stats-is-output", "stats-is-input", "output-is-input",
                                  "stats-is-a-folder", "stats-unwritable", "output-is-a-folder",
                                  "output-unwritable"])
def test_destinations_that_would_clobber_or_cannot_be_written_are_refused_first(tmp_path, capsys, case):
    """Each bad destination is refused before any compute, in one line that names the path at
    fault and the reason; nothing is written and the input is untouched."""
    src = _write_png(tmp_path / "in.png", _strokes(48, 48))
    before = src.read_bytes()
    out, stats = tmp_path / "out.png", tmp_path / "s.json"
    (tmp_path / "blocker").write_text("a file")  # a folder under a regular file cannot be made
    if case == "stats-is-output":
        stats, named, reason = out, out, "--stats would overwrite"
    elif case == "stats-is-input":
        stats, named, reason = src, src, "--stats would overwrite"
    elif case == "output-is-input":
        out = tmp_path / "." / "in.png"
        named, reason = out, "the output would overwrite the input"
    elif case == "stats-is-a-folder":
        stats = named = tmp_path / "folder"
        stats.mkdir()
        reason = "--stats names a folder"
    elif case == "stats-unwritable":
        stats = named = tmp_path / "blocker" / "s.json"
        reason = "is a file, not a folder"
    elif case == "output-is-a-folder":
        out = named = tmp_path / "outdir"
        out.mkdir()
        reason = "the output names a folder"
    else:
        out = named = tmp_path / "blocker" / "out.png"
        reason = "is a file, not a folder"
    code, err = _run(["shade", str(src), "-o", str(out), "--stats", str(stats), "--basis", "krylov"],
                     capsys)
    assert code == 2
    line = _one_error_line(err)
    assert str(named) in line and reason in line, line
    assert src.read_bytes() == before  # the input is untouched
    if case not in ("output-is-input", "output-is-a-folder"):
        assert not out.exists()
    assert not stats.exists() or stats.is_dir() or stats == src
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_stats_failure_after_the_image_removes_the_image(tmp_path, capsys, monkeypatch):
    # all or nothing: if the stats cannot be written after all, the image goes too
    import fastshade.io as fio
    import fastshade.io.atomic as io_atomic

    src = _write_png(tmp_path / "in.png", _strokes(48, 48))
    out, stats = tmp_path / "out.png", tmp_path / "s.json"
    real = io_atomic.write_atomic

    def failing(path, write, what):
        if what == "JSON":
            raise fio.ImageError(str(path), "write_error", "cannot write JSON: disk full (simulated)")
        return real(path, write, what)

    monkeypatch.setattr(io_atomic, "write_atomic", failing)
    code, err = _run(["shade", str(src), "-o", str(out), "--stats", str(stats), "--basis", "krylov"],
                     capsys)
    assert code == 2 and "disk full" in _one_error_line(err)
    assert not out.exists() and not stats.exists()


def test_fifo_and_device_inputs_fail_at_once(tmp_path, capsys):
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it for reading would block until a writer appears
    device = tmp_path / "zero.png"
    device.symlink_to("/dev/zero")
    for src in (fifo, device):
        code, err = _run(["shade", str(src), "-o", str(tmp_path / "o.png")], capsys)
        assert code == 2 and "not a regular file" in _one_error_line(err)
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("argv_tail, named, reason", [
    (["diagnose", "IN", "-o", "FILE"], "FILE", "file.txt"),       # the output folder is a file
    (["run", "DIR", "BLOCKED/out"], "BLOCKED/out", "is a file, not a folder"),  # OUT under a file
    (["run", "DIR", "NEW", "--manifest", "BLOCKED/m.jsonl"], "BLOCKED/m.jsonl",
     "is a file, not a folder"),
])
def test_unwritable_destinations_of_other_commands_are_one_line_exit_2(tmp_path, capsys, argv_tail,
                                                                       named, reason):
    src = _write_png(tmp_path / "in.png", _strokes(40, 40))
    folder = tmp_path / "dir"
    folder.mkdir()
    _write_png(folder / "a.png", _strokes(40, 40))
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "blocked").write_text("x")
    subst = {"IN": str(src), "FILE": str(tmp_path / "file.txt"), "DIR": str(folder),
             "BLOCKED/out": str(tmp_path / "blocked" / "out"), "NEW": str(tmp_path / "new"),
             "BLOCKED/m.jsonl": str(tmp_path / "blocked" / "m.jsonl")}
    code, err = _run([subst.get(a, a) for a in argv_tail], capsys)
    assert code == 2
    line = _one_error_line(err)
    assert subst[named] in line and reason in line, line
    assert not (tmp_path / "new").exists()  # nothing made before the refusal


def test_destination_checks_create_no_folders(tmp_path, capsys):
    stats = tmp_path / "new" / "deeper" / "s.json"
    code, err = _run(["shade", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o.png"),
                      "--stats", str(stats)], capsys)
    assert code == 2 and "missing.png" in _one_error_line(err)
    assert not (tmp_path / "new").exists()


def test_the_command_ends_a_shade_after_flushing_and_the_atexit_handlers(tmp_path):
    # `entry` (the console script, `python -m fastshade`) ends a shade with os._exit: the
    # streams' buffered text, the atexit handlers and the exit code must all be as a normal exit.
    import subprocess
    import sys
    from pathlib import Path

    small = _write_png(tmp_path / "small.png", _strokes(48, 40))
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('atexit ran', flush=True))\n"
        "sys.stdout.write('buffered ' * 2000)  # no newline: still in the buffer\n"
        "from fastshade.cli import entry\n"
        "sys.argv = ['fastshade'] + sys.argv[1:]\n"
        "sys.exit(entry())\n"
    )
    root = Path(__file__).resolve().parents[1]
    ok = subprocess.run([sys.executable, "-c", code, "shade", str(small), "-o", str(tmp_path / "o.png"),
                         "--stats", str(tmp_path / "s.json")], cwd=root, capture_output=True, text=True,
                        timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("buffered " * 2000) and ok.stdout.rstrip().endswith("atexit ran")
    assert "small.png ->" in ok.stderr
    assert iio.imread(tmp_path / "o.png").shape == (48, 40, 3)
    assert json.loads((tmp_path / "s.json").read_text())["mode"] == "self"
    bad = subprocess.run([sys.executable, "-c", code, "shade", str(tmp_path / "missing.png"), "-o",
                          str(tmp_path / "x.png")], cwd=root, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stdout.rstrip().endswith("atexit ran")
    assert bad.stderr.count("\n") == 1 and "missing.png" in bad.stderr
