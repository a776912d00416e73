"""What a client keeps to resume a stream: bounded audio after the settled time, the end
of the committed text, and the waits between attempts."""

from __future__ import annotations

import numpy as np
import pytest

from asr_interface.protocol import MAX_CONTEXT_CHARS
from asr_interface.resume import CommittedText, KeptAudio, Reconnect

RATE = 16000


def ramp(start: int, count: int) -> np.ndarray:
    """Samples whose values are their own stream positions, to see which were kept."""
    return np.arange(start, start + count, dtype=np.float32)


def test_kept_audio_starts_at_the_settled_time() -> None:
    """Settling forgets exactly the samples before the settled time, across chunks."""
    kept = KeptAudio(30.0)
    for begin in range(0, 3 * RATE, RATE // 2):
        kept.append(ramp(begin, RATE // 2))
    kept.settle(1.25)
    assert kept.start_time == 1.25
    np.testing.assert_array_equal(kept.samples(), ramp(round(1.25 * RATE), round(1.75 * RATE)))
    kept.settle(0.5)  # an older settled time changes nothing
    assert kept.start_time == 1.25


def test_kept_audio_keeps_a_lead_in_before_the_settled_time() -> None:
    """With a lead-in, the kept audio starts that long before the settled time, which it
    remembers for the resumed stream."""
    kept = KeptAudio(30.0, lead_in_seconds=0.5)
    kept.append(ramp(0, 4 * RATE))
    kept.settle(2.0)
    assert (kept.start_time, kept.settled) == (1.5, 2.0)
    np.testing.assert_array_equal(kept.samples(), ramp(round(1.5 * RATE), round(2.5 * RATE)))


def test_kept_audio_holds_at_most_its_limit() -> None:
    """Without commits the oldest audio goes: the newest `limit` seconds stay, and the
    stream would resume where they start."""
    kept = KeptAudio(2.0)
    for begin in range(0, 5 * RATE, RATE):
        kept.append(ramp(begin, RATE))
    assert kept.full
    assert kept.start_time == 3.0
    np.testing.assert_array_equal(kept.samples(), ramp(3 * RATE, 2 * RATE))


def test_context_is_the_end_of_the_committed_text_from_a_word_on() -> None:
    """A long transcript's context is its end, at most the protocol's limit, cut before a
    word rather than inside one."""
    committed = CommittedText()
    committed.add(" hello")
    assert committed.context() == " hello"
    for index in range(400):
        committed.add(f" word{index}")
    context = committed.context()
    assert len(context) <= MAX_CONTEXT_CHARS
    assert context.endswith(" word399")
    assert context.startswith(" word")
    assert context.split()[0] in {f"word{i}" for i in range(400)}


@pytest.mark.parametrize(
    ("policy", "delays"),
    [
        (Reconnect(attempts=1), [0.0]),
        (Reconnect(attempts=5, first_delay=0.5, max_delay=1.5), [0.0, 0.5, 1.0, 1.5, 1.5]),
    ],
)
def test_reconnect_waits_longer_each_attempt_up_to_a_cap(
    policy: Reconnect, delays: list[float]
) -> None:
    """The first attempt is at once; the waits double up to `max_delay`."""
    assert policy.delays() == delays
