"""Driving an `/asr` `Session` by method calls: the client messages it is given and what its
actions send, for the tests of the session and its parts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from asr_interface.audio import SAMPLING_RATE
from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import StepResult
from asr_interface.core.processor import TimedWord
from asr_interface.protocol import Error
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.models import ModelPool
from asr_interface.server.session import Session
from asr_interface.server.session_types import Action, RunStep, Send, SessionLimits

RATE = SAMPLING_RATE


MAX_FRAME_BYTES = 200_000


def new_session(
    pool: ModelPool,
    metrics: ServerMetrics | None = None,
    *,
    sep: str = " ",
    min_chunk_size: float = 1.0,
) -> Session:
    return Session(
        "s1",
        ASRConfig(min_chunk_size=min_chunk_size),
        sep=sep,
        validate_config=pool.validate,
        limits=SessionLimits(max_frame_bytes=MAX_FRAME_BYTES),
        observer=metrics,
    )


def pcm16(seconds: float, value: int = 1000) -> bytes:
    return np.full(round(seconds * RATE), value, dtype="<i2").tobytes()


def text(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def sent(actions: list[Action]) -> list[Any]:
    return [action.message for action in actions if isinstance(action, Send)]


def error_codes(actions: list[Action]) -> list[str]:
    return [message.code for message in sent(actions) if isinstance(message, Error)]


def only_step(actions: list[Action]) -> RunStep:
    steps = [action for action in actions if isinstance(action, RunStep)]
    assert len(steps) == 1, actions
    return steps[0]


def result(
    committed: list[TimedWord] | None = None, unconfirmed: list[TimedWord] | None = None
) -> StepResult:
    return StepResult(committed or [], unconfirmed or [], model_seconds=0.25, model_calls=1)


def streaming(session: Session, seconds: float = 1.0, now: float = 0.0) -> RunStep:
    """Starts a stream and sends `seconds` of audio, which must start a step."""
    assert session.receive_text(text("start"), now) == []
    return only_step(session.receive_bytes(pcm16(seconds), now))
