"""Request bodies on the WebSocket port, sans I/O: websockets' server protocol fed bytes,
with the reader that takes a body before websockets parses the head."""

from __future__ import annotations

import http

import pytest
from websockets.http11 import Request
from websockets.server import ServerProtocol

from asr_interface.server.http_body import BodyReader, read_bodies

LIMIT = 64


def parsed(head: bytes, *chunks: bytes) -> tuple[list[object], BodyReader]:
    """The events of a fresh server protocol fed `head` and `chunks`, and its reader."""
    protocol = ServerProtocol()
    reader = read_bodies(protocol, LIMIT)
    for data in (head, *chunks):
        protocol.receive_data(data)
    return protocol.events_received(), reader


def post(headers: str) -> bytes:
    return f"POST /load_model HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()


def test_body_arriving_in_pieces_is_read_whole() -> None:
    """A body announced by Content-Length is read across chunks; the request reaches
    websockets as a request without one."""
    events, reader = parsed(post("Content-Length: 13\r\n"), b'{"lan":', b' "de"}')
    (request,) = events
    assert isinstance(request, Request)
    assert (request.method, request.path) == ("POST", "/load_model")
    assert "Content-Length" not in request.headers
    assert reader.body == b'{"lan": "de"}'
    assert reader.refusal is None


def test_request_without_body_has_none() -> None:
    """A GET without a body reaches websockets as before, with no body."""
    events, reader = parsed(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(events) == 1
    assert reader.body is None
    assert reader.refusal is None


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (f"Content-Length: {LIMIT + 1}\r\n", http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
        ("Transfer-Encoding: chunked\r\n", http.HTTPStatus.LENGTH_REQUIRED),
        ("Content-Length: -1\r\n", http.HTTPStatus.BAD_REQUEST),
        ("Content-Length: 1\r\nContent-Length: 2\r\n", http.HTTPStatus.BAD_REQUEST),
    ],
    ids=["too-long", "chunked", "negative", "conflicting"],
)
def test_refused_body_is_dropped_unread(headers: str, status: http.HTTPStatus) -> None:
    """A body over the limit, chunked, or with a bad length is refused with its status;
    the request still reaches the routes, and the body is dropped as it arrives, never
    kept nor parsed as WebSocket frames."""
    protocol = ServerProtocol()
    reader = read_bodies(protocol, LIMIT)
    protocol.receive_data(post(headers))
    for _ in range(LIMIT + 1):
        protocol.receive_data(b"x")
    events = protocol.events_received()
    (request,) = events
    assert isinstance(request, Request)
    assert reader.refusal is not None
    assert reader.refusal.status == status
    assert reader.body is None
    assert len(reader.buffer) == 0
    assert protocol.parser_exc is None
