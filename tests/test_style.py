"""House-style checks: one decorator owns the Numba options; kernels need no writable cache."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# fastshade/kernels and fastshade/cli.py are links to these
PACKAGES = [ROOT / "kernels", ROOT / "fastshade", ROOT / "cli.py"]


def _sources():
    for p in PACKAGES:
        yield from ([p] if p.is_file() else sorted(q for q in p.rglob("*.py") if not q.is_symlink()))


def test_no_adhoc_numba_options_outside_house_decorator():
    bad = []
    pattern = re.compile(
        r"\bfastmath\s*=|\b(cache|parallel)\s*=\s*(True|False)|numba\.n?jit\b|^\s*@n?jit\(|^\s*@njit\b"
        r"|from numba import .*\bn?jit\b"
    )
    for path in _sources():
        if path.name == "_jit.py":
            continue
        for no, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code):
                bad.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not bad, "Numba options must come from kernels/_jit.py only:\n" + "\n".join(bad)


def test_every_kernel_module_uses_the_house_decorator():
    for path in sorted((ROOT / "kernels").glob("*.py")):
        if path.name in ("__init__.py", "_jit.py"):
            continue
        text = path.read_text()
        assert re.search(r"from \._jit import (.*, )?jit(_parallel)?\b", text), path.name
        assert "@jit" in text, path.name


def test_private_kernels_have_no_python_wrapper_and_nothing_outside_their_module_calls_them():
    """``_name`` kernels compile without the CPython wrapper (a first run compiles less), so only
    kernels of their own module may call them; public kernels keep the wrapper."""
    from fastshade.kernels._jit import kernels_by_name

    kernels = kernels_by_name()
    private = {n.split(".")[1] for n in kernels if n.split(".")[1].startswith("_")}
    assert {"_scan_4", "_dia_rows", "_rotate_row"} <= private
    for name, dispatcher in kernels.items():
        wrapperless = bool(dispatcher.targetoptions.get("no_cpython_wrapper"))
        assert wrapperless == name.split(".")[1].startswith("_"), name
    outside = []
    others = [*sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "bench").rglob("*.py"))]
    for path in [*_sources(), *others]:
        if path.parent.name == "kernels" or path == Path(__file__).resolve():
            continue
        for no, line in enumerate(path.read_text().splitlines(), 1):
            outside += [f"{path.relative_to(ROOT)}:{no}: {f}" for f in private if re.search(rf"\b{f}\b", line)]
    assert not outside, "private kernels called outside kernels/:\n" + "\n".join(outside)


@pytest.mark.skipif(os.name != "posix", reason="uses a read-only HOME and a missing cache dir")
def test_kernels_import_and_run_without_a_writable_cache(tmp_path):
    # Leave Numba no cache locator at all, even when the tests run as root (where chmod does
    # not stop writes): in a copy of the package ``kernels/__pycache__`` is a regular *file*
    # (the in-tree locator cannot create its directory there), NUMBA_CACHE_DIR is unset and
    # HOME / XDG_CACHE_HOME lie under a regular file (the user-wide locator fails too).
    # Importing the kernels must then fall back to in-memory compilation (numba/numba#4908),
    # and the kernels must run.
    import shutil

    ro = tmp_path / "ro"
    shutil.copytree(ROOT / "kernels", ro / "kernels", ignore=shutil.ignore_patterns("__pycache__"))
    (ro / "kernels" / "__pycache__").write_text("not a directory\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory\n")
    code = (
        "import numpy as np, numba, kernels._jit as j\n"
        "assert j.CACHE_ENABLED\n"
        "import importlib, pkgutil, kernels\n"
        "mods = [m.name for m in pkgutil.iter_modules(kernels.__path__)]\n"
        "for m in mods: importlib.import_module('kernels.' + m)\n"
        "from kernels.fields import unit_vectors\n"
        "uy = np.empty(1); ux = np.empty(1)\n"
        "unit_vectors(np.array([3.0]), np.array([4.0]), 1e-8, uy, ux)\n"
        "assert np.allclose([uy[0], ux[0]], [0.6, 0.8]), (uy, ux)\n"
        "assert type(unit_vectors._cache).__name__ == 'NullCache', type(unit_vectors._cache)\n"
        "print('ok', len(mods))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ro), HOME=str(blocker / "home"),
               XDG_CACHE_HOME=str(blocker / "cache"), TMPDIR=str(blocker / "tmp"))
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("FASTSHADE_NO_CACHE", None)
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().startswith("ok")


@pytest.mark.skipif(os.name != "posix", reason="uses a private cache folder")
def test_parallel_kernels_share_the_house_cache_and_load_it_in_a_new_process(tmp_path):
    # The jit_parallel kernels go through the house cache like every other kernel: the same
    # folder fallbacks, and a cached load without Numba's whole-context refresh, which must
    # still link the threading layer's scheduler (a new process loads the cache with 2 threads).
    code = (
        "import numpy as np, scipy.sparse as sp, numba, sys\n"
        "import kernels._jit as j\n"
        "from kernels.blockops import csr_matmat\n"
        "twin = csr_matmat.parallel\n"
        "assert csr_matmat in j.KERNELS and type(csr_matmat._cache).__name__ == '_ThreadedKernelCache'\n"
        "assert twin not in j.KERNELS and type(twin._cache).__name__ == '_ParallelTwinCache'\n"
        "A = sp.random(3000, 400, density=0.01, random_state=1, format='csr')\n"
        "X = np.random.default_rng(2).standard_normal((400, 5)); Y = np.empty((3000, 5))\n"
        "Z = np.empty((3000, 5))\n"
        "csr_matmat(A.indptr, A.indices, A.data, X, Y)\n"
        "twin(A.indptr, A.indices, A.data, X, Z)\n"
        "np.testing.assert_allclose(Y, A @ X, rtol=1e-12, atol=1e-12)\n"
        "np.testing.assert_array_equal(Y, Z)\n"
        "hits = [k.stats.cache_hits for k in (csr_matmat, twin)]\n"
        "print(sys.argv[1], *('cached' if h else 'compiled' for h in hits))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(tmp_path / "cache"), NUMBA_NUM_THREADS="2")
    env.pop("FASTSHADE_NO_CACHE", None)
    seen = []
    for run in ("first", "second"):
        res = subprocess.run([sys.executable, "-c", code, run], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        seen.append(res.stdout.split())
    assert seen == [["first", "compiled", "compiled"], ["second", "cached", "cached"]]
    # the serial kernel and its twin keep their own files (one index key would load one for both)
    indexes = sorted(p.name for p in (tmp_path / "cache").rglob("*csr_matmat-*.nbi"))
    assert len(indexes) == 2 and indexes[1] == "parallel-" + indexes[0], indexes
