"""Request bodies on the WebSocket port.

websockets reads only the head of a request (a handshake has none) and drops, unanswered, a
request that announces a body. `BodyConnection` gives each connection a reader that takes
the body a `Content-Length` announces, up to a limit, before websockets sees the head, so a
plain HTTP route (`POST /load_model`) can read JSON: one HTTP handling for every route. A body
it refuses (too long, chunked, an unreadable length) is dropped as it arrives, never kept,
and the route answers why.
"""

from __future__ import annotations

import http
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from websockets.asyncio.server import ServerConnection
from websockets.server import ServerProtocol
from websockets.streams import StreamReader


@dataclass(frozen=True)
class BodyRefusal:
    """Why a request's body was not read: the HTTP status to answer and the reason."""

    status: http.HTTPStatus
    reason: str


class BodyReader(StreamReader):
    """websockets' stream reader that, while the request head is read line by line, sets the
    body's headers aside and, at the head's end, reads the body (at most `limit` bytes).

    The head reaches websockets without `Content-Length` or `Transfer-Encoding`, so it parses
    it as any other request; `body` is the body read (None without one), `refusal` why one
    was not read."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.body: bytes | None = None
        self.refusal: BodyRefusal | None = None
        self._lengths: set[bytes] = set()
        self._chunked = False
        self._in_head = True
        self._dropping: int | None = 0
        """Bytes of a refused body still to drop as they arrive; None: all that follow."""

    def read_line(
        self, m: int, too_long_exc_type: type[Exception] = RuntimeError
    ) -> Generator[None, None, bytearray]:
        while True:
            line = yield from super().read_line(m, too_long_exc_type)
            if not self._in_head:
                return line
            name, colon, value = bytes(line).partition(b":")
            header = name.strip().lower() if colon else b""
            if header == b"content-length":
                self._lengths.add(value.strip())
            elif header == b"transfer-encoding":
                self._chunked = True
            else:
                if bytes(line) == b"\r\n":
                    self._in_head = False
                    yield from self._read_body()
                return line

    def feed_data(self, data: bytes | bytearray) -> None:
        super().feed_data(data)
        if self.refusal is not None:
            self._drop()

    def _read_body(self) -> Generator[None, None, None]:
        if self._chunked:
            self._refuse(http.HTTPStatus.LENGTH_REQUIRED, "send the body with Content-Length")
            return
        if not self._lengths:
            return
        (length,) = self._lengths if len(self._lengths) == 1 else (b"",)
        if not length.isdigit():
            self._refuse(http.HTTPStatus.BAD_REQUEST, "invalid or conflicting Content-Length")
            return
        size = int(length)
        if size > self.limit:
            reason = f"the body is {size} bytes; this server reads at most {self.limit}"
            self._refuse(http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE, reason, size)
            return
        self.body = bytes((yield from self.read_exact(size)))

    def _refuse(self, status: http.HTTPStatus, reason: str, size: int | None = None) -> None:
        self.refusal = BodyRefusal(status, reason)
        self._dropping = size
        self._drop()

    def _drop(self) -> None:
        waiting = len(self.buffer)
        dropped = waiting if self._dropping is None else min(self._dropping, waiting)
        del self.buffer[:dropped]
        if self._dropping is not None:
            self._dropping -= dropped


def read_bodies(protocol: ServerProtocol, limit: int) -> BodyReader:
    """Gives a protocol that has received nothing yet a `BodyReader`: its request parser
    restarts on it. Returns the reader, which holds the request's body once parsed."""
    reader = BodyReader(limit)
    protocol.reader = reader
    protocol.parser = protocol.parse()
    next(protocol.parser)
    return reader


class BodyConnection(ServerConnection):
    """A server connection whose requests may carry a body of at most `max_body_bytes`
    (a subclass per server sets it: `with_body_limit`)."""

    max_body_bytes: ClassVar[int]

    def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
        super().__init__(protocol, *args, **kwargs)
        self.body = read_bodies(protocol, self.max_body_bytes)

    @classmethod
    def with_body_limit(cls, max_body_bytes: int) -> type[BodyConnection]:
        """The connection class of a server reading bodies of at most `max_body_bytes`."""
        return type("BodyConnection", (cls,), {"max_body_bytes": max_body_bytes})
