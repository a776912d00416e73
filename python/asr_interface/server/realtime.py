"""`/v1/realtime`: OpenAI's Realtime transcription protocol over our `Session`, sans-I/O.

`RealtimeSession` takes the same inputs as `Session` and returns the same actions; it
turns each Realtime client event into `/asr` messages for the `Session` it wraps, and each
message the `Session` sends into Realtime events. So both endpoints share one set of rules
(pacing, limits, model loading, shutdown) and differ only in their wording.

How the two meet (docs/realtime.md has the whole table):

- A *turn* (the API's conversation item) is one `/asr` stream when the client commits by
  hand (`turn_detection: null`), or one utterance of our voice activity control with
  `server_vad`, where the stream goes on across turns.
- Words are sent as `...transcription.delta` when they are committed, while the audio is
  still arriving; `...transcription.completed` follows `done` (a manual commit) or the
  utterance's end.
- Client events that arrive while a committed turn is being finished or a model loads
  wait in a bounded queue and run, in order, once that is over.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from pydantic import BaseModel

from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import StepResult
from asr_interface.protocol import (
    ClientMessage,
    Commit,
    Done,
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
    Vad,
)
from asr_interface.realtime_protocol import (
    AppendAudio,
    AudioCleared,
    AudioCommitted,
    ClientEvent,
    CommitAudio,
    DurationUsage,
    ErrorEvent,
    SessionCreated,
    SessionSettings,
    SessionUpdate,
    SessionUpdated,
    SpeechStarted,
    SpeechStopped,
    TranscriptionCompleted,
    TranscriptionDelta,
    TranscriptionFailed,
    UnparsedEvent,
    error_detail,
    error_event,
    parse_client_event,
)
from asr_interface.server.held import HeldEvents
from asr_interface.server.realtime_description import describe_session
from asr_interface.server.realtime_settings import FORMATS, RealtimeSettings, updated_settings
from asr_interface.server.session import (
    Action,
    LoadConfig,
    NoObserver,
    Send,
    Session,
    SessionObserver,
)


@dataclass
class _Turn:
    """One conversation item: the audio of one manual commit or one utterance."""

    item_id: str
    start: float = 0.0  # seconds of session audio
    end: float | None = None  # where its utterance ended, once known
    transcript: str = ""


class RealtimeSession:
    """The Realtime transcription protocol of one WebSocket connection, over a `Session`.

    Feed it what `Session` is fed; carry out the actions it returns exactly as a
    `Session`'s (`Send` messages are Realtime events here).
    """

    def __init__(
        self,
        session: Session,
        *,
        model: str | None = None,
        observer: SessionObserver | None = None,
    ) -> None:
        """`session` is fresh; its limits bound the events held here too."""
        self._session = session
        self._observer = observer or NoObserver()
        self._default_model = session.config.model
        self._settings = RealtimeSettings.of(session.config, FORMATS["audio/pcm"])
        self._requested_model = model
        self._event_ids = count(1)
        self._item_ids = count(1)
        limits = session.limits
        self._held: HeldEvents[ClientEvent] = HeldEvents(
            limits.max_held_bytes,
            limits.max_held_events,
            ErrorCode.BUFFER_FULL,
            "while a committed turn is transcribed or a model loads",
        )
        self._loading: RealtimeSettings | None = None
        self._loading_event_id: str | None = None
        self._committing: _Turn | None = None  # committed by hand; waits for `done`
        self._turn: _Turn | None = None  # the item receiving words
        self._ended: deque[_Turn] = deque()  # utterances ended in the step being read
        self._stream_open = False  # a `start` was sent and its `done` has not come
        self._has_audio = False  # audio since the last commit or clear
        self._stream_start = 0.0  # session seconds before the current stream
        self._stream_seconds = 0.0  # seconds appended to the current stream
        self._last_item_id: str | None = None
        self._client_event_id: str | None = None  # the event being answered
        self._silent_resets = 0  # resets of our own, whose `reset_done` is not the client's
        self._now = 0.0  # the latest time an input was given

    @property
    def session_id(self) -> str:
        return self._session.session_id

    # Inputs: those of `Session`.

    def connected(self) -> list[Action]:
        actions = self._translate(self._session.connected())
        model = self._requested_model
        if model is not None:
            unchanged = SessionSettings(type="transcription")
            actions += self._guarded(lambda: self._update(unchanged, model=model), None)
        return actions

    def receive_text(self, text: str, now: float) -> list[Action]:
        self._now = now
        try:
            event = parse_client_event(text, self._session.limits.wire)
        except UnparsedEvent as refused:
            return [self._error(refused.error.code, refused.error.message, refused.event_id)]
        if self._busy:
            try:
                self._held.hold(event, len(text))
            except ProtocolError as error:
                return [self._error(error.code, error.message, event.event_id)]
            return []
        return self._dispatch(event, now)

    def receive_bytes(self, frame: bytes, now: float) -> list[Action]:
        return [
            self._error(
                ErrorCode.INVALID_MESSAGE,
                "binary frames are not part of the Realtime protocol: send audio as base64 "
                "in input_audio_buffer.append",
            )
        ]

    def step_finished(self, result: StepResult, now: float) -> list[Action]:
        self._now = now
        return self._translate(self._session.step_finished(result, now), now)

    def step_failed(self, reason: str, now: float) -> list[Action]:
        self._now = now
        return self._translate(self._session.step_failed(reason, now), now)

    def model_loaded(self, config: ASRConfig, metadata: dict[str, Any], sep: str) -> list[Action]:
        return self._translate(self._session.model_loaded(config, metadata, sep))

    def model_failed(self, code: ErrorCode, reason: str) -> list[Action]:
        self._loading = None
        self._client_event_id = self._loading_event_id  # the update that asked for it
        try:
            failed = self._translate(self._session.model_failed(code, reason))
        finally:
            self._client_event_id = None
        return failed + self._release(self._now)

    def idle_timeout(self) -> list[Action]:
        return self._translate(self._session.idle_timeout())

    def expired(self, now: float) -> list[Action]:
        return self._translate(self._session.expired(now), now)

    @property
    def has_pending_work(self) -> bool:
        """Whether the server still owes this client results (a turn being finished counts)."""
        return self._session.has_pending_work or self._busy

    def shutdown(self, now: float) -> list[Action]:
        self._now = now
        self._held.clear()
        return self._translate(self._session.shutdown(now), now)

    # Client events.

    @property
    def _busy(self) -> bool:
        return self._committing is not None or self._loading is not None

    def _release(self, now: float) -> list[Action]:
        """Runs held events, in order, until the session is busy again."""
        actions: list[Action] = []
        while self._held and not self._busy:
            actions += self._dispatch(self._held.pop(), now)
        return actions

    def _drive(self, message: ClientMessage, now: float) -> list[Action]:
        """Gives the `Session` a typed message and translates its answer; the session is
        never loading here (events wait in `_held` meanwhile), so it holds nothing."""
        return self._translate(self._session.receive(message, now, size=0), now)

    def _dispatch(self, event: ClientEvent, now: float) -> list[Action]:
        if isinstance(event, SessionUpdate):
            return self._guarded(lambda: self._update(event.session), event.event_id)
        if isinstance(event, AppendAudio):
            return self._guarded(lambda: self._append(event.audio, now), event.event_id)
        if isinstance(event, CommitAudio):
            return self._guarded(lambda: self._commit(now), event.event_id)
        return self._guarded(lambda: self._clear(now), event.event_id)

    def _guarded(self, handle: Callable[[], list[Action]], event_id: str | None) -> list[Action]:
        """Runs a handler; its refusal, and errors of the `Session` it drives, name the
        client event that caused them."""
        outer, self._client_event_id = self._client_event_id, event_id
        try:
            return handle()
        except ProtocolError as error:
            return [self._error(error.code, error.message, event_id)]
        finally:
            self._client_event_id = outer

    def _update(self, update: SessionSettings, *, model: str | None = None) -> list[Action]:
        settings = updated_settings(self._settings, update, model, self._default_model)
        if self._stream_open and settings != self._settings:
            raise ProtocolError(
                ErrorCode.STREAM_IN_PROGRESS,
                "the session cannot change while audio is being transcribed: commit or "
                "clear the input audio buffer first",
            )
        current = RealtimeSettings.of(self._session.config, settings.format)
        if settings.config_fields() == current.config_fields():
            self._settings = settings
            return [Send(self._session_event(SessionUpdated))]
        actions = self._drive(LoadModel(**settings.config_fields()), self._now)
        if any(isinstance(action, LoadConfig) for action in actions):
            self._loading = settings
            self._loading_event_id = self._client_event_id
        return actions

    def _append(self, audio: str, now: float) -> list[Action]:
        try:
            frame = base64.b64decode(audio, validate=True)
        except binascii.Error as error:
            raise ProtocolError(
                ErrorCode.INVALID_MESSAGE, f"audio must be base64: {error}; the event was dropped"
            ) from None
        actions: list[Action] = []
        starting = not self._stream_open
        if starting:
            audio_format = self._settings.format
            start = Start(
                encoding=audio_format.encoding,
                sample_rate=audio_format.sample_rate,
                prompt=self._settings.prompt,
            )
            actions += self._drive(start, now)
            self._stream_open = True
        session_time = self._session_time(self._stream_seconds)
        received = self._translate(self._session.receive_bytes(frame, now), now)
        actions += received
        if _refused(received):  # the frame was dropped
            if starting:  # and no stream was begun after all
                self._stream_open = False
                self._silent_resets += 1
                actions += self._drive(Reset(), now)
            return actions
        if frame:
            self._has_audio = True
            self._stream_seconds += len(frame) / self._settings.format.bytes_per_second
            if self._turn is None and not self._settings.vad:
                self._turn = self._new_turn(session_time)
        return actions

    def _commit(self, now: float) -> list[Action]:
        if not self._has_audio:
            raise ProtocolError(
                ErrorCode.EMPTY_COMMIT,
                "the input audio buffer holds no audio since the last commit or clear",
            )
        self._has_audio = False
        turn = self._turn or self._new_turn(self._session_time(0.0))
        self._turn = None
        self._committing = turn
        actions: list[Action] = [self._committed(turn)]
        ended = self._drive(End(), now)
        if _refused(ended):
            self._committing = None
        return actions + ended

    def _clear(self, now: float) -> list[Action]:
        self._has_audio = False
        self._turn = None
        if not self._stream_open:
            return [Send(AudioCleared(event_id=self._event_id()))]
        self._stream_open = False
        self._stream_start += self._stream_seconds
        self._stream_seconds = 0.0
        return self._drive(Reset(), now)

    # What the session sends, as Realtime events.

    def _translate(self, actions: list[Action], now: float | None = None) -> list[Action]:
        """The `Session`'s actions with its messages as Realtime events; `now` (by default
        the latest time given) is when held events that this lets go of run."""
        at = self._now if now is None else now
        translated: list[Action] = []
        for action in actions:
            if isinstance(action, Send):
                translated += self._events_for(action.message, at)
            else:
                translated.append(action)
        while self._ended:  # every word of an ended utterance comes in its step
            translated.append(self._completed(self._ended.popleft()))
        return translated

    def _events_for(self, message: BaseModel, now: float) -> list[Action]:
        if isinstance(message, Ready):
            return [Send(self._session_event(SessionCreated))]
        if isinstance(message, ModelLoaded):
            assert self._loading is not None
            self._settings, self._loading = self._loading, None
            return [Send(self._session_event(SessionUpdated)), *self._release(now)]
        if isinstance(message, Commit):
            return self._deltas(message)
        if isinstance(message, Vad):
            return self._speech_event(message)
        if isinstance(message, Done):
            return self._stream_done(now)
        if isinstance(message, ResetDone):
            if self._silent_resets:
                self._silent_resets -= 1
                return []
            return [Send(AudioCleared(event_id=self._event_id()))]
        if isinstance(message, Error):
            error = self._error(
                ErrorCode(message.code), message.message, self._client_event_id, counted=True
            )
            if message.code == ErrorCode.BACKEND_ERROR:
                return [error, *self._recover(message.message, now)]
            return [error]
        return []  # `partial` and `language` have no Realtime counterpart

    def _deltas(self, commit: Commit) -> list[Action]:
        """One delta per item the committed words belong to, in order."""
        actions: list[Action] = []
        groups: list[tuple[_Turn, list[str]]] = []
        for word in commit.words:
            turn = self._turn_of(word.start)
            if groups and groups[-1][0] is turn:
                groups[-1][1].append(word.word)
            else:
                groups.append((turn, [word.word]))
        sep = self._session.sep
        for turn, words in groups:
            text = sep.join(words)
            text = text.lstrip() if not turn.transcript else sep + text
            turn.transcript += text
            if text:
                delta = TranscriptionDelta(
                    event_id=self._event_id(), item_id=turn.item_id, delta=text
                )
                actions.append(Send(delta))
        return actions

    def _turn_of(self, word_start: float) -> _Turn:
        """The item a word starting at `word_start` (stream time) belongs to."""
        time = self._session_time(word_start)
        for turn in self._ended:
            if turn.end is not None and time < turn.end:
                return turn
        if self._committing is not None:
            return self._committing
        if self._turn is None:
            self._turn = self._new_turn(time)
        return self._turn

    def _speech_event(self, vad: Vad) -> list[Action]:
        if self._committing is not None:
            return []  # in audio the client already committed: it is all that item's
        time = self._session_time(vad.time)
        if vad.event == "speech_start":
            if self._turn is None:
                self._turn = self._new_turn(time)
            started = SpeechStarted(
                event_id=self._event_id(),
                audio_start_ms=round(time * 1000),
                item_id=self._turn.item_id,
            )
            return [Send(started)]
        turn = self._turn or self._new_turn(time)
        self._turn = None
        turn.end = time
        self._ended.append(turn)
        self._has_audio = False
        stopped = SpeechStopped(
            event_id=self._event_id(), audio_end_ms=round(time * 1000), item_id=turn.item_id
        )
        return [Send(stopped), self._committed(turn)]

    def _recover(self, reason: str, now: float) -> list[Action]:
        """The model failed on this stream: its open items fail, and the stream is reset
        so that the next append starts a new one (the API's sessions outlive a failure)."""
        turns = [*self._ended, self._committing, self._turn]
        actions: list[Action] = [
            Send(
                TranscriptionFailed(
                    event_id=self._event_id(),
                    item_id=turn.item_id,
                    error=error_detail(ErrorCode.BACKEND_ERROR.value, reason),
                )
            )
            for turn in turns
            if turn is not None
        ]
        self._ended.clear()
        self._committing = self._turn = None
        self._stream_open = self._has_audio = False
        self._stream_start += self._stream_seconds
        self._stream_seconds = 0.0
        self._silent_resets += 1
        actions += self._drive(Reset(), now)
        return actions + self._release(now)

    def _stream_done(self, now: float) -> list[Action]:
        """The stream ended (a manual commit, or shutdown): its open items are complete."""
        actions: list[Action] = []
        while self._ended:
            actions.append(self._completed(self._ended.popleft()))
        if self._turn is not None:  # the stream ended without a commit (shutdown)
            actions.append(self._committed(self._turn))
        for turn in (self._committing, self._turn):
            if turn is not None:
                turn.end = self._session_time(self._stream_seconds)
                actions.append(self._completed(turn))
        self._committing = self._turn = None
        self._stream_open = False
        self._stream_start += self._stream_seconds
        self._stream_seconds = 0.0
        return actions + self._release(now)

    # Helpers.

    def _session_event(
        self, kind: type[SessionCreated] | type[SessionUpdated]
    ) -> SessionCreated | SessionUpdated:
        return kind(
            event_id=self._event_id(), session=describe_session(self._settings, self.session_id)
        )

    def _committed(self, turn: _Turn) -> Send:
        previous, self._last_item_id = self._last_item_id, turn.item_id
        return Send(
            AudioCommitted(
                event_id=self._event_id(), item_id=turn.item_id, previous_item_id=previous
            )
        )

    def _completed(self, turn: _Turn) -> Send:
        seconds = max(0.0, (turn.end or turn.start) - turn.start)
        return Send(
            TranscriptionCompleted(
                event_id=self._event_id(),
                item_id=turn.item_id,
                transcript=turn.transcript,
                usage=DurationUsage(seconds=round(seconds, 3)),
            )
        )

    def _new_turn(self, start: float) -> _Turn:
        return _Turn(f"item_{self._session.session_id}_{next(self._item_ids)}", start=start)

    def _session_time(self, stream_time: float) -> float:
        return self._stream_start + stream_time

    def _event_id(self) -> str:
        return f"event_{self._session.session_id}_{next(self._event_ids)}"

    def _error(
        self,
        code: ErrorCode,
        message: str,
        client_event_id: str | None = None,
        *,
        counted: bool = False,
    ) -> Send:
        """An `error` event; `counted` when the `Session` already told the observer."""
        if not counted:
            self._observer.error(code.value)
        return Send(
            error_event(self._event_id(), code.value, message, client_event_id=client_event_id)
        )


def _refused(actions: list[Action]) -> bool:
    return any(
        isinstance(action, Send) and isinstance(action.message, ErrorEvent) for action in actions
    )
