"""The stages of one long shading, shown on a terminal (``fastshade shade``).

:class:`StageProgress` gives the shader a clock (``shade_arrays(clock=)``) that also hears
each stage's name (``Timer.stage`` calls ``clock.on_stage(name)``).  From ``delay`` seconds
on, a one-line tqdm display on stderr names the stage in progress and the time so far;
nothing is shown for a shorter shading, nor when stderr is not a terminal (piped, a log).
"""

from __future__ import annotations

import threading
import time
from typing import Any, TextIO

__all__ = ["StageProgress"]

DELAY = 2.0
"""Seconds of shading before the stages are shown."""

REFRESH = 0.2
"""Seconds between two looks at the stage in progress."""


class _StageClock:
    """``perf_counter`` that also passes each stage name on."""

    def __init__(self, owner: StageProgress) -> None:
        self._owner = owner

    def __call__(self) -> float:
        return time.perf_counter()

    def on_stage(self, name: str) -> None:
        self._owner.stage = name


class StageProgress:
    """Show the stage in progress of one shading on ``stream`` after ``delay`` seconds.

    Use as a context manager around the shading and pass :attr:`clock` to the shader.
    ``enabled`` defaults to whether ``stream`` is a terminal.
    """

    def __init__(self, label: str, stream: TextIO, delay: float | None = None,
                 enabled: bool | None = None) -> None:
        self.label = label
        self.stream = stream
        self.delay = DELAY if delay is None else delay
        self.enabled = bool(getattr(stream, "isatty", lambda: False)()) if enabled is None else enabled
        self.stage = "reading"
        self.clock = _StageClock(self)
        self.stages_shown: list[str] = []
        self._bar: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StageProgress:
        if self.enabled:
            self._t0 = time.time()
            self._thread = threading.Thread(target=self._show, daemon=True, name="fastshade-stages")
            self._thread.start()
        return self

    def _show(self) -> None:
        while not self._stop.wait(REFRESH):
            if time.time() - self._t0 < self.delay:
                continue
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=None, file=self.stream, leave=False, dynamic_ncols=True,
                                 delay=self.delay, desc=f"{self.label}: {self.stage}",
                                 bar_format="fastshade: {desc} [{elapsed}]")
                self._bar.start_t = self._t0  # the elapsed time of the shading, not of the display
            if not self.stages_shown or self.stages_shown[-1] != self.stage:
                self.stages_shown.append(self.stage)
            self._bar.set_description_str(f"{self.label}: {self.stage}", refresh=False)
            self._bar.refresh()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.close()
