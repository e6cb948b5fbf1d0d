"""Planning: probe headers, name outputs, detect collisions, decide resume; records and tasks out.

:class:`Planner` turns the walk into a lazy stream of :data:`PlanItem`:
``("record", rec)`` (decided here: not an image, too large, collision...),
``("task", planned)`` (for a worker), ``("done", rel)`` (nothing to do,
nothing to write) and ``("dir", rec)`` (a folder that was not entered).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from PIL import Image

from fastshade.io import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    pixel_limit,
    probe_image,
    probe_output,
    size_refusal,
    validate_output,
)
from fastshade.job import SKIP_CODES, is_written, one_line
from fastshade.run.backend import PlannedTask
from fastshade.run.config import OUTPUT_EXTENSIONS, RunConfig
from fastshade.run.manifest import Fingerprint, ManifestRecord, Prior, new_record, sha256_file, skip_record
from fastshade.run.tasks import FileTask
from fastshade.run.walk import InputFile, Listing, iter_listings, join_rel

__all__ = ["PlanItem", "Planner", "output_valid", "restricted_formats"]

PlanItem = (tuple[Literal["record", "dir"], ManifestRecord] | tuple[Literal["task"], PlannedTask]
            | tuple[Literal["done"], str])


@lru_cache(maxsize=1)
def restricted_formats() -> tuple[frozenset[str], frozenset[str]]:
    """Return the output formats that cannot hold some input: ``(no alpha, no alpha or no 16-bit)``.

    Inputs planned to those formats need a per-file header check.
    """
    no_alpha: set[str] = set()
    restricted: set[str] = set()
    for out_fmt in OUTPUT_EXTENSIONS:
        for has_alpha, bits in ((True, 8), (False, 16)):
            try:
                validate_output(out_fmt, has_alpha=has_alpha, bit_depth=bits)
            except ImageError:
                restricted.add(out_fmt)
                if has_alpha:
                    no_alpha.add(out_fmt)
    return frozenset(no_alpha), frozenset(restricted)


def output_valid(path: str) -> bool:
    """Tell whether an existing output's header decodes and all its data is there.

    The cheap completeness check of :func:`fastshade.io.probe_output`: end
    markers, no pixel decoded.
    """
    try:
        probe_output(path)  # an empty file is no image
        return True
    except (OSError, ImageError):
        return False


def _stem_ext(name: str) -> tuple[str, str]:
    stem, ext = os.path.splitext(name)
    return stem, ext[1:]


def _header_has_alpha(path: str, info: Any) -> bool:
    """Tell whether an image will decode with alpha, from its header (no pixel decode)."""
    flag = getattr(info, "has_alpha", None)
    if flag is not None:
        return bool(flag)
    if info.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    if info.mode not in ("P", "L", "RGB", "1", "I", "I;16", "I;16B", "I;16L"):
        return False
    try:  # palette/grey/RGB with a tRNS chunk: Pillow parses it with the header
        with Image.open(path) as im:
            return "transparency" in im.info or (
                im.mode == "P" and getattr(im.palette, "mode", "") == "RGBA")
    except Exception:  # noqa: BLE001 (unreadable header: the worker will report it)
        return False


@dataclass
class _Probed:
    """One input after its header was read: either a final ``record`` or an image to plan."""

    name: str
    abs_path: str
    rel: str
    size: int | None = None
    mtime_ns: int | None = None
    info: Any = None  # fastshade.io.ImageInfo
    record: ManifestRecord | None = None  # final record when not an image / unreadable
    out_name: str | None = None
    out_fmt: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.size, self.mtime_ns)


class Planner:
    """Turns the walk into manifest records (decided here) and tasks (for workers)."""

    def __init__(self, cfg: RunConfig, index: dict[str, Prior]) -> None:
        self.cfg = cfg
        self.index = index
        self.next_id = 0
        self.format_problems: list[ManifestRecord] = []
        self._no_alpha, self._restricted = restricted_formats()
        self.limit = pixel_limit(cfg.max_pixels, cfg.options, cfg.memory_available)  # resolved once, for the tasks

    # -- per file ------------------------------------------------------------------------
    def _probe(self, item: InputFile) -> _Probed:
        pr = _Probed(*item)
        cfg, rel = self.cfg, item.rel
        try:
            st = os.stat(pr.abs_path)
            pr.size, pr.mtime_ns = int(st.st_size), int(st.st_mtime_ns)
        except FileNotFoundError:
            pr.record = skip_record(cfg, rel, "vanished", "input vanished before it was planned", skipped=False)
            return pr
        except OSError as err:
            pr.record = skip_record(cfg, rel, "permission" if isinstance(err, PermissionError) else "unreadable",
                                    f"cannot stat: {err.strerror or err}", skipped=False)
            return pr
        try:
            pr.info = probe_image(pr.abs_path, max_pixels=None)  # the size limit is checked below, keeping w x h
        except ImageError as err:
            code = "vanished" if err.code == "not_found" else err.code
            pr.record = skip_record(cfg, rel, code, err.message, skipped=code in SKIP_CODES)
            pr.record.fingerprint = pr.fingerprint
            return pr
        n_px = pr.info.width * pr.info.height
        refusal = size_refusal(pr.info.width, pr.info.height, cfg.max_pixels, cfg.options, cfg.memory_available)
        if refusal is not None:
            pr.record = skip_record(cfg, rel, "too_large", refusal)
            pr.record.fingerprint = pr.fingerprint
            pr.record.width, pr.record.height, pr.record.pixels = pr.info.width, pr.info.height, n_px
            pr.record.input_format = pr.info.format
            return pr
        if pr.info.frames > 1 and cfg.frames == "reject":
            pr.record = skip_record(cfg, rel, "multi_frame", f"{pr.info.frames} frames/pages and --frames reject",
                                    skipped=False)
            pr.record.fingerprint = pr.fingerprint
        return pr

    def _output_format(self, pr: _Probed) -> str:
        if self.cfg.fmt != "same":
            return self.cfg.fmt
        if pr.info.format in OUTPUT_EXTENSIONS:
            return pr.info.format
        pr.warnings.append(f"format_{pr.info.format}_written_as_png")
        return "png"

    def _name_outputs(self, listing: Listing, probed: list[_Probed], stems: set[str], used: set[str]) -> None:
        """Name the outputs of one stem group; two inputs on one output collide (fail or get suffixes)."""
        images = [pr for pr in probed if pr.record is None]
        for pr in images:
            pr.out_fmt = self._output_format(pr)
            pr.out_name = _stem_ext(pr.name)[0] + OUTPUT_EXTENSIONS[pr.out_fmt]
        by_out: dict[str, list[_Probed]] = {}
        for pr in images:
            by_out.setdefault(pr.out_name, []).append(pr)  # type: ignore[arg-type]
        for out_name, clash in by_out.items():
            if len(clash) < 2:
                continue
            names = ", ".join(pr.name for pr in clash)
            for pr in clash:
                if self.cfg.on_collision == "error":
                    pr.record = skip_record(
                        self.cfg, pr.rel, "collision",
                        f"{names} would all be written to {out_name}; rename one or use --on-collision suffix",
                        skipped=False)
                    pr.record.output = join_rel(listing.rel_dir, out_name)
                    pr.record.fingerprint = pr.fingerprint
                else:
                    stem, ext = _stem_ext(pr.name)
                    base = f"{stem}_{ext or 'noext'}"
                    candidate, n = base, 1
                    while candidate in stems or candidate in used:
                        n += 1
                        candidate = f"{base}_{n}"
                    used.add(candidate)
                    pr.out_name = candidate + os.path.splitext(out_name)[1]
                    pr.warnings.append("renamed_on_collision")

    def plan_listing(self, listing: Listing) -> Iterator[PlanItem]:
        """Yield the items of one folder, in walk order (files with one stem are planned together)."""
        for rec in listing.dir_notes:
            yield "dir", rec
        for rec in listing.notes:
            yield "record", rec
        groups: dict[str, list[InputFile]] = {}
        for item in listing.files:
            groups.setdefault(_stem_ext(item.name)[0], []).append(item)
        stems = set(groups)
        used: set[str] = set()
        for item in listing.files:
            group = groups[_stem_ext(item.name)[0]]
            if item is not group[0]:
                continue  # planned together with the first member of its group
            probed = [self._probe(member) for member in group]
            self._name_outputs(listing, probed, stems, used)
            for pr in probed:
                yield from self._decide(listing, pr)

    def _format_problem(self, pr: _Probed, out_fmt: str, out_depth: int) -> str | None:
        """Return why ``out_fmt`` cannot hold this input (alpha, 16-bit), from its header; None if it can."""
        if out_fmt not in self._restricted:
            return None
        info = pr.info
        try:
            has_alpha = _header_has_alpha(pr.abs_path, info) if out_fmt in self._no_alpha else False
            validate_output(out_fmt, has_alpha=has_alpha, bit_depth=out_depth)
        except ImageError as err:
            return one_line(f"{err.message} (input {info.mode}, {info.bit_depth}-bit)")
        return None

    def _decide(self, listing: Listing, pr: _Probed) -> Iterator[PlanItem]:
        cfg = self.cfg
        if pr.record is not None:
            if self._silently_done(pr):
                yield "done", pr.rel
            elif not cfg.retry_failed or self._was_failed(pr.rel):
                yield "record", pr.record
            else:
                yield "done", pr.rel
            return
        info = pr.info
        out_rel = join_rel(listing.rel_dir, pr.out_name)  # type: ignore[arg-type]
        out_abs = os.path.join(cfg.out_root, *out_rel.split("/"))
        out_fmt = pr.out_fmt or cfg.fmt
        out_depth = cfg.depth or (16 if info.bit_depth > 8 else 8)
        rec = new_record(cfg, pr.rel)
        rec.output, rec.width, rec.height, rec.pixels = out_rel, info.width, info.height, info.width * info.height
        rec.format, rec.depth, rec.input_format = out_fmt, out_depth, info.format
        rec.fingerprint, rec.warnings = pr.fingerprint, list(pr.warnings)
        problem = self._format_problem(pr, out_fmt, out_depth)
        if problem is not None:
            rec.status, rec.reason, rec.message = "failed:unsupported_output", "unsupported_output", problem
            self.format_problems.append(rec)
            yield "record", rec
            return
        prior = self.index.get(pr.rel)
        if cfg.retry_failed and not (prior is not None and prior.status.startswith("failed:")):
            yield "done", pr.rel
            return
        if cfg.if_exists != "overwrite" and prior is not None and self._matches(prior, pr):
            if ((is_written(prior.status) or prior.status == "skipped:exists") and prior.output == out_rel
                    and output_valid(out_abs)):
                if cfg.resume or prior.mtime_ns == pr.mtime_ns:
                    yield "done", pr.rel  # done, and the manifest already says so: no new line
                else:
                    # matched by content (--hash) after a touch: record the new stat fingerprint,
                    # so that the next run matches it without hashing again
                    rec.status, rec.reason = "skipped:exists", "exists"
                    rec.message = "output exists and the manifest says it is done for this input and options"
                    rec.fingerprint = Fingerprint(pr.size, pr.mtime_ns, prior.sha256)
                    yield "record", rec
                return
            finished = is_written(prior.status) or prior.status == "skipped:exists"
            if cfg.resume and not cfg.retry_failed and not finished:
                yield "done", pr.rel  # a final skipped/failed record for the same input and options
                return
        if cfg.if_exists == "error" and os.path.lexists(out_abs):
            rec.status, rec.reason, rec.message = "failed:exists", "exists", "output path exists and --if-exists error"
            yield "record", rec
            return
        job = FileTask(
            id=self.next_id, in_path=pr.abs_path, out_path=out_abs, options=cfg.options, sample=cfg.sample,
            format=out_fmt, depth=cfg.depth, max_pixels=self.limit, frames=cfg.frames, exif=cfg.exif,
            save_passes=cfg.save_passes, layers=cfg.layers, strict=cfg.strict,
            check_memory=cfg.max_pixels == DEFAULT_MAX_PIXELS, timeout=cfg.timeout, hash=cfg.hash,
            threads=cfg.threads_per_worker, expect=(pr.size, pr.mtime_ns))
        self.next_id += 1
        yield "task", PlannedTask(job, pr.rel, out_rel, rec)

    def _was_failed(self, rel: str) -> bool:
        prior = self.index.get(rel)
        return prior is not None and prior.status.startswith("failed:")

    def _matches(self, prior: Prior, pr: _Probed) -> bool:
        if prior.params != self.cfg.params or prior.size != pr.size:
            return False
        if self.cfg.hash and prior.sha256:
            try:
                return sha256_file(pr.abs_path) == prior.sha256
            except OSError:
                return False
        return prior.mtime_ns == pr.mtime_ns

    def _silently_done(self, pr: _Probed) -> bool:
        """--resume: a driver-decided record (not an image, too large...) already in the manifest."""
        if not self.cfg.resume or self.cfg.retry_failed:
            return False
        prior = self.index.get(pr.rel)
        if prior is None or pr.record is None:
            return False
        fp = pr.record.fingerprint or Fingerprint(None, None)
        return (prior.status == pr.record.status and prior.params == self.cfg.params
                and prior.size == fp.size and prior.mtime_ns == fp.mtime_ns)

    def items(self) -> Iterator[PlanItem]:
        """Yield the whole plan, lazily (walks IN as it goes)."""
        for listing in iter_listings(self.cfg):
            yield from self.plan_listing(listing)
