"""What a session is given and what it returns: the actions its runner carries out (send,
run a step, reset the engine, load a model, close) with the close codes, the session's
limits, the observer of its figures, and the validator of `load_model` fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from asr_interface.core.config import ASRConfig
from asr_interface.server.settings import ServerSettings
from asr_interface.wire import WireLimits

CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_NORMAL = 1000
CLOSE_POLICY_VIOLATION = 1008


@dataclass(frozen=True)
class Send:
    message: BaseModel


@dataclass(frozen=True)
class RunStep:
    """Run one engine step on `audio`; `final` commits the tail too. `lag` is how many
    seconds of the stream's audio, `audio` included, waited for the model when the step
    became ready."""

    audio: npt.NDArray[np.float32]
    final: bool
    lag: float = 0.0


@dataclass(frozen=True)
class ResetStream:
    """Reset the engine for a stream starting at `offset` seconds; a resumed stream was
    committed up to `settled` with the words `context`. No step is running when this is
    asked."""

    offset: float = 0.0
    context: tuple[str, ...] = ()
    settled: float | None = None
    prompt: tuple[str, ...] = ()
    """Words said before the stream (the client's prompt), to prime the model."""


@dataclass(frozen=True)
class LoadConfig:
    config: ASRConfig


@dataclass(frozen=True)
class Close:
    code: int
    reason: str


Action = Send | RunStep | ResetStream | LoadConfig | Close


class SessionObserver(Protocol):
    """Receives the figures the metrics endpoint exports."""

    def audio_received(self, seconds: float) -> None: ...
    def model_call(self, seconds: float) -> None: ...
    def commit_latency(self, seconds: float) -> None: ...
    def error(self, code: str) -> None: ...


class NoObserver:
    def audio_received(self, seconds: float) -> None: ...
    def model_call(self, seconds: float) -> None: ...
    def commit_latency(self, seconds: float) -> None: ...
    def error(self, code: str) -> None: ...


@dataclass(frozen=True)
class SessionLimits:
    """The bounds of one session; the two the operator sets default to the server's."""

    max_frame_bytes: int = ServerSettings.max_frame_bytes
    """Largest binary frame accepted; larger ones get `frame_too_large` and are dropped."""
    max_backlog_seconds: float = ServerSettings.max_backlog_seconds
    """Most decoded audio a stream may have waiting for the model, whatever its encoding
    (see `AudioSink`), so a client sending an hour at once cannot hold an hour of audio in
    the server's memory."""
    max_held_bytes: int = 8 << 20
    """Most wire bytes of the messages (of any kind) held while this session's model loads
    or a reset waits for the model (and behind them until each is answered), or, on
    `/v1/realtime`, also while a committed turn finishes; a message beyond it gets
    `backlog_full` (Realtime: `buffer_full`) and is dropped."""
    max_held_events: int = 10_000
    """Most messages held meanwhile, however small."""

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> SessionLimits:
        """The limits the server's operator set: the one place they reach a session."""
        return cls(
            max_frame_bytes=settings.max_frame_bytes,
            max_backlog_seconds=settings.max_backlog_seconds,
        )

    @property
    def wire(self) -> WireLimits:
        """The bounds of a client text frame: one binary frame fits, as base64."""
        return WireLimits.for_frames(self.max_frame_bytes)


ConfigValidator = Callable[[dict[str, Any]], ASRConfig]
"""Turns `load_model` fields into a configuration or raises `ProtocolError`."""
