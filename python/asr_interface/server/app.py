"""The asyncio layer: websockets I/O, plain HTTP routes, workers and shutdown.

Everything protocol-related is decided by `Session`; this module only moves frames
between the socket and the session and runs the actions the session returns.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import json
import logging
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
from asr_interface.core.config import ASRConfig
from asr_interface.protocol import Error, ErrorCode, ProtocolError, encode
from asr_interface.server.admission import LoadMonitor
from asr_interface.server.engine import StreamEngine
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.models import ModelPool
from asr_interface.server.pages import page_response
from asr_interface.server.scheduler import BatchPolicy, BatchScheduler
from asr_interface.server.session import (
    CLOSE_GOING_AWAY,
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

logger = logging.getLogger("asr_interface.server")

ASR_PATH = "/asr"


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Everything `serve` can be told; `None` turns a limit off."""

    # Where to listen.
    host: str = "127.0.0.1"
    port: int = 43007
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    # What to run.
    config: ASRConfig = field(default_factory=ASRConfig)
    allowed_models: tuple[str, ...] | None = None
    workers: int = max(1, os.cpu_count() or 1)
    # Batching: see docs/batching.md (it measured no gain on a CPU; raise it on a GPU).
    max_batch: int = 1
    batch_window_ms: float = 30.0
    # Limits.
    token: str | None = None
    max_sessions: int | None = 64
    max_frame_bytes: int = 1 << 20
    idle_timeout: float | None = 300.0
    drain_seconds: float = 0.0
    """After SIGTERM, how long open streams may go on before the server ends them; /health
    answers 503 `draining` from the signal on, so balancers send new sessions elsewhere."""
    shutdown_grace: float = 60.0
    """How long the streams ended at shutdown may take for their final commits."""
    latency_target: float | None = 3.0


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
        )
        self._load_workers = ThreadPoolExecutor(1, thread_name_prefix="asr-load")
        self.models = ModelPool(
            settings.config, executor=self._load_workers, allowed_models=settings.allowed_models
        )
        self._runners: set[SessionRunner] = set()
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
            max_size=max(self.settings.max_frame_bytes * 2, 1 << 16),
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
        if path == ASR_PATH:
            if not self._authorized(request):
                return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing or wrong token\n")
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
        token = self.settings.token
        if token is None:
            return True
        header = request.headers.get("Authorization", "")
        offered = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not offered:
            offered = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
        return hmac.compare_digest(offered.encode(), token.encode())

    def _health(self) -> Response:
        """`ok` (200) while a new session would be accepted; otherwise (503) why not:
        `draining`, `full` or `overloaded`, so a balancer sends new sessions elsewhere."""
        refusal = self._refusal()
        status = "ok" if refusal is None else _HEALTH_STATUS[refusal[0]]
        return _json_response(
            {
                "status": status,
                "version": __version__,
                "sessions": len(self._runners),
                "models": [entry["config"]["model"] for entry in self.models.loaded()],
            },
            http.HTTPStatus.OK if refusal is None else http.HTTPStatus.SERVICE_UNAVAILABLE,
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
        refusal = self._refusal()
        if refusal is not None:
            code, reason = refusal
            self.metrics.error(code.value)
            await connection.send(encode(Error(code=code.value, message=reason)))
            await connection.close(CLOSE_TRY_AGAIN_LATER, reason)
            return
        engine, _ = await self.models.engine(self.settings.config)
        session = Session(
            uuid.uuid4().hex[:12],
            self.settings.config,
            sep=engine.sep,
            validate_config=self.models.validate,
            limits=SessionLimits(max_frame_bytes=self.settings.max_frame_bytes),
            observer=self.metrics,
        )
        runner = SessionRunner(self, connection, session, engine)
        self._runners.add(runner)
        self.metrics.session_opened()
        try:
            await runner.run()
        finally:
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


class SessionRunner:
    """Carries out one session's actions; every action runs on the event loop thread."""

    def __init__(
        self,
        server: ASRServer,
        connection: ServerConnection,
        session: Session,
        engine: StreamEngine,
    ) -> None:
        self.server = server
        self.connection = connection
        self.session = session
        self.engine = engine
        self.finished = asyncio.Event()
        self._outbox: asyncio.Queue[str | Close] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        self.apply(self.session.connected())
        try:
            await self._read()
        finally:
            self.finished.set()
            writer.cancel()

    def shutdown(self) -> None:
        self.apply(self.session.shutdown(time.monotonic()))

    async def _read(self) -> None:
        timeout = self.server.settings.idle_timeout
        while True:
            try:
                frame = await asyncio.wait_for(self.connection.recv(), timeout)
            except TimeoutError:
                self.apply(self.session.idle_timeout())
                await self.connection.wait_closed()
                return
            except ConnectionClosed:
                return
            now = time.monotonic()
            if isinstance(frame, str):
                self.apply(self.session.receive_text(frame, now))
            else:
                self.apply(self.session.receive_bytes(frame, now))

    async def _write(self) -> None:
        try:
            while True:
                item = await self._outbox.get()
                if isinstance(item, Close):
                    await self.connection.close(item.code, item.reason)
                    return
                await self.connection.send(item)
        except ConnectionClosed:
            return

    def apply(self, actions: list[Action]) -> None:
        """Runs the session's actions in order, without awaiting anything."""
        for action in actions:
            if isinstance(action, Send):
                self._outbox.put_nowait(encode(action.message))
            elif isinstance(action, Close):
                self._outbox.put_nowait(action)
            elif isinstance(action, RunStep):
                self._spawn(self._step(action))
            elif isinstance(action, ResetStream):
                self.engine.reset(action.offset, action.context, action.settled)
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
