"""Client input held while a session cannot serve it yet, bounded over everything held.

A session holds what arrives while its model loads or a reset waits for the running step,
and behind that until each held message is answered (`Session`), or while a committed turn
is finished or the session holds (`RealtimeSession`), to serve it in order afterwards.
Whatever the input (an audio frame, a config change, a clear), it costs the bytes it took on
the wire and one place in the queue, so no kind of event can grow the server past the
queue's two limits.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

from asr_interface.wire import ErrorCode, ProtocolError

T = TypeVar("T")


class HeldEvents(Generic[T]):
    """A bounded queue of held client input, served first in, first out."""

    def __init__(self, max_bytes: int, max_events: int, code: ErrorCode, while_what: str) -> None:
        """`max_bytes` bounds the wire bytes of the events held at once and `max_events`
        their number (each costs memory beyond its bytes); `code` is the error a client
        gets past them, `while_what` says when input is held ("while the model loads")."""
        self.max_bytes = max_bytes
        self.max_events = max_events
        self._code = code
        self._while = while_what
        self._events: deque[tuple[T, int]] = deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._events)

    def hold(self, event: T, size: int) -> None:
        """Keeps `event`, which took `size` bytes on the wire, or raises `ProtocolError`
        with this queue's code when it would pass a limit (the event is then dropped)."""
        if self.bytes + size > self.max_bytes or len(self._events) >= self.max_events:
            raise ProtocolError(
                self._code,
                f"at most {self.max_bytes} bytes in {self.max_events} events wait "
                f"{self._while}; this one was dropped",
            )
        self._events.append((event, size))
        self.bytes += size

    def pop(self) -> T:
        """The oldest event held; the queue must not be empty."""
        event, size = self._events.popleft()
        self.bytes -= size
        return event

    def clear(self) -> None:
        self._events.clear()
        self.bytes = 0
