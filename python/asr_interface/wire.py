"""The bounds every client text frame meets, on every endpoint, before it is understood.

Both parsers (`protocol.parse_client_message` for `/asr`, `realtime_protocol.parse_client_event`
for `/v1/realtime`) decode through `decode_object` and `check_shape`, so a frame is refused
for the same reasons, with the same `ProtocolError` codes, whatever protocol it speaks:
too large (`frame_too_large`), not JSON, nested too deeply or holding an overlong number
(`invalid_json`), not an object or holding an overlong string (`invalid_message`). Because
every string a client sends is bounded here, every string the server echoes back (an
`event_id`, a prompt, a model name) is bounded too; error messages are cut by
`bounded_message`, and quoted client input by `excerpt`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from asr_interface.errors import ASRInterfaceError

EXCERPT_CHARS = 40
"""Most characters of client input an error message quotes: a 2 MiB frame must not come
back as a 2 MiB reply."""
MAX_ERROR_CHARS = 300
"""Longest message of an error reply; longer ones are cut."""
MAX_STRING_CHARS = 1000
"""Longest string a client may send in any field or key (a prompt, an `event_id`, a model
name), except the bulk fields a parser names (base64 audio), which only the frame bounds."""
MAX_JSON_DEPTH = 16
"""Deepest nesting of objects and arrays; the deepest message of either protocol has 6."""
MAX_NUMBER_CHARS = 100
"""Longest number literal: far more digits than any float or integer field can use."""


def text_chars_for(max_frame_bytes: int) -> int:
    """The text frame bound of a server taking binary frames of up to `max_frame_bytes`:
    twice that (one largest audio frame fits as base64, the Realtime API's `append`, with
    room for the event around it), and 64 KiB at least. The socket closes a larger frame
    of either kind (1009) before it is read."""
    return max(2 * max_frame_bytes, 1 << 16)


@dataclass(frozen=True)
class WireLimits:
    """What one client text frame may be; the same on every endpoint."""

    max_text_chars: int
    max_depth: int = MAX_JSON_DEPTH
    max_number_chars: int = MAX_NUMBER_CHARS
    max_string_chars: int = MAX_STRING_CHARS

    @classmethod
    def for_frames(cls, max_frame_bytes: int) -> WireLimits:
        """The limits of a server taking binary frames of up to `max_frame_bytes`."""
        return cls(max_text_chars=text_chars_for(max_frame_bytes))


class ErrorCode(StrEnum):
    """Stable, machine-readable reasons carried by error replies, on every endpoint."""

    INVALID_JSON = "invalid_json"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_MESSAGE = "invalid_message"
    INVALID_CONFIG = "invalid_config"
    UNKNOWN_BACKEND = "unknown_backend"
    MODEL_NOT_ALLOWED = "model_not_allowed"
    MODEL_LOAD_FAILED = "model_load_failed"
    UNSUPPORTED_ENCODING = "unsupported_encoding"
    UNSUPPORTED_SAMPLE_RATE = "unsupported_sample_rate"
    FRAME_TOO_LARGE = "frame_too_large"
    BACKLOG_FULL = "backlog_full"
    INVALID_AUDIO = "invalid_audio"
    AUDIO_AFTER_END = "audio_after_end"
    STREAM_IN_PROGRESS = "stream_in_progress"
    STREAM_FAILED = "stream_failed"
    BACKEND_ERROR = "backend_error"
    TOO_MANY_SESSIONS = "too_many_sessions"
    OVERLOADED = "overloaded"
    IDLE_TIMEOUT = "idle_timeout"
    SHUTTING_DOWN = "shutting_down"
    SESSION_EXPIRED = "session_expired"
    SLOW_READER = "slow_reader"
    # Plain HTTP routes (POST /load_model).
    UNAUTHORIZED = "unauthorized"
    REQUEST_TOO_LARGE = "request_too_large"
    # The Realtime endpoint (docs/realtime.md).
    UNSUPPORTED_FEATURE = "unsupported_feature"
    EMPTY_COMMIT = "empty_commit"
    BUFFER_FULL = "buffer_full"


class ProtocolError(ASRInterfaceError):
    """A client message the server refuses; it becomes an error reply, never a crash."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _NumberTooLong(ValueError):
    pass


def decode_object(text: str, limits: WireLimits) -> dict[str, Any]:
    """The JSON object of one text frame, checked for size, numbers and depth.

    Call `check_shape` on it next: a parser may read a field (the Realtime `event_id`)
    in between, to name the event a refusal answers."""
    if len(text) > limits.max_text_chars:
        raise ProtocolError(
            ErrorCode.FRAME_TOO_LARGE,
            f"text frames may hold at most {limits.max_text_chars} characters, "
            f"got {len(text)}; the frame was dropped",
        )

    def number(kind: type[int] | type[float]) -> Any:
        def parse(literal: str) -> int | float:
            if len(literal) > limits.max_number_chars:
                raise _NumberTooLong(literal)
            return kind(literal)

        return parse

    try:
        data = json.loads(text, parse_int=number(int), parse_float=number(float))
    except _NumberTooLong as error:
        raise ProtocolError(
            ErrorCode.INVALID_JSON,
            f"a number of {len(str(error))} characters; at most {limits.max_number_chars}",
        ) from None
    except json.JSONDecodeError as error:
        raise ProtocolError(
            ErrorCode.INVALID_JSON, bounded_message(f"text frames must be JSON: {error}")
        ) from None
    except RecursionError:
        raise ProtocolError(ErrorCode.INVALID_JSON, "the JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.INVALID_MESSAGE, "a message must be a JSON object")
    return data


def check_shape(data: dict[str, Any], limits: WireLimits, *, bulk: Collection[str] = ()) -> None:
    """Refuses nesting deeper than the limit and an overlong key or string anywhere in
    `data`, naming where it is; the top-level fields named in `bulk` are bounded by the
    frame alone. Walks with a stack: a hostile frame cannot exhaust the recursion limit."""
    bound = limits.max_string_chars
    stack: list[tuple[str, object, int]] = [("", data, 1)]
    while stack:
        path, value, level = stack.pop()
        if isinstance(value, str):
            if len(value) > bound and not (level == 2 and path[1:] in bulk):
                raise ProtocolError(
                    ErrorCode.INVALID_MESSAGE,
                    f"{excerpt_path(path[1:])}: a string of {len(value)} characters; "
                    f"at most {bound}",
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if level > limits.max_depth:
            raise ProtocolError(
                ErrorCode.INVALID_JSON,
                f"the JSON is nested more than {limits.max_depth} levels deep",
            )
        if isinstance(value, list):
            stack += [(f"{path}[{index}]", item, level + 1) for index, item in enumerate(value)]
            continue
        for key, item in value.items():
            if len(key) > bound:
                raise ProtocolError(
                    ErrorCode.INVALID_MESSAGE,
                    f"{excerpt_path(path[1:] + '.' + key[:EXCERPT_CHARS])}: a key of {len(key)} "
                    f"characters; at most {bound}",
                )
            stack.append((f"{path}.{key}", item, level + 1))


def excerpt(value: object) -> str:
    """The `repr` of client input, cut to `EXCERPT_CHARS` characters."""
    text = repr(value)
    if len(text) <= EXCERPT_CHARS:
        return text
    return f"{text[: EXCERPT_CHARS - 3]}... ({len(text)} characters)"


def excerpt_path(path: str) -> str:
    """A field's dotted path, cut to `EXCERPT_CHARS` characters."""
    return path if len(path) <= EXCERPT_CHARS else path[: EXCERPT_CHARS - 3] + "..."


def bounded_message(message: str) -> str:
    """An error message cut to `MAX_ERROR_CHARS` characters."""
    if len(message) <= MAX_ERROR_CHARS:
        return message
    return message[: MAX_ERROR_CHARS - 3] + "..."
