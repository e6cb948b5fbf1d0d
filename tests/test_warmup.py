"""The first run: the compile notice on an empty cache, the cache folder fallbacks, `fastshade warmup`.

Real processes and real folders: each test starts `python -m fastshade` (or a short script)
with its own empty ``NUMBA_CACHE_DIR`` or a copy of the package in a folder it cannot write.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTICE = "fastshade: compiling kernels once, about"


def _env(**changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FASTSHADE_NO_CACHE", None)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _fastshade(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastshade", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _small_image(path: Path) -> Path:
    from fastshade.demo import demo_image

    iio.imwrite(path, (demo_image(96, 96) * 255).round().astype(np.uint8))
    return path


@pytest.mark.parametrize("basis", ["lobpcg", "krylov"])
def test_empty_cache_says_it_compiles_once_then_not_again(tmp_path, basis):
    src = _small_image(tmp_path / "in.png")
    env = _env(NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    first = _fastshade(["shade", str(src), "-o", str(tmp_path / "a.png"), "--basis", basis], env)
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert sum(NOTICE in line for line in lines) == 1, first.stderr
    assert lines[0].startswith(NOTICE) and lines[0].endswith(" s"), lines[0]
    assert iio.imread(tmp_path / "a.png").shape == (96, 96, 3)
    assert any((tmp_path / "cache").rglob("*.nbi")), "nothing was cached"
    # every kernel the notice checks was compiled and cached by this basis's run: no notice again
    second = _fastshade(["shade", str(src), "-o", str(tmp_path / "b.png"), "--basis", basis], env)
    assert second.returncode == 0, second.stderr
    assert "compiling" not in second.stderr, second.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def _package_copy(tmp_path: Path) -> Path:
    """A copy of the package (links resolved) whose kernels/__pycache__ cannot be created:
    a regular file stands in its place (chmod does not stop root, who may run the tests)."""
    dest = tmp_path / "site"
    shutil.copytree(ROOT / "fastshade", dest / "fastshade", ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "fastshade" / "kernels" / "__pycache__").write_text("not a directory\n")
    return dest


_PROBE = (
    "from fastshade.warmup import cache_folder, compile_notice\n"
    "from fastshade.kernels.fields import unit_vectors\n"
    "import numpy as np\n"
    "uy, ux = np.empty(1), np.empty(1)\n"
    "unit_vectors(np.array([3.0]), np.array([4.0]), 1e-8, uy, ux)\n"
    "assert np.allclose([uy[0], ux[0]], [0.6, 0.8])\n"
    "print(cache_folder())\n"
    "print(compile_notice())\n"
    "print(compile_notice())\n"
)


@pytest.mark.skipif(os.name != "posix", reason="uses regular files as unwritable folders")
def test_unwritable_install_folder_falls_back_to_the_user_cache(tmp_path):
    site = _package_copy(tmp_path)
    xdg = tmp_path / "xdg"
    env = _env(PYTHONPATH=str(site), NUMBA_CACHE_DIR=None, XDG_CACHE_HOME=str(xdg))
    res = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    folder, notice, again = res.stdout.splitlines()
    assert Path(folder).parent == xdg / "fastshade" / "numba", folder
    assert notice.startswith(NOTICE), notice
    assert again == "None"  # said once
    cached = sorted(p.name for p in Path(folder).glob("fields.unit_vectors-*.nbi"))
    assert cached, sorted(p.name for p in Path(folder).iterdir())


@pytest.mark.skipif(os.name != "posix", reason="uses regular files as unwritable folders")
def test_no_writable_folder_compiles_in_memory_and_says_so_once(tmp_path):
    site = _package_copy(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory\n")
    env = _env(PYTHONPATH=str(site), NUMBA_CACHE_DIR=None, HOME=str(blocker / "home"),
               XDG_CACHE_HOME=str(blocker / "cache"), TMPDIR=str(blocker / "tmp"))
    res = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    folder, notice, again = res.stdout.splitlines()
    assert folder == "None"
    assert "no writable cache folder" in notice and "NUMBA_CACHE_DIR" in notice, notice
    assert str(blocker / "cache") in notice  # names the folders it tried
    assert again == "None"


@pytest.mark.skipif(os.name != "posix", reason="uses regular files as unwritable folders")
def test_private_temp_folder_is_the_last_resort(tmp_path):
    site = _package_copy(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = _env(PYTHONPATH=str(site), NUMBA_CACHE_DIR=None, HOME=str(blocker / "home"),
               XDG_CACHE_HOME=str(blocker / "cache"), TMPDIR=str(tmp))
    res = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    folder = Path(res.stdout.splitlines()[0])
    private = tmp / f"fastshade-numba-{os.getuid()}"
    assert folder.parent == private
    assert private.stat().st_mode & 0o777 == 0o700


def test_warmup_compiles_what_a_run_needs(tmp_path):
    env = _env(NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    res = _fastshade(["warmup", "--path", "default", "--report", "3"], env)
    assert res.returncode == 0, res.stderr
    assert "cold cache" in res.stderr and "kernel versions compiled" in res.stderr
    rows = [line for line in res.stdout.splitlines() if line.startswith("  ")]
    assert len(rows) == 3 and all(" s  " in r for r in rows), res.stdout
    src = _small_image(tmp_path / "in.png")
    after = _fastshade(["shade", str(src), "-o", str(tmp_path / "o.png")], env)
    assert after.returncode == 0 and "compiling" not in after.stderr, after.stderr


def test_unknown_warmup_path_is_a_usage_error(tmp_path):
    res = _fastshade(["warmup", "--path", "nope"], _env(NUMBA_CACHE_DIR=str(tmp_path)))
    assert res.returncode == 2 and "invalid choice" in res.stderr


def test_background_half_compiles_what_the_run_needs_after_its_laplacian(tmp_path):
    # For a style the shared plan does not cover (v12), the second process of a cold run solves
    # a small basis on the SciPy Laplacian and shades with a random basis; the run must then
    # find every kernel cached for its own argument types except the Laplacian assembly's
    # (which it compiles itself meanwhile).
    env = _env(NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    bg = subprocess.run([sys.executable, "-m", "fastshade.warmup", '{"style": "v12"}'], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=600)
    assert bg.returncode == 0, bg.stderr[-2000:]
    code = (
        "from fastshade.warmup import recording\n"
        "from fastshade.demo import demo_image\n"
        "from fastshade.options import ShadeOptions\n"
        "from fastshade.styles import shade_arrays\n"
        "with recording() as log:\n"
        "    shade_arrays(demo_image(128, 128), None, ShadeOptions(style='v12'))\n"
        "print(' '.join(sorted(name for name, _, _ in log.largest())))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    compiled = res.stdout.split()
    assert compiled, "the Laplacian assembly should be left to compile"
    assert all(name.startswith("laplacian.") for name in compiled), compiled


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: no run picks a parallel twin")
def test_warmup_parallel_path_compiles_the_parallel_twins(tmp_path):
    env = _env(NUMBA_CACHE_DIR=str(tmp_path / "cache"), NUMBA_NUM_THREADS="2")
    res = _fastshade(["warmup", "--path", "parallel", "--report", "100"], env)
    assert res.returncode == 0, res.stderr
    twins = {line.split()[-1] for line in res.stdout.splitlines() if line.rstrip().endswith(".parallel")}
    wanted = {"laplacian.assemble_laplacian_csr.parallel", "fields.heat_diffusion_dia.parallel",
              "blockops.csr_matmat.parallel", "blockops.rotate_residual.parallel"}
    assert wanted <= twins, res.stdout
    assert len(list((tmp_path / "cache").rglob("parallel-*.nbi"))) >= len(wanted)


_BIG_RUN = (
    "import sys\n"
    "from fastshade.warmup import recording\n"
    "from fastshade.demo import demo_image\n"
    "from fastshade.styles import shade_arrays\n"
    "with recording() as log:\n"
    "    shade_arrays(demo_image(1024, 1024))  # 2^20 px: a big image's levels\n"
    "print(' '.join(sorted(name for name, _, _ in log.largest())) or 'nothing')\n"
)


def test_warmup_big_path_compiles_what_a_big_image_needs(tmp_path):
    """After the `big image` warm-up path a 2^20-pixel drawing compiles nothing on one thread: its
    lazy level 0, P^T A P without A P, banded pixel-level start and coarse LOBPCG were compiled on
    the small warm-up image (the `parallel` path runs the same paths on the twins; about 40 s more
    of CI to check, left to the README's measurement)."""
    env = _env(NUMBA_CACHE_DIR=str(tmp_path / "cache"), NUMBA_NUM_THREADS="1")
    res = _fastshade(["warmup", "--path", "big image"], env)
    assert res.returncode == 0, res.stderr
    run = subprocess.run([sys.executable, "-c", _BIG_RUN], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["nothing"], run.stdout


def test_notice_counts_the_parallel_twins_of_a_big_image_on_several_threads(tmp_path, monkeypatch):
    from argparse import Namespace

    import fastshade.shade_cli as shade_cli
    import fastshade.warmup as warmup

    monkeypatch.setattr(warmup, "_NOTICE_GIVEN", False)
    assert warmup.compile_notice([], cold_twins=[]) is None
    line = warmup.compile_notice([], cold_twins=list(warmup.PARALLEL_KERNELS))
    assert line is not None and line.startswith("fastshade: compiling kernels")  # (this process's cache)
    assert int(line.split("about ")[1].split()[0]) == round(warmup.PARALLEL_COLD_SECONDS)
    assert warmup.compile_notice([], cold_twins=list(warmup.PARALLEL_KERNELS)) is None  # once
    # which targets run the twins: a header of >= 1 Mpx (read without decoding), nothing else
    big, small, broken = tmp_path / "big.png", tmp_path / "small.png", tmp_path / "broken.png"
    iio.imwrite(big, np.full((1024, 1024), 255, dtype=np.uint8))
    iio.imwrite(small, np.full((1023, 1024), 255, dtype=np.uint8))
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    runs = {p.name: shade_cli._runs_parallel_twins(Namespace(target=str(p))) for p in (big, small, broken)}
    assert runs == {"big.png": True, "small.png": False, "broken.png": False}
    assert not shade_cli._runs_parallel_twins(Namespace(target=None))  # --demo (512 x 512)


_OPTIONS_PROBE = '''
import sys
import numpy as np
from numba import prange
from fastshade.kernels._jit import _BASE_OPTIONS, _house_dispatcher, is_cached


def total(x):
    s = 0.0
    for i in prange(x.size):
        s += x[i]
    return s


kernel = _house_dispatcher(total, dict(_BASE_OPTIONS, parallel=sys.argv[1] == "parallel"), listed=False)
cached = is_cached(kernel)
assert kernel(np.ones(10)) == 10.0
print(cached, sum(kernel.stats.cache_hits.values()), sum(kernel.stats.cache_misses.values()))
'''


def test_code_compiled_with_other_options_is_not_loaded(tmp_path):
    """Numba's cache key omits the compile options: the house key holds them, in the same form in
    every process (set-valued options sorted), so a serial kernel never loads the parallel code
    of the same source, nor the other way round, and each loads its own.
    """
    (tmp_path / "probe.py").write_text(_OPTIONS_PROBE)
    env = _env(NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT), PYTHONHASHSEED="random")

    def run(mode: str) -> str:
        res = subprocess.run([sys.executable, str(tmp_path / "probe.py"), mode], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr
        return res.stdout.split()

    assert run("parallel") == ["False", "0", "1"]  # compiled, saved
    assert run("serial") == ["False", "0", "1"]  # the same source: not the parallel code
    assert run("serial") == ["True", "1", "0"]  # its own, in another process
    assert run("parallel") == ["True", "1", "0"]
