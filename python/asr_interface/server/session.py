"""One client's session as a sans-I/O state machine.

The asyncio layer feeds it what happened (a text or binary frame, a finished model step,
a loaded model, a timeout) with the current time, and carries out the actions it returns:
send a message, run a step on the worker pool, reset the engine, load a model, close.
Nothing here touches a socket, a thread or a clock, so every rule of docs/protocol.md is
tested by calling methods.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum, auto
from typing import Any

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import StepResult
from asr_interface.core.pacing import Pacing
from asr_interface.protocol import (
    ClientMessage,
    End,
    Error,
    ErrorCode,
    LoadModel,
    ModelLoaded,
    ProtocolError,
    Ready,
    Reset,
    ResetDone,
    Start,
    parse_client_message,
)
from asr_interface.server.audio_sink import AudioSink
from asr_interface.server.compressed import UndecodableStream
from asr_interface.server.held import HeldEvents
from asr_interface.server.session_types import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    Action,
    Close,
    ConfigValidator,
    LoadConfig,
    NoObserver,
    ResetStream,
    RunStep,
    Send,
    SessionLimits,
    SessionObserver,
)
from asr_interface.server.stream import Stream
from asr_interface.wire import bounded_message

Incoming = ClientMessage | bytes | ProtocolError
"""What a client sent: a text message, an audio frame, or a text frame refused as it came."""


class Phase(Enum):
    IDLE = auto()  # no stream yet: audio starts one with the default format
    STREAMING = auto()
    ENDING = auto()  # `end` received; the final step is pending or running
    ENDED = auto()  # `done` sent; audio needs a new `start`
    LOADING = auto()  # a model is loading for this session
    FAILED = auto()  # the backend raised; only `reset` helps


class Session:
    """The protocol rules of one WebSocket connection."""

    def __init__(
        self,
        session_id: str,
        config: ASRConfig,
        *,
        sep: str,
        validate_config: ConfigValidator,
        limits: SessionLimits | None = None,
        observer: SessionObserver | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        """`wake` is called, from any thread, when audio decoded off the caller's thread
        (a compressed stream) is ready: the caller then calls `audio_ready`."""
        self.session_id = session_id
        self.config = config
        self.pacing = Pacing.from_config(config)
        self.sep = sep
        self.phase = Phase.IDLE
        self._phase_before_load = Phase.IDLE
        self._validate_config = validate_config
        self._limits = limits or SessionLimits()
        self._observer = observer or NoObserver()
        self._wake = wake
        self._stream = Stream(self._sink())
        self._step_running = False
        self._final_step_running = False
        self._reset_waiting = False  # a reset came while a step ran: answered when it returns
        self._close_after_done: Close | None = None  # the close a finishing stream awaits
        # Messages that arrived while a model loaded or a reset waited for a step, and those
        # after them until all are served, with their arrival times: each is served once
        # the one before it is answered.
        self._held: HeldEvents[tuple[Incoming, float]] = HeldEvents(
            self._limits.max_held_bytes,
            self._limits.max_held_events,
            ErrorCode.BACKLOG_FULL,
            "while a model loads or a reset waits for the model, and behind those held",
        )

    @property
    def limits(self) -> SessionLimits:
        return self._limits

    # Inputs.

    def connected(self) -> list[Action]:
        return [Send(Ready(session=self.session_id, config=self.config.model_dump()))]

    def receive_text(self, text: str, now: float) -> list[Action]:
        """A text frame of `/asr`: parsed within the shared wire bounds, then `receive`d."""
        try:
            message: ClientMessage | ProtocolError = parse_client_message(text, self._limits.wire)
        except ProtocolError as error:
            message = error  # refused, but in its turn: the order tells what it answers
        return self._take(message, len(text), now)

    def receive(self, message: ClientMessage, now: float, *, size: int) -> list[Action]:
        """A typed client message, from whichever protocol; `size` is what it took on the
        wire, which holding it costs."""
        return self._take(message, size, now)

    def receive_bytes(self, frame: bytes, now: float) -> list[Action]:
        return self._take(frame, len(frame), now)

    def audio_ready(self, now: float) -> list[Action]:
        """Audio decoded off the caller's thread may be ready (after `wake`, or every few
        seconds, which is how a decoder making no progress is noticed)."""
        if self.phase not in (Phase.STREAMING, Phase.ENDING):
            return []
        stream = self._stream
        try:
            samples = stream.audio.take(stream.inbox.waiting_seconds, now)
        except UndecodableStream as error:
            return self._cut_off(error, now)
        if samples.size == 0 and not (self.phase is Phase.ENDING and stream.audio.done):
            return []
        self._queue(samples, now)
        return self._next_step(now)

    def step_finished(self, result: StepResult, now: float) -> list[Action]:
        """The running step returned `result`; held messages go on once what it finishes
        (a `done`, a `reset_done`) is sent."""
        return self._step_returned(result, now) + self._serve_held()

    def step_failed(self, reason: str, now: float) -> list[Action]:
        return self._step_went_wrong(reason) + self._serve_held()

    def model_loaded(self, config: ASRConfig, metadata: dict[str, Any], sep: str) -> list[Action]:
        """The model asked for is loaded: `model_loaded`, then the messages held meanwhile."""
        self.config = config
        self.pacing = Pacing.from_config(config)
        self.sep = sep
        self.phase = Phase.IDLE
        self._stream = Stream(self._sink())
        loaded = Send(ModelLoaded(config=config.model_dump(), metadata=metadata))
        return [loaded, *self._serve_held()]

    def model_failed(self, code: ErrorCode, reason: str) -> list[Action]:
        """The load failed: its error, then the messages held meanwhile, served under the
        old model as if the client had sent them after that error."""
        # Back to where the load was asked: an ended stream still needs its engine reset
        # before the next, a failed one still needs `reset`.
        self.phase = self._phase_before_load
        return [self._error(code, reason), *self._serve_held()]

    def close(self) -> None:
        """The connection is gone: the stream lets go of what it holds at once (its audio
        waiting for the model, its decoding thread), as do the messages held while a
        model loads. Nothing is fed after."""
        self._stream.audio.stop()
        self._stream.inbox.clear()
        self._held.clear()

    @property
    def holding(self) -> bool:
        """Whether a message arriving now waits: a model loads, a reset waits for the
        running step, or messages held before it are not all served yet (it must not be
        answered before them)."""
        return self.phase is Phase.LOADING or self._reset_waiting or bool(self._held)

    @property
    def has_pending_work(self) -> bool:
        """Whether the server still owes this client results: a step runs, audio waits for
        the model or its decoder, an ended stream waits for its `done`, or messages are held
        (a model loads, a reset waits for the step)."""
        return (
            self.holding
            or self._step_running
            or self._stream.inbox.waiting_samples > 0
            or self._stream.audio.decoding
            or self.phase is Phase.ENDING
        )

    @property
    def ending(self) -> bool:
        """Whether the stream's `end` was taken and its `done` has not been sent yet."""
        return self.phase is Phase.ENDING

    def idle_timeout(self) -> list[Action]:
        return [
            self._error(ErrorCode.IDLE_TIMEOUT, "no message for too long; closing"),
            Close(CLOSE_NORMAL, "idle timeout"),
        ]

    def shutdown(self, now: float) -> list[Action]:
        """The server is stopping: finish a running stream, then close. A resumable
        stream is closed unfinished instead: the server its client moves to commits the
        rest from whole audio, rather than this one forcing out a tail cut mid-word."""
        close = Close(CLOSE_GOING_AWAY, "server shutting down")
        if self.phase is Phase.STREAMING and self._stream.resumable:
            self._close_after_done = close
            return [Close(CLOSE_GOING_AWAY, "server shutting down; resume the stream elsewhere")]
        return self._finish_then_close(now, close)

    def expired(self, now: float) -> list[Action]:
        """The session reached its maximum lifetime: say so, finish a running stream as
        `end` would, then close."""
        notice = self._error(
            ErrorCode.SESSION_EXPIRED,
            "the session reached its maximum lifetime; the stream is finished, then the "
            "connection closes: reconnect to go on",
        )
        return [notice, *self._finish_then_close(now, Close(CLOSE_NORMAL, "session expired"))]

    def _finish_then_close(self, now: float, close: Close) -> list[Action]:
        self._close_after_done = close
        if self.phase is Phase.STREAMING:
            return self._end(now)
        if self.phase is Phase.ENDING or self._step_running:
            return []
        return [close]

    # Message handlers.

    @property
    def _answer_owed(self) -> bool:
        """Whether the last message served still awaits its answer: `model_loaded` (or the
        load's error), the `done` of an `end`, or the `reset_done` of a reset waiting for
        the running step."""
        return self.phase in (Phase.LOADING, Phase.ENDING) or self._reset_waiting

    def _take(self, message: Incoming, size: int, now: float) -> list[Action]:
        """Serves a message that arrived, or holds it (at the cost of its `size` on the
        wire) while it must wait; one that finds no room is refused at once."""
        if not self.holding:
            return self._serve(message, now)
        try:
            self._held.hold((message, now), size)
        except ProtocolError as error:
            return [self._error(error.code, error.message)]
        return []

    def _serve_held(self) -> list[Action]:
        """Serves held messages in the order they came, each once the one before it is
        answered, so that a held burst gets the answers a client waiting for each would;
        nothing is served once the connection is to close."""
        actions: list[Action] = []
        while self._held and not self._answer_owed and self._close_after_done is None:
            message, now = self._held.pop()
            actions += self._serve(message, now)
        return actions

    def _serve(self, message: Incoming, now: float) -> list[Action]:
        """Handles a message (a text message, an audio frame, or a text frame refused on
        arrival) in its turn."""
        if isinstance(message, ProtocolError):
            return [self._error(message.code, message.message)]
        try:
            if isinstance(message, bytes):
                return self._audio(message, now)
            if isinstance(message, LoadModel):
                return self._load_model(message)
            if isinstance(message, Start):
                return self._start(message)
            if isinstance(message, End):
                return self._end(now)
            assert isinstance(message, Reset)
            return self._reset()
        except UndecodableStream as error:
            return self._cut_off(error, now)
        except ProtocolError as error:
            return [self._error(error.code, error.message)]

    def _load_model(self, message: LoadModel) -> list[Action]:
        self._require_not_busy()
        config = self._validate_config(message.config_fields())
        self._phase_before_load = self.phase
        self.phase = Phase.LOADING
        return [LoadConfig(config)]

    def _start(self, message: Start) -> list[Action]:
        self._require_not_busy()
        if self.phase is Phase.FAILED:
            raise ProtocolError(ErrorCode.STREAM_FAILED, "the stream failed; send reset first")
        stream = Stream.started(
            message, self._sink(message.encoding, message.sample_rate), self.sep
        )
        self._stream = stream
        engine_used = self.phase is Phase.ENDED
        self.phase = Phase.STREAMING
        if engine_used or stream.origin > 0 or stream.settled or stream.context or stream.prompt:
            return [stream.engine_reset()]
        return []

    def _end(self, now: float) -> list[Action]:
        if self.phase is Phase.FAILED:
            raise ProtocolError(ErrorCode.STREAM_FAILED, "the stream failed; send reset first")
        if self.phase is Phase.ENDING:
            raise ProtocolError(ErrorCode.STREAM_IN_PROGRESS, "the stream is already ending")
        if self.phase in (Phase.IDLE, Phase.ENDED):
            return self._stream_done()
        closed = self._stream.audio.close(now)
        self._queue(closed.samples, now)
        self.phase = Phase.ENDING
        refusals = [self._error(error.code, error.message) for error in closed.refusals]
        return [*refusals, *self._next_step(now)]

    def _cut_off(self, error: UndecodableStream, now: float) -> list[Action]:
        """Nothing more of a compressed stream can be decoded: it finishes with what
        was."""
        self._queue(error.samples, now)
        actions = [self._error(error.code, error.message)]
        if self.phase is Phase.STREAMING:
            return actions + self._end(now)
        return actions + self._next_step(now)

    def _reset(self) -> list[Action]:
        self._stream = Stream(self._sink())
        self.phase = Phase.IDLE
        if self._step_running:
            # The engine is busy: it is reset (and `reset_done` sent) when the running step
            # returns; what the client sends meanwhile is held until then.
            self._reset_waiting = True
            return []
        return [ResetStream(), Send(ResetDone())]

    def _step_returned(self, result: StepResult, now: float) -> list[Action]:
        self._step_running = False
        if self._reset_waiting:
            return self._finish_reset()
        for _ in range(result.model_calls):
            self._observer.model_call(result.model_seconds / result.model_calls)
        stream = self._stream
        stream.model_seconds += result.model_seconds
        final = self._final_step_running
        actions: list[Action] = [*stream.step_replies(result, final=final, sep=self.sep)]
        if result.committed:
            arrived = stream.arrival_of(result.committed[-1][1], now)
            self._observer.commit_latency(max(0.0, now - arrived))
        if final:
            return actions + self._stream_done()
        return actions + self._next_step(now)

    def _step_went_wrong(self, reason: str) -> list[Action]:
        self._step_running = False
        if self._reset_waiting:
            return self._finish_reset()
        self.phase = Phase.FAILED
        self._stream.inbox.clear()
        actions: list[Action] = [
            self._error(
                ErrorCode.BACKEND_ERROR,
                f"the model failed on this stream ({reason}); send reset to start again",
            )
        ]
        if self._close_after_done:
            actions.append(self._close_after_done)
        return actions

    def _finish_reset(self) -> list[Action]:
        """The step that ran during a reset returned, its result dropped: reset the engine
        and answer the reset; what the client sent since is served after."""
        self._reset_waiting = False
        actions: list[Action] = [ResetStream(), Send(ResetDone())]
        if self._close_after_done:
            actions.append(self._close_after_done)
        return actions

    def _audio(self, frame: bytes, now: float) -> list[Action]:
        if not frame:
            return []  # no audio: it neither starts a stream nor breaks a rule
        if self.phase in (Phase.ENDING, Phase.ENDED):
            raise ProtocolError(
                ErrorCode.AUDIO_AFTER_END, "audio after end: send start to begin a new stream"
            )
        if self.phase is Phase.FAILED:
            raise ProtocolError(ErrorCode.STREAM_FAILED, "the stream failed; send reset first")
        stream = self._stream
        samples = stream.audio.push(frame, stream.inbox.waiting_seconds, now)
        self.phase = Phase.STREAMING
        if samples.size == 0:
            return []  # gathered for a later batch (or decoding off the loop): no step is due
        self._queue(samples, now)
        return self._next_step(now)

    # Helpers.

    def _stream_done(self) -> list[Action]:
        """`done` for the current stream, and the close a shutdown was waiting for."""
        self.phase = Phase.ENDED
        actions: list[Action] = [Send(self._stream.done_message())]
        if self._close_after_done:
            actions.append(self._close_after_done)
        return actions

    def _sink(self, encoding: str = "pcm_s16le", sample_rate: int = SAMPLING_RATE) -> AudioSink:
        """The audio path of a stream in this format, within this session's limits."""
        return AudioSink(encoding, sample_rate, limits=self._limits, wake=self._wake)

    def _require_not_busy(self) -> None:
        if self.phase in (Phase.STREAMING, Phase.ENDING):
            raise ProtocolError(
                ErrorCode.STREAM_IN_PROGRESS, "a stream is in progress; send end or reset first"
            )

    def _queue(self, samples: npt.NDArray[np.float32], now: float) -> None:
        if samples.size == 0:
            return
        self._stream.add(samples, now, self._limits.max_backlog_seconds)
        self._observer.audio_received(samples.size / SAMPLING_RATE)

    def _next_step(self, now: float) -> list[Action]:
        """Starts a step when none runs and the pacing rule (`Pacing`) says one is due."""
        if self._step_running or self.phase not in (Phase.STREAMING, Phase.ENDING):
            return []
        stream = self._stream
        # A compressed stream ends once its decoder has given its last sample.
        final = self.phase is Phase.ENDING and stream.audio.done
        step = stream.inbox.take_step(self.pacing, now, final=final)
        if step is None:
            return []
        self._step_running = True
        self._final_step_running = step.final
        return [RunStep(step.audio, final=step.final, lag=step.lag)]

    def _error(self, code: ErrorCode, message: str) -> Send:
        self._observer.error(code.value)
        return Send(Error(code=code.value, message=bounded_message(message)))
