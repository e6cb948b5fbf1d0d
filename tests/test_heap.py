"""fastshade.heap.small_pages: an array written in parts kept off huge pages."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fastshade.heap import small_pages


def _vm_flags(address: int) -> list[str] | None:
    """The ``VmFlags`` of the mapping of ``/proc/self/smaps`` that holds ``address`` (Linux)."""
    current = None
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                current = lo <= address < hi
            elif head == "VmFlags:" and current:
                return line.split()[1:]
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="madvise(MADV_NOHUGEPAGE) is Linux's")
def test_small_pages_marks_the_array_no_huge_pages_and_keeps_it():
    array = np.empty(64 * 1024 * 1024 // 8)  # 64 MiB: NumPy advises huge pages for it
    assert small_pages(array) is array
    inner = -(-array.ctypes.data // 4096) * 4096 + 4096  # a whole page inside the array
    flags = _vm_flags(inner)
    assert flags is not None and "nh" in flags, flags  # no huge pages there
    array[::4096] = 1.0  # still an ordinary array
    assert array[::4096].sum() == array[::4096].size


@pytest.mark.parametrize("shape,dtype", [((0,), np.float64), ((3,), np.int32), ((5000,), np.float64)])
def test_small_pages_leaves_small_arrays_alone(shape, dtype):
    array = np.zeros(shape, dtype)
    assert small_pages(array) is array
    assert not array.any()
