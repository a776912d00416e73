"""Prometheus metrics of one server, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)


class ServerMetrics:
    """Counts what the sessions report; `render()` is the /metrics body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sessions = Gauge(
            "asr_sessions_active", "Open WebSocket sessions", registry=self.registry
        )
        self._sessions_total = Counter(
            "asr_sessions", "Sessions accepted since start", registry=self.registry
        )
        self._audio_seconds = Counter(
            "asr_audio_seconds", "Seconds of audio received", registry=self.registry
        )
        self._model_calls = Histogram(
            "asr_model_call_seconds",
            "Duration of one model call on one window",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._commit_latency = Histogram(
            "asr_commit_latency_seconds",
            "Time from the arrival of a committed word's audio to its commit",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._errors = Counter(
            "asr_errors", "Error replies by code", ["code"], registry=self.registry
        )

    def session_opened(self) -> None:
        self.sessions.inc()
        self._sessions_total.inc()

    def session_closed(self) -> None:
        self.sessions.dec()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # SessionObserver

    def audio_received(self, seconds: float) -> None:
        self._audio_seconds.inc(seconds)

    def model_call(self, seconds: float) -> None:
        self._model_calls.observe(seconds)

    def commit_latency(self, seconds: float) -> None:
        self._commit_latency.observe(seconds)

    def error(self, code: str) -> None:
        self._errors.labels(code=code).inc()
