"""A page pool for NumPy's big arrays: freed blocks keep their pages for the next big array.

A big image's stages free and allocate arrays of hundreds of megabytes over and over (about 35 GiB
of fresh pages for a 6.5 GB peak at 35 Mpx).  Each fresh page costs a page fault and, on a
virtual machine that hands freed memory back to its host, the host's fault too (0.1 s a GiB
reused at once, 1.3 s a GiB a few seconds after its release: 28 s of system time at 35 Mpx).
Here a freed block of at least ``state[THRESHOLD]`` bytes keeps its pages in the pool (up to
``state[POOL_CAP]`` bytes; the rest is unmapped), and a new big block takes pages from the pool by
``mremap`` (moved, not copied: no fault, no zeroing) before it maps fresh ones.  Pages move one by
one (no fragmentation); the cap bounds what the pool holds idle (a block made before a free and
written after it faults fresh pages while the pool holds the freed ones), and a budget
(``state[POOL_BUDGET]``, 0 for none) lets it hold more while its pages and the live blocks' stay
within it (:func:`fastshade.heap.pool_up_to_peak`: past a big image's basis, the process's peak).
:func:`drain_pool` returns the pool's pages.

The four C callbacks are NumPy's data allocator (NEP 49, ``PyDataMemAllocator``; installed by
:mod:`fastshade.heap`), with the pool's state array as their context.  They are called with the
GIL held (NumPy allocates and frees array data only so), which serialises them.  Blocks below the
threshold, and every block while the pool is not active, go to the C library's ``malloc``.

State (int64 array of :data:`STATE_SIZE`): see the ``ACTIVE`` .. ``POOL_CAP`` indices; then the
table of the live blocks' pieces (block address, piece address, piece length) from
:data:`PIECES` and the pool's segments (address, length; a stack, the last freed on top) from
:data:`SEGMENTS`.  A block is the pieces moved into it from the pool and its fresh rest; each
piece and each segment lies in one kernel mapping (``mremap`` moves and resizes one mapping at a
time).  Every pool block is 2 MiB aligned and a whole number of 2 MiB (huge) pages long, so moved
huge pages stay huge.  Linux only (``mremap``).
"""

from __future__ import annotations

import numpy as np
from numba import carray, types

from ._jit import c_callback, jit

ACTIVE = 0  # 1: freed big blocks go to the pool; 0: no pool blocks are made, freed ones unmapped
THRESHOLD = 1  # bytes from which an allocation is a pool block
PIECE_COUNT = 2  # number of live pieces (in the table)
SEGMENT_COUNT = 3  # number of pool segments
FRESH_BYTES = 4  # bytes of pool blocks mapped fresh (cumulative)
REUSED_BYTES = 5  # bytes of pool blocks given pages from the pool (cumulative)
HUGE_ADVICE = 6  # 1: fresh mappings are advised huge pages (as NumPy's own allocator does)
POOLED_BYTES = 7  # bytes in the pool now
POOL_CAP = 8  # the pool holds at most this many bytes (the rest of a freed block is unmapped)
LIVE_BLOCKS = 9  # number of live pool blocks
LIVE_BYTES = 10  # bytes of the live pool blocks
POOL_BUDGET = 11  # the pool may also hold up to this many bytes less the live blocks' (0: the cap alone)
MAX_PIECES = 16384
MAX_SEGMENTS = 8192
PIECES = 16
SEGMENTS = PIECES + 3 * MAX_PIECES
STATE_SIZE = SEGMENTS + 2 * MAX_SEGMENTS
HUGE_PAGE = 1 << 21

_PROT_RW = 3
_MAP_ANON = 0x22 | 0x4000  # MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
_MREMAP_MAYMOVE = 1
_MREMAP_FIXED = 2
_MADV_HUGEPAGE = 14

_i64 = types.int64
_i32 = types.int32
_malloc = types.ExternalFunction("malloc", _i64(_i64))
_calloc = types.ExternalFunction("calloc", _i64(_i64, _i64))
_realloc = types.ExternalFunction("realloc", _i64(_i64, _i64))
_free = types.ExternalFunction("free", types.void(_i64))
_mmap = types.ExternalFunction("mmap", _i64(_i64, _i64, _i32, _i32, _i32, _i64))
_munmap = types.ExternalFunction("munmap", _i32(_i64, _i64))
_mremap = types.ExternalFunction("mremap", _i64(_i64, _i64, _i64, _i32, _i64))
_madvise = types.ExternalFunction("madvise", _i32(_i64, _i64, _i32))
_memset = types.ExternalFunction("memset", _i64(_i64, _i32, _i64))
_memcpy = types.ExternalFunction("memcpy", _i64(_i64, _i64, _i64))


@jit
def _aligned_span(length):
    """A fresh private mapping of ``length`` bytes (a multiple of 2 MiB) at a 2 MiB boundary;
    0 when the system has no room.
    """
    raw = _mmap(0, length + HUGE_PAGE, _PROT_RW, _MAP_ANON, -1, 0)
    if raw == -1:
        return 0
    start = (raw + HUGE_PAGE - 1) // HUGE_PAGE * HUGE_PAGE
    if start > raw:
        _munmap(raw, start - raw)
    if raw + HUGE_PAGE > start:
        _munmap(start + length, raw + HUGE_PAGE - start)
    return start


@jit
def _to_pool(state, start, length):
    """Put the pages of ``[start, start + length)`` (in one mapping), leaving a live block, in the
    pool, as far as its cap, its budget and its table allow; unmap the rest.
    """
    state[LIVE_BYTES] -= length
    room = max(state[POOL_CAP], state[POOL_BUDGET] - state[LIVE_BYTES]) - state[POOLED_BYTES]
    room -= room % HUGE_PAGE
    if state[ACTIVE] == 0 or state[SEGMENT_COUNT] >= MAX_SEGMENTS or room <= 0:
        _munmap(start, length)
        return
    if room < length:
        _munmap(start + room, length - room)
        length = room
    k = SEGMENTS + 2 * state[SEGMENT_COUNT]
    state[k] = start
    state[k + 1] = length
    state[SEGMENT_COUNT] += 1
    state[POOLED_BYTES] += length


@jit
def _add_piece(state, block, start, length):
    k = PIECES + 3 * state[PIECE_COUNT]
    state[k] = block
    state[k + 1] = start
    state[k + 2] = length
    state[PIECE_COUNT] += 1


@jit
def _drop_piece(state, j):
    """Remove entry ``j`` of the piece table (the last entry takes its place)."""
    last = state[PIECE_COUNT] - 1
    for f in range(3):
        state[PIECES + 3 * j + f] = state[PIECES + 3 * last + f]
    state[PIECE_COUNT] = last


@jit
def _new_block(state, size):
    """A pool block of at least ``size`` bytes, its first pages from the pool; returns
    ``(address, bytes taken from the pool)``, ``(0, 0)`` when none can be made.
    """
    length = (size + HUGE_PAGE - 1) // HUGE_PAGE * HUGE_PAGE
    if state[PIECE_COUNT] + state[SEGMENT_COUNT] + 1 > MAX_PIECES:
        return 0, 0
    start = _aligned_span(length)
    if start == 0:
        return 0, 0
    if state[HUGE_ADVICE] != 0:
        _madvise(start, length, _MADV_HUGEPAGE)
    taken = 0
    while taken < length and state[SEGMENT_COUNT] > 0:
        k = SEGMENTS + 2 * (state[SEGMENT_COUNT] - 1)
        seg, seg_length = state[k], state[k + 1]
        part = min(seg_length, length - taken)
        if _mremap(seg, part, part, _MREMAP_MAYMOVE | _MREMAP_FIXED, start + taken) == -1:
            break
        _add_piece(state, start, start + taken, part)
        taken += part
        state[POOLED_BYTES] -= part
        if part == seg_length:
            state[SEGMENT_COUNT] -= 1
        else:
            state[k] = seg + part
            state[k + 1] = seg_length - part
    if taken < length:
        _add_piece(state, start, start + taken, length - taken)
    state[REUSED_BYTES] += taken
    state[FRESH_BYTES] += length - taken
    state[LIVE_BLOCKS] += 1
    state[LIVE_BYTES] += length
    return start, taken


@jit
def _block_length(state, address):
    """The length of the live pool block at ``address``; 0 when it is not one."""
    if address == 0 or address % HUGE_PAGE != 0:
        return 0
    total = 0
    for j in range(state[PIECE_COUNT]):
        if state[PIECES + 3 * j] == address:
            total += state[PIECES + 3 * j + 2]
    return total


@jit
def _release_from(state, address, cut):
    """Give the pages of the block at ``address`` from byte ``cut`` on to the pool (pieces past it
    whole, the piece across it split); ``cut == 0`` frees the whole block.
    """
    j = 0
    while j < state[PIECE_COUNT]:
        k = PIECES + 3 * j
        if state[k] != address:
            j += 1
            continue
        start, length = state[k + 1], state[k + 2]
        if start >= address + cut:
            _drop_piece(state, j)
            _to_pool(state, start, length)
            continue
        end = address + cut
        if start + length > end:
            state[k + 2] = end - start
            _to_pool(state, end, start + length - end)
        j += 1
    if cut == 0:
        state[LIVE_BLOCKS] -= 1


@c_callback(_i64(types.voidptr, _i64))
def pool_malloc(ctx, size):
    """NumPy's ``malloc(ctx, size)``: a pool block for a big size while the pool is active."""
    state = carray(ctx, (STATE_SIZE,), np.int64)
    if state[ACTIVE] != 0 and size >= state[THRESHOLD]:
        start, _ = _new_block(state, size)
        if start != 0:
            return start
    return _malloc(size)


@c_callback(_i64(types.voidptr, _i64, _i64))
def pool_calloc(ctx, count, itemsize):
    """NumPy's ``calloc(ctx, count, itemsize)``: pages from the pool are zeroed, fresh ones are."""
    state = carray(ctx, (STATE_SIZE,), np.int64)
    size = count * itemsize
    if state[ACTIVE] != 0 and size >= state[THRESHOLD]:
        start, taken = _new_block(state, size)
        if start != 0:
            if taken > 0:
                _memset(start, 0, min(taken, size))
            return start
    return _calloc(count, itemsize)


@c_callback(_i64(types.voidptr, _i64, _i64))
def pool_realloc(ctx, address, size):
    """NumPy's ``realloc(ctx, ptr, size)``: a pool block shrinks in place (its tail's pages to the
    pool) or moves to a new block (copied); other memory by ``realloc``.
    """
    state = carray(ctx, (STATE_SIZE,), np.int64)
    length = _block_length(state, address)
    if length == 0:
        return _realloc(address, size)
    wanted = max(HUGE_PAGE, (size + HUGE_PAGE - 1) // HUGE_PAGE * HUGE_PAGE)
    if wanted <= length:
        if wanted < length:
            _release_from(state, address, wanted)
        return address
    moved, _ = _new_block(state, size)
    if moved == 0:
        moved = _malloc(size)
        if moved == 0:
            return 0
    _memcpy(moved, address, length)
    _release_from(state, address, 0)
    return moved


@c_callback(types.void(types.voidptr, _i64, _i64))
def pool_free(ctx, address, size):
    """NumPy's ``free(ctx, ptr, size)``: a pool block's pages to the pool (unmapped when the pool
    is not active); other memory to ``free``.
    """
    state = carray(ctx, (STATE_SIZE,), np.int64)
    if _block_length(state, address) == 0:
        _free(address)
        return
    _release_from(state, address, 0)


@jit
def drain_pool(state):
    """Unmap every segment of the pool (its pages go back to the system); returns the bytes."""
    total = 0
    for j in range(state[SEGMENT_COUNT]):
        _munmap(state[SEGMENTS + 2 * j], state[SEGMENTS + 2 * j + 1])
        total += state[SEGMENTS + 2 * j + 1]
    state[SEGMENT_COUNT] = 0
    state[POOLED_BYTES] = 0
    return total
