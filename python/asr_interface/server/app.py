"""The server: listens, admits or refuses each new connection, gives it a session and a
runner, and stops in order (drain, final commits, close) on a signal.

The plain-HTTP answers are in `routes.py`, one connection's loop in `runner.py`, the
protocol rules in `session.py`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve

from asr_interface import __version__
from asr_interface.protocol import Error, ErrorCode, encode
from asr_interface.realtime_protocol import REALTIME_PATH, error_event
from asr_interface.server.admission import LoadMonitor
from asr_interface.server.connection import SlicedReadConnection
from asr_interface.server.logs import remote_address
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.models import ModelPool
from asr_interface.server.realtime import RealtimeSession
from asr_interface.server.routes import ASR_PATH, HttpRoutes, Refusal
from asr_interface.server.runner import AudioDecoded, SessionRunner
from asr_interface.server.scheduler import BatchPolicy, BatchScheduler
from asr_interface.server.session import Session
from asr_interface.server.session_types import (
    CLOSE_GOING_AWAY,
    CLOSE_TRY_AGAIN_LATER,
    SessionLimits,
)
from asr_interface.server.settings import ServerSettings

logger = logging.getLogger("asr_interface.server")


class ASRServer:
    """The streaming server: start it, then serve until `shutdown` or a signal."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.limits = SessionLimits.from_settings(settings)
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
        self.routes = HttpRoutes(
            settings,
            models=self.models,
            metrics=self.metrics,
            scheduler=self.scheduler,
            refusal=self._refusal,
            sessions=lambda: len(self._runners),
        )
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
        await self.models.engine(self.models.default)
        self._server = await serve(
            self._handle,
            self.settings.host,
            self.settings.port,
            process_request=self.routes.process_request,
            select_subprotocol=self.routes.select_subprotocol,
            create_connection=SlicedReadConnection.with_body_limit(self.settings.max_request_bytes),
            ssl=self._ssl_context(),
            max_size=self.limits.wire.max_text_chars,
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

    async def _handle(self, connection: ServerConnection) -> None:
        """One connection: refused with a typed error, or given a session and run."""
        assert connection.request is not None
        target = urlsplit(connection.request.path)
        realtime = target.path == REALTIME_PATH
        refusal = self._refusal()
        if refusal is not None:
            code, reason = refusal
            remote = remote_address(connection.remote_address)
            logger.info(
                "refused a session: %s", reason, extra={"code": code.value, "remote": remote}
            )
            self.metrics.error(code.value)
            error = (
                error_event("event_refused", code.value, reason)
                if realtime
                else Error(code=code.value, message=reason)
            )
            await connection.send(encode(error))
            await connection.close(CLOSE_TRY_AGAIN_LATER, reason)
            return
        default = self.models.default
        engine, _ = await self.models.engine(default)
        decoded = AudioDecoded(asyncio.get_running_loop())
        session = Session(
            uuid.uuid4().hex[:12],
            default,
            sep=engine.sep,
            validate_config=self.models.validate,
            limits=self.limits,
            observer=self.metrics,
            wake=decoded.notify,
        )
        protocol: Session | RealtimeSession = session
        if realtime:
            model = parse_qs(target.query).get("model", [None])[0]
            protocol = RealtimeSession(session, model=model, observer=self.metrics)
        runner = SessionRunner(
            connection,
            protocol,
            engine,
            decoded,
            settings=self.settings,
            metrics=self.metrics,
            scheduler=self.scheduler,
            models=self.models,
        )
        self._runners.add(runner)
        logger.info("session opened on %s", target.path, extra=runner.log_fields())
        self.metrics.session_opened()
        try:
            await runner.run()
        finally:
            self._runners.discard(runner)
            self.scheduler.forget(runner.engine)
            self.metrics.session_closed()

    def _refusal(self) -> Refusal | None:
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


def _exit_at_once() -> None:
    """A second SIGINT or SIGTERM during shutdown: stop now, whatever still runs."""
    logger.warning("second signal: exiting at once")
    logging.shutdown()
    os._exit(1)
