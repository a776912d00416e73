"""The plain-HTTP answers on the WebSocket port: who may open a socket on the two protocol
paths, the page, `/health`, `/backends` and `/metrics`."""

from __future__ import annotations

import http
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from asr_interface import __version__
from asr_interface.backends.registry import list_loaders
from asr_interface.protocol import ErrorCode
from asr_interface.realtime_protocol import REALTIME_PATH
from asr_interface.server.access import normalized_origin, origin_allowed, token_matches
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.models import ModelPool
from asr_interface.server.pages import page_response
from asr_interface.server.scheduler import BatchScheduler
from asr_interface.server.settings import ServerSettings

ASR_PATH = "/asr"

Refusal = tuple[ErrorCode, str]
"""Why a new session would be turned away: the code its client gets, and the reason."""


class HttpRoutes:
    """Answers a request before its WebSocket handshake: `None` lets the handshake go on."""

    def __init__(
        self,
        settings: ServerSettings,
        *,
        models: ModelPool,
        metrics: ServerMetrics,
        scheduler: BatchScheduler,
        refusal: Callable[[], Refusal | None],
        sessions: Callable[[], int],
    ) -> None:
        """`refusal` says why a new session would be refused now, `sessions` how many are
        open; both are the server's to decide."""
        self.settings = settings
        self.models = models
        self.metrics = metrics
        self.scheduler = scheduler
        self._refusal = refusal
        self._sessions = sessions
        self._allowed_origins = frozenset(map(normalized_origin, settings.allowed_origins))

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
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
                "sessions": self._sessions(),
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
