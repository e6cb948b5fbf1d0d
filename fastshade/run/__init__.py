"""Shade a whole folder: streamed, multiprocessing, resumable.

Walks IN (recursively unless --no-recursive) and shades every image under OUT
at the same relative path, the extension following --format.  Files are
recognised by their magic bytes, not their names.  One JSON line per input
goes to the manifest (default OUT/fastshade-manifest.jsonl), appended as
results arrive; a re-run skips what the manifest says is done.

examples:
  fastshade run drawings/ shaded/                      # every image, one worker per core
  fastshade run drawings/ shaded/ --dry-run            # print the plan, write nothing
  fastshade run drawings/ shaded/ -j 2 --format tiff --depth 16
  fastshade run drawings/ shaded/ --sample snek.png    # cross mode with one sample for all
  fastshade run drawings/ shaded/ --resume             # continue after a crash or Ctrl-C
  fastshade run drawings/ shaded/ --retry-failed       # only what failed last time
  fastshade run drawings/ shaded/ --include '*.png' --exclude 'drafts/*'
  fastshade run /mnt/in /mnt/out --scheduler tcp://10.0.0.5:8786   # a Dask cluster

what it guarantees:
  * inputs are never modified; OUT is never read as input (an OUT inside IN is
    left out of the walk); OUT may not be IN or contain IN.
  * outputs are written to a temporary file in the destination folder and
    renamed into place, so a final name never holds a partial image; stale
    temporary files of a killed run are removed at start-up.
  * format problems (RGBA or 16-bit to JPEG, 16-bit to WebP) stop the run with
    exit status 2 before anything is computed (--format jpg/webp read every
    header first); --dry-run reports them too.
  * two inputs that would write the same output (a.png and a.jpg -> a.png) are
    both failed:collision, unless --on-collision suffix names them a_png.png
    and a_jpg.png.
  * a file that kills its worker is re-run alone in a fresh worker; only a file
    that kills an isolated worker is failed:crashed, every other file is kept.
  * hidden files, OS junk (.DS_Store, Thumbs.db, desktop.ini, ._*) and hidden
    folders are skipped; symlinked folders are followed once (loops detected).
  * outputs are byte-identical whatever the number of workers: kernels and
    BLAS run single-threaded in each worker, parallelism is across files.

manifest: each line has path (relative to IN), output (relative to OUT),
status (ok, skipped:<reason>, failed:<reason>), reason, message, warnings,
width/height/pixels, seconds (wall and CPU), worker, the input fingerprint (size, mtime_ns,
sha256 with --hash), options (ShadeOptions digest) and params (digest of the
options, format, depth, sample and the pipeline's OUTPUT_VERSION).  A file is done when its last record is ok
for the same fingerprint and params and its output is complete (header and end of data).

Ctrl-C (or SIGTERM) once: stop submitting, let running files finish; twice: cancel.
exit status: 0 every file ok or skipped, 1 some file failed, 2 usage error,
130 interrupted.  A one-line summary goes to stderr.
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
