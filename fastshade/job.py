"""One file: read, validate, shade and atomically write one image.

:func:`shade_file` is the whole per-file job of ``fastshade shade`` and of
every ``fastshade run`` worker, so both write byte-identical files for the
same input and options.  Per-file problems never raise: they come back as a
:class:`JobResult` whose ``status`` names the reason.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastshade.io import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    MaxPixels,
    MemoryBudgetError,
    available_memory_bytes,
    icc_colour_space,
    pixel_iteration_guard,
    pixel_limit,
    probe_image,
    read_image,
    size_refusal,
    validate_output,
    write_image,
)
from fastshade.options import ShadeOptions
from fastshade.pipeline.drawing_checks import not_line_art, tone_score
from fastshade.pipeline.paper import over_white
from fastshade.spectral.lobpcg import pixel_iteration_check

__all__ = ["SKIP_CODES", "JobResult", "is_written", "load_sample_rgb", "one_line", "pass_path", "shade_file",
           "stat_fingerprint", "status_of", "write_layers"]

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


def is_written(status: str) -> bool:
    """Whether a job with ``status`` wrote its output: ``ok`` or ``warning:<reason>`` (shaded, with a
    warning of :mod:`fastshade.pipeline.drawing_checks`).
    """
    return status == "ok" or status.startswith("warning:")


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

    ``status`` is ``ok``, ``warning:<reason>`` (written, with the shader's first warning),
    ``skipped:<reason>`` or ``failed:<reason>``; ``reason`` is None when ok; ``message`` is one
    line; ``warnings`` are the reader's codes, then the shader's (``stats["warning_codes"]``).
    ``width``/``height``/``pixels`` describe the decoded input, ``format``/``depth`` the output,
    ``input_format`` the sniffed input format; ``seconds`` is the wall time of the job and ``stats`` the
    shader's statistics (a summary unless ``keep_stats``), plus ``dpi``: the input's resolution
    ``[x, y]`` (dots per inch), also written to the output with its ICC profile, or None.  The output file
    exists (complete) if and only if the status is ``ok`` or ``warning:*`` (:func:`is_written`).
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
        "warnings": list(stats.get("warning_codes", [])),
    }


def too_large_message(path: str, max_pixels: MaxPixels, options: ShadeOptions | None,
                      available: int | None = None) -> str | None:
    """The ``too_large`` line for the options' memory estimate (None if the header cannot be re-read)."""
    try:
        info = probe_image(path, max_pixels=None)
    except ImageError:
        return None
    return size_refusal(info.width, info.height, max_pixels, options, available)


def shade_arrays(*args: Any, **kwargs: Any) -> Any:
    """:func:`fastshade.styles.shade_arrays` (the style's passes), imported on first use (the parent
    process of ``fastshade run`` and ``--help`` never load the shader).
    """
    from fastshade.styles import shade_arrays as shade

    return shade(*args, **kwargs)


def _waiting_display(clock: Any) -> Any:
    """``on_wait`` of :func:`fastshade.io.pixel_iteration_guard` for a stage clock that names its
    stages (``fastshade shade``'s display): the wait for another job's big iteration is a stage of
    its own, then the basis goes on.  None for a clock that does not.
    """
    on_stage = getattr(clock, "on_stage", None)
    if on_stage is None:
        return None
    return lambda waits: on_stage("waiting for another fastshade job's big iteration" if waits else "basis")


def shade_file(
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    sample: Any = None,
    options: ShadeOptions | None = None,
    fmt: str | None = None,
    depth: int | None = None,
    *,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
    frames: str = "first",
    exif: str = "apply",
    expect: tuple[int, int] | None = None,
    keep_stats: bool = False,
    save_passes: bool = False,
    layers: bool = False,
    strict: bool = False,
    clock: Any = None,
    check_memory: bool | None = None,
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
    max_pixels : int, None or "auto", optional
        Header-size limit (None: none); ``"auto"`` (default) is the largest image whose memory
        estimate for ``options`` fits the memory available now (:func:`fastshade.io.pixel_limit`:
        smaller for ``dither``).  A refusal is ``skipped:too_large`` with a one-line message
        naming ``--max-pixels`` and the estimate.
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
    save_passes : bool, optional
        Also write every pass's image beside the output (:func:`pass_path`), for a multi-pass
        progression; written only when the output is.
    layers : bool, optional
        Also write each stage's marks as an RGBA PNG and all layers as one OpenRaster file
        beside the output (:func:`write_layers`).
    strict : bool, optional
        A target that is not line art (:func:`fastshade.pipeline.drawing_checks.tone_score`) is
        ``failed:not_line_art``, before it is shaded; otherwise it is shaded with the status
        ``warning:not_line_art``.
    clock : callable, optional
        The shader's stage clock (``shade_arrays(clock=)``); ``fastshade shade`` passes one
        that also shows the stages (:class:`fastshade.stage_progress.StageProgress`).
    check_memory : bool, optional
        Check the memory available before a pixel level of more than
        :data:`fastshade.io.ITERATION_RESERVE_PIXELS` pixels iterates, and stop with
        ``failed:memory`` and one line when it would not fit
        (:func:`fastshade.io.check_pixel_iteration`): the default limit counted that level's
        start, not its iteration.  Default: when ``max_pixels`` is ``"auto"`` (``fastshade run``
        passes its default limit resolved once, with ``check_memory=True``).

    Returns
    -------
    JobResult
        Never raises for a per-file problem; the output file exists
        (complete) if and only if the status is ``ok`` or ``warning:<reason>``.
    """
    t0 = time.perf_counter()
    spath, sout = os.fspath(in_path), os.fspath(out_path)
    available = available_memory_bytes() if max_pixels == DEFAULT_MAX_PIXELS else None
    limit = pixel_limit(max_pixels, options, available)
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
        message = too_large_message(spath, max_pixels, options, available) if code == "too_large" else None
        return finish(code, message or err.message, skipped=code in SKIP_CODES)
    except MemoryError:
        return finish("memory", "out of memory while decoding")
    res.width, res.height, res.pixels = img.width, img.height, img.width * img.height
    res.input_format, res.warnings = img.format, list(img.warnings)
    dpi, icc = img.dpi, img.icc_profile
    if icc is not None and icc_colour_space(icc) != "RGB":  # e.g. CMYK or GRAY: cannot describe the RGB output
        res.warnings.append("icc_profile_dropped")
        icc = None
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
    if strict:
        refused = not_line_art(tone_score(over_white(img.rgb, img.alpha)))
        if refused is not None:
            return finish(refused.code, refused.line)
    target = img.rgb if img.alpha is None else np.concatenate([img.rgb, img.alpha[:, :, None]], axis=2)
    del img
    pass_images: list[np.ndarray] = []
    # the default limit counted a big pixel level's start, not its iteration: checked before it
    if check_memory is None:
        check_memory = max_pixels == DEFAULT_MAX_PIXELS
    try:
        with contextlib.ExitStack() as checked:
            if check_memory:  # (the machine's iteration lock is held from the check to the shading's end)
                guard = pixel_iteration_guard(options, on_wait=_waiting_display(clock))
                checked.enter_context(pixel_iteration_check(checked.enter_context(guard)))
            shaded = shade_arrays(target, sample_rgb, options, dpi=dpi, analyses=False,
                                  on_pass=(lambda step, r: pass_images.append(r.image)) if save_passes else None,
                                  **({"clock": clock} if clock is not None else {}))
    except MemoryBudgetError as err:
        return finish("memory", str(err))
    except MemoryError:
        return finish("memory", "out of memory while shading")
    except Exception as err:  # noqa: BLE001 (a per-file failure must never stop the batch)
        return finish("shade_error", f"{type(err).__name__}: {err}")
    out = shaded.image
    res.stats = shaded.stats if keep_stats else _summary(shaded.stats)
    res.stats["dpi"] = None if dpi is None else [dpi[0], dpi[1]]
    try:
        write_image(sout, out[:, :, :3], out[:, :, 3] if out.shape[2] == 4 else None,
                    bit_depth=out_depth, fmt=out_fmt, dpi=dpi, icc_profile=icc)
        if layers:
            write_layers(sout, target, shaded, dpi=dpi)
        for index, image in enumerate(pass_images, start=1):
            write_image(pass_path(sout, index), image[:, :, :3], image[:, :, 3] if image.shape[2] == 4 else None,
                        bit_depth=out_depth, fmt=out_fmt, dpi=dpi, icc_profile=icc)
    except ImageError as err:
        return finish(err.code, err.message)
    except OSError as err:  # e.g. the destination folder cannot be created
        return finish("write_error", f"{type(err).__name__}: {err.strerror or err}")
    codes = list(shaded.stats.get("warning_codes", []))
    res.warnings += [c for c in codes if c not in res.warnings]
    if not codes:
        return finish(None)
    finish(codes[0], shaded.stats["warnings"][0])
    res.status = f"warning:{codes[0]}"
    return res


def write_layers(out_path: str | os.PathLike[str], original: np.ndarray, result: Any, *,
                 dpi: tuple[float, float] | None = None) -> list[str]:
    """Write the layers of ``result`` beside ``out_path``: ``NAME.<stage>.png`` (RGBA, transparent
    where untouched) for every stage and ``NAME.ora`` (OpenRaster: the stages over the drawing, and
    the output as its merged image; ``xres``/``yres`` = ``dpi`` when the input has one); return the
    paths written.
    """
    from fastshade.io.ora import write_openraster
    from fastshade.styles.layers import DRAWING, stage_layers

    root, _ = os.path.splitext(os.fspath(out_path))
    stack = stage_layers(original, result)
    written = []
    for name, rgba in stack:
        if name != DRAWING:
            path = f"{root}.{name}.png"
            write_image(path, rgba[:, :, :3], rgba[:, :, 3], bit_depth=8, fmt="png", dpi=dpi)
            written.append(path)
    write_openraster(f"{root}.ora", stack, result.image, dpi=dpi)
    return [*written, f"{root}.ora"]


def pass_path(out_path: str | os.PathLike[str], index: int) -> str:
    """Where ``--save-passes`` writes pass ``index`` of ``out_path``: ``name.pass<index>.ext``."""
    root, ext = os.path.splitext(os.fspath(out_path))
    return f"{root}.pass{index}{ext}"
