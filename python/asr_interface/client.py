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
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from asr_interface.audio import SAMPLING_RATE, load_audio
from asr_interface.errors import ASRInterfaceError
from asr_interface.protocol import (
    Commit,
    Done,
    Error,
    ErrorCode,
    ModelLoaded,
    Ready,
    ResetDone,
    ServerMessage,
    parse_server_message,
)
from asr_interface.resume import RETRIED_REFUSALS, CommittedText, KeptAudio, Reconnect

logger = logging.getLogger("asr_interface.client")

AudioSource = str | os.PathLike[str] | npt.NDArray[Any] | AsyncIterable[npt.NDArray[Any]]


class ServerError(ASRInterfaceError):
    """The server answered a request with an `error` message."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.code = error.code
        self.message = error.message


class StreamingClient:
    """One WebSocket session; streams may follow one another on it.

    With `reconnect`, a stream outlives its connection: when the connection drops (its
    server died, or is shutting down and closes resumable streams unfinished), the client
    opens a new session (behind a load balancer, on any server), resumes the stream where the
    last `commit` settled it, replays the audio kept since, and goes on live; refusals
    (`overloaded`, `too_many_sessions`, `shutting_down`) are retried with backoff. The
    caller sees one stream: each word committed once, one `done`.
    """

    def __init__(
        self, url: str, *, token: str | None = None, reconnect: Reconnect | None = None
    ) -> None:
        self.url = url
        self.token = token
        self.reconnect = reconnect
        self.ready: Ready | None = None
        self.reconnects = 0
        """Sessions opened again to carry a stream on."""
        self._connection: ClientConnection | None = None
        self._model_fields: dict[str, Any] | None = None

    async def __aenter__(self) -> StreamingClient:
        await self._open()
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
        self._model_fields = fields  # a resumed stream loads it again
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
        policy = self.reconnect
        # Without reconnecting, no audio is kept.
        kept = KeptAudio(policy.kept_seconds, policy.lead_in_seconds) if policy else KeptAudio(0)
        link = _Link(kept)
        await self._start(link)
        sender = asyncio.create_task(self._send_audio(source, link, realtime, chunk_seconds))
        async for message in self._replies(sender, link):
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
        reply up to `done`. With `seconds`, the audio's length, bytes leave at its pace.
        Such a stream is not resumed on another server: its bytes cannot be cut anywhere."""
        await self.connection.send(json.dumps({"type": "start", "encoding": "auto"}))
        sender = asyncio.create_task(self._send_bytes(data, seconds, chunk_bytes))
        async for message in self._replies(sender, None):
            yield message

    async def _replies(
        self, sender: asyncio.Task[None], link: _Link | None
    ) -> AsyncIterator[ServerMessage]:
        """The replies up to `done` while `sender` sends; a dropped connection resumes a
        stream with a `link` when the client reconnects."""
        try:
            while True:
                try:
                    message = await self._receive()
                except ConnectionClosed as closed:
                    if self.reconnect is None or link is None:
                        raise
                    await self._resume(link, f"the connection closed ({closed})")
                    continue
                if isinstance(message, Error) and message.code == ErrorCode.BACKEND_ERROR:
                    raise ServerError(message)
                if isinstance(message, Commit) and link is not None:
                    link.committed.add(message.text)
                    link.kept.settle(message.settled)
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

    async def _open(self) -> None:
        """Connects and waits for `ready`; with `reconnect`, tries again after a refusal
        or a failed connection, waiting longer each time."""
        delays = self.reconnect.delays() if self.reconnect else [0.0]
        failure: Exception | None = None
        for delay in delays:
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except ServerError as error:
                if error.code not in RETRIED_REFUSALS:
                    raise
                failure = error
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as error:
                if self.reconnect is None:
                    raise
                failure = error
            else:
                return
        assert failure is not None
        raise failure

    async def _connect(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        # No permessage-deflate: PCM barely compresses and deflating it costs CPU per frame.
        self._connection = await connect(
            self.url, additional_headers=headers, max_size=None, compression=None
        )
        ready = await self._receive()
        if not isinstance(ready, Ready):
            await self._connection.close()
            raise (
                ServerError(ready)
                if isinstance(ready, Error)
                else ASRInterfaceError(f"expected ready, got {ready.type}")
            )
        self.ready = ready
        if self._model_fields is not None:
            await self.load_model(**self._model_fields)

    async def _start(self, link: _Link) -> None:
        """Starts the stream on the current connection where the server last settled it,
        replays the audio kept since, and lets the sender go on live."""
        connection = self.connection
        kept = link.kept
        start: dict[str, Any] = {"type": "start", "sample_rate": SAMPLING_RATE}
        if self.reconnect:
            start["resumable"] = True
        if kept.start or kept.settled or link.committed.context():
            start |= {
                "resume_from": kept.start_time,
                "settled": max(kept.settled, kept.start_time),
                "context": link.committed.context(),
            }
        await connection.send(json.dumps(start))
        for piece in _split(kept.samples(), REPLAY_CHUNK_SECONDS):
            await connection.send(_pcm16(piece))
        if link.source_done:
            await connection.send(json.dumps({"type": "end"}))
        link.attach(connection)

    async def _resume(self, link: _Link, reason: str) -> None:
        """Carries the stream over to a new session (`reconnect` is set)."""
        assert self.reconnect is not None
        logger.info("%s: resuming the stream settled at %.2f s", reason, link.kept.settled)
        link.detach()
        await self.connection.close()
        for _ in range(self.reconnect.attempts):
            self.reconnects += 1
            await self._open()
            async with link.lock:
                try:
                    await self._start(link)
                except ConnectionClosed:
                    continue
            return
        raise ASRInterfaceError("every new session dropped while the stream was resumed")

    async def _send_audio(
        self,
        source: npt.NDArray[Any] | AsyncIterable[npt.NDArray[Any]],
        link: _Link,
        realtime: bool,
        chunk_seconds: float,
    ) -> None:
        began = asyncio.get_running_loop().time()
        sent_seconds = 0.0
        try:
            async for chunk in _chunks(source, chunk_seconds):
                while link.connection is None and link.kept.full:
                    await link.connected.wait()  # wait for a server rather than drop audio
                async with link.lock:
                    link.kept.append(chunk)
                    if link.connection is not None:
                        # A close is reported by the receiving side, which resumes or
                        # ends the stream.
                        with contextlib.suppress(ConnectionClosed):
                            await link.connection.send(_pcm16(chunk))
                sent_seconds += len(chunk) / SAMPLING_RATE
                if realtime:
                    ahead = began + sent_seconds - asyncio.get_running_loop().time()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
        finally:
            # Even when the source fails, the server commits what it got and says done.
            link.source_done = True
            if link.connection is not None:
                with contextlib.suppress(ConnectionClosed):
                    await link.connection.send(json.dumps({"type": "end"}))

    async def _send_bytes(self, data: bytes, seconds: float | None, chunk_bytes: int) -> None:
        began = asyncio.get_running_loop().time()
        bytes_per_second = len(data) / seconds if seconds else None
        try:
            for begin in range(0, len(data), chunk_bytes):
                await self.connection.send(data[begin : begin + chunk_bytes])
                if bytes_per_second:
                    due = began + (begin + chunk_bytes) / bytes_per_second
                    ahead = due - asyncio.get_running_loop().time()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
        except ConnectionClosed:
            return  # the receiving side reports the close
        finally:
            with contextlib.suppress(ConnectionClosed):
                await self.connection.send(json.dumps({"type": "end"}))

    async def _receive(self) -> ServerMessage:
        frame = await self.connection.recv()
        if isinstance(frame, bytes):
            frame = frame.decode()
        return parse_server_message(frame)


REPLAY_CHUNK_SECONDS = 1.0
"""Kept audio is replayed in frames of this length, well under the server's frame limit."""


class _Link:
    """One stream's state shared by its sender and its receiver: the session taking its
    audio (None while a new one is being opened), and what a resumed stream needs."""

    def __init__(self, kept: KeptAudio) -> None:
        self.kept = kept
        self.committed = CommittedText()
        self.connection: ClientConnection | None = None
        self.connected = asyncio.Event()
        self.lock = asyncio.Lock()  # audio goes either live or into a replay, never both
        self.source_done = False  # `end` goes to every session from now on

    def attach(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.connected.set()

    def detach(self) -> None:
        self.connection = None
        self.connected.clear()


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


def _split(samples: npt.NDArray[np.float32], seconds: float) -> list[npt.NDArray[np.float32]]:
    step = round(seconds * SAMPLING_RATE)
    return [samples[begin : begin + step] for begin in range(0, len(samples), step)]


def _pcm16(samples: npt.NDArray[np.float32]) -> bytes:
    """Float samples in [-1, 1] as little-endian 16-bit PCM, the protocol's default."""
    scaled = np.clip(samples * 32768.0, -32768, 32767)
    pcm: bytes = scaled.astype("<i2").tobytes()
    return pcm
