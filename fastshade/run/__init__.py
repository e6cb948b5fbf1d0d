"""Shade a whole folder: streamed, multiprocessing, resumable.

Shades every image under IN (recognised by its magic bytes) into OUT at the same
relative path.  One JSON line per input goes to the manifest (default
OUT/fastshade-manifest.jsonl); a re-run skips what it says is done and adds no line.

examples:
  fastshade run drawings/ shaded/                      # every image, one worker per core
  fastshade run drawings/ shaded/ --dry-run            # print the plan, write nothing
  fastshade run drawings/ shaded/ -j 2 --format tiff --depth 16
  fastshade run drawings/ shaded/ --sample snek.png    # cross mode with one sample for all
  fastshade run drawings/ shaded/ --resume             # continue after a crash or Ctrl-C
  fastshade run drawings/ shaded/ --retry-failed       # only what failed last time
  fastshade run inbox/ shaded/ --watch                 # and each file that arrives, until Ctrl-C
  fastshade run /mnt/in /mnt/out --scheduler tcp://10.0.0.5:8786   # a Dask cluster

Inputs are never modified, a final name never holds a partial image, a file that
kills its worker is retried alone, and outputs are byte-identical whatever the
number of workers (README, "Batch runs": every guarantee and the manifest's fields).
Ctrl-C once: finish the files in progress; twice: cancel.
exit status: 0 every file ok or skipped, 1 some file failed, 2 usage error,
130 interrupted.  A summary goes to stderr.
"""  # noqa: D405, D406, D407 (the command's --help text: "examples:" is not a numpydoc section)


from fastshade.run.cli import configure, main
from fastshade.run.config import DEFAULT_MANIFEST_NAME, RunConfig, UsageError
from fastshade.run.manifest import ManifestRecord, read_manifest
from fastshade.run.walk import JUNK_NAMES

__all__ = [
    "DEFAULT_MANIFEST_NAME",
    "JUNK_NAMES",
    "ManifestRecord",
    "RunConfig",
    "UsageError",
    "configure",
    "main",
    "read_manifest",
]
