"""The server's connection class: request bodies as `BodyConnection` reads them, and socket
reads of bounded size.

asyncio reads up to 256 KiB from a socket at a time, and websockets parses every frame of
what was read before the event loop runs anything else: 256 KiB of one-byte frames are
37,000 frames, about 0.2 s of parsing in one go, while `/health` and every other session
wait. Reading `READ_BYTES` at a time bounds that to a few milliseconds; larger frames
simply take more reads, which cost little next to unmasking and decoding their bytes.
"""

from __future__ import annotations

import asyncio

from asr_interface.server.http_body import BodyConnection

READ_BYTES = 16 << 10
"""Most bytes read from a socket at a time: 2,300 one-byte frames, about 12 ms of parsing."""


class SlicedReadConnection(BodyConnection):
    """A connection whose socket is read at most `READ_BYTES` at a time."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # asyncio's socket transports read `max_size` bytes per call; a transport without
        # one (another event loop) keeps its own reading.
        if isinstance(getattr(transport, "max_size", None), int):
            transport.max_size = READ_BYTES  # type: ignore[attr-defined]
