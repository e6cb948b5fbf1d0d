"""House-style checks: one decorator owns the Numba options; kernels need no writable cache."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [ROOT / "kernels", ROOT / "fastshade", ROOT / "cli.py"]


def _sources():
    for p in PACKAGES:
        yield from ([p] if p.is_file() else sorted(p.rglob("*.py")))


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
        assert "from kernels._jit import jit" in text, path.name
        assert "@jit" in text, path.name


@pytest.mark.skipif(os.name != "posix", reason="uses a read-only HOME and a missing cache dir")
def test_kernels_import_and_run_without_a_writable_cache(tmp_path):
    # Copy the kernels package into a read-only directory so no __pycache__ can be written,
    # point NUMBA_CACHE_DIR nowhere writable, and call a kernel.
    import shutil

    ro = tmp_path / "ro"
    shutil.copytree(ROOT / "kernels", ro / "kernels", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "import numpy as np, kernels._jit as j\n"
        "from kernels._jit import jit\n"
        "assert j.CACHE_ENABLED\n"
        "@jit\n"
        "def add1(x, out):\n"
        "    for i in range(x.size):\n"
        "        out[i] = x[i] + 1.0\n"
        "x = np.arange(3.0); o = np.empty(3); add1(x, o); assert o.tolist() == [1.0, 2.0, 3.0]\n"
        "import importlib, pkgutil, kernels\n"
        "mods = [m.name for m in pkgutil.iter_modules(kernels.__path__)]\n"
        "for m in mods: importlib.import_module('kernels.' + m)\n"
        "print('ok', len(mods))\n"
    )
    for d in (ro / "kernels", ro):
        d.chmod(0o555)
    env = dict(os.environ, PYTHONPATH=str(ro), NUMBA_CACHE_DIR="", HOME=str(ro))
    env.pop("FASTSHADE_NO_CACHE", None)
    try:
        # Run as a script from the read-only directory (the function lives in __main__,
        # which has no cache locator at all; the module-level kernels dir is read-only).
        res = subprocess.run([sys.executable, "-c", code], cwd=ro, env=env,
                             capture_output=True, text=True, timeout=300)
    finally:
        for d in (ro, ro / "kernels"):
            d.chmod(0o755)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().startswith("ok")
