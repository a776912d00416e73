"""When new sessions are refused: recent step latencies of the open sessions, no clock."""

from __future__ import annotations

import pytest

from asr_interface.server.admission import LoadMonitor

A, B = "session a", "session b"


@pytest.mark.parametrize(
    ("steps", "now", "overloaded"),
    [
        ([], 0.0, False),  # nothing measured yet
        ([(A, 1.0, 2.0), (A, 2.0, 2.5)], 3.0, False),
        ([(A, 1.0, 3.5), (A, 2.0, 4.0)], 3.0, True),
        ([(A, 1.0, 3.5), (B, 2.0, 1.0), (B, 2.5, 1.0)], 3.0, False),  # the median decides
        ([(A, 1.0, 1.0), (A, 2.0, 9.0), (A, 3.0, 4.0)], 3.0, True),
        ([(A, 1.0, 3.01)], 3.0, True),
        ([(A, 1.0, 3.0)], 3.0, False),  # at the target is within it
        ([(A, 1.0, 5.0), (A, 2.0, 5.0)], 11.5, True),  # 2.0 is within the 10 s horizon
        ([(A, 1.0, 5.0), (A, 2.0, 5.0)], 12.5, False),  # both too old to count
        ([(A, 1.0, 5.0), (B, 12.0, 1.0)], 12.5, False),
    ],
)
def test_overloaded_when_the_median_recent_step_misses_the_target(
    steps: list[tuple[str, float, float]], now: float, overloaded: bool
) -> None:
    """The monitor is overloaded when the median latency of the steps finished in the last
    ten seconds exceeds the 3 s target."""
    monitor = LoadMonitor(3.0)
    for source, finished, latency in steps:
        monitor.record(source, finished, latency)
    assert monitor.overloaded(now) is overloaded


def test_closed_sessions_no_longer_count() -> None:
    """The steps of a session that closed are forgotten; the others still count."""
    monitor = LoadMonitor(3.0)
    monitor.record(A, 1.0, 9.0)
    monitor.record(A, 1.5, 9.0)
    monitor.record(B, 2.0, 4.0)
    assert monitor.overloaded(2.0)
    monitor.forget(A)
    assert monitor.overloaded(2.0)
    monitor.forget(B)
    assert not monitor.overloaded(2.0)


def test_without_a_target_nothing_is_refused() -> None:
    """A monitor without a target is never overloaded, however late the steps."""
    monitor = LoadMonitor(None)
    monitor.record(A, 1.0, 100.0)
    assert not monitor.overloaded(1.0)
