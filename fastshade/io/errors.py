"""The one error type of image input/output and the mappings of other exceptions onto it.

Every failure of a reader or writer in :mod:`fastshade.io` leaves as one
:class:`ImageError` carrying a manifest reason code (:data:`ERROR_CODES`) and a
one-line message, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ERROR_CODES", "ImageError", "decode_exception", "os_error", "unexpected_as_image_error"]

ERROR_CODES: frozenset[str] = frozenset(
    {
        "not_found",
        "permission",
        "not_an_image",
        "decode_truncated",
        "decode_error",
        "too_large",
        "unsupported_dtype",
        "degenerate",
        "multi_frame",
        "write_error",
        "unsupported_output",
    }
)
"""Manifest reason codes an :class:`ImageError` can carry.

``multi_frame`` is raised only by ``read_image(..., frames="reject")``."""


class ImageError(Exception):
    """A per-file image problem with a manifest reason code.

    Parameters
    ----------
    path : str or os.PathLike
        The file the problem is about.
    code : str
        One of :data:`ERROR_CODES`.
    message : str
        Human-readable description, collapsed to one line.

    Notes
    -----
    ``str(err)`` is exactly one line, ``"<path>: <message>"``.  Instances
    pickle (they cross process boundaries in the batch driver).
    """

    path: str
    code: str
    message: str

    def __init__(self, path: str | os.PathLike[str], code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown ImageError code {code!r}; expected one of {sorted(ERROR_CODES)}")
        self.path = os.fspath(path)
        self.code = code
        self.message = " ".join(str(message).split())
        super().__init__(self.path, self.code, self.message)

    def __str__(self) -> str:
        shown = self.path.replace("\r", "\\r").replace("\n", "\\n")
        return f"{shown}: {self.message}"

    def __reduce__(self) -> tuple[type[ImageError], tuple[str, str, str]]:
        return (type(self), (self.path, self.code, self.message))


def os_error(path: str, exc: OSError) -> ImageError:
    """Map an ``OSError`` from opening/reading ``path`` to an :class:`ImageError`."""
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        return ImageError(path, "not_found", f"no such file ({reason})")
    if isinstance(exc, PermissionError):
        return ImageError(path, "permission", f"cannot read file: permission denied ({reason})")
    if isinstance(exc, IsADirectoryError):
        return ImageError(path, "not_an_image", "is a directory, not an image file")
    return ImageError(path, "decode_error", f"cannot read file: {reason}")


def decode_exception(path: str, exc: BaseException) -> ImageError:
    """Map an exception raised while decoding pixel data to an :class:`ImageError`."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if isinstance(exc, MemoryError):
        return ImageError(path, "too_large", "out of memory while decoding")
    if isinstance(exc, EOFError) or "truncat" in low or "premature end" in low:
        return ImageError(path, "decode_truncated", f"file is truncated ({text})")
    return ImageError(path, "decode_error", f"cannot decode image data ({type(exc).__name__}: {text})")


@contextmanager
def unexpected_as_image_error(path: str) -> Iterator[None]:
    """Last line of defence: no exception other than ImageError leaves the readers.

    Anything unforeseen (a Pillow plugin bug, a NumPy error on odd data) becomes
    ``decode_error`` naming the exception type, ``MemoryError`` becomes
    ``too_large``; ``KeyboardInterrupt``/``SystemExit`` pass through.
    """
    try:
        yield
    except ImageError:
        raise
    except MemoryError:
        raise ImageError(path, "too_large", "out of memory while reading") from None
    except Exception as exc:  # noqa: BLE001 (contract: one ImageError per bad file)
        raise ImageError(path, "decode_error", f"unexpected {type(exc).__name__}: {exc}") from None
