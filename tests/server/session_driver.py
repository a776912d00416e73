"""A session's runner without I/O, for the tests of what a client is answered and in which
order: it carries out a session's actions, but its steps and loads finish only when asked."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from asr_interface.core.config import ASRConfig
from asr_interface.protocol import Done, Error, ErrorCode, ModelLoaded, ResetDone
from asr_interface.realtime_protocol import ErrorEvent
from asr_interface.server.realtime import RealtimeSession
from asr_interface.server.session import Session
from asr_interface.server.session_types import Action, Close, LoadConfig, RunStep, Send
from tests.server.asr_session import result

FAILING_BEAM = 3
"""A load of a configuration with this beam size fails, by default (`model_load_failed`)."""


def asr_answer(message: BaseModel) -> str | None:
    """What an `/asr` reply answers with, in a word, or None for a stream's output
    (commits, partials), which answers no one message."""
    if isinstance(message, Error):
        return f"error {message.code}"
    if isinstance(message, Done):
        return f"done {message.audio_seconds:g}"
    if isinstance(message, ModelLoaded):
        return f"model_loaded {message.config['model']}"
    if isinstance(message, ResetDone):
        return "reset_done"
    return None


STREAM_OUTPUT = {
    "conversation.item.input_audio_transcription.delta",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
}
"""Realtime events that are a stream's output, not the answer to a client event."""


def realtime_answer(message: BaseModel) -> str | None:
    """What a Realtime event answers with, in a word, or None for a stream's output."""
    if isinstance(message, ErrorEvent):
        return f"error {message.error.code}"
    kind = str(getattr(message, "type", ""))
    return None if kind in STREAM_OUTPUT else kind


def fails_by_beam(config: ASRConfig) -> bool:
    return config.beam_size == FAILING_BEAM


@dataclass
class Driver:
    """Carries out a session's actions as its runner does, except that steps and loads
    finish only when `work` is called, oldest first: a step commits nothing; a load fails
    (`model_load_failed`) when `fails` says so and succeeds otherwise. What the client is
    answered collects in `answers`."""

    session: Session | RealtimeSession
    answer: Callable[[BaseModel], str | None] = asr_answer
    fails: Callable[[ASRConfig], bool] = fails_by_beam
    answers: list[str] = field(default_factory=list)
    closed: list[Close] = field(default_factory=list)
    pending: deque[RunStep | LoadConfig] = field(default_factory=deque)
    now: float = 0.0

    def send(self, frame: str | bytes) -> None:
        """The client sends a text or binary frame."""
        self.now += 0.01
        if isinstance(frame, str):
            self.apply(self.session.receive_text(frame, self.now))
        else:
            self.apply(self.session.receive_bytes(frame, self.now))

    def apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                said = self.answer(action.message)
                if said is not None:
                    self.answers.append(said)
            elif isinstance(action, RunStep | LoadConfig):
                self.pending.append(action)
            elif isinstance(action, Close):
                self.closed.append(action)

    def work(self) -> bool:
        """Finishes the oldest step or load, if any is pending."""
        if not self.pending:
            return False
        self.now += 0.5
        done = self.pending.popleft()
        if isinstance(done, RunStep):
            self.apply(self.session.step_finished(result(), self.now))
        elif self.fails(done.config):
            failed = f"model {done.config.model!r} failed to load"
            self.apply(self.session.model_failed(ErrorCode.MODEL_LOAD_FAILED, failed))
        else:
            self.apply(self.session.model_loaded(done.config, {}, sep=" "))
        return True

    def drain(self) -> None:
        """Finishes every step and load, including those they lead to."""
        while self.work():
            pass
