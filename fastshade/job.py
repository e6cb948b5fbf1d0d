"""One file: read, validate, shade and atomically write one image.

:func:`shade_file` is the whole per-file job of ``fastshade shade`` and of
every ``fastshade run`` worker, so both write byte-identical files for the
same input and options.  Per-file problems never raise: they come back as a
:class:`JobResult` whose ``status`` names the reason.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastshade.io import (
    DEFAULT_MAX_PIXELS,
    MEMORY_BUDGET_BYTES,
    ImageError,
    estimate_bytes,
    pixel_limit,
    probe_image,
    read_image,
    validate_output,
    write_image,
)
from fastshade.options import ShadeOptions

__all__ = ["SKIP_CODES", "JobResult", "load_sample_rgb", "one_line", "shade_file", "stat_fingerprint", "status_of"]

SKIP_CODES = frozenset({"not_an_image", "too_large", "degenerate"})
"""ImageError codes that mean "not shaded, nothing wrong" (``skipped:``) rather than ``failed:``."""


def one_line(text: object) -> str:
    """Collapse every run of whitespace in ``text`` (newlines included) to one space."""
    return " ".join(str(text).split())


def status_of(reason: str | None, *, skipped: bool = False) -> str:
    """Return the status of a reason: ``ok`` for None, else ``skipped:<reason>`` or ``failed:<reason>``."""
    if reason is None:
        return "ok"
    return ("skipped:" if skipped else "failed:") + reason


def stat_fingerprint(path: str) -> tuple[int, int]:
    """Return ``(size, mtime_ns)`` of ``path`` (raises ``OSError``)."""
    st = os.stat(path)
    return int(st.st_size), int(st.st_mtime_ns)


def load_sample_rgb(sample: Any, max_pixels: int | None) -> Any:
    """Return ``sample`` as (H, W, 3) float64: an array, a LoadedImage or a path (read here); None stays None."""
    if sample is None:
        return None
    if isinstance(sample, (str, os.PathLike)):
        return read_image(sample, max_pixels=max_pixels).rgb
    return getattr(sample, "rgb", sample)


@dataclass
class JobResult:
    """What happened to one file.

    ``status`` is ``ok``, ``skipped:<reason>`` or ``failed:<reason>``;
    ``reason`` is None when ok; ``message`` is one line; ``warnings`` are the
    reader's codes.  ``width``/``height``/``pixels`` describe the decoded
    input, ``format``/``depth`` the output, ``input_format`` the sniffed
    input format; ``seconds`` is the wall time of the job and ``stats`` the
    shader's statistics (a summary unless ``keep_stats``).  The output file
    exists (complete) if and only if the status is ``ok``.
    """

    status: str = "ok"
    reason: str | None = None
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    pixels: int | None = None
    format: str | None = None
    depth: int | None = None
    input_format: str | None = None
    seconds: float = 0.0
    stats: dict[str, Any] | None = None


def _summary(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": stats.get("mode"),
        "placements": len(stats.get("placements", ())),
        "high_gate_pixels": stats.get("high_gate_pixels"),
        "low_gate_pixels": stats.get("low_gate_pixels"),
        "basis": (stats.get("basis") or {}).get("method"),
    }


def too_large_message(path: str, limit: int | None, options: ShadeOptions | None) -> str | None:
    """The ``too_large`` message with the memory estimate of ``options`` (None if the header cannot be re-read)."""
    try:
        info = probe_image(path, max_pixels=None)
    except ImageError:
        return None
    gib = estimate_bytes(info.height, info.width, options) / 2**30
    return (f"{info.width}x{info.height} px ({info.width * info.height / 1e6:.1f} Mpx) exceeds the pixel "
            f"limit {limit:,} of these options (estimated {gib:.1f} GiB working memory, budget "
            f"{MEMORY_BUDGET_BYTES / 2**30:.0f} GiB); not decoded")


def shade_arrays(*args: Any, **kwargs: Any) -> Any:
    """:func:`fastshade.pipeline.shader.shade_arrays`, imported on first use (the parent process of
    ``fastshade run`` and ``--help`` never load the shader).
    """
    from fastshade.pipeline.shader import shade_arrays as shade

    return shade(*args, **kwargs)


def shade_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    sample: Any = None,
    options: ShadeOptions | None = None,
    fmt: str | None = None,
    depth: int | None = None,
    *,
    max_pixels: int | None | str = "default",
    frames: str = "first",
    exif: str = "apply",
    expect: tuple[int, int] | None = None,
    keep_stats: bool = False,
    clock: Any = None,
) -> JobResult:
    """Read, validate, shade and atomically write one image; return what happened.

    Parameters
    ----------
    in_path, out_path : str or os.PathLike
        Input image (format sniffed from its bytes) and output file.  The
        output is written via :func:`fastshade.io.write_image` (temp file in
        the destination folder, then ``os.replace``); missing folders are made.
    sample : array, LoadedImage, path or None, optional
        Cross-mode sample ((H, W, 3) float64 in [0, 1]) or ``None`` (self mode).
    options : ShadeOptions, optional
        Shader options (defaults when ``None``).
    fmt : str, optional
        Output format (``png``, ``tiff``, ``jpeg``/``jpg``, ``webp``); by
        default taken from the extension of ``out_path``.
    depth : {8, 16} or None, optional
        Output bit depth; ``None`` keeps the input's (8 or 16).
    max_pixels : int or None, optional
        Header-size limit; the default (or :data:`fastshade.io.DEFAULT_MAX_PIXELS`) is the memory
        budget of ``options`` (:func:`fastshade.io.pixel_limit`: smaller for ``dither``).
    frames, exif : str, optional
        Passed to :func:`fastshade.io.read_image` (``first``/``reject``,
        ``apply``/``ignore``).
    expect : (size, mtime_ns), optional
        Fingerprint seen when the run was planned: a missing file is
        ``failed:vanished``, a different one ``failed:changed`` (checked
        before and after decoding, so nothing is written from a file that
        changed while it was read).
    keep_stats : bool, optional
        Keep the shader's full statistics dict in ``stats`` (otherwise a
        small summary).
    clock : callable, optional
        The shader's stage clock (``shade_arrays(clock=)``); ``fastshade shade`` passes one
        that also shows the stages (:class:`fastshade.stage_progress.StageProgress`).

    Returns
    -------
    JobResult
        Never raises for a per-file problem; the output file exists
        (complete) if and only if the status is ``ok``.
    """
    t0 = time.perf_counter()
    spath, sout = os.fspath(in_path), os.fspath(out_path)
    limit = pixel_limit(DEFAULT_MAX_PIXELS if max_pixels == "default" else max_pixels, options)
    res = JobResult()

    def finish(reason: str | None, message: str = "", *, skipped: bool = False) -> JobResult:
        res.status = status_of(reason, skipped=skipped)
        res.reason = reason
        res.message = one_line(message)
        res.seconds = round(time.perf_counter() - t0, 6)
        return res

    def changed_since_plan() -> str | None:
        """'vanished' / 'changed' when the input no longer matches ``expect``."""
        if expect is None:
            return None
        try:
            now = stat_fingerprint(spath)
        except FileNotFoundError:
            return "vanished"
        except OSError:
            return None
        return None if tuple(now) == tuple(expect) else "changed"

    moved = changed_since_plan()
    if moved:
        return finish(moved, f"input {moved} since the run was planned")
    try:
        img = read_image(spath, max_pixels=limit, frames=frames, exif=exif)  # type: ignore[arg-type]
    except ImageError as err:
        moved = changed_since_plan()
        if moved:
            return finish(moved, f"input {moved} while it was read ({err.message})")
        code = "vanished" if err.code == "not_found" else err.code
        message = too_large_message(spath, limit, options) if code == "too_large" else None
        return finish(code, message or err.message, skipped=code in SKIP_CODES)
    except MemoryError:
        return finish("memory", "out of memory while decoding")
    res.width, res.height, res.pixels = img.width, img.height, img.width * img.height
    res.input_format, res.warnings = img.format, list(img.warnings)
    out_depth = int(depth or img.bit_depth)
    try:
        out_fmt = validate_output(fmt if fmt else sout, has_alpha=img.alpha is not None, bit_depth=out_depth)
    except ImageError as err:
        return finish(err.code, err.message)
    res.format, res.depth = out_fmt, out_depth
    moved = changed_since_plan()
    if moved:
        return finish(moved, f"input {moved} while it was read")
    try:
        sample_rgb = load_sample_rgb(sample, limit)
    except ImageError as err:
        return finish("sample_error", f"cannot read the sample: {err}")
    target = img.rgb if img.alpha is None else np.concatenate([img.rgb, img.alpha[:, :, None]], axis=2)
    del img
    try:
        shaded = shade_arrays(target, sample_rgb, options, **({"clock": clock} if clock is not None else {}))
    except MemoryError:
        return finish("memory", "out of memory while shading")
    except Exception as err:  # noqa: BLE001 (a per-file failure must never stop the batch)
        return finish("shade_error", f"{type(err).__name__}: {err}")
    out = shaded.image
    res.stats = shaded.stats if keep_stats else _summary(shaded.stats)
    try:
        write_image(sout, out[:, :, :3], out[:, :, 3] if out.shape[2] == 4 else None,
                    bit_depth=out_depth, fmt=out_fmt)
    except ImageError as err:
        return finish(err.code, err.message)
    except OSError as err:  # e.g. the destination folder cannot be created
        return finish("write_error", f"{type(err).__name__}: {err.strerror or err}")
    return finish(None)
