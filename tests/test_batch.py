"""``fastshade run``: the folder driver, with real worker processes.

One generated folder (``corpus``) holds downscaled copies of ``../shared/images``
(when present), small demo images in nested folders, every case of the bad-input
catalogue (``tests/make_bad_inputs.py``), a name collision, OS junk and hidden
files, unicode / space / long names and a symlink loop.  It is run once through
the real CLI in a subprocess with two workers (``main_run``); the tests then
check every manifest status against the catalogue, that every output decodes,
that the tree is mirrored, that no temporary file is left and that each ``ok``
output has exactly the bytes :func:`fastshade.job.shade_file` (the function
``fastshade shade`` uses) gives for the same file.

Smaller folders cover the rest: a worker killed by one file (test hook
``FASTSHADE_TEST_CRASH_ON``), SIGKILL of the driver then ``--resume``, Ctrl-C,
timeouts, ``--dry-run``, exit codes and up-front format validation.  Images are
at most 128 px so each file's full shader run stays cheap.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fastshade.demo import demo_image
from fastshade.io import read_image, write_image
from fastshade.job import is_written, shade_file
from fastshade.options import ShadeOptions
from fastshade.run import config as run_config
from fastshade.run.config import DEFAULT_MANIFEST_NAME, RunConfig, UsageError
from fastshade.run.manifest import ManifestRecord, ManifestWriter, read_manifest
from fastshade.run.walk import is_junk, iter_listings
from fastshade.styles import resolve_options
from fastshade.threads import thread_environment
from tests.make_bad_inputs import CASES

ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = ROOT / ".." / "shared" / "images"
MANIFEST = DEFAULT_MANIFEST_NAME
RUN_TIMEOUT = 600
MAIN_TIMEOUT = 120  # --timeout-per-file of the big run: a safety net only

# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    for key in ("FASTSHADE_TEST_CRASH_ON", "FASTSHADE_TEST_SLEEP_ON", "FASTSHADE_TEST_HANG_ON",
                "FASTSHADE_TEST_DELAY"):
        env.pop(key, None)
    env.update(extra)
    return env


def cli_command(*args: str | Path) -> list[str]:
    code = "import sys; from fastshade import cli; sys.exit(cli.main(sys.argv[1:]))"
    return [sys.executable, "-c", code, "run", *map(str, args)]


def run_cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``fastshade run ARGS`` in a fresh interpreter (real driver, real spawned workers)."""
    return subprocess.run(cli_command(*args), cwd=ROOT, env=env or cli_env(), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)


def manifest_lines(path: Path) -> list[dict[str, Any]]:
    return list(read_manifest(path))


def last_records(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for rec in manifest_lines(path):
        out[rec["path"]] = rec
    return out


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def decodes(path: Path) -> bool:
    with Image.open(path) as im:
        im.load()
    return True


def small_demo(dst: Path, h: int, w: int, fmt: str | None = None) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_image(dst, demo_image(h, w), fmt=fmt)
    return dst


def demo_folder(root: Path, n: int, sub: tuple[str, ...] = ("", "sub")) -> list[str]:
    """``n`` small demo images spread over ``sub`` folders; returns their relative paths."""
    rels = []
    for i in range(n):
        rel = f"{sub[i % len(sub)]}/d{i:02d}.png".lstrip("/")
        small_demo(root / rel, 40 + 4 * (i % 7), 44 + 3 * (i % 5))
        rels.append(rel)
    return rels


# ------------------------------------------------------------------------------------------
# the big generated folder
# ------------------------------------------------------------------------------------------

# bad-input catalogue name -> expected manifest status (row numbers of batch.md §4.5)
CATALOGUE_STATUS = {
    "truncated_png": "failed:decode_truncated",  # 1
    "truncated_jpeg": "failed:decode_truncated",  # 2
    "zero_byte_png": "skipped:not_an_image",  # 3
    "random_bytes_png": "skipped:not_an_image",  # 4
    "html_png": "skipped:not_an_image",  # 4
    "png_named_jpg": "ok",  # 5
    "bomb_png": "skipped:too_large",  # 6
    "huge_png": "skipped:too_large",  # 7
    "one_by_one_png": "ok",  # 8
    "one_by_n_png": "ok",
    "n_by_one_png": "ok",
    "all_white_png": "ok",  # 9
    "all_black_png": "ok",
    "gray16_png": "ok",  # 11
    "rgb16_png": "ok",  # 12
    "rgb16_png_interlaced": "ok",
    "rgba16_png": "ok",
    "la16_png": "ok",
    "rgb16_tiff": "ok",
    "rgb16_tiff_be": "ok",
    "palette_trns_png": "ok",  # 13
    "onebit_png": "ok",
    "rgb_trns_png": "ok",
    "rgba_png": "ok",  # 14
    "la_png": "ok",
    "cmyk_jpeg": "ok",  # 15
    "exif6_jpeg": "ok",  # 16
    "exif8_jpeg": "ok",
    "animated_gif": "ok",  # 17
    "apng": "ok",
    "multipage_tiff": "ok",
    "float32_tiff": "ok",  # 18
    "float_nan_tiff": "failed:unsupported_dtype",
    "float_range_tiff": "failed:unsupported_dtype",
}
ALPHA_CASES = {"rgba16_png", "la16_png", "palette_trns_png", "rgb_trns_png", "rgba_png", "la_png"}
SIXTEEN_BIT_CASES = {"gray16_png", "rgb16_png", "rgb16_png_interlaced", "rgba16_png", "la16_png", "rgb16_tiff",
                     "rgb16_tiff_be"}
UNICODE_NAME = "ünï cödé/日本 語 ✓ space.png"
LONG_NAME = "long_" + "x" * 180 + ".png"


def build_corpus(root: Path) -> dict[str, str]:
    """Write the test folder under ``root``; returns ``{case: relative path}`` with expected statuses in
    ``expected_status(case)``."""
    cases: dict[str, str] = {}
    if SHARED_IMAGES.is_dir():  # real line art, downscaled to <= 128 px, nested
        for i, src in enumerate(sorted(SHARED_IMAGES.glob("*.png"))):
            with Image.open(src) as im:
                small = im.convert("RGB")
            small.thumbnail((96, 96))
            rel = f"{'art' if i % 2 == 0 else 'art/deeper'}/{src.name}"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            small.save(root / rel)
            cases[f"shared:{src.name}"] = rel
    for i, (h, w) in enumerate([(48, 64), (64, 48), (72, 72), (96, 80), (40, 120), (88, 88)]):
        rel = f"{['demo', 'demo/a', 'demo/a/b'][i % 3]}/demo_{i}.png"
        small_demo(root / rel, h, w)
        cases[f"demo_{i}"] = rel
    bad = root / "bad"
    bad.mkdir()
    scratch = root.parent / (root.name + "-scratch")
    scratch.mkdir()
    for name, make in CASES.items():
        if name == "speckle_png":  # row 10 is a timeout case: test_soft_and_hard_timeouts
            continue
        made = make(scratch)
        stem = made.stem
        # two catalogue files with one stem (truncated.png / truncated.jpg) go to sibling folders
        target = bad if not any(p.stem == stem for p in bad.iterdir() if p.is_file()) else bad / made.suffix[1:]
        target.mkdir(exist_ok=True)
        shutil.move(str(made), target / made.name)
        cases[name] = (target / made.name).relative_to(root).as_posix()
    shutil.rmtree(scratch)
    small_demo(root / "collide" / "a.png", 40, 40)  # 19: a.png and a.jpg -> both a.png
    Image.fromarray((demo_image(40, 40) * 255).astype(np.uint8)).save(root / "collide" / "a.jpg", quality=95)
    cases["collision_png"], cases["collision_jpg"] = "collide/a.png", "collide/a.jpg"
    (root / "collide" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # 21: junk and hidden
    (root / "collide" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (root / "collide" / "desktop.ini").write_text("[.ShellClassInfo]\n")
    shutil.copy(root / "collide" / "a.png", root / "collide" / "._a.png")
    shutil.copy(root / "collide" / "a.png", root / "collide" / ".hidden.png")
    (root / ".git").mkdir()
    shutil.copy(root / "collide" / "a.png", root / ".git" / "inside_hidden_folder.png")
    cases.update({"junk_ds_store": "collide/.DS_Store", "junk_thumbs": "collide/Thumbs.db",
                  "junk_desktop_ini": "collide/desktop.ini", "junk_appledouble": "collide/._a.png",
                  "hidden_png": "collide/.hidden.png"})
    small_demo(root / UNICODE_NAME, 50, 60)  # 22: unicode, spaces, a long name
    small_demo(root / "demo" / LONG_NAME, 44, 52)
    cases["unicode"], cases["long_name"] = UNICODE_NAME, f"demo/{LONG_NAME}"
    (root / "demo" / "readme.txt").write_text("not an image\n")
    cases["text"] = "demo/readme.txt"
    if hasattr(os, "symlink"):
        os.symlink("..", root / "demo" / "a" / "loop")  # 21: symlink loop
        cases["symlink_loop"] = "demo/a/loop/"
    return cases


def norm(status: str) -> str:
    """``ok`` for a written file (``ok`` or ``warning:<reason>``: tiny and blank inputs warn), else ``status``."""
    return "ok" if is_written(status) else status


def expected_status(case: str) -> str:
    if case in CATALOGUE_STATUS:
        return CATALOGUE_STATUS[case]
    if case.startswith(("shared:", "demo_")) or case in ("unicode", "long_name"):
        return "ok"
    return {
        "collision_png": "failed:collision", "collision_jpg": "failed:collision",
        "junk_ds_store": "skipped:junk", "junk_thumbs": "skipped:junk", "junk_desktop_ini": "skipped:junk",
        "junk_appledouble": "skipped:junk", "hidden_png": "skipped:hidden", "text": "skipped:not_an_image",
        "symlink_loop": "skipped:symlink_loop",
    }[case]


def expected_output(rel: str) -> str:
    return rel.rsplit(".", 1)[0] + ".png"


# Session fixtures are also imported by tests/test_batch_dask.py; pytest would build an imported
# fixture once per module, so the expensive ones memoise their result here.
_ONCE: dict[str, Any] = {}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    if "corpus" not in _ONCE:
        root = tmp_path_factory.mktemp("batch") / "in"
        root.mkdir()
        _ONCE["corpus"] = (root, build_corpus(root))
    return _ONCE["corpus"]


@pytest.fixture(scope="session")
def main_run(corpus: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The corpus through ``fastshade run IN OUT -j 2`` in a subprocess."""
    root, cases = corpus
    out = tmp_path_factory.mktemp("main") / "out"
    proc = run_cli(root, out, "-j", "2", "--timeout-per-file", str(MAIN_TIMEOUT))
    return {"proc": proc, "out": out, "records": last_records(out / MANIFEST),
            "lines": manifest_lines(out / MANIFEST)}


REFERENCE_SCRIPT = """
import json, sys
from fastshade.job import shade_file
from fastshade.options import ShadeOptions
for src, dst in json.loads(sys.stdin.read()):
    res = shade_file(src, dst, None, ShadeOptions(), "png", None)
    print(json.dumps([src, res.status, res.message]))
"""


def single_file_outputs(pairs: list[tuple[Path, Path]]) -> dict[str, str]:
    """``shade_file`` on each (input, output) pair in one fresh interpreter; returns {input: status}.

    A separate process so it gets the same thread environment as a worker
    (BLAS pinned to one thread; this test process's BLAS pool is already up).
    """
    env = cli_env(**thread_environment(1))
    proc = subprocess.run([sys.executable, "-c", REFERENCE_SCRIPT], cwd=ROOT, env=env, text=True,
                          input=json.dumps([[str(a), str(b)] for a, b in pairs]), capture_output=True,
                          timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {src: status for src, status, _ in map(json.loads, proc.stdout.splitlines())}


@pytest.fixture(scope="session")
def reference_outputs(corpus: tuple[Path, dict[str, str]],
                      tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Single-file runs of every file expected ``ok``: {relative input path: output bytes}."""
    if "reference" not in _ONCE:
        root, cases = corpus
        ref = tmp_path_factory.mktemp("ref")
        rels = [rel for case, rel in cases.items() if expected_status(case) == "ok"]
        statuses = single_file_outputs([(root / rel, ref / expected_output(rel)) for rel in rels])
        assert {norm(s) for s in statuses.values()} == {"ok"}, statuses
        _ONCE["reference"] = {rel: (ref / expected_output(rel)).read_bytes() for rel in rels}
    return _ONCE["reference"]


# ------------------------------------------------------------------------------------------
# the big run
# ------------------------------------------------------------------------------------------


def test_shared_images_are_part_of_the_corpus(corpus: tuple[Path, dict[str, str]]) -> None:
    if not SHARED_IMAGES.is_dir():
        pytest.skip(f"{SHARED_IMAGES} absent: the corpus has only generated images")
    assert sum(case.startswith("shared:") for case in corpus[1]) >= 5


def test_corpus_is_large_enough(corpus: tuple[Path, dict[str, str]]) -> None:
    files = [p for p in corpus[0].rglob("*") if p.is_file()]
    assert len(files) >= 40
    assert sum(expected_status(c).startswith(("failed", "skipped")) for c in corpus[1]) >= 15


def test_main_run_exit_status_and_summary(main_run: dict[str, Any]) -> None:
    proc = main_run["proc"]
    assert proc.returncode == 1, proc.stderr[-3000:]  # some files fail -> 1
    summary = proc.stderr.strip().splitlines()[-1]
    assert summary.startswith("fastshade run: ") and " failed" in summary
    assert "Traceback" not in proc.stderr


def test_every_case_has_its_status(corpus: tuple[Path, dict[str, str]], main_run: dict[str, Any]) -> None:
    records = main_run["records"]
    wrong = {}
    for case, rel in corpus[1].items():
        got = norm(records.get(rel, {}).get("status", "<no record>"))
        if got not in expected_status(case).split("|"):
            wrong[case] = (got, records.get(rel, {}).get("message"))
    assert not wrong


def test_one_line_per_input_and_nothing_from_hidden_folders(main_run: dict[str, Any],
                                                            corpus: tuple[Path, dict[str, str]]) -> None:
    lines = main_run["lines"]
    paths = [rec["path"] for rec in lines]
    assert len(paths) == len(set(paths))  # one record per input in a single run
    assert not any(p.startswith(".git/") for p in paths)
    assert set(paths) == set(corpus[1].values())  # nothing unexpected, nothing missing
    for rec in lines:
        assert set(rec) >= {"path", "output", "status", "reason", "message", "warnings", "pixels", "seconds",
                            "worker", "fingerprint", "options", "params"}
        assert rec["options"] == resolve_options(ShadeOptions()).digest()  # the default style's options


def test_ok_records_carry_fingerprint_worker_and_timing(main_run: dict[str, Any],
                                                        corpus: tuple[Path, dict[str, str]]) -> None:
    root = corpus[0]
    oks = [r for r in main_run["lines"] if norm(r["status"]) == "ok"]
    assert oks
    workers = set()
    for rec in oks:
        st = os.stat(root / rec["path"])
        assert rec["fingerprint"] == {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
        assert rec["pixels"] == rec["width"] * rec["height"] > 0
        assert rec["seconds"] > 0 and (rec["reason"] is None or rec["status"] == f"warning:{rec['reason']}")
        workers.add(rec["worker"])
    assert len(workers) == 2  # two worker processes shared the work


def test_outputs_mirror_the_tree_and_all_decode(main_run: dict[str, Any]) -> None:
    out = main_run["out"]
    for rec in main_run["lines"]:
        if norm(rec["status"]) == "ok":
            assert rec["output"] == expected_output(rec["path"])
            assert decodes(out / rec["output"])
        elif rec["output"] is not None:
            assert not (out / rec["output"]).exists(), rec  # no output for a failed or skipped file
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {MANIFEST}
    assert written == {r["output"] for r in main_run["lines"] if norm(r["status"]) == "ok"}
    assert not temp_files(out)


def test_ok_outputs_equal_single_file_runs(main_run: dict[str, Any], reference_outputs: dict[str, bytes]) -> None:
    out, records = main_run["out"], main_run["records"]
    assert reference_outputs
    for rel, data in reference_outputs.items():
        assert (out / records[rel]["output"]).read_bytes() == data, rel


def test_ok_outputs_equal_the_shade_command(corpus: tuple[Path, dict[str, str]], main_run: dict[str, Any],
                                           tmp_path: Path) -> None:
    """``fastshade shade IN -o OUT`` writes the bytes ``run`` wrote (8-bit, 16-bit + alpha, EXIF, 1-bit)."""
    root, cases = corpus
    picks = ["demo_3", "rgba16_png", "exif6_jpeg", "onebit_png", "palette_trns_png"]
    code = "import sys\nfrom fastshade import cli\nfor a, b in zip(sys.argv[1::2], sys.argv[2::2]):\n    " \
           "assert cli.main(['shade', a, '-o', b]) == 0\n"
    argv = []
    for case in picks:
        argv += [str(root / cases[case]), str(tmp_path / f"{case}.png")]
    proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, env=cli_env(**thread_environment(1)),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for case in picks:
        ran = main_run["out"] / main_run["records"][cases[case]]["output"]
        assert (tmp_path / f"{case}.png").read_bytes() == ran.read_bytes(), case


def test_catalogue_details(corpus: tuple[Path, dict[str, str]], main_run: dict[str, Any]) -> None:
    cases, records, out = corpus[1], main_run["records"], main_run["out"]

    def rec(case: str) -> dict[str, Any]:
        return records[cases[case]]

    assert "0 bytes" in rec("zero_byte_png")["message"]
    assert "GiB" in rec("huge_png")["message"]  # estimated memory of the legit-but-huge image
    assert rec("png_named_jpg")["output"].endswith("actually_png.png")
    for case in ALPHA_CASES:  # alpha carried through
        with Image.open(out / rec(case)["output"]) as im:
            assert im.mode in ("RGBA", "LA") or "A" in im.getbands(), (case, im.mode)
    for case in SIXTEEN_BIT_CASES:  # 16-bit in -> 16-bit out (default --depth: as input)
        assert rec(case)["depth"] == 16, case
        assert read_image(out / rec(case)["output"]).bit_depth == 16, case
    for case in ("exif6_jpeg", "exif8_jpeg"):  # stored 40 x 24, displayed 24 wide x 40 tall
        assert "exif_rotated" in rec(case)["warnings"]
        with Image.open(out / rec(case)["output"]) as im:
            assert im.size == (24, 40)
    for case in ("animated_gif", "apng", "multipage_tiff"):
        assert "first_frame_of_3" in rec(case)["warnings"], case
    assert "cmyk_converted" in rec("cmyk_jpeg")["warnings"]
    assert "a.jpg" in rec("collision_png")["message"] and rec("collision_jpg")["output"] == "collide/a.png"
    assert rec("unicode")["output"] == expected_output(UNICODE_NAME)
    assert (out / expected_output(UNICODE_NAME)).is_file()
    raw = (out / MANIFEST).read_text(encoding="utf-8")
    assert "日本 語 ✓ space" in raw  # written as UTF-8, not escaped


def test_dash_j1_gives_the_same_bytes(corpus: tuple[Path, dict[str, str]], main_run: dict[str, Any],
                                      tmp_path: Path) -> None:
    root, cases = corpus
    out = tmp_path / "out"
    # the real line art, the demo images and the 16-bit / alpha cases, with one worker
    picks = ["art/*", "demo/a/*", "bad/rgb16*", "bad/rgba*", "bad/la16*", "bad/palette_trns*"]
    args: list[str] = []
    for p in picks:
        args += ["--include", p]
    proc = run_cli(root, out, "-j", "1", *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = last_records(out / MANIFEST)
    two = main_run["records"]
    compared = 0
    for rel, rec in one.items():
        assert rec["status"] == two[rel]["status"], rel
        if norm(rec["status"]) == "ok":
            assert (out / rec["output"]).read_bytes() == (main_run["out"] / rec["output"]).read_bytes(), rel
            compared += 1
    assert compared >= 10
    assert len({r["worker"] for r in one.values() if r["worker"]}) == 1


# ------------------------------------------------------------------------------------------
# crashes, timeouts, interruption, resume
# ------------------------------------------------------------------------------------------


def test_worker_crash_only_the_guilty_file_fails_then_retry_failed(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    rels = demo_folder(root, 5)
    guilty = rels[2]
    proc = run_cli(root, out, "-j", "2", "--recycle-after", "0",
                   env=cli_env(FASTSHADE_TEST_CRASH_ON=Path(guilty).name))
    assert proc.returncode == 1, proc.stderr[-3000:]
    records = last_records(out / MANIFEST)
    assert records[guilty]["status"] == "failed:crashed"
    assert "alone" in records[guilty]["message"]
    assert not (out / guilty).exists()
    for rel in rels:
        if rel != guilty:
            assert norm(records[rel]["status"]) == "ok", records[rel]
            assert decodes(out / rel)
    assert "re-running" in proc.stderr  # the in-flight suspects were isolated
    assert not temp_files(out)
    mtimes = {rel: (out / rel).stat().st_mtime_ns for rel in rels if rel != guilty}
    # --retry-failed (the hook is gone, as if the bug were fixed): only the failed file runs again
    again = run_cli(root, out, "-j", "1", "--retry-failed")
    assert again.returncode == 0, again.stderr[-3000:]
    lines = manifest_lines(out / MANIFEST)
    run2 = [r for r in lines if r["run"] == lines[-1]["run"]]
    assert [(r["path"], norm(r["status"])) for r in run2] == [(guilty, "ok")]
    assert decodes(out / guilty)
    assert all((out / rel).stat().st_mtime_ns == m for rel, m in mtimes.items())


def test_soft_and_hard_timeouts(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    rels = demo_folder(root, 3, sub=("",))
    sleeper, hanger = rels[1], rels[2]
    CASES["speckle_png"](root)  # row 10: thousands of 1-px components (ok if fast enough, else timeout)
    env = cli_env(FASTSHADE_TEST_SLEEP_ON=Path(sleeper).name, FASTSHADE_TEST_HANG_ON=Path(hanger).name)
    proc = run_cli(root, out, "-j", "2", "--timeout-per-file", "3", env=env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    records = last_records(out / MANIFEST)
    assert records[sleeper]["status"] == "failed:timeout" and "soft" in records[sleeper]["message"]
    assert records[hanger]["status"] == "failed:timeout" and "killed" in records[hanger]["message"]
    assert records[rels[0]]["status"] == "ok"
    assert norm(records["speckle.png"]["status"]) in ("ok", "failed:timeout")
    assert not (out / sleeper).exists() and not (out / hanger).exists()
    assert not temp_files(out)


def _wait_for_ok_lines(manifest: Path, n: int, proc: subprocess.Popen[str], limit: float = 300) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if manifest.exists() and sum(norm(r["status"]) == "ok" for r in manifest_lines(manifest)) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"driver ended early ({proc.returncode})")
        time.sleep(0.05)
    raise AssertionError("no progress")


def test_sigkill_of_the_driver_then_resume(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    rels = demo_folder(root, 12)
    manifest = out / MANIFEST
    proc = subprocess.Popen(cli_command(root, out, "-j", "2", "--recycle-after", "0"), cwd=ROOT,
                            env=cli_env(FASTSHADE_TEST_DELAY="0.4"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        _wait_for_ok_lines(manifest, 3, proc)
    finally:
        proc.kill()  # SIGKILL: no cleanup at all; the workers die with the driver (PR_SET_PDEATHSIG)
        proc.wait(timeout=60)
    time.sleep(0.5)
    before = last_records(manifest)
    done_before = {p for p, r in before.items() if norm(r["status"]) == "ok"}
    assert 3 <= len(done_before) < len(rels)
    for p in out.rglob("*.png"):  # no partial file under a final name
        if not p.name.startswith("."):
            assert decodes(p)
    mtimes = {p: (out / p).stat().st_mtime_ns for p in done_before}
    stale = out / "sub" / ".d99.png.999999.0badf00d.tmp"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"half a png")
    with open(manifest, "a", encoding="utf-8") as fh:  # a torn last line, as a kill mid-write leaves
        fh.write('{"path": "sub/d0')
    n_lines = len(manifest.read_text(encoding="utf-8").splitlines())

    proc2 = run_cli(root, out, "-j", "1", "--resume")
    assert proc2.returncode == 0, proc2.stderr[-3000:]
    assert not temp_files(out)
    new = manifest_lines(manifest)[n_lines - 1:]
    assert {r["path"] for r in new}.isdisjoint(done_before)  # finished files are not redone
    assert {r["path"] for r in new} == set(rels) - done_before
    for p, m in mtimes.items():
        assert (out / p).stat().st_mtime_ns == m
    final = last_records(manifest)
    assert all(norm(final[rel]["status"]) == "ok" for rel in rels)
    assert all(decodes(out / rel) for rel in rels)
    assert "already done" in proc2.stderr.strip().splitlines()[-1]

    # A plain re-run (--if-exists skip): done files are untouched and get no new manifest line; an
    # input whose fingerprint changed, an empty output and a truncated one (header intact) are redone.
    mtimes = {rel: (out / rel).stat().st_mtime_ns for rel in rels}
    os.utime(root / rels[1], ns=(time.time_ns(), time.time_ns()))
    (out / rels[2]).write_bytes(b"")
    whole = (out / rels[3]).read_bytes()
    (out / rels[3]).write_bytes(whole[: len(whole) // 2])
    n_before3 = len(manifest_lines(manifest))
    proc3 = run_cli(root, out, "-j", "1")
    assert proc3.returncode == 0, proc3.stderr[-3000:]
    lines = manifest_lines(manifest)
    run3 = {r["path"]: norm(r["status"]) for r in lines if r["run"] == lines[-1]["run"]}
    assert run3 == {rel: "ok" for rel in rels[1:4]}
    assert len(lines) == n_before3 + 3
    assert all((out / rel).stat().st_mtime_ns == mtimes[rel] for rel in rels if rel not in rels[1:4])
    assert decodes(out / rels[2]) and (out / rels[3]).read_bytes() == whole


def test_first_ctrl_c_finishes_in_flight_files_and_exits_130(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    rels = demo_folder(root, 10, sub=("",))
    proc = subprocess.Popen(cli_command(root, out, "-j", "2"), cwd=ROOT, env=cli_env(FASTSHADE_TEST_DELAY="0.5"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_ok_lines(out / MANIFEST, 2, proc)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted" in err
    records = last_records(out / MANIFEST)
    assert all(norm(r["status"]) == "ok" for r in records.values())  # in-flight files finished, none cancelled
    assert len(records) < len(rels)
    assert all(decodes(out / rel) for rel in records)


# ------------------------------------------------------------------------------------------
# usage errors, dry run, format validation up front
# ------------------------------------------------------------------------------------------


def run_inprocess(*args: str | Path) -> int:
    from fastshade import cli

    return cli.main(["run", *map(str, args)])


@pytest.fixture
def rgba_folder(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    small_demo(root / "plain.png", 32, 32)
    rgba = np.concatenate([demo_image(32, 32), np.full((32, 32, 1), 0.5)], axis=2)
    write_image(root / "sub" / "with_alpha.png", rgba[..., :3], rgba[..., 3])
    return root


def test_rgba_to_jpeg_is_a_usage_error_before_any_work(rgba_folder: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run_inprocess(rgba_folder, out, "--format", "jpg") == 2
    err = capsys.readouterr().err
    assert "sub/with_alpha.png" in err and "alpha" in err.lower()
    assert not out.exists()  # nothing created, nothing computed
    assert run_inprocess(rgba_folder, out, "--format", "jpg", "--dry-run") == 2
    assert not out.exists()


def test_sixteen_bit_to_jpeg_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    CASES["gray16_png"](root)
    assert run_inprocess(root, out, "--format", "jpg") == 2
    assert "gray16.png" in capsys.readouterr().err
    assert run_inprocess(root, out, "--format", "jpg", "--depth", "16") == 2  # at argument validation
    assert not out.exists()


def test_other_usage_errors_exit_2(rgba_folder: Path, tmp_path: Path) -> None:
    assert run_inprocess(rgba_folder, rgba_folder) == 2  # OUT == IN
    assert run_inprocess(rgba_folder / "sub", rgba_folder) == 2  # OUT contains IN
    assert run_inprocess(tmp_path / "missing", tmp_path / "o") == 2
    assert run_inprocess(rgba_folder, tmp_path / "o", "--sample", tmp_path / "nope.png") == 2
    assert run_inprocess(rgba_folder, tmp_path / "o", "--workers", "0") == 2
    assert run_inprocess(rgba_folder, tmp_path / "o", "--workers", "100000") == 2  # > 4 per core
    assert run_inprocess(rgba_folder, tmp_path / "o", "--timeout-per-file", "nan") == 2
    assert run_inprocess(rgba_folder, tmp_path / "o", "--resume", "--if-exists", "overwrite") == 2
    assert not (tmp_path / "o").exists()


def test_dry_run_writes_nothing_and_prints_the_plan(corpus: tuple[Path, dict[str, str]], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    root = corpus[0]
    before = sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*") if not p.is_symlink())
    out = tmp_path / "out"
    code = run_inprocess(root, out, "--dry-run")
    plan = capsys.readouterr().out
    assert code == 1  # the plan already contains failures (the collision)
    assert not out.exists()
    assert sorted((p, p.stat().st_mtime_ns) for p in root.rglob("*") if not p.is_symlink()) == before
    assert "would shade:" in plan and "skipped:too_large: 2" in plan and "failed:collision: 2" in plan
    assert "largest images:" in plan and "huge.png" in plan


def test_out_inside_in_is_excluded_from_the_walk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "in"
    demo_folder(root, 2, sub=("",))
    out = root / "shaded"
    assert run_inprocess(root, out, "-j", "1") == 0
    assert "OUT is inside IN" in capsys.readouterr().err
    assert run_inprocess(root, out, "-j", "1") == 0  # re-run: its own outputs are not ingested
    lines = manifest_lines(out / MANIFEST)
    assert [r["path"] for r in lines] == ["d00.png", "d01.png"]  # (the re-run adds no line)
    assert [r["status"] for r in lines] == ["ok"] * 2


def test_write_errors_fail_files_and_abort_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Row 24: an output folder that cannot be written (here OUT/sub is a file, which stops root too)."""
    root, out = tmp_path / "in", tmp_path / "out"
    demo_folder(root, 5, sub=("sub",))
    out.mkdir()
    (out / "sub").write_text("in the way")
    assert run_inprocess(root, out, "-j", "1", "--max-write-errors", "2") == 1
    err = capsys.readouterr().err
    assert "aborted: 2 consecutive write errors" in err.strip().splitlines()[-1]
    records = manifest_lines(out / MANIFEST)
    assert {r["status"] for r in records} == {"failed:write_error"}
    assert 2 <= len(records) <= 3  # stopped submitting after two; the one in flight finished
    assert (out / "sub").read_text() == "in the way" and not temp_files(out)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads a mode-000 file anyway (row 21 'unreadable' needs a normal user)")
def test_unreadable_file_is_failed_permission(tmp_path: Path) -> None:
    from tests.make_bad_inputs import make_unreadable_png

    root, out = tmp_path / "in", tmp_path / "out"
    root.mkdir()
    bad = make_unreadable_png(root)
    try:
        assert run_inprocess(root, out, "-j", "1") == 1
        assert last_records(out / MANIFEST)[bad.name]["status"] == "failed:permission"
    finally:
        bad.chmod(0o644)


def test_outputs_of_an_earlier_pipeline_version_are_redone(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The same inputs and options after a change of the pipeline's output (OUTPUT_VERSION):
    a plain re-run and --resume shade every file again instead of keeping the old bytes; with
    the version unchanged both keep them."""
    root, out = tmp_path / "in", tmp_path / "out"
    small_demo(root / "a.png", 30, 30)
    small_demo(root / "b.png", 24, 28)
    assert run_inprocess(root, out, "-j", "1") == 0

    def statuses() -> dict[str, str]:
        lines = manifest_lines(out / MANIFEST)
        return {r["path"]: r["status"] for r in lines if r["run"] == lines[-1]["run"]}

    n_lines = len(manifest_lines(out / MANIFEST))
    assert run_inprocess(root, out, "-j", "1") == 0
    assert len(manifest_lines(out / MANIFEST)) == n_lines  # done: no new line
    assert statuses() == {"a.png": "ok", "b.png": "ok"}
    monkeypatch.setattr(run_config, "OUTPUT_VERSION", run_config.OUTPUT_VERSION + 1)
    assert run_inprocess(root, out, "-j", "1", "--resume") == 0
    assert statuses() == {"a.png": "ok", "b.png": "ok"}
    n = len(manifest_lines(out / MANIFEST))
    assert run_inprocess(root, out, "-j", "1", "--resume") == 0  # now done for this version
    assert not [r for r in manifest_lines(out / MANIFEST)[n:] if norm(r["status"]) == "ok"]
    monkeypatch.setattr(run_config, "OUTPUT_VERSION", run_config.OUTPUT_VERSION + 1)
    assert run_inprocess(root, out, "-j", "1") == 0
    assert statuses() == {"a.png": "ok", "b.png": "ok"}


def test_collision_suffix_names_both_outputs(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    small_demo(root / "a.png", 30, 30)
    Image.fromarray((demo_image(30, 30) * 255).astype(np.uint8)).save(root / "a.jpg", quality=90)
    assert run_inprocess(root, out, "-j", "1", "--on-collision", "suffix") == 0
    records = last_records(out / MANIFEST)
    assert {records["a.png"]["output"], records["a.jpg"]["output"]} == {"a_png.png", "a_jpg.png"}
    assert decodes(out / "a_png.png") and decodes(out / "a_jpg.png")


# ------------------------------------------------------------------------------------------
# pieces
# ------------------------------------------------------------------------------------------


def test_walk_is_lazy_sorted_and_files_come_before_subfolders(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for rel in ["b.png", "a.png", "z/1.png", "m/2.png", "m/k/3.png"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    cfg = RunConfig(in_root=str(root), out_root=str(tmp_path / "out"), manifest="m", options=ShadeOptions())
    walk = iter_listings(cfg)
    first = next(walk)  # only the top folder has been read
    assert [f[2] for f in first.files] == ["a.png", "b.png"]
    (root / "z" / "0_added_later.png").write_bytes(b"x")  # appears: z was not listed yet
    rest = [f[2] for listing in walk for f in listing.files]
    assert rest == ["m/2.png", "m/k/3.png", "z/0_added_later.png", "z/1.png"]


def test_junk_names() -> None:
    assert is_junk(".DS_Store") and is_junk("Thumbs.db") and is_junk("desktop.ini")
    assert is_junk("._photo.png") and is_junk("THUMBS.DB")
    assert not is_junk("photo.png") and not is_junk("_a.png")


def test_worker_environment_caps_threads() -> None:
    env = thread_environment(3)
    assert env["NUMBA_NUM_THREADS"] == "3"
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "1"


def test_shade_file_reports_changed_and_vanished_inputs(tmp_path: Path) -> None:
    src = small_demo(tmp_path / "a.png", 24, 24)
    st = src.stat()
    res = shade_file(src, tmp_path / "o.png", expect=(st.st_size + 1, st.st_mtime_ns))
    assert res.status == "failed:changed" and not (tmp_path / "o.png").exists()
    res = shade_file(tmp_path / "gone.png", tmp_path / "o.png", expect=(1, 1))
    assert res.status == "failed:vanished"
    res = shade_file(src, tmp_path / "o.png", fmt="jpg", depth=16)
    assert res.status == "failed:unsupported_output" and not (tmp_path / "o.png").exists()


def test_manifest_reader_skips_torn_lines(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    m.write_text('{"path": "a", "status": "ok"}\n\n{"path": "b", "stat', encoding="utf-8")
    assert [r["path"] for r in read_manifest(m)] == ["a"]
    w = ManifestWriter(str(m))
    w.write(ManifestRecord(path="c"))
    w.close()
    assert [r["path"] for r in read_manifest(m)] == ["a", "c"]
    assert json.loads(m.read_text(encoding="utf-8").splitlines()[-1])["path"] == "c"


def test_a_second_writer_of_one_manifest_is_refused(tmp_path: Path) -> None:
    m = tmp_path / "m.jsonl"
    first = ManifestWriter(str(m))
    try:
        with pytest.raises(UsageError, match="in use by another fastshade run"):
            ManifestWriter(str(m))
    finally:
        first.close()
    ManifestWriter(str(m)).close()  # free again once the first writer closed


def test_local_pool_reports_a_task_lost_with_its_worker_as_a_crash(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The watchdog behind pebble: a task whose worker process is gone but whose future never
    resolves (pebble can lose one in a race) comes back as a crash, so the driver isolates it."""
    from concurrent.futures import Future

    from fastshade.run import pool as pool_module
    from fastshade.run.backend import PlannedTask
    from fastshade.run.tasks import FileTask

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs
    cfg = RunConfig(in_root=str(tmp_path), out_root=str(tmp_path / "out"), manifest="m", options=ShadeOptions())
    pool = pool_module.LocalPool(cfg)
    job = FileTask(id=7, in_path="a.png", out_path="o.png", options=cfg.options, sample=None, format="png",
                   depth=None, max_pixels=None, frames="first", exif="apply", timeout=None, hash=False, threads=1,
                   expect=(1, 1))
    task = PlannedTask(job, "a.png", "a.png", ManifestRecord(path="a.png"))
    lost: Future[Any] = Future()  # never resolved
    pool._futures[lost] = task  # type: ignore[index]
    pool._started[task.id] = pool_module._Start(gone.pid, time.time())
    monkeypatch.setattr(pool_module, "ORPHAN_GRACE", 0.0)
    assert pool.wait(0.01) == []  # its worker is seen gone; the grace period starts
    time.sleep(0.02)
    [out] = pool.wait(0.01)
    assert out.kind == "crash" and out.task is task and pool.in_flight() == 0
    pool.close()


def test_special_files_are_skipped_with_the_right_reason(tmp_path: Path) -> None:
    root, out = tmp_path / "in", tmp_path / "out"
    small_demo(root / "ok.png", 24, 24)
    (root / "dangling.png").symlink_to(root / "nothing-here.png")
    (root / "zero.png").symlink_to("/dev/zero")  # a device: never read, never "broken"
    os.mkfifo(root / "pipe.png")
    assert run_inprocess(root, out, "-j", "1") == 0
    status = {rel: norm(r["status"]) for rel, r in last_records(out / MANIFEST).items()}
    assert status == {"ok.png": "ok", "dangling.png": "skipped:broken_symlink",
                      "zero.png": "skipped:not_a_file", "pipe.png": "skipped:not_a_file"}
