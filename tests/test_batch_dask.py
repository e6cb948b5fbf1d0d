"""``fastshade run --scheduler``: the same driver on a real dask.distributed cluster.

A module-scoped ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
dashboard_address=None)`` runs the generated folder of ``tests/test_batch.py``;
manifest statuses must match the catalogue and every ``ok`` output must have the
bytes of a single-file run (so they also equal the process-pool run's).  The
cluster's workers are started with ``FASTSHADE_TEST_CRASH_ON=crashme`` in their
environment, so one file named ``crashme*`` kills its worker (the crash test).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

import fastshade  # noqa: E402
from tests.test_batch import (  # noqa: E402,F401,F811  (fixtures are shared with the process-pool tests)
    MANIFEST,
    ROOT,
    _wait_for_ok_lines,
    cli_command,
    cli_env,
    corpus,
    decodes,
    demo_folder,
    expected_status,
    last_records,
    manifest_lines,
    norm,
    reference_outputs,
    temp_files,
)

CRASH_TAG = "crashme"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import dask
    from distributed import LocalCluster

    saved = os.environ.get("FASTSHADE_TEST_CRASH_ON")
    os.environ["FASTSHADE_TEST_CRASH_ON"] = CRASH_TAG  # inherited by the worker processes (and restarts)
    try:
        # fastshade isolates suspects itself, so the scheduler need not retry a task that killed a worker
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        yield lc
        lc.close()
    finally:
        if saved is None:
            os.environ.pop("FASTSHADE_TEST_CRASH_ON", None)
        else:
            os.environ["FASTSHADE_TEST_CRASH_ON"] = saved


def run(*args: Any) -> int:
    from fastshade import cli

    return cli.main(["run", *map(str, args)])


def test_dask_run_matches_the_catalogue_and_single_file_bytes(
        cluster: Any, corpus: tuple[Path, dict[str, str]], reference_outputs: dict[str, bytes],
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, cases = corpus
    out = tmp_path / "out"
    code = run(root, out, "--scheduler", cluster.scheduler_address, "--timeout-per-file", "120")
    err = capsys.readouterr().err
    assert code == 1, err[-3000:]
    records = last_records(out / MANIFEST)
    wrong = {case: records.get(rel, {}).get("status") for case, rel in cases.items()
             if norm(records.get(rel, {}).get("status", "<no record>")) not in expected_status(case).split("|")}
    assert not wrong
    assert reference_outputs
    for rel, data in reference_outputs.items():
        assert (out / records[rel]["output"]).read_bytes() == data, rel
    workers = {r["worker"] for r in records.values() if norm(r["status"]) == "ok"}
    assert len(workers) == 2  # both Dask worker processes did work
    assert not temp_files(out)
    for rec in records.values():
        if norm(rec["status"]) == "ok":
            assert decodes(out / rec["output"])


def test_dask_worker_crash_only_the_guilty_file_fails(cluster: Any, tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    rels = demo_folder(root, 5, sub=("",))
    guilty = root / f"{CRASH_TAG}.png"
    (root / rels[0]).rename(guilty)
    code = run(root, out, "--scheduler", cluster.scheduler_address)
    assert code == 1
    records = last_records(out / MANIFEST)
    assert records[guilty.name]["status"] == "failed:crashed"
    others = [r for p, r in records.items() if p != guilty.name]
    assert len(others) == 4 and all(norm(r["status"]) == "ok" for r in others)
    assert not (out / guilty.name).exists()


def test_dask_version_mismatch_is_a_usage_error(cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    demo_folder(root, 1, sub=("",))
    monkeypatch.setattr(fastshade, "__version__", "0.0.0-not-the-workers")
    assert run(root, out, "--scheduler", cluster.scheduler_address) == 2
    assert "version" in capsys.readouterr().err
    assert not (out / MANIFEST).exists()


def test_missing_dask_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "in"
    root.mkdir()
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    monkeypatch.delitem(sys.modules, "fastshade.run.dask", raising=False)
    assert run(root, tmp_path / "out", "--scheduler", "local") == 2
    assert "fastshade[distributed]" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")  # the module cluster holds :8787
def test_scheduler_local_starts_its_own_cluster(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    rels = demo_folder(root, 3, sub=("", "sub"))
    assert run(root, out, "--scheduler", "local", "-j", "2") == 0
    records = last_records(out / MANIFEST)
    assert all(norm(records[rel]["status"]) == "ok" for rel in rels)
    assert all(decodes(out / rel) for rel in rels)
    assert len(manifest_lines(out / MANIFEST)) == 3


def test_terminal_ctrl_c_on_scheduler_local_finishes_in_flight_files(tmp_path: Path) -> None:
    # A terminal Ctrl-C signals the whole process group: the driver *and* the cluster's
    # nannies and workers.  Only the driver may act on it: the files in progress finish,
    # no worker dies with a KeyboardInterrupt traceback, and the run exits 130.
    import signal
    import subprocess

    root, out = tmp_path / "in", tmp_path / "out"
    rels = demo_folder(root, 10, sub=("",))
    proc = subprocess.Popen(cli_command(root, out, "--scheduler", "local", "-j", "2"), cwd=ROOT,
                            env=cli_env(FASTSHADE_TEST_DELAY="0.5"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for_ok_lines(out / MANIFEST, 2, proc)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    records = last_records(out / MANIFEST)
    assert all(norm(r["status"]) == "ok" for r in records.values())
    assert 2 <= len(records) < len(rels)
    assert all(decodes(out / rel) for rel in records)


def test_worker_plugin_ignores_sigint_only_for_the_local_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    # restarted workers (hard timeouts, crashes) run the plugin again, so they ignore a terminal
    # Ctrl-C too; workers of a user's own cluster keep their SIGINT handling
    import signal

    from fastshade.run import dask as dask_backend
    from fastshade.run.dask import ThreadLimitPlugin

    # this process is not a worker: keep its thread environment (Numba reads it once)
    monkeypatch.setattr(dask_backend, "apply_worker_environment", lambda threads: None)

    before = signal.getsignal(signal.SIGINT)
    try:
        ThreadLimitPlugin(1).setup(None)
        assert signal.getsignal(signal.SIGINT) is before
        ThreadLimitPlugin(1, ignore_sigint=True).setup(None)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
