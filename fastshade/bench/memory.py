"""Peak resident memory of the benchmark worker around a block of code."""

from __future__ import annotations

import sys


class PeakMemory:
    """Peak resident memory of this process around a ``with`` block.

    Linux: writes ``5`` to ``/proc/self/clear_refs`` (resets the peak to the
    current RSS) and reads ``VmHWM`` afterwards; ``increase`` is the peak minus
    the RSS before.  Elsewhere ``peak`` is ``ru_maxrss`` (lifetime peak) and
    ``increase`` its growth during the block.  ``method`` (a class attribute)
    names the method the last block used.
    """

    method = "unset"

    def __init__(self) -> None:
        self.before = 0
        self.peak = 0
        self._reset = False

    @staticmethod
    def _status(key: str) -> int | None:
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    @staticmethod
    def _maxrss() -> int:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)

    def __enter__(self) -> PeakMemory:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            rss = self._status("VmRSS")
            if rss is None:
                raise OSError
            PeakMemory.method = "VmHWM after /proc/self/clear_refs reset (per run)"
            self.before = rss
            self._reset = True
        except OSError:
            PeakMemory.method = "ru_maxrss (process lifetime peak)"
            self.before = self._maxrss()
            self._reset = False
        return self

    def __exit__(self, *exc: object) -> None:
        peak = self._status("VmHWM") if self._reset else None
        self.peak = peak if peak is not None else self._maxrss()

    @property
    def increase(self) -> int:
        """Bytes the peak rose above the resident size at the start of the block (>= 0)."""
        return max(self.peak - self.before, 0)
