"""An asyncio client for the `/asr` WebSocket protocol.

    async with StreamingClient("ws://127.0.0.1:43007/asr") as client:
        async for message in client.stream("speech.wav", realtime=True):
            if isinstance(message, Commit):
                print(message.text, end="", flush=True)

Sources are a file path (any format PyAV decodes), a numpy array of 16 kHz mono samples,
or an async iterator of such arrays (a microphone, a network feed). Messages come back as
the typed models of `asr_interface.protocol`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from asr_interface.audio import SAMPLING_RATE, load_audio
from asr_interface.errors import ASRInterfaceError
from asr_interface.protocol import (
    Done,
    Error,
    ErrorCode,
    ModelLoaded,
    Ready,
    ResetDone,
    ServerMessage,
    parse_server_message,
)

AudioSource = str | os.PathLike[str] | npt.NDArray[Any] | AsyncIterable[npt.NDArray[Any]]


class ServerError(ASRInterfaceError):
    """The server answered a request with an `error` message."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.code = error.code
        self.message = error.message


class StreamingClient:
    """One WebSocket session; streams may follow one another on it."""

    def __init__(self, url: str, *, token: str | None = None) -> None:
        self.url = url
        self.token = token
        self.ready: Ready | None = None
        self._connection: ClientConnection | None = None

    async def __aenter__(self) -> StreamingClient:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        # No permessage-deflate: PCM barely compresses and deflating it costs CPU per frame.
        self._connection = await connect(
            self.url, additional_headers=headers, max_size=None, compression=None
        )
        ready = await self._receive()
        if not isinstance(ready, Ready):
            raise (
                ServerError(ready)
                if isinstance(ready, Error)
                else ASRInterfaceError(f"expected ready, got {ready.type}")
            )
        self.ready = ready
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._connection is not None:
            await self._connection.close()

    @property
    def connection(self) -> ClientConnection:
        if self._connection is None:
            raise ASRInterfaceError("use the client in `async with`")
        return self._connection

    async def load_model(self, **fields: Any) -> ModelLoaded:
        """Selects this session's model; `ServerError` when the server refuses or fails."""
        await self.connection.send(json.dumps({"type": "load_model", **fields}))
        reply = await self._receive()
        if isinstance(reply, Error):
            raise ServerError(reply)
        if not isinstance(reply, ModelLoaded):
            raise ASRInterfaceError(f"expected model_loaded, got {reply.type}")
        return reply

    async def reset(self) -> None:
        """Drops the current stream; replies of the dropped stream still in flight are
        skipped."""
        await self.connection.send(json.dumps({"type": "reset"}))
        while not isinstance(await self._receive(), ResetDone):
            pass

    async def stream(
        self,
        source: AudioSource,
        *,
        realtime: bool = False,
        chunk_seconds: float = 0.1,
    ) -> AsyncIterator[ServerMessage]:
        """Streams one source and yields every reply up to and including `done`.

        With `realtime`, chunks leave at the pace of the audio, as a microphone would send
        them; otherwise as fast as the connection takes them. When the model fails on the
        stream, no `done` follows: `ServerError` (code `backend_error`) is raised, and the
        session streams again after `reset()`.
        """
        if isinstance(source, str | os.PathLike):
            source = load_audio(Path(source))  # a bad file fails before the stream starts
        start = {"type": "start", "sample_rate": SAMPLING_RATE}
        frames = _pcm_frames(source, chunk_seconds)
        async for message in self._exchange(start, frames, SAMPLING_RATE * 2 if realtime else None):
            yield message

    async def stream_encoded(
        self,
        data: bytes,
        *,
        seconds: float | None = None,
        chunk_bytes: int = 4096,
    ) -> AsyncIterator[ServerMessage]:
        """Streams compressed audio (WebM or Ogg Opus, MP3, AAC in ADTS, FLAC, WAV) exactly
        as its bytes are, for the server to decode (`encoding: "auto"`), and yields every
        reply up to `done`. With `seconds`, the audio's length, bytes leave at its pace."""
        frames = _byte_frames(data, chunk_bytes)
        pace = len(data) / seconds if seconds else None
        async for message in self._exchange({"type": "start", "encoding": "auto"}, frames, pace):
            yield message

    async def _exchange(
        self,
        start: dict[str, Any],
        frames: AsyncIterator[bytes],
        bytes_per_second: float | None,
    ) -> AsyncIterator[ServerMessage]:
        """Sends `start`, then the frames (at `bytes_per_second`, or as fast as the
        connection takes them) and `end`, while yielding the replies up to `done`."""
        await self.connection.send(json.dumps(start))
        sender = asyncio.create_task(self._send_frames(frames, bytes_per_second))
        try:
            while True:
                message = await self._receive()
                if isinstance(message, Error) and message.code == ErrorCode.BACKEND_ERROR:
                    raise ServerError(message)
                yield message
                if isinstance(message, Done):
                    break
        finally:
            if not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
        if not sender.cancelled():  # `done` may come early, when the server shuts down
            await sender  # re-raises a failure of the source

    async def _send_frames(
        self, frames: AsyncIterator[bytes], bytes_per_second: float | None
    ) -> None:
        began = asyncio.get_running_loop().time()
        sent_bytes = 0
        try:
            async for frame in frames:
                await self.connection.send(frame)
                sent_bytes += len(frame)
                if bytes_per_second:
                    due = began + sent_bytes / bytes_per_second
                    ahead = due - asyncio.get_running_loop().time()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
        except ConnectionClosed:
            # The server may close once it has said `done` (it is shutting down); the
            # receiving side reports a close that comes before.
            return
        finally:
            # Even when the source fails, the server commits what it got and says done.
            with contextlib.suppress(ConnectionClosed):
                await self.connection.send(json.dumps({"type": "end"}))

    async def _receive(self) -> ServerMessage:
        frame = await self.connection.recv()
        if isinstance(frame, bytes):
            frame = frame.decode()
        return parse_server_message(frame)


async def _pcm_frames(
    source: npt.NDArray[Any] | AsyncIterable[npt.NDArray[Any]], chunk_seconds: float
) -> AsyncIterator[bytes]:
    async for chunk in _chunks(source, chunk_seconds):
        yield _pcm16(chunk)


async def _byte_frames(data: bytes, chunk_bytes: int) -> AsyncIterator[bytes]:
    for begin in range(0, len(data), chunk_bytes):
        yield data[begin : begin + chunk_bytes]


async def _chunks(
    source: npt.NDArray[Any] | AsyncIterable[npt.NDArray[Any]], chunk_seconds: float
) -> AsyncIterator[npt.NDArray[np.float32]]:
    if isinstance(source, AsyncIterable):
        async for chunk in source:
            yield np.asarray(chunk, dtype=np.float32)
        return
    step = max(1, int(chunk_seconds * SAMPLING_RATE))
    for begin in range(0, len(source), step):
        yield np.asarray(source[begin : begin + step], dtype=np.float32)


def _pcm16(samples: npt.NDArray[np.float32]) -> bytes:
    """Float samples in [-1, 1] as little-endian 16-bit PCM, the protocol's default."""
    scaled = np.clip(samples * 32768.0, -32768, 32767)
    pcm: bytes = scaled.astype("<i2").tobytes()
    return pcm
