"""How one connection's reading is paced: a token bucket of frame budgets that says how
long to wait, and a time slice after which the reader lets others in."""

from __future__ import annotations

import pytest

from asr_interface.server.frame_rate import FRAME_BUDGET_BYTES, READ_SLICE_SECONDS, ReadPacing


def test_a_burst_of_one_seconds_frames_passes_at_once() -> None:
    """The first `rate` frames are read without waiting; the next one waits 1/rate s."""
    pacing = ReadPacing(100, now=0.0)
    assert [pacing.pause(0.0, 320) for _ in range(100)] == [None] * 100
    assert pacing.pause(0.0, 320) == pytest.approx(0.01)


def test_waiting_frames_are_read_at_the_rate() -> None:
    """A client sending faster than the rate is read at exactly the rate: waiting as told,
    frame after frame, reads `rate` frames per second."""
    pacing = ReadPacing(50, now=0.0)
    now = 0.0
    for _ in range(150):
        now += pacing.pause(now, 320) or 0.0
    assert now == pytest.approx(2.0)


def test_a_client_within_the_rate_never_waits() -> None:
    """Frames 20 ms apart against a 100/s limit are never delayed (at most a yield to let
    others in, which costs no time)."""
    pacing = ReadPacing(100, now=0.0)
    assert all(not pacing.pause(i * 0.02, 640) for i in range(1000))


@pytest.mark.parametrize("size", [0, 1, 7, FRAME_BUDGET_BYTES])
def test_a_frame_costs_one_budget_however_small(size: int) -> None:
    """An empty frame, a one-byte frame and one of `FRAME_BUDGET_BYTES` each cost one
    budget: past the burst, each waits a whole 1/rate."""
    pacing = ReadPacing(10, now=0.0)
    for _ in range(10):
        assert pacing.pause(0.0, size) is None
    assert pacing.pause(0.0, size) == pytest.approx(0.1)


def test_a_large_frame_costs_a_budget_per_frame_budget_bytes() -> None:
    """A frame of 8 budgets' bytes spends 8 of the 10 the burst holds; the next such frame
    waits for the 6 missing."""
    pacing = ReadPacing(10, now=0.0)
    assert pacing.pause(0.0, 8 * FRAME_BUDGET_BYTES) is None
    assert pacing.pause(0.0, 8 * FRAME_BUDGET_BYTES) == pytest.approx(0.6)


def test_the_reader_yields_once_per_time_slice_without_a_limit() -> None:
    """With no rate limit, frames worked through back to back are read at once until a
    time slice has passed, then the reader yields (a pause of 0) and a new slice begins."""
    pacing = ReadPacing(None, now=0.0)
    step = READ_SLICE_SECONDS / 10
    pauses = [pacing.pause(i * step, 1) for i in range(1, 25)]
    yields = [i for i, pause in enumerate(pauses, start=1) if pause is not None]
    assert yields == [10, 20]
    assert all(pauses[i - 1] == 0.0 for i in yields)


def test_a_wait_for_the_rate_begins_a_new_slice() -> None:
    """After waiting for the rate the reader has let others in: the next yield comes a
    whole slice after the wait ends."""
    pacing = ReadPacing(1000, now=0.0)
    now = 0.0
    for _ in range(1000):
        assert pacing.pause(now, 1) in (None, 0.0)
    wait = pacing.pause(now, 1)
    assert wait == pytest.approx(0.001)
    now += wait or 0.0
    assert pacing.pause(now + READ_SLICE_SECONDS / 2, 0) is None
