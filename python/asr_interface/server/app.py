"""The asyncio layer: websockets I/O, plain HTTP routes, workers and shutdown.

Everything protocol-related is decided by `Session`; this module only moves frames
between the socket and the session and runs the actions the session returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import math
import os
import signal
import ssl
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from asr_interface import __version__
from asr_interface.backends.registry import list_loaders
from asr_interface.core.config import SERVING_POLICY, ASRConfig
from asr_interface.core.engine import StreamEngine
from asr_interface.protocol import Error, ErrorCode, ProtocolError, encode
from asr_interface.realtime_protocol import REALTIME_PATH, error_event
from asr_interface.server.access import normalized_origin, origin_allowed, token_matches
from asr_interface.server.admission import LoadMonitor
from asr_interface.server.compressed import STALL_SECONDS
from asr_interface.server.frame_rate import FrameRateLimit
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.models import ModelPool
from asr_interface.server.pages import page_response
from asr_interface.server.realtime import RealtimeSession
from asr_interface.server.scheduler import BatchPolicy, BatchScheduler
from asr_interface.server.session import (
    CLOSE_GOING_AWAY,
    CLOSE_POLICY_VIOLATION,
    CLOSE_TRY_AGAIN_LATER,
    Action,
    Close,
    LoadConfig,
    ResetStream,
    RunStep,
    Send,
    Session,
    SessionLimits,
)
from asr_interface.wire import text_chars_for

logger = logging.getLogger("asr_interface.server")

ASR_PATH = "/asr"


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Everything `serve` can be told; `None` turns a limit off. Nonsense (a negative
    limit, an empty token, a key without its certificate) raises `ValueError`."""

    # Where to listen.
    host: str = "127.0.0.1"
    port: int = 43007
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # What to run.
    config: ASRConfig = field(default_factory=lambda: ASRConfig(policy=SERVING_POLICY))
    allowed_models: tuple[str, ...] | None = None
    workers: int = max(1, os.cpu_count() or 1)
    # Batching: see docs/batching.md (it measured no gain on a CPU; raise it on a GPU).
    max_batch: int = 1
    batch_window_ms: float = 30.0
    # Access: the token, and the pages (origins) besides the server's own that may connect.
    token: str | None = None
    allowed_origins: tuple[str, ...] = ()
    # Limits: docs/protocol.md#limits lists each with what a client sees when it is reached.
    max_sessions: int | None = 64
    max_frame_bytes: int = 1 << 20
    max_backlog_seconds: float = 300.0
    max_frames_per_second: float | None = 500.0
    max_reply_bytes: int = 1 << 20
    idle_timeout: float | None = 300.0
    max_session_seconds: float | None = 4 * 3600.0
    drain_seconds: float = 0.0
    """After SIGTERM, how long open streams may go on before the server ends them; /health
    answers 503 `draining` from the signal on, so balancers send new sessions elsewhere."""
    shutdown_grace: float = 60.0
    """How long the streams ended at shutdown may take for their final commits."""
    latency_target: float | None = 3.0
    model_call_timeout: float | None = 60.0
    max_loaded_models: int = 4

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise ValueError("the token is empty: give a real one, or none to allow everyone")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ValueError("a key file needs its certificate (ssl_certfile)")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0 to 65535, got {self.port}")
        positive = {
            "workers": self.workers,
            "max_batch": self.max_batch,
            "max_sessions": self.max_sessions,
            "max_frame_bytes": self.max_frame_bytes,
            "max_backlog_seconds": self.max_backlog_seconds,
            "max_loaded_models": self.max_loaded_models,
            "model_call_timeout": self.model_call_timeout,
            "max_frames_per_second": self.max_frames_per_second,
            "max_reply_bytes": self.max_reply_bytes,
            "idle_timeout": self.idle_timeout,
            "max_session_seconds": self.max_session_seconds,
        }
        not_negative = {
            "batch_window_ms": self.batch_window_ms,
            "shutdown_grace": self.shutdown_grace,
            "latency_target": self.latency_target,
        }
        for name, value in positive.items():
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be positive, got {value}")
        for name, value in not_negative.items():
            if value is not None and not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be 0 or more, got {value}")
        for origin in self.allowed_origins:
            parts = urlsplit(normalized_origin(origin))
            if origin != "*" and not (parts.scheme and parts.netloc and not parts.path):
                raise ValueError(f"an allowed origin is scheme://host[:port] or *, got {origin!r}")


class ASRServer:
    """The streaming server: start it, then serve until `shutdown` or a signal."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.metrics = ServerMetrics()
        self.model_workers = ThreadPoolExecutor(settings.workers, thread_name_prefix="asr-model")
        self.load = LoadMonitor(settings.latency_target)
        self.scheduler = BatchScheduler(
            self.model_workers,
            BatchPolicy(settings.max_batch, settings.batch_window_ms / 1000),
            observer=self.metrics,
            load=self.load,
            call_timeout=settings.model_call_timeout,
        )
        self._load_workers = ThreadPoolExecutor(1, thread_name_prefix="asr-load")
        self.models = ModelPool(
            settings.config,
            executor=self._load_workers,
            allowed_models=settings.allowed_models,
            max_loaded=settings.max_loaded_models,
        )
        self._runners: set[SessionRunner] = set()
        self._allowed_origins = frozenset(map(normalized_origin, settings.allowed_origins))
        self._server: Server | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "wss" if self.settings.ssl_certfile else "ws"
        return f"{scheme}://{self.settings.host}:{self.port}{ASR_PATH}"

    async def start(self) -> None:
        """Loads the default model, then listens; clients never meet a cold model."""
        await self.models.engine(self.settings.config)
        self._server = await serve(
            self._handle,
            self.settings.host,
            self.settings.port,
            process_request=self._process_request,
            ssl=self._ssl_context(),
            max_size=text_chars_for(self.settings.max_frame_bytes),
            # PCM barely compresses, and deflating every frame costs more CPU than the rest
            # of a session's work.
            compression=None,
            server_header=f"asr-interface/{__version__}",
        )
        logger.info("asr-interface listening on %s", self.url)

    async def serve_forever(self) -> None:
        """Serves until SIGINT or SIGTERM, then finishes every stream and stops."""
        await self.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        logger.info("stopping: finishing %d open session(s)", len(self._runners))
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, _exit_at_once)
        await self.shutdown()

    async def shutdown(self) -> None:
        """Drains, then stops: new sessions are refused (`shutting_down`) and /health says
        `draining` while open streams go on for up to `drain_seconds`; then each stream
        still open gets its final commits and `done`, and the server closes."""
        self._stopping = True
        assert self._server is not None
        await self._sessions_closed(self.settings.drain_seconds)
        for runner in list(self._runners):
            runner.shutdown()
        await self._sessions_closed(self.settings.shutdown_grace)
        self._server.close(close_connections=False)
        # Cut off what the grace period did not finish: the server's own close() acts only
        # once, and its call above left the connections open.
        await asyncio.gather(
            *(r.connection.close(CLOSE_GOING_AWAY, "server shutting down") for r in self._runners)
        )
        await self._server.wait_closed()
        await self.scheduler.close()
        self.model_workers.shutdown(wait=False, cancel_futures=True)
        self._load_workers.shutdown(wait=False, cancel_futures=True)

    async def _sessions_closed(self, timeout: float) -> None:
        """Returns once every open session has closed, or after `timeout` seconds."""
        runners = list(self._runners)
        if runners and timeout > 0:
            await asyncio.wait(
                [asyncio.ensure_future(r.finished.wait()) for r in runners], timeout=timeout
            )

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.settings.ssl_certfile:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.settings.ssl_certfile, self.settings.ssl_keyfile)
        return context

    # Plain HTTP on the same port.

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path in (ASR_PATH, REALTIME_PATH):
            if not self._authorized(request):
                return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing or wrong token\n")
            if not origin_allowed(request.headers, self._allowed_origins):
                return connection.respond(
                    http.HTTPStatus.FORBIDDEN,
                    "pages from this origin may not connect (see --allowed-origins)\n",
                )
            intent = parse_qs(urlsplit(request.path).query).get("intent", ["transcription"])[0]
            if path == REALTIME_PATH and intent != "transcription":
                return connection.respond(
                    http.HTTPStatus.BAD_REQUEST,
                    f"intent {intent!r}: this server runs transcription sessions only\n",
                )
            return None
        page = page_response(path, request.headers)
        if page is not None:
            return page
        routes = {"/health": self._health, "/backends": self._backends, "/metrics": self._metrics}
        route = routes.get(path)
        if route is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, f"no route {path}\n")
        if path == "/backends" and not self._authorized(request):
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing or wrong token\n")
        return route()

    def _authorized(self, request: Request) -> bool:
        return token_matches(request.headers, request.path, self.settings.token)

    def _health(self) -> Response:
        """`ok` (200) while a new session would be accepted and the model answers;
        otherwise (503) why not: `draining`, `full`, `overloaded`, or `model_stalled` while
        the last model call ran past `--model-call-timeout` and none has returned since, so
        a balancer sends new sessions elsewhere."""
        refusal = self._refusal()
        status = "ok" if refusal is None else _HEALTH_STATUS[refusal[0]]
        if status == "ok" and self.scheduler.stalled:
            status = "model_stalled"
        return _json_response(
            {
                "status": status,
                "version": __version__,
                "sessions": len(self._runners),
                "models": [entry["config"]["model"] for entry in self.models.loaded()],
            },
            http.HTTPStatus.OK if status == "ok" else http.HTTPStatus.SERVICE_UNAVAILABLE,
        )

    def _backends(self) -> Response:
        return _json_response(
            {
                "backends": list_loaders(),
                "default": self.settings.config.model_dump(),
                "allowed_models": sorted(self.models.allowed_models())
                if self.settings.allowed_models is not None
                else None,
                "loaded": self.models.loaded(),
            }
        )

    def _metrics(self) -> Response:
        headers = Headers([("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
        return Response(200, "OK", headers, self.metrics.render())

    # WebSocket sessions.

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        target = urlsplit(connection.request.path)
        realtime = target.path == REALTIME_PATH
        refusal = self._refusal()
        if refusal is not None:
            code, reason = refusal
            self.metrics.error(code.value)
            error = (
                error_event("event_refused", code.value, reason)
                if realtime
                else Error(code=code.value, message=reason)
            )
            await connection.send(encode(error))
            await connection.close(CLOSE_TRY_AGAIN_LATER, reason)
            return
        engine, _ = await self.models.engine(self.settings.config)
        decoded = AudioDecoded(asyncio.get_running_loop())
        session = Session(
            uuid.uuid4().hex[:12],
            self.settings.config,
            sep=engine.sep,
            validate_config=self.models.validate,
            limits=SessionLimits(
                max_frame_bytes=self.settings.max_frame_bytes,
                max_backlog_seconds=self.settings.max_backlog_seconds,
            ),
            observer=self.metrics,
            wake=decoded.notify,
        )
        protocol: Session | RealtimeSession = session
        if realtime:
            model = parse_qs(target.query).get("model", [None])[0]
            protocol = RealtimeSession(session, model=model, observer=self.metrics)
        runner = SessionRunner(self, connection, protocol, engine, decoded)
        self._runners.add(runner)
        self.metrics.session_opened()
        try:
            await runner.run()
        finally:
            runner.abandon()
            self._runners.discard(runner)
            self.scheduler.forget(runner.engine)
            self.metrics.session_closed()

    def _refusal(self) -> tuple[ErrorCode, str] | None:
        """Why a new connection is turned away, if it is."""
        limit = self.settings.max_sessions
        if self._stopping:
            return ErrorCode.SHUTTING_DOWN, "server shutting down"
        if limit is not None and len(self._runners) >= limit:
            return ErrorCode.TOO_MANY_SESSIONS, f"the server holds {limit} sessions at most"
        if self.load.overloaded(time.monotonic()):
            return (
                ErrorCode.OVERLOADED,
                f"the open sessions already miss the {self.settings.latency_target:g} s "
                "latency target; another would slow them further",
            )
        return None


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
    """Carries out one session's actions; every action runs on the event loop thread."""

    def __init__(
        self,
        server: ASRServer,
        connection: ServerConnection,
        session: Session | RealtimeSession,
        engine: StreamEngine,
        decoded: AudioDecoded,
    ) -> None:
        self.server = server
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
        settings = server.settings
        now = time.monotonic()
        self._frame_rate = (
            FrameRateLimit(settings.max_frames_per_second, now)
            if settings.max_frames_per_second is not None
            else None
        )
        self._expires_at = (
            now + settings.max_session_seconds if settings.max_session_seconds else math.inf
        )

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        decoded = asyncio.create_task(self._take_decoded())
        self.apply(self.session.connected())
        try:
            await self._read()
        finally:
            self.finished.set()
            writer.cancel()
            decoded.cancel()

    def shutdown(self) -> None:
        self.apply(self.session.shutdown(time.monotonic()))

    def abandon(self) -> None:
        """The connection is gone: its queued steps and loads are cancelled at once (a
        step already on a worker thread finishes, and its result is dropped), and it starts
        no more work."""
        self._abandoned = True
        for task in list(self._tasks):
            task.cancel()

    async def _read(self) -> None:
        idle_timeout = self.server.settings.idle_timeout or math.inf
        idle_since = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= self._expires_at:
                self._expires_at = math.inf
                self.apply(self.session.expired(now))
            if self.session.has_pending_work:
                # The client waits for the server, not the other way round.
                idle_since = now
            timeout = min(idle_since + idle_timeout, self._expires_at) - now
            try:
                frame = await asyncio.wait_for(
                    self.connection.recv(), None if math.isinf(timeout) else max(0.0, timeout)
                )
            except TimeoutError:
                now = time.monotonic()
                if now < idle_since + idle_timeout or self.session.has_pending_work:
                    continue
                self.apply(self.session.idle_timeout())
                await self.connection.wait_closed()
                return
            except ConnectionClosed:
                return
            now = time.monotonic()
            idle_since = now
            if isinstance(frame, str):
                self.apply(self.session.receive_text(frame, now))
            else:
                self.apply(self.session.receive_bytes(frame, now))
            if self._frame_rate is not None:
                delay = self._frame_rate.delay(now)
                if delay > 0:
                    await asyncio.sleep(delay)

    async def _take_decoded(self) -> None:
        """Hands the session the audio decoded off the loop, when the decoder says so
        and at least every `STALL_SECONDS`, so that a decoder making no progress is
        noticed."""
        event = self._decoded.event
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), STALL_SECONDS)
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
        limit = self.server.settings.max_reply_bytes
        if self._outbox_bytes + len(reply) > limit:
            self._slow_reader = True
            logger.warning(
                "session %s: more than %d bytes of replies unread; closing",
                self.session.session_id,
                limit,
            )
            self.server.metrics.error(ErrorCode.SLOW_READER.value)
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
            result = await self.server.scheduler.step(
                self.engine, action.audio, final=action.final, lag=action.lag
            )
        except Exception as error:
            logger.exception("session %s: the backend failed", self.session.session_id)
            reason = f"{type(error).__name__}: {error}"
            self.apply(self.session.step_failed(reason, time.monotonic()))
        else:
            self.apply(self.session.step_finished(result, time.monotonic()))

    async def _load(self, config: ASRConfig) -> None:
        try:
            engine, metadata = await self.server.models.engine(config)
        except ProtocolError as error:
            self.apply(self.session.model_failed(error.code, error.message))
            return
        self.server.scheduler.forget(self.engine)
        self.engine = engine
        self.apply(self.session.model_loaded(config, metadata, engine.sep))


_HEALTH_STATUS = {
    ErrorCode.SHUTTING_DOWN: "draining",
    ErrorCode.TOO_MANY_SESSIONS: "full",
    ErrorCode.OVERLOADED: "overloaded",
}


def _json_response(
    payload: dict[str, Any], status: http.HTTPStatus = http.HTTPStatus.OK
) -> Response:
    body = json.dumps(payload, default=str).encode()
    headers = Headers([("Content-Type", "application/json")])
    return Response(status.value, status.phrase, headers, body)


def _exit_at_once() -> None:
    """A second SIGINT or SIGTERM during shutdown: stop now, whatever still runs."""
    logger.warning("second signal: exiting at once")
    logging.shutdown()
    os._exit(1)
