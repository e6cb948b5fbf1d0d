"""Image input/output: sniff, probe, read to float RGB, validate and write atomically.

Everything the shader and the drivers need to turn a file on disk into
``(H, W, 3)`` float64 RGB in [0, 1] (plus optional alpha) and back, with every
failure reported as one :class:`ImageError` carrying a manifest reason code
and a one-line message (never a traceback).  Decisions: ``shared/spec/batch.md``
§4.1, §4.2, §4.5.

Modules, in import order (each imports only those above it)
-----------------------------------------------------------
errors
    :class:`ImageError`, :data:`ERROR_CODES` and the mapping of other exceptions.
memory
    :func:`estimate_bytes`, :func:`default_max_pixels`, :func:`pixel_limit`,
    :func:`size_refusal`, :func:`available_memory_bytes`, :func:`format_bytes`, :func:`operator_entries`,
    :data:`DEFAULT_MAX_PIXELS`.
sniff
    :func:`sniff_format`: the format from magic bytes; garbage stops here.
pillow
    The Pillow boundary: one pinned plugin per sniffed format, errors mapped.
probe
    :func:`probe_image`, :func:`probe_output`, :class:`ImageInfo`: headers only.
metadata
    :func:`icc_colour_space` and the resolution/ICC plumbing of read and write.
decode16
    Full-precision 16-bit colour PNG/TIFF with Pillow's own decoders.
read
    :func:`read_image`, :class:`LoadedImage`: conversions, EXIF, frames.
atomic
    :func:`write_atomic`, :func:`write_file`, :func:`check_writable`,
    :func:`sweep_stale_temps`.
write
    :func:`write_image`, :func:`validate_output`, :data:`OUTPUT_FORMATS`:
    quantisation and the encoders.
"""

from fastshade.io.atomic import check_writable, sweep_stale_temps, write_atomic, write_file
from fastshade.io.errors import ERROR_CODES, ImageError
from fastshade.io.memory import (
    DEFAULT_MAX_PIXELS,
    ITERATION_RESERVE_PIXELS,
    MEMORY_AVAILABLE_ENV,
    MaxPixels,
    MemoryBudgetError,
    available_memory_bytes,
    check_pixel_iteration,
    default_max_pixels,
    estimate_bytes,
    format_bytes,
    operator_entries,
    pixel_iteration_guard,
    pixel_limit,
    size_refusal,
)
from fastshade.io.metadata import icc_colour_space
from fastshade.io.probe import ImageInfo, probe_image, probe_output
from fastshade.io.read import LoadedImage, read_image
from fastshade.io.sniff import sniff_format
from fastshade.io.write import OUTPUT_FORMATS, validate_output, write_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ERROR_CODES",
    "ITERATION_RESERVE_PIXELS",
    "MEMORY_AVAILABLE_ENV",
    "OUTPUT_FORMATS",
    "ImageError",
    "ImageInfo",
    "LoadedImage",
    "MaxPixels",
    "MemoryBudgetError",
    "available_memory_bytes",
    "check_pixel_iteration",
    "check_writable",
    "default_max_pixels",
    "estimate_bytes",
    "format_bytes",
    "icc_colour_space",
    "operator_entries",
    "pixel_iteration_guard",
    "pixel_limit",
    "probe_image",
    "probe_output",
    "read_image",
    "size_refusal",
    "sniff_format",
    "sweep_stale_temps",
    "validate_output",
    "write_atomic",
    "write_file",
    "write_image",
]
