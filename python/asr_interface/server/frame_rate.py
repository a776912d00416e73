"""The frame-rate limit of one connection: a token bucket that paces reading.

Each frame costs the event loop the same bookkeeping whatever its size, so a client
sending thousands of tiny frames a second would take the loop from everyone. Frames
within the rate (and a burst of one second's worth) are read at once; beyond it the
connection is read no faster than the rate, and TCP slows the client down. Nothing is
dropped: a client sending a file as fast as it can still gets all of it transcribed.
"""

from __future__ import annotations


class FrameRateLimit:
    """Frames per second one connection is read at, at most; sans-I/O (times are given)."""

    def __init__(self, frames_per_second: float, now: float) -> None:
        self.rate = frames_per_second
        self._burst = max(1.0, frames_per_second)
        self._tokens = self._burst
        self._updated = now

    def delay(self, now: float) -> float:
        """Seconds to wait before reading the next frame; takes that frame's token."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._burst, self._tokens + elapsed * self.rate)
        self._updated = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate
