"""Walking IN: one folder at a time, in a reproducible order, leaving out junk, hidden files and OUT."""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from fastshade.run.config import RunConfig, norm_path
from fastshade.run.manifest import ManifestRecord, skip_record

__all__ = ["JUNK_NAMES", "InputFile", "Listing", "count_inputs", "is_junk", "iter_listings", "join_rel"]

JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", ".localized"})
"""OS junk file names (compared case-insensitively); ``._*`` AppleDouble files are junk too."""

JUNK_DIRS = frozenset({"__macosx", "$recycle.bin", "system volume information", ".trashes", ".spotlight-v100",
                       ".fseventsd"})
"""OS junk folder names (compared case-insensitively), never entered."""


class InputFile(NamedTuple):
    """A regular file found in IN: its name, absolute path and path relative to IN (``/``-separated)."""

    name: str
    abs_path: str
    rel: str


@dataclass
class Listing:
    """One folder of IN: its files (sorted by name) and records for what was left out.

    ``notes`` hold one record per left-out file (each ticks the progress);
    ``dir_notes`` folder-level records (a folder that could not be entered).
    """

    rel_dir: str
    abs_dir: str
    files: list[InputFile]
    notes: list[ManifestRecord] = field(default_factory=list)
    dir_notes: list[ManifestRecord] = field(default_factory=list)


def join_rel(rel_dir: str, name: str) -> str:
    """Return ``rel_dir/name`` (just ``name`` at the top of IN)."""
    return f"{rel_dir}/{name}" if rel_dir else name


def is_junk(name: str) -> bool:
    """Tell OS junk: ``.DS_Store``, ``Thumbs.db``, ``desktop.ini``, AppleDouble ``._*`` ..."""
    return name.lower() in JUNK_NAMES or name.startswith("._")


def _glob_match(patterns: tuple[str, ...], rel: str, name: str) -> bool:
    rel_l, name_l = rel.lower(), name.lower()
    return any(fnmatch.fnmatchcase(rel_l, p.lower()) or fnmatch.fnmatchcase(name_l, p.lower()) for p in patterns)


def _dir_listing(cfg: RunConfig, abs_dir: str, rel_dir: str, reason: str, message: str,
                 skipped: bool) -> Listing:
    """Make the listing of a folder that is not entered: no files, one folder-level record."""
    shown = (rel_dir or ".") + "/"
    return Listing(rel_dir, abs_dir, [], dir_notes=[skip_record(cfg, shown, reason, message, skipped=skipped)])


def _file_note(cfg: RunConfig, entry: os.DirEntry[str], rel: str, is_file: bool) -> ManifestRecord | None:
    """Return the skip record of a left-out file, or None for a file to plan."""
    name = entry.name
    if is_junk(name):
        return skip_record(cfg, rel, "junk", "OS junk file")
    if name.startswith(".") and not cfg.include_hidden:
        return skip_record(cfg, rel, "hidden", "hidden file (see --include-hidden)")
    if is_file:
        return None
    if entry.is_symlink() and not os.path.exists(entry.path):
        return skip_record(cfg, rel, "broken_symlink", "symbolic link to nothing")
    return skip_record(cfg, rel, "not_a_file", "not a regular file (FIFO, socket, ...)")


def iter_listings(cfg: RunConfig) -> Iterator[Listing]:
    """Walk IN lazily, one folder at a time, in a reproducible order.

    Each folder is read with ``os.scandir`` and sorted by name; its files come
    out before its sub-folders, which are visited depth-first in name order.
    Only the current folder's listing and the stack of pending sub-folders are
    held in memory.  Symlinked folders are followed once: a folder whose
    (device, inode) was already visited is a loop or a duplicate link and is
    not entered again.  OUT (and anything resolving to it) is never entered.
    """
    out_norm = norm_path(cfg.out_root)
    manifest_norm = norm_path(cfg.manifest) if cfg.manifest else None
    try:
        out_st = os.stat(cfg.out_root)
        out_key: tuple[int, int] | None = (out_st.st_dev, out_st.st_ino)
    except OSError:
        out_key = None
    visited: set[tuple[int, int]] = set()
    stack: list[tuple[str, str]] = [(cfg.in_root, "")]
    while stack:
        abs_dir, rel_dir = stack.pop()
        try:
            st = os.stat(abs_dir)
        except OSError as err:
            yield _dir_listing(cfg, abs_dir, rel_dir, "permission" if isinstance(err, PermissionError) else "vanished",
                               f"cannot open folder: {err.strerror or err}", False)
            continue
        key = (st.st_dev, st.st_ino)
        if key == out_key or norm_path(abs_dir) == out_norm:
            continue
        if key in visited:
            yield _dir_listing(cfg, abs_dir, rel_dir, "symlink_loop",
                               "folder already visited (symlink loop or second link); not entered", True)
            continue
        visited.add(key)
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            yield _dir_listing(cfg, abs_dir, rel_dir,
                               "permission" if isinstance(err, PermissionError) else "unreadable_folder",
                               f"cannot list folder: {err.strerror or err}", False)
            continue
        listing = Listing(rel_dir, abs_dir, [])
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            rel = join_rel(rel_dir, name)
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                is_dir = is_file = False
            if is_dir:
                if name.lower() in JUNK_DIRS or (name.startswith(".") and not cfg.include_hidden):
                    continue
                if cfg.exclude and _glob_match(cfg.exclude, rel, name):
                    continue
                if cfg.recursive:
                    subdirs.append((entry.path, rel))
                continue
            if cfg.exclude and _glob_match(cfg.exclude, rel, name):
                continue
            if cfg.include and not _glob_match(cfg.include, rel, name):
                continue
            if manifest_norm is not None and name.endswith(".jsonl") and norm_path(entry.path) == manifest_norm:
                continue  # our own manifest, when --manifest points inside IN
            note = _file_note(cfg, entry, rel, is_file)
            if note is None:
                listing.files.append(InputFile(name, entry.path, rel))
            else:
                listing.notes.append(note)
        yield listing
        stack.extend(reversed(subdirs))


def count_inputs(cfg: RunConfig, stop: threading.Event | None = None) -> int:
    """Count the input entries the walk will produce (for the progress total)."""
    n = 0
    for listing in iter_listings(cfg):
        if stop is not None and stop.is_set():
            break
        n += len(listing.files) + len(listing.notes)
    return n
