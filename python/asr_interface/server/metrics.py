"""Prometheus metrics of one server, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0)
_WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
_BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


class ServerMetrics:
    """Counts what the sessions and the scheduler report; `render()` is the /metrics body."""

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
            "Duration of one model call on one window (a batched call's share)",
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
        self._batch_size = Histogram(
            "asr_batch_size",
            "Steps decoded together in one batched model call",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self._queue_wait = Histogram(
            "asr_queue_wait_seconds",
            "Time from a step being ready to its model call starting",
            buckets=_WAIT_BUCKETS,
            registry=self.registry,
        )
        self._lag = Histogram(
            "asr_session_lag_seconds",
            "Audio a session had received but not yet transcribed when a step became ready "
            "(audio sent ahead of real time not counted)",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
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

    # SchedulerObserver

    def batch(self, steps: int) -> None:
        self._batch_size.observe(steps)

    def queue_wait(self, seconds: float) -> None:
        self._queue_wait.observe(seconds)

    def lag(self, seconds: float) -> None:
        self._lag.observe(seconds)
