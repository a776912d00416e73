"""The plain-HTTP answers on the WebSocket port: who may open a socket on the two protocol
paths, the page, `/health`, `/backends`, `/metrics`, and `POST /load_model`, which loads a
configuration as a session's `load_model` message does and makes it the default for new
sessions. Request bodies are read by `http_body.BodyConnection`."""

from __future__ import annotations

import http
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from asr_interface import __version__
from asr_interface.backends.registry import list_loaders
from asr_interface.protocol import Error, ErrorCode, ModelLoaded, ProtocolError, encode
from asr_interface.realtime_protocol import REALTIME_PATH
from asr_interface.server.access import (
    answered_subprotocol,
    host_allowed,
    normalized_origin,
    origin_allowed,
    token_matches,
)
from asr_interface.server.http_body import BodyConnection
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.models import ModelPool
from asr_interface.server.pages import page_response
from asr_interface.server.scheduler import BatchScheduler
from asr_interface.server.settings import ServerSettings

ASR_PATH = "/asr"
LOAD_MODEL_PATH = "/load_model"
UNGUARDED_PATHS = ("/health", "/metrics")
"""Read by probes and scrapers under any host name: they carry no transcript and load nothing."""

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
        self._host_names = settings.host_names()

    def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | Awaitable[Response] | None:
        path = urlsplit(request.path).path
        if (
            self.settings.token is None
            and path not in UNGUARDED_PATHS
            and not host_allowed(request.headers, self._host_names)
        ):
            return connection.respond(
                http.HTTPStatus.FORBIDDEN,
                "this server answers only for the host names it knows (see --allowed-hosts)\n",
            )
        if path in (ASR_PATH, REALTIME_PATH):
            if not self._authorized(request):
                return _unauthorized()
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
        if path == LOAD_MODEL_PATH:
            return self._post_load_model(connection, request)
        routes = {"/health": self._health, "/backends": self._backends, "/metrics": self._metrics}
        route = routes.get(path)
        if route is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, f"no route {path}\n")
        if path == "/backends" and not self._authorized(request):
            return _unauthorized()
        return route()

    def _post_load_model(
        self, connection: ServerConnection, request: Request
    ) -> Response | Awaitable[Response]:
        """`POST /load_model`: the body is a `load_model` message's fields (a JSON object),
        validated and loaded by the model pool as a session's message is."""
        if request.method != "POST":
            response = _error_response(
                ErrorCode.INVALID_MESSAGE,
                f"use POST on {LOAD_MODEL_PATH}",
                http.HTTPStatus.METHOD_NOT_ALLOWED,
            )
            response.headers["Allow"] = "POST"
            return response
        if not self._authorized(request):
            return _unauthorized()
        body = connection.body if isinstance(connection, BodyConnection) else None
        if body is not None and body.refusal is not None:
            code = (
                ErrorCode.REQUEST_TOO_LARGE
                if body.refusal.status == http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE
                else ErrorCode.INVALID_MESSAGE
            )
            return _error_response(code, body.refusal.reason, body.refusal.status)
        try:
            fields = json.loads(body.body or b"") if body is not None else None
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            return _error_response(
                ErrorCode.INVALID_JSON,
                "the body must be a JSON object of configuration fields",
                http.HTTPStatus.BAD_REQUEST,
            )
        return self._load_default(fields)

    async def _load_default(self, fields: dict[str, Any]) -> Response:
        try:
            model = await self.models.load_default(fields)
        except ProtocolError as error:
            status = _ERROR_STATUS.get(error.code, http.HTTPStatus.BAD_REQUEST)
            return _error_response(error.code, error.message, status)
        reply = ModelLoaded(config=model.config.model_dump(), metadata=model.metadata)
        return _message_response(reply, http.HTTPStatus.OK)

    def _authorized(self, request: Request) -> bool:
        return token_matches(request.headers, request.path, self.settings.token)

    def select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        """The subprotocol an admitted upgrade answers with (`access.answered_subprotocol`);
        runs after `process_request` has let the upgrade through."""
        assert connection.request is not None
        return answered_subprotocol(urlsplit(connection.request.path).path, offered)

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
                "default": self.models.default.model_dump(),
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


_ERROR_STATUS = {
    ErrorCode.INVALID_CONFIG: http.HTTPStatus.BAD_REQUEST,
    ErrorCode.UNKNOWN_BACKEND: http.HTTPStatus.BAD_REQUEST,
    ErrorCode.MODEL_NOT_ALLOWED: http.HTTPStatus.FORBIDDEN,
    ErrorCode.MODEL_LOAD_FAILED: http.HTTPStatus.INTERNAL_SERVER_ERROR,
}
"""The HTTP status of each error `ModelPool.load_default` raises."""


def _unauthorized() -> Response:
    """The one answer to a missing or wrong token, on every guarded route and upgrade."""
    response = _error_response(
        ErrorCode.UNAUTHORIZED, "missing or wrong token", http.HTTPStatus.UNAUTHORIZED
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="asr-interface"'
    return response


def _error_response(code: ErrorCode, message: str, status: http.HTTPStatus) -> Response:
    """The wire protocol's `error` message as a JSON answer."""
    return _message_response(Error(code=code.value, message=message), status)


def _message_response(message: BaseModel, status: http.HTTPStatus) -> Response:
    """A wire protocol message as a JSON answer, as a session would receive it."""
    return _json_body(encode(message).encode(), status)


def _json_response(
    payload: dict[str, Any], status: http.HTTPStatus = http.HTTPStatus.OK
) -> Response:
    return _json_body(json.dumps(payload, default=str).encode(), status)


def _json_body(body: bytes, status: http.HTTPStatus) -> Response:
    headers = Headers([("Content-Type", "application/json")])
    return Response(status.value, status.phrase, headers, body)
