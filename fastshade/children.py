"""Child processes that run ``python -m fastshade.X`` on this process's own fastshade package.

``python -m`` puts the working folder first on the child's module path, so a child started in a
folder holding another copy of the package (the source checkout a user installed from, where
the README's first command runs) would import that copy instead: for a cold run's compile helper
that meant compiling into the other copy's kernel cache, where the run never looks.  Children
start in the parent folder of the package this process imports, with that folder first on
``PYTHONPATH``.  Standard library only (the resident client imports it before anything heavy).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["end_process", "package_folder", "start_module"]


def package_folder() -> Path:
    """The folder of the fastshade package that this process imports."""
    return Path(__file__).resolve().parent


def start_module(module: str, args: list[str], env: dict[str, str] | None = None,
                 **popen: Any) -> subprocess.Popen:
    """``subprocess.Popen([python, "-m", module, *args])`` on this process's package: its parent
    folder is the child's working folder and first on its ``PYTHONPATH``, and a relative
    ``NUMBA_CACHE_DIR`` is made absolute (so the child uses this process's kernel cache).  ``env``
    (default: this process's environment) and the other ``Popen`` keywords are passed on.
    """
    parent = os.fspath(package_folder().parent)
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([parent, *filter(None, [env.get("PYTHONPATH")])])
    if env.get("NUMBA_CACHE_DIR"):  # the child's working folder differs: the same cache, absolute
        env["NUMBA_CACHE_DIR"] = os.path.abspath(env["NUMBA_CACHE_DIR"])
    return subprocess.Popen([sys.executable, "-m", module, *args], env=env, cwd=parent, **popen)


def end_process(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    """Terminate ``proc`` if it still runs and wait for it (killed after ``timeout`` seconds)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
