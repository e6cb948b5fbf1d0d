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


# -- the page pool (fastshade.heap.page_pool, kernels/pages.py) --------------------------------

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the page pool is Linux's (mremap)")
MIB = 1 << 20


def _handler_name() -> str:
    """NumPy's data allocator in this context (``np.core.multiarray.get_handler_name``)."""
    try:
        from numpy._core.multiarray import get_handler_name
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import get_handler_name  # type: ignore[no-redef]
    return get_handler_name()


@linux_only
def test_page_pool_is_numpys_allocator_only_while_open():
    from fastshade.heap import page_pool

    outside = _handler_name()
    with page_pool(64 * MIB):
        assert _handler_name() == "fastshade_page_pool"
        with page_pool(64 * MIB):  # nested: the same pool
            assert _handler_name() == "fastshade_page_pool"
        assert _handler_name() == "fastshade_page_pool"
    assert _handler_name() == outside
    with page_pool(0):  # a zero cap opens nothing
        assert _handler_name() == outside


@linux_only
def test_page_pool_arrays_match_plain_numpy_over_reuse_resize_and_zeroing():
    from fastshade.heap import POOL_THRESHOLD, page_pool, pool_counts

    rng = np.random.default_rng(7)
    sizes = [1, 1000, POOL_THRESHOLD // 8 - 1, POOL_THRESHOLD // 8, 3 * MIB + 5, 9 * MIB, 40 * MIB // 8 + 3]
    before = pool_counts()
    with page_pool(256 * MIB):
        for _ in range(3):  # the second and third rounds run on the first round's freed pages
            made = []
            for size in sizes:
                expected = rng.standard_normal(size)
                array = np.empty(size)
                array[:] = expected
                made.append((array, expected))
                zeros = np.zeros(size)  # calloc: zero even on pages that held values just now
                assert not zeros.any()
                del zeros
            for array, expected in made:
                np.testing.assert_array_equal(array, expected)
            for array, expected in made[::2]:  # shrink and grow in place (realloc)
                keep = max(1, array.size // 3)
                array.resize(keep, refcheck=False)
                np.testing.assert_array_equal(array, expected[:keep])
                array.resize(array.size * 7 + 1, refcheck=False)
                np.testing.assert_array_equal(array[:keep], expected[:keep])
            del made, array
        counts = pool_counts()
        assert counts["reused"] > before["reused"]  # pages did go round
        assert counts["pooled"] <= 256 * MIB
        alive = np.ones(10 * MIB)  # outlives the pool
    assert pool_counts()["pooled"] == 0  # every pooled page returned on close
    assert alive.sum() == alive.size
    live = pool_counts()["live"]
    del alive  # freed after the close: unmapped, not pooled
    assert pool_counts()["live"] == live - 1 and pool_counts()["pooled"] == 0


@linux_only
def test_page_pool_holds_at_most_its_cap():
    from fastshade.heap import page_pool, pool_counts

    with page_pool(8 * MIB):
        blocks = [np.ones(6 * MIB // 8) for _ in range(4)]
        del blocks
        assert pool_counts()["pooled"] <= 8 * MIB
        assert pool_counts()["pooled"] > 0


@linux_only
def test_pool_up_to_peak_lets_the_pool_keep_pages_within_the_peak_until_the_close():
    from fastshade.heap import page_pool, pool_counts, pool_up_to_peak

    pool_up_to_peak()  # no pool open: nothing happens
    assert pool_counts()["budget"] == 0
    with page_pool(4 * MIB):
        peak = np.ones(96 * MIB // 8)  # the process's resident peak is at least this high now
        assert pool_counts()["live_bytes"] >= 96 * MIB
        del peak
        assert pool_counts()["live_bytes"] == 0
        assert 0 < pool_counts()["pooled"] <= 4 * MIB  # the cap alone
        pool_up_to_peak()
        budget = pool_counts()["budget"]
        assert budget >= 64 * MIB
        block = np.ones(64 * MIB // 8)
        assert pool_counts()["live_bytes"] >= 64 * MIB
        del block
        assert 4 * MIB < pool_counts()["pooled"] <= budget  # kept beyond the cap, within the budget
    assert pool_counts()["pooled"] == 0 and pool_counts()["budget"] == 0
    with page_pool(4 * MIB):  # a new pool: its cap alone again
        block = np.ones(64 * MIB // 8)
        del block
        assert pool_counts()["pooled"] <= 4 * MIB


@linux_only
def test_pool_up_to_peak_without_a_readable_resident_size_leaves_the_cap_alone(monkeypatch):
    from fastshade import heap

    assert heap._resident_bytes() > 0
    monkeypatch.setattr(heap, "_resident_bytes", lambda: None)
    with heap.page_pool(4 * MIB):
        heap.pool_up_to_peak()  # no error
        assert heap.pool_counts()["budget"] == 0


@linux_only
def test_arrays_of_the_pool_freed_after_the_pool_object_is_dropped_do_not_crash():
    """At the interpreter's exit the pool's cache may go before the arrays it made (a crash, exit
    139, before the pool was made immortal)."""
    import subprocess

    code = ("import gc, numpy as np\n"
            "from fastshade.heap import page_pool, _pool\n"
            "with page_pool(64 << 20):\n"
            "    keep = [np.ones(1 << 20) for _ in range(3)]\n"
            "    inside = np.ones(1 << 20)\n"
            "_pool.cache_clear(); gc.collect()\n"
            "del keep\n"
            "print('freed', float(inside.sum()))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"freed {float(1 << 20)}"
    assert "Error" not in done.stderr, done.stderr[-2000:]


@linux_only
def test_the_budget_counts_only_the_written_pages_of_live_blocks():
    from fastshade.heap import _pool, _resident_live, page_pool

    with page_pool(4 * MIB):
        block = np.empty(64 * MIB, dtype=np.uint8)  # mapped, not written: not resident
        assert _resident_live(_pool()) == 0
        block[:24 * MIB] = 1
        assert _resident_live(_pool()) == 24 * MIB
        del block


@linux_only
def test_page_pool_arrays_freed_and_made_on_other_threads():
    from concurrent.futures import ThreadPoolExecutor

    from fastshade.heap import page_pool

    with page_pool(128 * MIB):
        arrays = [np.full(2 * MIB, float(i)) for i in range(6)]

        def check_and_free(i: int) -> float:
            a = arrays[i]
            arrays[i] = None  # freed on this thread (the GIL held, as NumPy frees)
            b = np.full(2 * MIB, -1.0)  # made on this thread: NumPy's own allocator (a new context)
            return float(a.sum() + b.sum())

        with ThreadPoolExecutor(3) as pool:
            sums = list(pool.map(check_and_free, range(6)))
        again = np.full(2 * MIB, 5.0)  # on pages the threads freed
    assert sums == [2 * MIB * (i - 1.0) for i in range(6)]
    assert again.sum() == 10 * MIB


@linux_only
def test_a_big_image_shades_to_the_same_bytes_with_and_without_the_page_pool(monkeypatch):
    """The demo drawing at 1 Mpx (a pool image): the pool changes where pages come from, never a
    value (recycled pages hold old data: an array read before it is written would show it)."""
    from fastshade.demo import demo_image
    from fastshade.heap import pool_counts
    from fastshade.styles import runner

    image = demo_image(1024, 1024)
    assert image.shape[0] * image.shape[1] >= runner.POOL_MIN_PIXELS
    before = pool_counts()["reused"]
    pooled = runner.shade_arrays(image, None, {"style": "brush"}, analyses=False).image
    assert pool_counts()["reused"] > before  # the pool did give pages round
    monkeypatch.setattr(runner, "POOL_MIN_PIXELS", 1 << 40)
    plain = runner.shade_arrays(image, None, {"style": "brush"}, analyses=False).image
    assert pooled.dtype == plain.dtype and pooled.shape == plain.shape
    assert pooled.tobytes() == plain.tobytes()


def test_page_pool_that_cannot_be_made_leaves_numpys_allocator_alone(monkeypatch):
    """Where the pool cannot be made (here: its setup raises), opening it does nothing."""
    import fastshade.heap as heap

    def broken() -> None:
        raise OSError("no pool here")

    outside = _handler_name()
    monkeypatch.setattr(heap, "_Pool", broken)
    heap._pool.cache_clear()
    try:
        with heap.page_pool(64 * MIB):
            assert _handler_name() == outside
            assert np.ones(2 * MIB).sum() == 2 * MIB
    finally:
        heap._pool.cache_clear()

