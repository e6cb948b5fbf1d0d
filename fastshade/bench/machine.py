"""The machine a benchmark ran on: CPU, cores, RAM, OS, library versions, load average."""

from __future__ import annotations

import os
import platform
from typing import Any


def machine_info() -> dict[str, Any]:
    """Return the CPU model, cores, RAM, OS and library versions of this machine."""
    from importlib import metadata

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    versions = {}
    for dist in ("numpy", "scipy", "numba", "llvmlite", "pyamg", "imageio", "pillow", "tqdm"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    from fastshade import __version__

    versions["fastshade"] = __version__
    return {
        "cpu": cpu or platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_bytes": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def load_average() -> list[float] | None:
    """Return the 1/5/15-minute load averages, rounded to 0.01 (``None`` where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None
