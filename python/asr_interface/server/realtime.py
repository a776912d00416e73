"""`/v1/realtime`: OpenAI's Realtime transcription protocol over our `Session`, sans-I/O.

`RealtimeSession` takes the same inputs as `Session` and returns the same actions; it
maps each typed Realtime client event (`realtime_protocol.py`) to typed `/asr` messages
for the `Session` it wraps, and each typed message the `Session` sends to Realtime events,
with no JSON in between. So both endpoints share one set of rules (pacing, limits, model
loading, shutdown) and differ only in their wording. What `session.update` may set is in
`realtime_settings.py`, the session object it answers with in `realtime_description.py`,
the items and their events in `realtime_items.py`.

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
from collections.abc import Callable
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
    ClientEvent,
    CommitAudio,
    ErrorEvent,
    SessionCreated,
    SessionSettings,
    SessionUpdate,
    SessionUpdated,
    UnparsedEvent,
    error_event,
    parse_client_event,
)
from asr_interface.server.held import HeldEvents
from asr_interface.server.realtime_description import describe_session
from asr_interface.server.realtime_items import RealtimeItems
from asr_interface.server.realtime_settings import FORMATS, RealtimeSettings, updated_settings
from asr_interface.server.session import Session
from asr_interface.server.session_types import Action, LoadConfig, NoObserver, Send, SessionObserver


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
        self._items = RealtimeItems(session.session_id)
        limits = session.limits
        self._held: HeldEvents[ClientEvent | UnparsedEvent] = HeldEvents(
            limits.max_held_bytes,
            limits.max_held_events,
            ErrorCode.BUFFER_FULL,
            "while a committed turn is transcribed, a model loads or a clear waits for the model",
        )
        self._loading: RealtimeSettings | None = None
        self._loading_event_id: str | None = None
        self._stream_open = False  # a `start` was sent and its `done` has not come
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
            event: ClientEvent | UnparsedEvent = parse_client_event(text, self._session.limits.wire)
        except UnparsedEvent as refused:
            event = refused  # refused, but in its turn, as everything else
        return self._take(event, len(text), now)

    def audio_ready(self, now: float) -> list[Action]:
        """Audio decoded off the event loop is ready (see `Session.audio_ready`)."""
        return self._translate(self._session.audio_ready(now), now)

    def receive_bytes(self, frame: bytes, now: float) -> list[Action]:
        refused = ProtocolError(
            ErrorCode.INVALID_MESSAGE,
            "binary frames are not part of the Realtime protocol: send audio as base64 "
            "in input_audio_buffer.append",
        )
        return self._take(UnparsedEvent(refused, None), len(frame), now)

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

    def close(self) -> None:
        """The connection is gone (see `Session.close`); the events held here go too."""
        self._held.clear()
        self._session.close()

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
        """Whether client events wait: a committed turn is being finished, a model loads,
        or the `Session` holds its input (a reset waits for the running step)."""
        return (
            self._items.committing is not None or self._loading is not None or self._session.holding
        )

    def _take(self, event: ClientEvent | UnparsedEvent, size: int, now: float) -> list[Action]:
        """Runs an event that arrived, or holds it (at the cost of its `size` on the wire)
        while the session is busy; one that finds no room is refused at once."""
        if not self._busy:
            return self._dispatch(event, now)
        try:
            self._held.hold(event, size)
        except ProtocolError as error:
            return [self._error(error.code, error.message, event.event_id)]
        return []

    def _release(self, now: float) -> list[Action]:
        """Runs held events, in order, until the session is busy again."""
        actions: list[Action] = []
        while self._held and not self._busy:
            actions += self._dispatch(self._held.pop(), now)
        return actions

    def _drive(self, message: ClientMessage, now: float) -> list[Action]:
        """Gives the `Session` a typed message and translates its answer; the session
        never holds it here, since events wait in `_held` while it holds any."""
        return self._translate(self._session.receive(message, now, size=0), now)

    def _dispatch(self, event: ClientEvent | UnparsedEvent, now: float) -> list[Action]:
        if isinstance(event, UnparsedEvent):
            return [self._error(event.error.code, event.error.message, event.event_id)]
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
        items = self._items
        start_time = items.session_time(items.stream_seconds)
        received = self._translate(self._session.receive_bytes(frame, now), now)
        actions += received
        if _refused(received):  # the frame was dropped
            if starting:  # and no stream was begun after all
                self._stream_open = False
                self._silent_resets += 1
                actions += self._drive(Reset(), now)
            return actions
        if frame:
            seconds = len(frame) / self._settings.format.bytes_per_second
            items.appended(seconds, start_time, manual=not self._settings.vad)
        return actions

    def _commit(self, now: float) -> list[Action]:
        actions: list[Action] = [self._items.commit()]
        ended = self._drive(End(), now)
        # An `end` that was taken may come with an error too (bytes at the end that were no
        # audio): only one that was not leaves the turn uncommitted.
        if _refused(ended) and not self._session.ending:
            self._items.committing = None
        return actions + ended

    def _clear(self, now: float) -> list[Action]:
        self._items.clear()
        if not self._stream_open:
            return [Send(AudioCleared(event_id=self._items.event_id()))]
        self._stream_open = False
        self._items.next_stream()
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
        return translated + self._items.completions()

    def _events_for(self, message: BaseModel, now: float) -> list[Action]:
        if isinstance(message, Ready):
            return [Send(self._session_event(SessionCreated))]
        if isinstance(message, ModelLoaded):
            assert self._loading is not None
            self._settings, self._loading = self._loading, None
            return [Send(self._session_event(SessionUpdated)), *self._release(now)]
        if isinstance(message, Commit):
            return list(self._items.deltas(message, self._session.sep))
        if isinstance(message, Vad):
            return list(self._items.speech(message))
        if isinstance(message, Done):
            return self._stream_done(now)
        if isinstance(message, ResetDone):
            if self._silent_resets:
                self._silent_resets -= 1
                return self._release(now)
            return [Send(AudioCleared(event_id=self._items.event_id())), *self._release(now)]
        if isinstance(message, Error):
            error = self._error(
                ErrorCode(message.code), message.message, self._client_event_id, counted=True
            )
            if message.code == ErrorCode.BACKEND_ERROR:
                return [error, *self._recover(message.message, now)]
            return [error]
        return []  # `partial` and `language` have no Realtime counterpart

    def _recover(self, reason: str, now: float) -> list[Action]:
        """The model failed on this stream: its open items fail, and the stream is reset
        so that the next append starts a new one (the API's sessions outlive a failure)."""
        actions: list[Action] = [*self._items.fail_open(reason)]
        self._stream_open = False
        self._silent_resets += 1
        return actions + self._drive(Reset(), now) + self._release(now)

    def _stream_done(self, now: float) -> list[Action]:
        """The stream ended (a manual commit, or shutdown): its open items are complete."""
        actions: list[Action] = [*self._items.stream_done()]
        self._stream_open = False
        return actions + self._release(now)

    def _session_event(
        self, kind: type[SessionCreated] | type[SessionUpdated]
    ) -> SessionCreated | SessionUpdated:
        return kind(
            event_id=self._items.event_id(),
            session=describe_session(self._settings, self.session_id),
        )

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
            error_event(
                self._items.event_id(), code.value, message, client_event_id=client_event_id
            )
        )


def _refused(actions: list[Action]) -> bool:
    return any(
        isinstance(action, Send) and isinstance(action.message, ErrorEvent) for action in actions
    )
