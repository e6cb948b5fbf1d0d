"""Children run this process's own fastshade package, whatever folder the command runs in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastshade import __version__
from fastshade.children import package_folder, start_module


def test_a_child_imports_this_package_not_a_copy_in_the_working_folder(tmp_path, monkeypatch):
    # `python -m` puts the working folder first on the module path: in a source checkout beside
    # an installed copy (where the README's first command runs) a plain child imported the
    # checkout, and a cold run's compile helper compiled into the checkout's cache.
    decoy = tmp_path / "fastshade"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy package was imported')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    plain = subprocess.run([sys.executable, "-m", "fastshade", "--version"], capture_output=True, text=True)
    assert "decoy" in plain.stderr  # the trap works
    child = start_module("fastshade", ["--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out.strip() == f"fastshade {__version__}"


def test_the_package_folder_is_the_imported_package():
    import fastshade

    assert package_folder() == Path(fastshade.__file__).resolve().parent



def test_a_child_uses_this_process_kernel_cache_when_its_folder_is_relative(tmp_path, monkeypatch):
    # The child starts in another folder: a relative NUMBA_CACHE_DIR would name another cache
    # (a cold run's helper compiled where the run never looks).
    (tmp_path / "print_cache_folder.py").write_text("import os\nprint(os.environ['NUMBA_CACHE_DIR'])\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("NUMBA_CACHE_DIR", "kernel-cache")
    child = start_module("print_cache_folder", [], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert out.strip() == str(tmp_path / "kernel-cache")
