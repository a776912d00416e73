"""How fast one connection's frames are read: a token bucket of frame budgets, and a time
slice after which the reader lets the other connections in.

Whatever its size, a frame costs the event loop a fixed amount (WebSocket parsing, the
reader's bookkeeping, the session's dispatch: tens of microseconds), and a large one a
little more per byte (unmasking, decoding, resampling). So a frame of up to
`FRAME_BUDGET_BYTES` costs one budget and a larger one a budget per `FRAME_BUDGET_BYTES`.
Frames within the rate (and a burst of one second's worth) are read at once; beyond it the
connection is read no faster than the rate, and TCP slows the client down. Nothing is
dropped: a client sending a file as fast as it can still gets all of it transcribed.

Reading stays paused while a client is over its rate, and its keepalive pings wait behind
the frames it sent before them: the rate is set so that even a burst of tens of thousands
of one-byte frames is read well within a client library's ping timeout (20 s).
"""

from __future__ import annotations

FRAME_BUDGET_BYTES = 4096
"""Bytes of a frame one budget covers: the loop time a frame costs whatever its size is
what decoding and resampling about this many bytes costs."""

READ_SLICE_SECONDS = 0.005
"""Longest the reader works through frames already received before it lets the event loop
serve others, limit or no limit: the loop answers other sessions and `/health` within a
few of these however fast one client sends."""


class ReadPacing:
    """When one connection's reader pauses; sans-I/O (times are given). `rate` is the
    frame budgets per second (None: no rate limit, only the time slice)."""

    def __init__(self, rate: float | None, now: float) -> None:
        self.rate = rate
        self._burst = max(1.0, rate or 0.0)
        self._tokens = self._burst
        self._updated = now
        self._slice_began = now

    def pause(self, now: float, size: int) -> float | None:
        """Takes a frame of `size` bytes read at `now`: the seconds to wait before reading
        the next one (0 to just let others in, at the end of a time slice), or None to go on
        at once."""
        if self.rate is not None:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self._burst, self._tokens + elapsed * self.rate)
            self._updated = now
            self._tokens -= max(1.0, size / FRAME_BUDGET_BYTES)
            if self._tokens < 0:
                self._slice_began = now - self._tokens / self.rate
                return -self._tokens / self.rate
        if now - self._slice_began >= READ_SLICE_SECONDS:
            self._slice_began = now
            return 0.0
        return None
