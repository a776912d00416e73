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
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any

from pydantic import BaseModel

from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import StepResult
from asr_interface.protocol import (
    MAX_CONTEXT_CHARS,
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
    encode,
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
    TurnDetection,
    UnparsedEvent,
    error_detail,
    error_event,
    parse_client_event,
)
from asr_interface.server.session import (
    Action,
    LoadConfig,
    NoObserver,
    Send,
    Session,
    SessionObserver,
)

OPENAI_TRANSCRIPTION_MODELS = frozenset(
    {
        "whisper-1",
        "gpt-4o-transcribe",
        "gpt-4o-mini-transcribe",
        "gpt-4o-mini-transcribe-2025-12-15",
        "gpt-transcribe",
        "gpt-live-transcribe",
        "gpt-realtime-whisper",
    }
)
"""The API's transcription model names; each means the server's default model here."""

# Our voice activity control's settings (`VoiceActivityDetector`'s defaults), which happen
# to be the API's `server_vad` defaults too.
VAD_THRESHOLD = 0.5
VAD_PREFIX_PADDING_MS = 300
VAD_SILENCE_DURATION_MS = 500


@dataclass(frozen=True)
class AudioFormat:
    """A Realtime input format and the `/asr` `start` that declares it."""

    name: str
    encoding: str
    sample_rate: int
    bytes_per_second: int

    def describe(self) -> dict[str, Any]:
        if self.name == "audio/pcm":
            return {"type": self.name, "rate": self.sample_rate}
        return {"type": self.name}


FORMATS = {
    "audio/pcm": AudioFormat("audio/pcm", "pcm_s16le", 24000, 48000),
    "audio/pcmu": AudioFormat("audio/pcmu", "pcm_mulaw", 8000, 8000),
    "audio/pcma": AudioFormat("audio/pcma", "pcm_alaw", 8000, 8000),
}


@dataclass(frozen=True)
class RealtimeLimits:
    max_held_bytes: int = 8 << 20
    """Audio held while a committed turn finishes or a model loads; more gets
    `buffer_full` and is dropped."""
    max_held_events: int = 10_000
    """Client events held meanwhile, whatever their size."""


@dataclass(frozen=True)
class _Settings:
    """What `session.update` controls."""

    format: AudioFormat
    model: str
    lan: str
    vad: bool
    prompt: str = ""
    """Text the model reads as what came before the audio (vocabulary, spelling)."""

    def config_fields(self) -> dict[str, Any]:
        return {"model": self.model, "lan": self.lan, "vac": self.vad}


@dataclass
class _Turn:
    """One conversation item: the audio of one manual commit or one utterance."""

    item_id: str
    start: float = 0.0  # seconds of session audio
    end: float | None = None  # where its utterance ended, once known
    transcript: str = ""


@dataclass
class _Held:
    """Client events waiting for the session to be ready again."""

    events: deque[ClientEvent] = field(default_factory=deque)
    audio_bytes: int = 0


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
        limits: RealtimeLimits | None = None,
        observer: SessionObserver | None = None,
    ) -> None:
        self._session = session
        self._observer = observer or NoObserver()
        self._limits = limits or RealtimeLimits()
        self._default_model = session.config.model
        self._settings = self._settings_of(session.config, FORMATS["audio/pcm"])
        self._requested_model = model
        self._event_ids = count(1)
        self._item_ids = count(1)
        self._held = _Held()
        self._loading: _Settings | None = None
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
            event = parse_client_event(text)
        except UnparsedEvent as refused:
            return [self._error(refused.error.code, refused.error.message, refused.event_id)]
        if self._busy:
            return self._hold(event)
        return self._dispatch(event, now)

    def audio_ready(self, now: float) -> list[Action]:
        """Audio decoded off the event loop is ready (see `Session.audio_ready`)."""
        return self._translate(self._session.audio_ready(now), now)

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
        self._held = _Held()
        return self._translate(self._session.shutdown(now), now)

    # Client events.

    @property
    def _busy(self) -> bool:
        return self._committing is not None or self._loading is not None

    def _hold(self, event: ClientEvent) -> list[Action]:
        held = self._held
        size = len(event.audio) * 3 // 4 if isinstance(event, AppendAudio) else 0
        limits = self._limits
        if (
            held.audio_bytes + size > limits.max_held_bytes
            or len(held.events) >= limits.max_held_events
        ):
            return [
                self._error(
                    ErrorCode.BUFFER_FULL,
                    f"at most {limits.max_held_bytes} bytes of audio and "
                    f"{limits.max_held_events} events wait while a committed turn is "
                    "transcribed or a model loads; this event was dropped",
                    event.event_id,
                )
            ]
        held.events.append(event)
        held.audio_bytes += size
        return []

    def _release(self, now: float) -> list[Action]:
        """Runs held events, in order, until the session is busy again."""
        actions: list[Action] = []
        held = self._held
        while held.events and not self._busy:
            event = held.events.popleft()
            if isinstance(event, AppendAudio):
                held.audio_bytes -= len(event.audio) * 3 // 4
            actions += self._dispatch(event, now)
        return actions

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
        settings = self._updated_settings(update, model)
        if self._stream_open and settings != self._settings:
            raise ProtocolError(
                ErrorCode.STREAM_IN_PROGRESS,
                "the session cannot change while audio is being transcribed: commit or "
                "clear the input audio buffer first",
            )
        current = self._settings_of(self._session.config, settings.format)
        if settings == replace(current, prompt=settings.prompt):
            self._settings = settings
            return [Send(self._session_event(SessionUpdated))]
        load = LoadModel(**settings.config_fields())
        actions = self._translate(self._session.receive_text(encode(load), self._now))
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
                prompt=self._settings.prompt[-MAX_CONTEXT_CHARS:],
            )
            actions += self._translate(self._session.receive_text(encode(start), now), now)
            self._stream_open = True
        session_time = self._session_time(self._stream_seconds)
        received = self._translate(self._session.receive_bytes(frame, now), now)
        actions += received
        if _refused(received):  # the frame was dropped
            if starting:  # and no stream was begun after all
                self._stream_open = False
                self._silent_resets += 1
                actions += self._translate(self._session.receive_text(encode(Reset()), now), now)
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
        ended = self._translate(self._session.receive_text(encode(End()), now), now)
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
        return self._translate(self._session.receive_text(encode(Reset()), now), now)

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
        actions += self._translate(self._session.receive_text(encode(Reset()), now), now)
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

    def _updated_settings(self, update: SessionSettings, model: str | None) -> _Settings:
        """The settings after `update`, or `unsupported_feature` naming what cannot be."""
        if update.type != "transcription":
            raise _unsupported(
                f"session.type {update.type!r}: this server runs transcription sessions only "
                '(session.type "transcription")'
            )
        if update.model_extra:
            raise _unsupported(
                f"session field(s) {', '.join(sorted(update.model_extra))}: a transcription "
                "session has audio and include only"
            )
        if update.include:
            raise _unsupported(f"include {update.include}: log probabilities are not reported")
        settings = self._settings
        audio = update.audio
        if audio is not None and audio.output is not None:
            raise _unsupported("audio.output: a transcription session produces no audio")
        source = audio.input if audio is not None else None
        if source is None:
            return settings if model is None else replace(settings, model=self._model(model))
        if source.noise_reduction is not None:
            raise _unsupported("audio.input.noise_reduction: audio is transcribed as it comes")
        if source.format is not None:
            settings = replace(settings, format=_format(source.format.type, source.format.rate))
        transcription = source.transcription
        if transcription is not None:
            for name in ("delay", "keywords", "languages"):
                if getattr(transcription, name) is not None:
                    raise _unsupported(f"audio.input.transcription.{name}")
            if "prompt" in transcription.model_fields_set:
                settings = replace(settings, prompt=transcription.prompt or "")
            model = transcription.model or model
            if "language" in transcription.model_fields_set:
                settings = replace(settings, lan=transcription.language or "auto")
        if model is not None:
            settings = replace(settings, model=self._model(model))
        if "turn_detection" in source.model_fields_set:
            settings = replace(settings, vad=_server_vad(source.turn_detection))
        return settings

    def _model(self, name: str) -> str:
        if name == "gpt-4o-transcribe-diarize":
            raise _unsupported(f"transcription.model {name!r}: speakers are not told apart")
        return self._default_model if name in OPENAI_TRANSCRIPTION_MODELS else name

    @staticmethod
    def _settings_of(config: ASRConfig, audio_format: AudioFormat) -> _Settings:
        return _Settings(audio_format, config.model, config.lan, config.vac)

    def _session_event(
        self, kind: type[SessionCreated] | type[SessionUpdated]
    ) -> SessionCreated | SessionUpdated:
        settings = self._settings
        turn_detection = (
            {
                "type": "server_vad",
                "threshold": VAD_THRESHOLD,
                "prefix_padding_ms": VAD_PREFIX_PADDING_MS,
                "silence_duration_ms": VAD_SILENCE_DURATION_MS,
            }
            if settings.vad
            else None
        )
        description = {
            "type": "transcription",
            "object": "realtime.transcription_session",
            "id": f"sess_{self._session.session_id}",
            "audio": {
                "input": {
                    "format": settings.format.describe(),
                    "noise_reduction": None,
                    "transcription": {
                        "model": settings.model,
                        "language": None if settings.lan == "auto" else settings.lan,
                        "prompt": settings.prompt,
                    },
                    "turn_detection": turn_detection,
                }
            },
            "include": None,
        }
        return kind(event_id=self._event_id(), session=description)

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


def _unsupported(what: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.UNSUPPORTED_FEATURE, f"not supported by this transcription server: {what}"
    )


def _format(name: str, rate: int | None) -> AudioFormat:
    audio_format = FORMATS[name]
    if rate is not None and rate != audio_format.sample_rate:
        raise _unsupported(f"{name} at {rate} Hz: it is taken at {audio_format.sample_rate} Hz")
    return audio_format


def _server_vad(detection: TurnDetection | None) -> bool:
    """Whether turn detection is on; only `server_vad` with our detector's settings is."""
    if detection is None:
        return False
    if detection.type != "server_vad":
        raise _unsupported(f"turn_detection.type {detection.type!r}; use server_vad or null")
    fixed = {
        "threshold": VAD_THRESHOLD,
        "prefix_padding_ms": VAD_PREFIX_PADDING_MS,
        "silence_duration_ms": VAD_SILENCE_DURATION_MS,
    }
    for name, value in fixed.items():
        given = getattr(detection, name)
        if given is not None and given != value:
            raise _unsupported(f"turn_detection.{name} {given}: it is fixed at {value}")
    for name in ("create_response", "interrupt_response"):
        if getattr(detection, name):
            raise _unsupported(f"turn_detection.{name}: a transcription session has no responses")
    if detection.idle_timeout_ms is not None or detection.eagerness is not None:
        raise _unsupported("turn_detection.idle_timeout_ms and eagerness")
    return True
