"""Memory model of shading one image, and the default pixel limit derived from it.

The model counts the stored entries of the Laplacian the options choose (5 per pixel on the
4-connected grid, 9 on the 8-connected one, 113 on the multi-radius ``dither`` operator) and
the vectors of the basis solver, and stays an upper bound of the measured peak
(``tests/test_memory_model.py`` measures real shades in fresh processes, ``tests/test_big_scan.py``
A4 at 300 dpi).  Measured peak increase over the RSS after import, bytes per pixel (demo
drawing, default style ``brush`` unless named, one thread; the small sizes carry ~45 MiB that
do not grow with the image):

=====================  =========  =========  ==========  ===========================
operator               256²       512²       1024²       model (per pixel)
=====================  =========  =========  ==========  ===========================
grid 4                 720        629        447         1164
grid 4, style v12      927        633        441         1164
grid 4, tol 1e-5       814        992        963         1164
grid 8                 921        854        469         1404
dither                 2422       2636       2285        3808
grid 4, krylov         317        369        479         748
=====================  =========  =========  ==========  ===========================

(grid 8, dither and krylov measured before LOBPCG's last block savings; tol 1e-5 was 1171, 1330
and 1256 B/px before them.)

The peak is in the basis stage: the AMG setup's level-0 Galerkin products (``A P`` with its mass
data, then ``P^T (A P)``: ~4.3 copies of the operator with ``L``), the pixel level's start block
and its product with ``L`` (2 blocks of ``k + 4`` columns) and, when the pixel level iterates,
LOBPCG's blocks (4 alive with the 2 of its V-cycle, 6 at the Rayleigh-Ritz step) and the
level-0 ``A``, ``P`` and ``P^T`` formed again.  Whether the pixel level iterates cannot be told
from the size: it stops at its start when the prolongated start's residuals are within ``tol``
(the 8-bit demo drawing from 512² to 8.7 Mpx: ~390 B/px), and iterates when they are not (two
shared images at 256², 8-connected toof at 512²: once), at a tighter ``tol``, or under the
enforced subspace contract of a direct ``spectral_basis`` call (demo carrier: 9 iterations at
2048², 6 at A4; the Laplacian and the basis alone 1172 and 1164 B/px before LOBPCG's last block
savings, 893 at 1536² after; 52 and 82 s of CPU), so the model counts an iterating pixel level
at every size.

Big scans, default options, one ``fastshade shade`` job, 1 thread (``fastshade bench --scan``,
peak over the RSS after import and a warm-up): 512² 624 B/px, 2048² 389, A4 at 300 dpi
(2480 x 3508, 8.7 Mpx) 388 on 1 and on 2 threads (``brush``; ``v12`` ~15 less); 868, 560 and
578 before the job, the style runner and the pass shared one RGB image, brush formed its
diagonal storage after the basis,
the AMG setup dropped level 0's ``A``, inverse diagonal and mass data once its products were
formed (the mass as uint8, ``P^T`` after ``A P``), the cascade each solved coarse level's
``L``, ``B`` and result and a big pixel level its ``P`` after the start, and LOBPCG each block
as soon as it was read no more.  What is left at the A4 peak (~390 B/px, at the setup's level-0
products, level 1's LOBPCG iteration and the pixel level's start alike): the Laplacian (64),
the pixel start block and its product with ``L`` (96 each), the coarse levels (~45), the RGB
image (24) and the carrier, paper model and span planes (~50).  A4 at 600 dpi (34.8 Mpx): 335,
then 307 once level 0 stopped forming the mass product ``B P`` (``P^T P`` summed straight onto
``P^T A P``'s pattern), which had been the peak there; 246 (A4 at 300 dpi ~300) once a big
pixel level summed its start over bands of rows instead of forming ``L X0``, level 0's ``L + s I``
was read through ``L``, a big level 0 dropped ``P`` (kept its aggregates, applied ``P`` row by
row at the pixel level's start) and its constant vector through the coarse levels (7 December;
the same output bytes); 190 on 1 thread and 192 on 2 (A4 at 300 dpi 233-236, 2048² 248) once
brush's basis returned the thicken budget's energy alone, ``L`` was emptied while the coarse
levels were set up and solved, ``P^T``'s values were read from ``P``, and the coarse levels were
dropped before a pixel level without a contract (the sixth session; the same bytes).  None of
that lowers an iterating pixel level's blocks.  By style and operator at A4 at 300 dpi (the
seventh session, ``bench --scan --style ...``): v12 238 (280 before the job's v12 read the budget's
energy alone), v6 230, final 180, 8-connected 276 (v12 289, v6 310), 32 basis vectors 455
(v12 460), cross mode with a sample of the same size 257 (v12 355; the sample is not counted);
at 34.8 Mpx v12 237, v6 229, final 180, 8-connected 273.  A basis-column gating field measured
687 (its contract keeps the coarse levels and checks the start with a level-0 V-cycle): it is
counted as iterating at every size (:func:`_iteration_checked`).

Whether the pixel level iterates cannot be told from the size, and an iterating one needs about
three times the start's memory, so the model counts the iteration for the first
:data:`ITERATION_RESERVE_PIXELS` pixels (an upper bound there, as measured above) and the start
beyond them (468 B/px with the default options, against the 190-236 measured from A4 at 300 dpi
to 34.8 Mpx): counted at every size, A4 at 600 dpi needed 37.9 GiB by the model and the default
limit refused it on a 24 GB machine.  A job with that default limit checks the memory available
before a bigger pixel level iterates (:func:`check_pixel_iteration`) and stops with one line
when it would not fit.
"""

from __future__ import annotations

import operator
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Final, Literal

from fastshade.options import ShadeOptions

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ITERATION_RESERVE_PIXELS",
    "MEMORY_AVAILABLE_ENV",
    "MaxPixels",
    "MemoryBudgetError",
    "available_memory_bytes",
    "check_pixel_iteration",
    "iteration_lock_path",
    "pixel_iteration_guard",
    "default_max_pixels",
    "estimate_bytes",
    "format_bytes",
    "operator_entries",
    "pixel_limit",
    "size_refusal",
]

DITHER_REACH = 6
"""Largest radius of the dither operator (``max(fastshade.pipeline.graph.DEFAULT_RADII)``)."""

_CSR_BYTES_PER_ENTRY = 12  # float64 value + int32 column index
_OPERATOR_COPIES = 5  # the CSR Laplacian + the level-0 setup (P, P^T, A P and its mass data) and the
# pixel level's V-cycles (A and P^T formed again): measured ~4.3 copies at the setup's peak
_START_OPERATOR_COPIES = 3  # the same without an iterating pixel level (its V-cycles' A and P^T)
_WIDE_OPERATOR_COPIES = 2  # dither: a guided hierarchy (L is level 0's A, tentative P, sparse level 1)
_FILTER_BYTES_PER_UPPER_ENTRY = 4  # dither heat filter: float32 upper diagonals (+ a float64 diagonal)
_BASIS_GUARD = 4  # the LOBPCG block has k + 4 columns
_BASIS_BLOCKS = 8  # (n, k + 4) float64 blocks alive at once when the pixel level iterates: 4 in
# LOBPCG and 2 in its V-cycle (or 6 at the Rayleigh-Ritz step), the cascade's start block, 1 spare
_START_BLOCKS = 2  # a pixel level that stops at its start: the start block and one spare
_KRYLOV_EXTRA = 8  # Lanczos: krylov_steps + 2 k + 8 vectors
_WORKING_PLANES = 12  # float64 images alive at once in the pipeline (RGB = 3)

ITERATION_RESERVE_PIXELS: Final = 1 << 20
"""Pixels of an iterating pixel level the model counts (grid operator, LOBPCG basis): up to this
size the estimate is an iterating solve's; beyond it, the start's plus the iteration of this many
pixels (0.7 GB with the default options), and a job with the default limit checks the memory
available before such a pixel level iterates (:func:`check_pixel_iteration`).  Equal to the rows
from which LOBPCG sums a pixel level's start over bands (``fastshade.spectral.lobpcg.BANDED_ROWS``)."""

def operator_entries(options: ShadeOptions | None = None) -> int:
    """Stored entries per pixel of the Laplacian the options choose (interior pixels).

    The diagonal plus every neighbour: 5 (4-connected grid), 9 (8-connected grid), or
    ``1 + #{(dy, dx) != 0 : dy^2 + dx^2 <= 6^2}`` = 113 (``dither``).
    """
    opts = options if options is not None else ShadeOptions()
    if opts.laplacian == "dither":
        r = DITHER_REACH
        return sum(1 for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= r * r)
    return 1 + opts.connectivity


def _iteration_checked(opts: ShadeOptions) -> bool:
    """Whether the model counts an iterating pixel level only up to :data:`ITERATION_RESERVE_PIXELS`
    (the grid operator and the LOBPCG basis; ``dither``, ``krylov`` and a basis-column gating
    field count it at every size: the column field's subspace contract keeps the coarse levels and
    checks the start, 687 B/px measured at A4 300 dpi with ``--style v12 --field column``, against
    233-280 for the heat field's styles).
    """
    return opts.basis == "lobpcg" and opts.laplacian == "grid" and opts.field != "column"


def _bytes_per_pixel(opts: ShadeOptions, iterating: bool = True) -> int:
    """Bytes per pixel of a solve whose pixel level iterates, or (``iterating=False``, LOBPCG)
    stops at its start.
    """
    entries = operator_entries(opts)
    operator = entries * _CSR_BYTES_PER_ENTRY
    if opts.basis == "krylov":
        basis = (opts.krylov_steps + 2 * opts.k + _KRYLOV_EXTRA) * 8
    else:
        if opts.laplacian == "dither":
            operator *= _WIDE_OPERATOR_COPIES
        else:
            operator *= _OPERATOR_COPIES if iterating else _START_OPERATOR_COPIES
        basis = (_BASIS_BLOCKS if iterating else _START_BLOCKS) * (opts.k + _BASIS_GUARD) * 8
    heat_filter = 0
    if opts.laplacian == "dither":
        heat_filter = (entries - 1) // 2 * _FILTER_BYTES_PER_UPPER_ENTRY + 8
    return operator + basis + heat_filter + _WORKING_PLANES * 8


def _iteration_bytes_per_pixel(opts: ShadeOptions, columns: int) -> int:
    """What an iterating pixel level adds to its start, per pixel (grid operator, LOBPCG): 2 more
    copies of the operator (its V-cycles' ``A`` and ``P^T``) and 6 more float64 blocks of
    ``columns`` columns (696 B with the default options' ``k + 4`` = 12).
    """
    return ((_OPERATOR_COPIES - _START_OPERATOR_COPIES) * operator_entries(opts) * _CSR_BYTES_PER_ENTRY
            + (_BASIS_BLOCKS - _START_BLOCKS) * int(columns) * 8)


def estimate_bytes(height: int, width: int, options: ShadeOptions | None = None) -> int:
    """Estimate the peak working memory of shading one ``height x width`` image.

    Parameters
    ----------
    height, width : int
        Image size in pixels (non-negative).
    options : ShadeOptions, optional
        The shader options (defaults when None): the operator (``laplacian``,
        ``connectivity``), the basis (``basis``, ``k``, ``krylov_steps``, ``tol``).

    Returns
    -------
    int
        Estimated bytes.  Per pixel of an iterating solve: the Laplacian CSR (entries x 12 B)
        times 5 (it, the level-0 setup's products and the pixel level's V-cycle operators; 2 for
        ``dither``, once for ``krylov``) + the basis solver (8 blocks of ``(k + 4)`` float64
        columns; ``krylov``: ``krylov_steps + 2k + 8`` vectors) + the dither heat filter
        (float32 upper diagonals) + 12 float64 working planes.  Default options: 300 + 768 + 0 +
        96 = **1164 B per pixel**; ``dither``: 2712 + 768 + 232 + 96 = 3808.  With the grid
        operator and the LOBPCG basis, the pixels beyond :data:`ITERATION_RESERVE_PIXELS` are
        counted as a pixel level that stops at its start (3 copies of the operator, 2 blocks):
        180 + 192 + 96 = **468 B per pixel** with the default options, so 34.8 Mpx (A4 at 600
        dpi) needs about 15.8 GiB; a job with the default limit checks the memory available
        before such a pixel level iterates (:func:`check_pixel_iteration`).

    Notes
    -----
    A model, not a measurement: an upper bound of the measured peaks in the module
    docstring.  Cross mode shades a second image; its analysis is not counted.
    """
    if height < 0 or width < 0:
        raise ValueError(f"height and width must be non-negative, got {height}x{width}")
    opts = options if options is not None else ShadeOptions()
    n = int(height) * int(width)
    if not _iteration_checked(opts):
        return n * _bytes_per_pixel(opts)
    return (n * _bytes_per_pixel(opts, iterating=False)
            + min(n, ITERATION_RESERVE_PIXELS) * _iteration_bytes_per_pixel(opts, opts.k + _BASIS_GUARD))


MEMORY_AVAILABLE_ENV: Final = "FASTSHADE_MEMORY_AVAILABLE"
"""Environment variable that, when set to a number of bytes, replaces the memory the OS reports
as available (tests, and a user who wants to keep room for other programs)."""

DEFAULT_MAX_PIXELS: Final = "auto"
"""Default of ``--max-pixels`` and of every ``max_pixels`` argument: the largest image whose
:func:`estimate_bytes` fits the memory available when the job starts (:func:`default_max_pixels`)."""

MaxPixels = int | None | Literal["auto"]
"""A ``max_pixels`` argument: a pixel count, None (no limit) or ``"auto"`` (:data:`DEFAULT_MAX_PIXELS`)."""


def available_memory_bytes() -> int:
    """Memory available to a new job now, in bytes.

    :data:`MEMORY_AVAILABLE_ENV` when set (a positive integer of bytes), else psutil's
    ``virtual_memory().available`` (on Linux ``MemAvailable`` of ``/proc/meminfo``: free memory
    plus the page cache and reclaimable slabs the kernel can give back without swapping).

    Raises
    ------
    ValueError
        When :data:`MEMORY_AVAILABLE_ENV` is set to something other than a positive integer.
    """
    override = os.environ.get(MEMORY_AVAILABLE_ENV, "").strip()
    if override:
        try:
            value = int(override.replace("_", ""))
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"{MEMORY_AVAILABLE_ENV} must be a positive number of bytes, got {override!r}")
        return value
    import psutil  # imported here: only a job with the default pixel limit needs it

    return int(psutil.virtual_memory().available)


def default_max_pixels(options: ShadeOptions | None = None, available: int | None = None) -> int:
    """Largest image (pixels, at least 1) whose :func:`estimate_bytes` fits ``available`` bytes.

    ``available`` defaults to :func:`available_memory_bytes` (measured now).  With the default
    options and 8 GiB available: 2^20 px at 1164 B and the rest at 468 B, 16,795,140 px (about
    4098 x 4098); 22 GiB fit A4 at 600 dpi (34.8 Mpx) with room to spare.
    """
    opts = options if options is not None else ShadeOptions()
    budget = available_memory_bytes() if available is None else int(available)
    full = _bytes_per_pixel(opts)
    reserve = estimate_bytes(ITERATION_RESERVE_PIXELS, 1, opts)
    if not _iteration_checked(opts) or budget <= reserve:
        return max(1, budget // full)
    return ITERATION_RESERVE_PIXELS + (budget - reserve) // _bytes_per_pixel(opts, iterating=False)


def pixel_limit(max_pixels: MaxPixels, options: ShadeOptions | None = None,
                available: int | None = None) -> int | None:
    """The limit a job applies: ``max_pixels`` itself, None (no limit) for None, and for
    ``"auto"`` (:data:`DEFAULT_MAX_PIXELS`) :func:`default_max_pixels` of ``options`` and
    ``available`` (measured now when None).
    """
    if max_pixels is None:
        return None
    if isinstance(max_pixels, str) and max_pixels == DEFAULT_MAX_PIXELS:
        return default_max_pixels(options, available)
    try:
        limit = operator.index(max_pixels)  # int, numpy integers; not float or str
    except TypeError:
        limit = 0
    if isinstance(max_pixels, bool) or limit < 1:
        raise ValueError(f"max_pixels must be an integer >= 1, None or 'auto', got {max_pixels!r}")
    return limit


def format_bytes(nbytes: float) -> str:
    """A memory size for messages: ``9.1 GiB``, or ``512 MiB`` under 1 GiB."""
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"


def size_refusal(width: int, height: int, max_pixels: MaxPixels, options: ShadeOptions | None = None,
                 available: int | None = None) -> str | None:
    """Why a ``width x height`` image is refused under ``max_pixels``, as one line; None if it fits.

    Parameters
    ----------
    width, height : int
        Image size in pixels.
    max_pixels : int, None or "auto"
        As for :func:`pixel_limit`.
    options : ShadeOptions, optional
        The shader options the estimate is made for (defaults when None).
    available : int, optional
        The memory the ``"auto"`` limit was derived from (measured now when None).

    Returns
    -------
    str or None
        For example ``12,000,000 px needs about 13.0 GiB (memory model), more than the 7.8 GiB
        available; pass --max-pixels N to try anyway``; with an explicit limit
        ``262,144 px (512x512) is more than --max-pixels 1,000 (it needs about 291 MiB, memory
        model)``.
    """
    if max_pixels == DEFAULT_MAX_PIXELS and available is None:
        available = available_memory_bytes()
    limit = pixel_limit(max_pixels, options, available)
    n = int(width) * int(height)
    if limit is None or n <= limit:
        return None
    need = format_bytes(estimate_bytes(height, width, options))
    if max_pixels == DEFAULT_MAX_PIXELS:
        return (f"{n:,} px ({width}x{height}) needs about {need} (memory model), more than the "
                f"{format_bytes(available or 0)} available; pass --max-pixels N to try anyway")
    return f"{n:,} px ({width}x{height}) is more than --max-pixels {limit:,} (it needs about {need}, memory model)"


class MemoryBudgetError(MemoryError):
    """A job stopped before a step the memory available cannot hold; the message is one line
    for the job's report (``failed:memory``).
    """


def check_pixel_iteration(rows: int, columns: int, options: ShadeOptions | None = None) -> None:
    """Raise :class:`MemoryBudgetError` when a pixel level of ``rows`` pixels and a block of
    ``columns`` cannot iterate in the memory available.

    A job with the default limit (``max_pixels="auto"``) has its pixel level call this before
    it iterates (``fastshade.spectral.lobpcg.pixel_iteration_check``): that limit counted the
    level's start, not its iteration (:func:`estimate_bytes`).  A no-op for at most
    :data:`ITERATION_RESERVE_PIXELS` rows and for ``options`` whose estimate counts the
    iteration at every size (``dither``, ``krylov``).  The need is what an iterating pixel level
    adds to its start (:func:`_iteration_bytes_per_pixel` of ``columns``), against
    :func:`available_memory_bytes` read now (the memory the OS can give, net of what the job
    already holds; or the budget :data:`MEMORY_AVAILABLE_ENV` names).
    """
    opts = options if options is not None else ShadeOptions()
    if not _iteration_checked(opts) or rows <= ITERATION_RESERVE_PIXELS:
        return
    need = int(rows) * _iteration_bytes_per_pixel(opts, columns)
    available = available_memory_bytes()
    if need > available:
        raise MemoryBudgetError(
            f"the pixel level's start is not within tol, and iterating on {int(rows):,} px needs about "
            f"{format_bytes(need)} more than the job holds, with {format_bytes(available)} available; "
            f"pass --max-pixels N to try anyway, or a looser --tol")


def iteration_lock_path() -> str:
    """The machine's lock file of big pixel-level iterations (this user's, in the temporary
    folder): :func:`pixel_iteration_guard` holds it.
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"fastshade-pixel-iteration-{uid}.lock")


@contextmanager
def pixel_iteration_guard(options: ShadeOptions | None = None,
                          on_wait: Callable[[bool], None] | None = None) -> Iterator[Callable[[int, int], None]]:
    """Within the block, a job's :func:`check_pixel_iteration` that first takes the machine's
    iteration lock (:func:`iteration_lock_path`, ``filelock``) and holds it until the block ends.

    Only a pixel level that the check measures takes it (more than
    :data:`ITERATION_RESERVE_PIXELS` rows, grid LOBPCG): such a level reads the memory available
    only once no other job's big iteration runs, so two ``run`` workers (or two ``shade`` commands)
    never both count the same free memory for two iterations; the second one waits for the first
    job to finish its shading, then checks.  ``on_wait(True)`` is called when it starts waiting,
    ``on_wait(False)`` when it has the lock (the command line's stage display says so).
    """
    opts = options if options is not None else ShadeOptions()
    with ExitStack() as held:
        locked: list[bool] = []

        def check(rows: int, columns: int) -> None:
            if not locked and _iteration_checked(opts) and rows > ITERATION_RESERVE_PIXELS:
                from filelock import FileLock, Timeout

                lock = FileLock(iteration_lock_path())
                try:
                    lock.acquire(timeout=0)
                except Timeout:
                    if on_wait is not None:
                        on_wait(True)
                    lock.acquire()
                    if on_wait is not None:
                        on_wait(False)
                held.callback(lock.release)
                locked.append(True)
            check_pixel_iteration(rows, columns, opts)

        yield check
