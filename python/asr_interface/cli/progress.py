"""A minimal progress bar on stderr, so long runs show they are moving without touching stdout."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

_WIDTH = 30
_LOG_STEP = 10
"""Without a terminal, a line is written every this many percent, keeping logs short."""


class ProgressBar:
    """Shows `done / total` (in `unit`) on `stream`: redrawn in place on a terminal, as
    occasional lines otherwise. It stays silent unless `stream` is a terminal or the run is
    `long`, so short runs and scripted ones keep stderr clean."""

    def __init__(
        self, total: float, unit: str, *, long: bool, stream: TextIO | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self.unit = unit
        self.interactive = self.stream.isatty()
        self.enabled = total > 0 and (self.interactive or long)
        self._shown = -1

    def update(self, done: float) -> None:
        """Reports that `done` of the total is finished."""
        if not self.enabled:
            return
        percent = min(100, int(100 * done / self.total))
        if self.interactive:
            if percent != self._shown:
                filled = _WIDTH * percent // 100
                bar = "#" * filled + "." * (_WIDTH - filled)
                figures = f"{done:.0f}/{self.total:.0f} {self.unit}"
                self.stream.write(f"\r[{bar}] {percent:3d}% {figures}")
                self.stream.flush()
        elif percent // _LOG_STEP != self._shown // _LOG_STEP:
            self.stream.write(f"progress: {percent}% ({done:.0f}/{self.total:.0f} {self.unit})\n")
            self.stream.flush()
        self._shown = percent

    def clear(self) -> None:
        """Erases the bar from a terminal line, so text written next is not mixed into it."""
        if self.enabled and self.interactive and self._shown >= 0:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = -1

    def close(self) -> None:
        """Ends the bar's line so that later output starts on a fresh one."""
        if self.enabled and self.interactive and self._shown >= 0:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
