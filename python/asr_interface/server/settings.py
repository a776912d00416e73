"""What `serve` can be told: where to listen, what to run, who may connect, and every limit."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from asr_interface.core.config import SERVING_POLICY, ASRConfig, format_bound
from asr_interface.server.access import LOOPBACK_HOSTS, normalized_origin, request_host

SETTING_RANGES: dict[str, tuple[float, float]] = {
    "port": (0, 65535),
    "workers": (1, 1024),
    "max_batch": (1, 64),
    "batch_window_ms": (0, 1000),
    "max_sessions": (1, 10_000),
    "max_frame_bytes": (1 << 10, 16 << 20),
    "max_backlog_seconds": (0.1, 3600),
    "max_frames_per_second": (1, 100_000),
    "max_reply_bytes": (16 << 10, 64 << 20),
    "max_request_bytes": (1 << 10, 1 << 20),
    "idle_timeout": (1, 24 * 3600),
    "max_session_seconds": (1, 7 * 24 * 3600),
    "drain_seconds": (0, 3600),
    "shutdown_grace": (0, 3600),
    "latency_target": (0, 60),
    "model_call_timeout": (1, 3600),
    "max_loaded_models": (1, 64),
}
"""The inclusive range of every numeric setting (docs/protocol.md lists them under "Ranges of
numeric options"): below it a limit protects nothing or refuses all work; above it a mistyped
value would let clients make the server hold hours of audio or gigabytes of frames."""


class SettingOutOfRange(ValueError):
    """A numeric setting outside `SETTING_RANGES`; `name` says which, `reason` how."""

    def __init__(self, name: str, low: float, high: float, value: float) -> None:
        self.name = name
        self.reason = f"must be {format_bound(low)} to {format_bound(high)}, got {value}"
        super().__init__(f"{name} {self.reason}")


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Everything `serve` can be told; `None` turns a limit off. Nonsense (a number outside
    `SETTING_RANGES`, an empty token, a key without its certificate) raises `ValueError`."""

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
        for name, (low, high) in SETTING_RANGES.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:  # NaN fails too
                raise SettingOutOfRange(name, low, high, value)
        for host in self.allowed_hosts:
            if not host or host != host.strip() or "/" in host or "," in host:
                raise ValueError(f"an allowed host is a name or an address, got {host!r}")
        for origin in self.allowed_origins:
            parts = urlsplit(normalized_origin(origin))
            if origin != "*" and not (parts.scheme and parts.netloc and not parts.path):
                raise ValueError(f"an allowed origin is scheme://host[:port] or *, got {origin!r}")
