"""What `serve` can be told: where to listen, what to run, who may connect, and every limit."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from asr_interface.core.config import SERVING_POLICY, ASRConfig
from asr_interface.server.access import LOOPBACK_HOSTS, normalized_origin, request_host


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
    allowed_hosts: tuple[str, ...] = ()
    """Host names requests may name when there is no token, besides loopback names on a
    loopback server; `*` allows any (docs/protocol.md, "Who may connect")."""
    # Limits: docs/protocol.md#limits lists each with what a client sees when it is reached.
    max_sessions: int | None = 64
    max_frame_bytes: int = 1 << 20
    max_backlog_seconds: float = 300.0
    max_frames_per_second: float | None = 4000.0
    """Frame budgets per second one connection is read at (`ReadPacing`): a frame costs one,
    a large one one per `FRAME_BUDGET_BYTES`."""
    max_reply_bytes: int = 1 << 20
    max_request_bytes: int = 64 << 10
    """Largest body of a plain HTTP request (`POST /load_model`)."""
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

    def host_names(self) -> frozenset[str]:
        """The host names requests may name without a token: the loopback names, the
        address the server listens on (unless a wildcard) and those allowed."""
        named = {request_host(host) for host in self.allowed_hosts}
        listening = request_host(self.host)
        if listening not in ("0.0.0.0", "::", ""):
            named.add(listening)
        return frozenset(named | LOOPBACK_HOSTS)

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
            "max_request_bytes": self.max_request_bytes,
            "idle_timeout": self.idle_timeout,
            "max_session_seconds": self.max_session_seconds,
        }
        not_negative = {
            "batch_window_ms": self.batch_window_ms,
            "drain_seconds": self.drain_seconds,
            "shutdown_grace": self.shutdown_grace,
            "latency_target": self.latency_target,
        }
        for name, value in positive.items():
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be positive, got {value}")
        for name, value in not_negative.items():
            if value is not None and not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be 0 or more, got {value}")
        for host in self.allowed_hosts:
            if not host or host != host.strip() or "/" in host or "," in host:
                raise ValueError(f"an allowed host is a name or an address, got {host!r}")
        for origin in self.allowed_origins:
            parts = urlsplit(normalized_origin(origin))
            if origin != "*" and not (parts.scheme and parts.netloc and not parts.path):
                raise ValueError(f"an allowed origin is scheme://host[:port] or *, got {origin!r}")
