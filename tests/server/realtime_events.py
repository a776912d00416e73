"""Driving a `RealtimeSession` by method calls: the client events it is given and what its
actions send, for the tests of the Realtime adapter and its parts."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from pydantic import BaseModel

from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import SpeechEvent, StepResult
from asr_interface.core.processor import TimedWord
from asr_interface.realtime_protocol import ErrorEvent
from asr_interface.server.models import ModelPool
from asr_interface.server.realtime import RealtimeSession
from asr_interface.server.session import Session
from asr_interface.server.session_types import Action, RunStep, Send, SessionLimits

PCM_RATE = 24000


def new_session(
    pool: ModelPool, *, vac: bool = False, limits: SessionLimits | None = None
) -> RealtimeSession:
    session = Session(
        "s1", ASRConfig(vac=vac), sep="", validate_config=pool.validate, limits=limits
    )
    return RealtimeSession(session)


def event(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def append(seconds: float) -> str:
    pcm = np.full(round(seconds * PCM_RATE), 1000, dtype="<i2").tobytes()
    return event("input_audio_buffer.append", audio=base64.b64encode(pcm).decode())


def update(**audio_input: Any) -> str:
    return event(
        "session.update", session={"type": "transcription", "audio": {"input": audio_input}}
    )


def sent(actions: list[Action]) -> list[BaseModel]:
    return [action.message for action in actions if isinstance(action, Send)]


def of_type(actions: list[Action], kind: type[Any]) -> list[Any]:
    return [message for message in sent(actions) if isinstance(message, kind)]


def error_codes(actions: list[Action]) -> list[str]:
    return [message.error.code for message in of_type(actions, ErrorEvent)]


def steps(actions: list[Action]) -> list[RunStep]:
    return [action for action in actions if isinstance(action, RunStep)]


def words(*spans: tuple[float, float, str]) -> list[TimedWord]:
    return list(spans)


def result(
    committed: list[TimedWord] | None = None, events: tuple[SpeechEvent, ...] = ()
) -> StepResult:
    return StepResult(committed or [], [], 0.1, 1, speech_events=events)
