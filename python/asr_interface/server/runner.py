"""One WebSocket connection's loop: it feeds the session what the socket and the clock bring,
and carries out the actions the session returns.

Besides moving frames, the runner enforces the connection's time and flow limits: how long a
client may stay silent (`idle_timeout`), how long a session may live (`max_session_seconds`),
how fast frames are read (`max_frames_per_second`, paced by `ReadPacing`), and how many reply
bytes may wait for a client that does not read them (`max_reply_bytes`, then the connection
is closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import StreamEngine
from asr_interface.protocol import ErrorCode, ProtocolError, encode
from asr_interface.server.compressed import STALL_SECONDS
from asr_interface.server.frame_rate import ReadPacing
from asr_interface.server.logs import remote_address
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.models import ModelPool
from asr_interface.server.realtime import RealtimeSession
from asr_interface.server.scheduler import BatchScheduler
from asr_interface.server.session import Session
from asr_interface.server.session_types import (
    CLOSE_POLICY_VIOLATION,
    Action,
    Close,
    LoadConfig,
    ResetStream,
    RunStep,
    Send,
)
from asr_interface.server.settings import ServerSettings

logger = logging.getLogger("asr_interface.server")


class AudioDecoded:
    """Tells a runner, from a decoding thread, that audio decoded off the event loop is
    ready."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.event = asyncio.Event()

    def notify(self) -> None:
        """Safe from any thread; a notice after the loop closed is moot."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self.event.set)


class SessionRunner:
    """Runs one connection: reads frames, wakes the session for decoded audio, carries out
    its actions (every one on the event loop thread) and enforces the connection's time
    and flow limits."""

    def __init__(
        self,
        connection: ServerConnection,
        session: Session | RealtimeSession,
        engine: StreamEngine,
        decoded: AudioDecoded,
        *,
        settings: ServerSettings,
        metrics: ServerMetrics,
        scheduler: BatchScheduler,
        models: ModelPool,
    ) -> None:
        """`settings` give the connection's limits; `scheduler` runs its steps and `models`
        loads the models it asks for."""
        self.settings = settings
        self.metrics = metrics
        self.scheduler = scheduler
        self.models = models
        self.connection = connection
        self.session = session
        self.engine = engine
        self._decoded = decoded
        self.finished = asyncio.Event()
        self._outbox: asyncio.Queue[str | Close] = asyncio.Queue()
        self._outbox_bytes = 0  # of the replies queued and not yet handed to the socket
        self._slow_reader = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._abandoned = False
        now = time.monotonic()
        self._idle_since = now  # when the client last sent a frame
        self._timed_out = False
        self._expires_at = (
            now + settings.max_session_seconds if settings.max_session_seconds else math.inf
        )

    async def run(self) -> None:
        """Serves the connection until it is closed, then releases what it held (`_release`)
        before returning."""
        loops = [
            asyncio.create_task(self._write()),
            asyncio.create_task(self._take_decoded()),
            asyncio.create_task(self._watch_clock()),
        ]
        self.apply(self.session.connected())
        try:
            await self._read()
        finally:
            await self._release(loops)
            self.finished.set()

    def log_fields(self, code: ErrorCode | None = None) -> dict[str, Any]:
        """What identifies this connection's log records (`extra=`): its session, its
        client's address and, for a failure, the error code its client is sent."""
        fields = {
            "session": self.session.session_id,
            "remote": remote_address(self.connection.remote_address),
        }
        return fields if code is None else fields | {"code": code.value}

    def shutdown(self) -> None:
        self.apply(self.session.shutdown(time.monotonic()))

    async def _release(self, loops: list[asyncio.Task[None]]) -> None:
        """The connection is gone: the runner starts no more work, cancels its queued
        steps and loads (a step already on a worker thread finishes, its result dropped)
        and awaits every task of its own; then the session lets go of its stream
        (`Session.close`). All the connection held is freed with its last reference, never
        left for the garbage collector."""
        self._abandoned = True
        tasks = [*loops, *self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        self.session.close()

    async def _read(self) -> None:
        """Reads frames and hands them to the session, pausing as `ReadPacing` says; the
        clock's limits are watched by `_watch_clock`, so a frame costs no timer."""
        pacing = ReadPacing(self.settings.max_frames_per_second, time.monotonic())
        while True:
            try:
                frame = await self.connection.recv()
            except ConnectionClosed:
                return
            if self._timed_out:
                # Read after the idle timeout was sent: the close is under way.
                await self.connection.wait_closed()
                return
            now = time.monotonic()
            self._idle_since = now
            if isinstance(frame, str):
                self.apply(self.session.receive_text(frame, now))
            else:
                self.apply(self.session.receive_bytes(frame, now))
            pause = pacing.pause(now, len(frame))
            if pause is not None:
                await asyncio.sleep(pause)

    async def _watch_clock(self) -> None:
        """Ends a session silent for `idle_timeout` (the time the server still owes it
        results does not count) and one older than `max_session_seconds`."""
        idle_timeout = self.settings.idle_timeout or math.inf
        while True:
            now = time.monotonic()
            if now >= self._expires_at:
                self._expires_at = math.inf
                self.apply(self.session.expired(now))
            if self.session.has_pending_work:
                # The client waits for the server, not the other way round.
                self._idle_since = now
            idle_at = self._idle_since + idle_timeout
            if now >= idle_at:
                self._timed_out = True
                self.apply(self.session.idle_timeout())
                return
            wake = min(idle_at, self._expires_at)
            if math.isinf(wake):
                return
            await asyncio.sleep(wake - now)

    async def _take_decoded(self) -> None:
        """Hands the session the audio decoded off the loop, when the decoder says so
        and at least every `STALL_SECONDS`, so that a decoder making no progress is
        noticed."""
        event = self._decoded.event
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STALL_SECONDS):
                    await event.wait()
            event.clear()
            self.apply(self.session.audio_ready(time.monotonic()))

    async def _write(self) -> None:
        try:
            while True:
                item = await self._outbox.get()
                if isinstance(item, Close):
                    await self.connection.close(item.code, item.reason)
                    return
                await self.connection.send(item)
                self._outbox_bytes -= len(item)
        except ConnectionClosed:
            return

    def _enqueue(self, reply: str) -> None:
        """Queues a reply, or closes the connection of a client that does not read them."""
        if self._slow_reader:
            return
        limit = self.settings.max_reply_bytes
        if self._outbox_bytes + len(reply) > limit:
            self._slow_reader = True
            logger.warning(
                "more than %d bytes of replies unread; closing",
                limit,
                extra=self.log_fields(ErrorCode.SLOW_READER),
            )
            self.metrics.error(ErrorCode.SLOW_READER.value)
            # The writer is stuck behind the replies the client does not read: the close
            # frame goes out ahead of the queued ones, right after those the socket holds,
            # and the connection is dropped if even that is not read within the close
            # timeout. Later replies are not queued.
            self._spawn(
                self.connection.close(
                    CLOSE_POLICY_VIOLATION,
                    f"{ErrorCode.SLOW_READER.value}: over {limit} bytes of replies unread",
                )
            )
            return
        self._outbox_bytes += len(reply)
        self._outbox.put_nowait(reply)

    def apply(self, actions: list[Action]) -> None:
        """Runs the session's actions in order, without awaiting anything."""
        if self._abandoned:
            return
        for action in actions:
            if isinstance(action, Send):
                self._enqueue(encode(action.message))
            elif isinstance(action, Close):
                self._outbox.put_nowait(action)
            elif isinstance(action, RunStep):
                self._spawn(self._step(action))
            elif isinstance(action, ResetStream):
                self.engine.reset(action.offset, action.context, action.settled, action.prompt)
            elif isinstance(action, LoadConfig):
                self._spawn(self._load(action.config))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _step(self, action: RunStep) -> None:
        try:
            result = await self.scheduler.step(
                self.engine, action.audio, final=action.final, lag=action.lag
            )
        except Exception as error:
            logger.exception("the backend failed", extra=self.log_fields(ErrorCode.BACKEND_ERROR))
            reason = f"{type(error).__name__}: {error}"
            self.apply(self.session.step_failed(reason, time.monotonic()))
        else:
            self.apply(self.session.step_finished(result, time.monotonic()))

    async def _load(self, config: ASRConfig) -> None:
        try:
            engine, metadata = await self.models.engine(config)
        except ProtocolError as error:
            self.apply(self.session.model_failed(error.code, error.message))
            return
        self.scheduler.forget(self.engine)
        self.engine = engine
        self.apply(self.session.model_loaded(config, metadata, engine.sep))
