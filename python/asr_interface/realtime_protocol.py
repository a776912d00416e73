"""OpenAI's Realtime API in transcription mode, as typed models: the events `/v1/realtime`
takes and sends.

Only the transcription part of that API is modelled. Client events are parsed strictly:
a field this server does not know is refused by name rather than dropped, and fields it
knows but cannot honour are refused by `server/realtime.py` with `unsupported_feature`.
docs/realtime.md maps every event to the `/asr` protocol.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from asr_interface.protocol import describe_validation_error
from asr_interface.wire import (
    ErrorCode,
    ProtocolError,
    WireLimits,
    bounded_message,
    check_shape,
    decode_object,
    excerpt,
)

REALTIME_PATH = "/v1/realtime"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Client to server.


class AudioFormat(_Strict):
    """`audio/pcm` is 16-bit little-endian PCM at 24 kHz; `audio/pcmu` and `audio/pcma` are
    G.711 mu-law and A-law at 8 kHz."""

    type: Literal["audio/pcm", "audio/pcmu", "audio/pcma"] = "audio/pcm"
    rate: int | None = None


class TranscriptionSettings(_Strict):
    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    delay: str | None = None
    keywords: list[str] | None = None
    languages: list[str] | None = None


class TurnDetection(_Strict):
    type: str
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    idle_timeout_ms: int | None = None
    eagerness: str | None = None


class AudioInputSettings(_Strict):
    format: AudioFormat | None = None
    noise_reduction: dict[str, Any] | None = None
    transcription: TranscriptionSettings | None = None
    turn_detection: TurnDetection | None = None


class AudioSettings(_Strict):
    input: AudioInputSettings | None = None
    output: dict[str, Any] | None = None


class SessionSettings(BaseModel):
    """The `session` of `session.update`. Only `type: "transcription"` is served; other
    fields of a conversation session are kept to name them in the refusal."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    audio: AudioSettings | None = None
    include: list[str] | None = None


class _ClientEvent(_Strict):
    event_id: str | None = None


class SessionUpdate(_ClientEvent):
    type: Literal["session.update"] = "session.update"
    session: SessionSettings


class AppendAudio(_ClientEvent):
    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str


class CommitAudio(_ClientEvent):
    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class ClearAudio(_ClientEvent):
    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


ClientEvent = SessionUpdate | AppendAudio | CommitAudio | ClearAudio
_client_events: TypeAdapter[ClientEvent] = TypeAdapter(
    Annotated[ClientEvent, Field(discriminator="type")]
)
CLIENT_EVENT_TYPES = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
)
CONVERSATION_EVENT_TYPES = (
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
    "transcription_session.update",
)
"""Client events of the API that a transcription session does not take."""


class UnparsedEvent(Exception):
    """A client event refused before it was understood; carries its `event_id` if any."""

    def __init__(self, error: ProtocolError, event_id: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.event_id = event_id


BULK_FIELDS = ("audio",)
"""Fields bounded by the text frame alone: base64 audio."""


def parse_client_event(text: str, limits: WireLimits) -> ClientEvent:
    """Parses one text frame, raising `UnparsedEvent` with the code a client can act on;
    the bounds are those of `/asr` (`wire.py`), with `audio` bounded by the frame alone."""
    try:
        data = decode_object(text, limits)
    except ProtocolError as error:
        raise UnparsedEvent(error, None) from None
    given_id = data.get("event_id")
    bounded = isinstance(given_id, str) and len(given_id) <= limits.max_string_chars
    event_id = given_id if bounded else None
    try:
        check_shape(data, limits, bulk=BULK_FIELDS)
    except ProtocolError as error:
        raise UnparsedEvent(error, event_id) from None
    kind = data.get("type")
    if kind in CONVERSATION_EVENT_TYPES:
        raise UnparsedEvent(
            ProtocolError(
                ErrorCode.UNSUPPORTED_FEATURE,
                f"{kind} belongs to conversation sessions; this server only transcribes "
                f"(events: {', '.join(CLIENT_EVENT_TYPES)})",
            ),
            event_id,
        )
    if kind not in CLIENT_EVENT_TYPES:
        raise UnparsedEvent(
            ProtocolError(
                ErrorCode.UNKNOWN_TYPE,
                f"unknown event type {excerpt(kind)}; expected {', '.join(CLIENT_EVENT_TYPES)}",
            ),
            event_id,
        )
    try:
        return _client_events.validate_python(data)
    except ValidationError as error:
        raise UnparsedEvent(
            ProtocolError(ErrorCode.INVALID_MESSAGE, describe_validation_error(error)), event_id
        ) from None


# Server to client.


class _ServerEvent(BaseModel):
    model_config = ConfigDict(frozen=True)
    event_id: str


class SessionCreated(_ServerEvent):
    type: Literal["session.created"] = "session.created"
    session: dict[str, Any]


class SessionUpdated(_ServerEvent):
    type: Literal["session.updated"] = "session.updated"
    session: dict[str, Any]


class AudioCommitted(_ServerEvent):
    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None


class AudioCleared(_ServerEvent):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class SpeechStarted(_ServerEvent):
    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    item_id: str


class SpeechStopped(_ServerEvent):
    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str


class TranscriptionDelta(_ServerEvent):
    """Newly committed words of an item: never repeated, never retracted."""

    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int = 0
    delta: str


class DurationUsage(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["duration"] = "duration"
    seconds: float


class TranscriptionCompleted(_ServerEvent):
    """An item's whole transcript: the concatenation of its deltas."""

    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int = 0
    transcript: str
    usage: DurationUsage


class TranscriptionFailed(_ServerEvent):
    """The model failed on an item's audio; no `completed` follows for it."""

    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int = 0
    error: ErrorDetail


class ErrorDetail(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["invalid_request_error", "server_error"]
    code: str
    message: str
    param: str | None = None
    event_id: str | None = None
    """The client event that caused the error, when there is one."""


class ErrorEvent(_ServerEvent):
    type: Literal["error"] = "error"
    error: ErrorDetail


SERVER_SIDE_CODES = frozenset(
    {
        ErrorCode.BACKEND_ERROR,
        ErrorCode.MODEL_LOAD_FAILED,
        ErrorCode.TOO_MANY_SESSIONS,
        ErrorCode.OVERLOADED,
        ErrorCode.SHUTTING_DOWN,
    }
)


def error_detail(code: str, message: str, *, client_event_id: str | None = None) -> ErrorDetail:
    """The API's error object carrying one of our error codes."""
    kind: Literal["invalid_request_error", "server_error"] = (
        "server_error" if code in SERVER_SIDE_CODES else "invalid_request_error"
    )
    return ErrorDetail(
        type=kind, code=code, message=bounded_message(message), event_id=client_event_id
    )


def error_event(
    event_id: str, code: str, message: str, *, client_event_id: str | None = None
) -> ErrorEvent:
    """The API's `error` event carrying one of our error codes."""
    return ErrorEvent(
        event_id=event_id, error=error_detail(code, message, client_event_id=client_event_id)
    )
