"""The WebSocket protocol on `/asr`: every message both ways, as typed models.

The server parses client messages and builds its replies with these models, and the
Python client parses the replies with the same ones, so the two cannot drift apart.
docs/protocol.md shows an example of each message.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from asr_interface.wire import EXCERPT_CHARS as EXCERPT_CHARS
from asr_interface.wire import MAX_ERROR_CHARS as MAX_ERROR_CHARS
from asr_interface.wire import (
    MAX_STRING_CHARS,
    WireLimits,
    check_shape,
    decode_object,
    excerpt,
)
from asr_interface.wire import ErrorCode as ErrorCode
from asr_interface.wire import ProtocolError as ProtocolError

SUPPORTED_ENCODINGS = ("pcm_s16le", "pcm_f32le", "pcm_mulaw", "pcm_alaw", "auto")
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 48000
MAX_STREAM_SECONDS = 365 * 24 * 3600.0
"""Latest stream time a `start` may resume from: a year of a stream carried from session to
session, its times still exact to the microsecond."""
MAX_CONTEXT_CHARS = MAX_STRING_CHARS
"""Longest `start.context`: more than the model's prompt ever reads (200 characters)."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Client to server.


class LoadModel(BaseModel):
    """Selects the model for this session; every other key is an `ASRConfig` field."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: Literal["load_model"] = "load_model"

    def config_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Start(_Message):
    """Declares the audio format of the binary frames that follow; with `resume_from`,
    the stream continues one that another session settled up to that time."""

    # Strict: "16000" or true is a wrong type, not a rate.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    type: Literal["start"] = "start"
    sample_rate: int = 16000
    encoding: str = "pcm_s16le"
    resume_from: float = Field(default=0.0, ge=0.0, le=MAX_STREAM_SECONDS, allow_inf_nan=False)
    """Stream time of the first sample that follows."""
    settled: float | None = Field(default=None, ge=0.0, le=MAX_STREAM_SECONDS, allow_inf_nan=False)
    """A resumed stream's `settled` (at or after `resume_from`; default `resume_from`):
    the audio from `resume_from` up to it only leads the model into what follows."""
    context: str = Field(default="", max_length=MAX_CONTEXT_CHARS)
    """The text committed before `resume_from` (its end is enough), to prime the model."""
    prompt: str = Field(default="", max_length=MAX_CONTEXT_CHARS)
    """Text said before the stream (names, spellings), to prime the model; unlike
    `context`, never taken for words the audio repeats."""
    resumable: bool = False
    """The client resumes the stream elsewhere if the session ends: a server shutting
    down closes it unfinished rather than forcing out its tail."""


class End(_Message):
    """Ends the stream: the server commits everything and replies `done`."""

    type: Literal["end"] = "end"


class Reset(_Message):
    """Drops the stream without finishing it."""

    type: Literal["reset"] = "reset"


ClientMessage = Annotated[LoadModel | Start | End | Reset, Field(discriminator="type")]
_client_messages: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def parse_client_message(text: str, limits: WireLimits) -> ClientMessage:
    """Parses one text frame, raising `ProtocolError` with the code a client can act on."""
    data = decode_object(text, limits)
    check_shape(data, limits)
    kind = data.get("type")
    if kind not in ("load_model", "start", "end", "reset"):
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown message type {excerpt(kind)}; expected load_model, start, end or reset",
        )
    try:
        message = _client_messages.validate_python(data)
    except ValidationError as error:
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, describe_validation_error(error)) from None
    if isinstance(message, Start):
        _check_format(message)
        if message.settled is not None and message.settled < message.resume_from:
            raise ProtocolError(
                ErrorCode.INVALID_MESSAGE,
                f"settled ({message.settled}) must not be before resume_from "
                f"({message.resume_from})",
            )
    return message


def _check_format(start: Start) -> None:
    if start.encoding not in SUPPORTED_ENCODINGS:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_ENCODING,
            f"encoding must be one of {', '.join(SUPPORTED_ENCODINGS)}, "
            f"got {excerpt(start.encoding)}",
        )
    if not MIN_SAMPLE_RATE <= start.sample_rate <= MAX_SAMPLE_RATE:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_SAMPLE_RATE,
            f"sample_rate must be {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz, "
            f"got {start.sample_rate}",
        )


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each offending field, for `error` replies."""
    parts = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"][1:]) or "message"
        parts.append(f"{location[:EXCERPT_CHARS]}: {problem['msg']}")
    return "; ".join(parts)


# Server to client.


class Word(_Message):
    start: float
    end: float
    word: str


class Ready(_Message):
    type: Literal["ready"] = "ready"
    session: str
    config: dict[str, Any]


class ModelLoaded(_Message):
    type: Literal["model_loaded"] = "model_loaded"
    config: dict[str, Any]
    metadata: dict[str, Any]


class Commit(_Message):
    """Newly committed text: never repeated, never retracted. Concatenating the `text` of
    every commit of a stream gives its transcript.

    `settled` is the stream time up to which the stream is settled: nothing committed
    later comes from the audio before it, so a client resuming the stream on another
    server (`start.resume_from`) replays its audio from there."""

    type: Literal["commit"] = "commit"
    start: float
    end: float
    text: str
    words: list[Word]
    settled: float


class Partial(_Message):
    """The current unconfirmed text after the committed text; replaces the previous one."""

    type: Literal["partial"] = "partial"
    start: float | None
    end: float | None
    text: str


class Vad(_Message):
    """With voice activity control (`vac`): speech started or ended at `time` seconds of
    stream time. An utterance's last commit follows its `speech_end`."""

    type: Literal["vad"] = "vad"
    event: Literal["speech_start", "speech_end"]
    time: float


class Language(_Message):
    """With `lan: "auto"`: the language the stream is spoken in and the model's probability
    for it, sent once per stream. Once detected confidently, the rest of the stream is
    decoded in it; a stream that never was confident gets the latest guess at its end."""

    type: Literal["language"] = "language"
    language: str
    probability: float


class Done(_Message):
    type: Literal["done"] = "done"
    audio_seconds: float
    processing_seconds: float


class ResetDone(_Message):
    type: Literal["reset_done"] = "reset_done"


class Error(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str


ServerMessage = Annotated[
    Ready | ModelLoaded | Commit | Partial | Vad | Language | Done | ResetDone | Error,
    Field(discriminator="type"),
]
_server_messages: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def parse_server_message(text: str) -> ServerMessage:
    """Parses one server reply into its typed model."""
    return _server_messages.validate_json(text)


def encode(message: BaseModel) -> str:
    """The JSON text of a message, as sent on the wire."""
    return message.model_dump_json()
