"""``fastshade run`` paths the batch tests do not take: a valid ``--sample``, ``--hash`` resume, a per-file MemoryError.

Real folders and real spawned workers; images are at most 64 px so each file's shader run is cheap.
The workers' test hooks (``fastshade/run/worker.py``) are switched on through the environment:
``FASTSHADE_TEST_SAMPLE_LOG`` (one line per sample read, to count them) and
``FASTSHADE_TEST_MEMORY_ON`` (shading one file runs out of memory).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fastshade import cli
from fastshade.demo import demo_image
from fastshade.io import write_image
from fastshade.run.config import DEFAULT_MANIFEST_NAME
from fastshade.run.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 600


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a ``fastshade run`` subprocess: this checkout first, no stray test hooks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTSHADE_TEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra)
    return env


@pytest.fixture
def no_test_hooks(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """In-process runs: the spawned workers inherit ``os.environ``, so clear any hook set outside."""
    for key in [k for k in os.environ if k.startswith("FASTSHADE_TEST_")]:
        monkeypatch.delenv(key)
    return monkeypatch


def _run_subprocess(*args: str | Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "import sys; from fastshade import cli; sys.exit(cli.main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, "run", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)


def _run_inprocess(*args: str | Path) -> int:
    return cli.main(["run", *map(str, args)])


def _records(out: Path) -> list[dict[str, Any]]:
    return list(read_manifest(out / DEFAULT_MANIFEST_NAME))


def _last_run(out: Path) -> dict[str, dict[str, Any]]:
    """The records the last run wrote, by input path."""
    lines = _records(out)
    return {r["path"]: r for r in lines if r["run"] == lines[-1]["run"]}


def _demo_folder(root: Path, sizes: list[tuple[int, int]]) -> list[str]:
    rels = []
    for i, (h, w) in enumerate(sizes):
        rel = f"d{i:02d}.png" if i % 2 == 0 else f"sub/d{i:02d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_image(root / rel, demo_image(h, w))
        rels.append(rel)
    return rels


# ------------------------------------------------------------------------------------------
# --sample: batch cross mode, the per-worker sample cache, the bytes of `fastshade shade`
# ------------------------------------------------------------------------------------------


def test_run_with_a_sample_shades_in_cross_mode_reads_the_sample_once_per_worker_and_matches_shade(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, out, log = tmp_path / "in", tmp_path / "out", tmp_path / "sample-reads.log"
    rels = _demo_folder(root, [(40, 44), (48, 40), (44, 52), (36, 48), (52, 44)])
    sample = tmp_path / "sample.png"  # outside IN; a different drawing (mirrored, another size)
    write_image(sample, np.ascontiguousarray(demo_image(56, 60)[:, ::-1]))

    proc = _run_subprocess(root, out, "--sample", sample, "--style", "v12", "-j", "2", "--recycle-after", "0",
                           env=_clean_env(FASTSHADE_TEST_SAMPLE_LOG=str(log)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = _last_run(out)
    assert set(records) == set(rels)
    assert all(r["status"] == "ok" and r["stats"]["mode"] == "cross" for r in records.values()), records

    # The cache: each worker read the sample once, however many files it shaded.
    reads = [line.split(" ", 1) for line in log.read_text(encoding="utf-8").splitlines()]
    pids = [pid for pid, _ in reads]
    assert {path for _, path in reads} == {str(sample)}
    assert len(pids) == len(set(pids)), f"a worker read the sample more than once: {pids}"
    workers = {r["worker"].rsplit(":", 1)[1] for r in records.values()}
    assert set(pids) == workers  # every worker that shaded a file read it (once), no other process did
    assert len(pids) < len(rels)

    # Each output has the bytes of `fastshade shade IN/x --sample S -o ...` (and cross differs from self).
    for rel in rels:
        ref = tmp_path / "ref" / rel
        ref.parent.mkdir(parents=True, exist_ok=True)
        assert cli.main(["shade", str(root / rel), "--sample", str(sample), "-o", str(ref), "--style", "v12"]) == 0
        assert (out / rel).read_bytes() == ref.read_bytes(), rel
    self_mode = tmp_path / "self.png"
    # v12: cross shadows are the sample's shapes (brush takes only the sample's ink hue, black here)
    assert cli.main(["shade", str(root / rels[0]), "-o", str(self_mode), "--style", "v12"]) == 0
    assert self_mode.read_bytes() != (out / rels[0]).read_bytes()
    capsys.readouterr()


# ------------------------------------------------------------------------------------------
# --hash: resume decided by the content hash
# ------------------------------------------------------------------------------------------


def _write_bmp(path: Path, rgb: np.ndarray) -> None:
    """Uncompressed BMP: two drawings of one size have files of one size (only the bytes tell them apart)."""
    Image.fromarray((rgb * 255).round().astype(np.uint8)).save(path, format="BMP")


def test_hash_resume_skips_touched_unchanged_files_and_redoes_changed_content(
        tmp_path: Path, no_test_hooks: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    for name, rgb in (("a.bmp", demo_image(40, 40)), ("b.bmp", demo_image(40, 40)[::-1]),
                      ("c.bmp", demo_image(36, 44))):
        _write_bmp(root / name, rgb)
    assert _run_inprocess(root, out, "-j", "1", "--hash") == 0
    first = _last_run(out)
    for name in ("a.bmp", "b.bmp", "c.bmp"):
        assert first[name]["status"] == "ok"
        assert first[name]["fingerprint"]["sha256"] == hashlib.sha256((root / name).read_bytes()).hexdigest()
    outputs = {name: out / first[name]["output"] for name in first}
    before = {name: (p.read_bytes(), p.stat().st_mtime_ns) for name, p in outputs.items()}

    # a: same bytes, new mtime (a copy or a touch).  b: new bytes of the same size, with its old mtime
    # back, so neither size nor mtime can tell; only the content hash can.
    os.utime(root / "a.bmp", ns=(time.time_ns(), time.time_ns() + 10**9))
    b_stat = (root / "b.bmp").stat()
    _write_bmp(root / "b.bmp", demo_image(40, 40)[:, ::-1])
    os.utime(root / "b.bmp", ns=(b_stat.st_atime_ns, b_stat.st_mtime_ns))
    assert (root / "b.bmp").stat().st_size == b_stat.st_size
    assert (root / "b.bmp").stat().st_mtime_ns == b_stat.st_mtime_ns

    assert _run_inprocess(root, out, "-j", "1", "--hash", "--resume") == 0
    redone = _last_run(out)
    assert {name: r["status"] for name, r in redone.items()} == {"b.bmp": "ok"}  # a and c: done, no record
    assert redone["b.bmp"]["fingerprint"]["sha256"] == hashlib.sha256((root / "b.bmp").read_bytes()).hexdigest()
    for name in ("a.bmp", "c.bmp"):
        assert (outputs[name].read_bytes(), outputs[name].stat().st_mtime_ns) == before[name]
    assert outputs["b.bmp"].read_bytes() != before["b.bmp"][0]
    ref = tmp_path / "b-ref.png"
    assert cli.main(["shade", str(root / "b.bmp"), "-o", str(ref)]) == 0
    assert outputs["b.bmp"].read_bytes() == ref.read_bytes()

    # Without --hash the same touch is a change: a is redone (so the hash was what kept it above).
    assert _run_inprocess(root, out, "-j", "1", "--resume") == 0
    assert {name: r["status"] for name, r in _last_run(out).items()} == {"a.bmp": "ok"}
    capsys.readouterr()


def test_hash_survives_a_plain_rerun_then_a_touch(tmp_path: Path, no_test_hooks: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A plain re-run adds no line for a done file; after a touch (same bytes, new mtime) --hash still
    recognises it as done, and records the new stat fingerprint with the hash (skipped:exists), so
    the run after that matches without hashing and adds nothing again."""
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    _write_bmp(root / "a.bmp", demo_image(40, 40))
    sha = hashlib.sha256((root / "a.bmp").read_bytes()).hexdigest()
    assert _run_inprocess(root, out, "-j", "1", "--hash") == 0
    n_lines = len(_records(out))
    assert _run_inprocess(root, out, "-j", "1", "--hash") == 0
    assert len(_records(out)) == n_lines
    os.utime(root / "a.bmp", ns=(time.time_ns(), time.time_ns() + 10**9))
    assert _run_inprocess(root, out, "-j", "1", "--hash") == 0
    skipped = _last_run(out)["a.bmp"]
    assert skipped["status"] == "skipped:exists"
    assert skipped["fingerprint"].get("sha256") == sha
    assert skipped["fingerprint"]["mtime_ns"] == (root / "a.bmp").stat().st_mtime_ns
    assert len(_records(out)) == n_lines + 1
    assert _run_inprocess(root, out, "-j", "1", "--hash") == 0
    assert len(_records(out)) == n_lines + 1
    capsys.readouterr()


# ------------------------------------------------------------------------------------------
# A per-file MemoryError
# ------------------------------------------------------------------------------------------


def test_a_memory_error_fails_one_file_with_one_record_and_the_batch_goes_on(
        tmp_path: Path, no_test_hooks: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    rels = _demo_folder(root, [(40, 40), (44, 40), (40, 48), (36, 44)])
    guilty = rels[1]
    no_test_hooks.setenv("FASTSHADE_TEST_MEMORY_ON", Path(guilty).name)
    assert _run_inprocess(root, out, "-j", "1", "--recycle-after", "0") == 1  # 1: a file failed
    err = capsys.readouterr().err

    lines = (out / DEFAULT_MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(rels)  # one line per file, the failed one included
    records = _last_run(out)
    bad = records[guilty]
    assert (bad["status"], bad["reason"], bad["message"]) == ("failed:memory", "memory",
                                                              "out of memory while shading")
    assert "Traceback" not in err and "MemoryError" not in err  # reported, not raised
    assert not (out / guilty).exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    for rel in rels:
        if rel != guilty:
            assert records[rel]["status"] == "ok", records[rel]
            with Image.open(out / rel) as im:
                im.load()
    # The worker that ran out of memory went on with the next files (one worker, -j 1).
    assert len({r["worker"] for r in records.values()}) == 1
    assert sorted(r["worker_seq"] for r in records.values()) == [1, 2, 3, 4]
    assert bad["worker_seq"] < max(r["worker_seq"] for r in records.values())


def test_two_runs_in_one_second_of_one_process_have_different_ids() -> None:
    # the manifest groups a run's records by id; the id was the second and the pid, so two quick
    # runs in one process (a resume right after a run) shared it and read as one run
    from fastshade.run.config import new_run_id

    ids = [new_run_id() for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(i.split("-")[1] == str(os.getpid()) for i in ids)
