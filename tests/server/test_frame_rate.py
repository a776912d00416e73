"""The per-connection frame-rate limit: a token bucket that says how long to wait."""

from __future__ import annotations

import pytest

from asr_interface.server.frame_rate import FrameRateLimit


def test_a_burst_of_one_seconds_frames_passes_at_once() -> None:
    """The first `rate` frames are read without waiting; the next one waits 1/rate s."""
    limit = FrameRateLimit(100, now=0.0)
    assert [limit.delay(0.0) for _ in range(100)] == [0.0] * 100
    assert limit.delay(0.0) == pytest.approx(0.01)


def test_waiting_frames_are_read_at_the_rate() -> None:
    """A client sending faster than the rate is read at exactly the rate: waiting as told,
    frame after frame, reads `rate` frames per second."""
    limit = FrameRateLimit(50, now=0.0)
    now = 0.0
    for _ in range(50):
        now += limit.delay(now)
    for _ in range(100):
        now += limit.delay(now)
    assert now == pytest.approx(2.0)


def test_a_client_within_the_rate_never_waits() -> None:
    """Frames 20 ms apart against a 100/s limit are never delayed."""
    limit = FrameRateLimit(100, now=0.0)
    assert all(limit.delay(i * 0.02) == 0.0 for i in range(1000))
