"""Where diagnose writes: the output folder, and one diagnosis as ``report.json`` plus its figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fastshade.diagnose import figures
from fastshade.diagnose.results import Diagnosis
from fastshade.io import write_file

__all__ = ["make_output_folder", "write_outputs"]


def make_output_folder(outdir: Path) -> None:
    """Create ``-o`` (and parents) or fail with one line naming it."""
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = "is a file, not a folder" if outdir.is_file() else (exc.strerror or str(exc))
        raise ValueError(f"{outdir}: cannot use as the output folder: {what}") from None


def write_outputs(diag: Diagnosis, outdir: Path, *, prefix: str = "", title: str = "",
                  plots: bool = True) -> list[Path]:
    """Write ``report.json`` (and ``affinity.png``, ``strategies.png``) into ``outdir``; return the paths.

    The figures are drawn when ``plots`` and matplotlib is available (otherwise a one-line
    note on stderr); every name gets ``prefix``, the figures ``title``.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    rep = outdir / f"{prefix}report.json"
    write_file(rep, json.dumps(diag.report, indent=1, sort_keys=False, allow_nan=False), "JSON")
    written.append(rep)
    if plots:
        if not figures.have_matplotlib():
            print("fastshade: note: matplotlib is not installed, so only report.json was written "
                  "(pip install 'fastshade[plots]' for the figures)", file=sys.stderr)
        else:
            for name, fn in (("affinity.png", figures.plot_affinity),
                             ("strategies.png", figures.plot_strategies)):
                p = outdir / f"{prefix}{name}"
                fn(diag, p, title)
                written.append(p)
    return written
