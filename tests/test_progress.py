"""Progress a user can see: the stages of a long `shade` on a terminal (nothing when piped), and
`run`'s summary naming every skip, failure and warning reason with its count."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from types import SimpleNamespace

import imageio.v3 as iio
import numpy as np

from fastshade.run.manifest import ManifestRecord
from fastshade.run.progress import Progress
from fastshade.stage_progress import StageProgress

ROOT = Path(__file__).resolve().parents[1]
_SHADER_STAGES = {"reading", "paper", "laplacian", "basis", "fields", "gates", "components", "thicken",
                  "shadow", "transplant", "sample_fields", "upsample"}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_stages_show_on_a_terminal_after_the_delay():
    term = _Terminal()
    with StageProgress("toof.png", term, delay=0.05) as progress:
        progress.clock.on_stage("basis")
        time.sleep(0.6)
        progress.clock.on_stage("fields")
        time.sleep(0.6)
    text = term.getvalue()
    assert "fastshade: toof.png: basis [" in text and "fastshade: toof.png: fields [" in text
    assert progress.stages_shown == ["basis", "fields"]
    assert text.endswith("\r")  # the line is cleared when the shading ends


def test_nothing_is_shown_when_piped_or_short():
    piped = io.StringIO()
    with StageProgress("a.png", piped, delay=0.0) as progress:
        progress.clock.on_stage("basis")
        time.sleep(0.4)
    assert piped.getvalue() == ""
    term = _Terminal()
    with StageProgress("a.png", term, delay=5.0) as progress:
        progress.clock.on_stage("basis")
        time.sleep(0.3)
    assert term.getvalue() == ""


def _small_image(path: Path) -> Path:
    from fastshade.demo import demo_image

    iio.imwrite(path, (demo_image(96, 96) * 255).round().astype(np.uint8))
    return path


def test_shade_on_a_real_terminal_names_its_stages_and_piped_shows_none(tmp_path):
    src = _small_image(tmp_path / "in.png")
    code = ("import sys, fastshade.stage_progress as sp\n"
            "sp.DELAY = 0.0  # a small image is quick: show its stages from the start\n"
            "sp.REFRESH = 0.01  # and look often: the whole shading takes a fraction of a second\n"
            "from fastshade.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    argv = [sys.executable, "-c", code, "shade", str(src), "-o", str(tmp_path / "o.png")]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=600) == 0
    text = b"".join(chunks).decode()
    assert "fastshade: in.png: " in text and "\r" in text, text[-2000:]
    shown = set(re.findall(r"in\.png: (\w+) \[", text))
    assert shown and shown <= _SHADER_STAGES, text[-2000:]
    piped = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert piped.returncode == 0, piped.stderr
    assert "\r" not in piped.stderr and "in.png: basis" not in piped.stderr
    assert piped.stderr.strip().endswith(" s") and "in.png ->" in piped.stderr


def _record(path: str, status: str, warnings: tuple[str, ...] = ()) -> ManifestRecord:
    reason = status.split(":", 1)[1] if ":" in status else None
    return ManifestRecord(path=path, status=status, reason=reason, warnings=list(warnings))


def test_run_summary_names_every_skip_failure_and_warning_reason():
    progress = Progress(SimpleNamespace(quiet=True, verbose=False), io.StringIO())  # type: ignore[arg-type]
    for rec in [
        _record("a.png", "ok", ("first_frame_of_3",)),
        _record("b.gif", "ok", ("first_frame_of_12", "exif_orientation_ignored")),
        _record("c.png", "skipped:too_large"), _record("d.png", "skipped:too_large"),
        _record("e.txt", "skipped:not_an_image"),
        _record("f.png", "failed:decode"),
    ]:
        progress.record(rec)
    progress.done()
    line = progress.summary("m.jsonl")
    assert line.startswith("fastshade run: 2 ok, 3 skipped (too_large 2, not_an_image 1), "
                           "1 failed (decode 1), 1 already done; "
                           "warnings: first_frame_of_N 2, exif_orientation_ignored 1 in "), line
    assert line.endswith("; manifest m.jsonl")
