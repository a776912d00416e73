"""The one queue of held client input: bounded by bytes and by count, whatever it holds."""

from __future__ import annotations

import pytest

from asr_interface.server.held import HeldEvents
from asr_interface.wire import ErrorCode, ProtocolError


def test_held_input_is_served_in_order_and_its_bytes_freed() -> None:
    """What is held comes out first in, first out, and frees its bytes for more."""
    held: HeldEvents[str] = HeldEvents(10, 5, ErrorCode.BACKLOG_FULL, "while testing")
    held.hold("a", 6)
    held.hold("b", 4)
    assert (len(held), held.bytes) == (2, 10)
    assert held.pop() == "a"
    held.hold("c", 6)
    assert [held.pop(), held.pop()] == ["b", "c"]
    assert (len(held), held.bytes) == (0, 0)


@pytest.mark.parametrize(("sizes", "refused"), [([6, 5], 5), ([0, 0, 0], 0)])
def test_past_either_bound_input_gets_the_queues_code(sizes: list[int], refused: int) -> None:
    """Past the bytes (any input's, not only audio's) or past the count, `hold` raises the
    queue's code and keeps nothing of the refused input."""
    held: HeldEvents[int] = HeldEvents(10, 2, ErrorCode.BUFFER_FULL, "while testing")
    for size in sizes[:-1]:
        held.hold(size, size)
    before = (len(held), held.bytes)
    with pytest.raises(ProtocolError) as error:
        held.hold(refused, sizes[-1])
    assert error.value.code is ErrorCode.BUFFER_FULL
    assert "while testing" in error.value.message
    assert (len(held), held.bytes) == before
