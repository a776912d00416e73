"""The shared bounds of client text frames, through both parsers and both session state
machines: hostile input gets the same typed refusal on `/asr` and `/v1/realtime`, and no
reply echoes more than the bounds allow."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import StepResult
from asr_interface.protocol import Error, parse_client_message
from asr_interface.realtime_protocol import (
    CLIENT_EVENT_TYPES,
    CONVERSATION_EVENT_TYPES,
    AppendAudio,
    ErrorEvent,
    UnparsedEvent,
    parse_client_event,
)
from asr_interface.server.models import ModelPool
from asr_interface.server.realtime import RealtimeSession
from asr_interface.server.session import Session
from asr_interface.server.session_types import Action, LoadConfig, RunStep, Send
from asr_interface.wire import (
    MAX_ERROR_CHARS,
    MAX_JSON_DEPTH,
    MAX_STRING_CHARS,
    ErrorCode,
    ProtocolError,
)
from tests.bad_inputs import LIMITS, SHARED_REFUSALS, nested

ASR_TYPES = ["load_model", "start", "end", "reset"]


@pytest.mark.parametrize(("frame", "code"), SHARED_REFUSALS)
def test_both_parsers_refuse_alike(frame: str, code: ErrorCode) -> None:
    """Size, JSON, depth, number length and string length are checked in one place, so
    both endpoints refuse a hostile frame with the same code and a short message."""
    with pytest.raises(ProtocolError) as asr:
        parse_client_message(frame, LIMITS)
    with pytest.raises(UnparsedEvent) as realtime:
        parse_client_event(frame, LIMITS)
    assert asr.value.code == realtime.value.error.code == code
    assert len(asr.value.message) <= MAX_ERROR_CHARS


def test_nesting_up_to_the_limit_is_read() -> None:
    """A message nesting exactly as deep as allowed is parsed: the bound refuses only
    what passes it (here `context` is then no string)."""
    with pytest.raises(ProtocolError) as refused:
        parse_client_message(nested(MAX_JSON_DEPTH - 1), LIMITS)
    assert refused.value.code == ErrorCode.INVALID_MESSAGE


def test_the_bulk_audio_field_is_bounded_by_the_frame_only() -> None:
    """Base64 audio may be as long as a frame allows; any other Realtime field, and the
    same field on `/asr`, is bounded by `MAX_STRING_CHARS`."""
    audio = base64.b64encode(bytes(600_000)).decode()
    event = parse_client_event(
        json.dumps({"type": "input_audio_buffer.append", "audio": audio}), LIMITS
    )
    assert isinstance(event, AppendAudio)
    with pytest.raises(UnparsedEvent) as refused:
        parse_client_event(
            json.dumps({"type": "input_audio_buffer.clear", "event_id": audio}), LIMITS
        )
    assert (refused.value.error.code, refused.value.event_id) == (ErrorCode.INVALID_MESSAGE, None)
    with pytest.raises(ProtocolError):
        parse_client_message(json.dumps({"type": "end", "audio": audio}), LIMITS)


# Hostile input for the property tests.

_strings = st.text(max_size=20) | st.integers(0, 2 * MAX_STRING_CHARS).map(lambda n: "s" * n)
_keys = st.sampled_from(
    ["type", "event_id", "audio", "session", "transcription", "prompt", "model", "context"]
) | st.text(max_size=10)
_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _strings
)
_values = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=12,
)
_types = st.sampled_from([*ASR_TYPES, *CLIENT_EVENT_TYPES, *CONVERSATION_EVENT_TYPES]) | _strings
_session_update = st.builds(
    lambda prompt, model, extra: {
        "type": "session.update",
        "session": {
            "type": "transcription",
            "audio": {"input": {"transcription": {"prompt": prompt, "model": model}}},
            **extra,
        },
    },
    _strings,
    st.sampled_from(["whisper-1", "tiny.en", "base.en"]) | _strings,
    st.dictionaries(_keys, _values, max_size=2),
)
_messages = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    _types,
    st.dictionaries(_keys, _values, max_size=4),
)
_audio = st.binary(max_size=4000).map(
    lambda pcm: {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
)
frames = (
    st.one_of(_messages, _session_update, _audio, _values).map(json.dumps)
    | st.text(max_size=50)
    | st.integers(1, 3000).map(lambda n: "[" * n)
    | st.integers(1, 300).map(lambda n: '{"type": "start", "sample_rate": ' + "7" * n + "}")
)


def strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def assert_bounded(message: BaseModel) -> None:
    """No string a reply carries is longer than a client may send, and error texts are
    cut to `MAX_ERROR_CHARS`."""
    dumped = message.model_dump()
    assert all(len(text) <= MAX_STRING_CHARS for text in strings_in(dumped)), message
    if isinstance(message, Error):
        assert len(message.message) <= MAX_ERROR_CHARS
    if isinstance(message, ErrorEvent):
        assert len(message.error.message) <= MAX_ERROR_CHARS
        assert message.error.event_id is None or len(message.error.event_id) <= MAX_STRING_CHARS


@given(frames)
def test_asr_parser_answers_every_frame_typed(frame: str) -> None:
    """Any text is a typed message or a `ProtocolError` with one of the documented codes."""
    try:
        message = parse_client_message(frame, LIMITS)
    except ProtocolError as error:
        assert isinstance(error.code, ErrorCode)
        return
    assert message.type in ASR_TYPES
    assert all(len(text) <= MAX_STRING_CHARS for text in strings_in(message.model_dump()))


@given(frames)
def test_realtime_parser_answers_every_frame_typed(frame: str) -> None:
    """Any text is a typed client event or an `UnparsedEvent` carrying a documented code
    and, at most, a bounded `event_id`; only base64 audio may pass the string bound."""
    try:
        event = parse_client_event(frame, LIMITS)
    except UnparsedEvent as refused:
        assert isinstance(refused.error.code, ErrorCode)
        assert refused.event_id is None or len(refused.event_id) <= MAX_STRING_CHARS
        return
    assert event.type in CLIENT_EVENT_TYPES
    fields = event.model_dump(exclude={"audio"})
    assert all(len(text) <= MAX_STRING_CHARS for text in strings_in(fields))


@pytest.fixture(scope="module")
def pool() -> Iterator[ModelPool]:
    """The server's own validation of model choices; nothing is loaded."""
    with ThreadPoolExecutor(1) as executor:
        yield ModelPool(ASRConfig(), executor=executor, allowed_models=["tiny.en", "base.en"])


def run_to_quiet(
    protocol: Session | RealtimeSession, actions: list[Action], now: float
) -> list[Action]:
    """Completes every step and model load the actions ask for, as the server would,
    until the session asks for no more work; returns every action seen."""
    seen: list[Action] = []
    pending = list(actions)
    while pending:
        action = pending.pop(0)
        seen.append(action)
        if isinstance(action, RunStep):
            pending += protocol.step_finished(StepResult([], [], 0.01, 1), now)
        elif isinstance(action, LoadConfig):
            pending += protocol.model_loaded(action.config, {}, sep=" ")
    return seen


def check_replies(actions: list[Action]) -> list[BaseModel]:
    replies = [action.message for action in actions if isinstance(action, Send)]
    for reply in replies:
        assert_bounded(reply)
    return replies


@given(st.lists(frames, max_size=8))
def test_asr_session_answers_hostile_sequences(pool: ModelPool, sequence: list[str]) -> None:
    """A `/asr` session fed any frames, its steps and loads run as they are asked, never
    raises; a frame its parser refuses is answered by one `error` with that code, and
    every reply is bounded."""
    session = Session("s", ASRConfig(), sep=" ", validate_config=pool.validate)
    check_replies(session.connected())
    for index, frame in enumerate(sequence):
        replies = check_replies(run_to_quiet(session, session.receive_text(frame, index), index))
        try:
            parse_client_message(frame, LIMITS)
        except ProtocolError as error:
            assert [(type(r), getattr(r, "code", None)) for r in replies] == [(Error, error.code)]


@given(st.lists(frames, max_size=8))
def test_realtime_session_answers_hostile_sequences(pool: ModelPool, sequence: list[str]) -> None:
    """A `/v1/realtime` session fed any frames never raises; a frame its parser refuses is
    answered by one `error` event with that code, and no reply echoes more than a client
    may send."""
    realtime = RealtimeSession(Session("s", ASRConfig(), sep=" ", validate_config=pool.validate))
    check_replies(realtime.connected())
    for index, frame in enumerate(sequence):
        actions = realtime.receive_text(frame, index)
        replies = check_replies(run_to_quiet(realtime, actions, index))
        try:
            parse_client_event(frame, LIMITS)
        except UnparsedEvent as refused:
            codes: list[Any] = [r.error.code for r in replies if isinstance(r, ErrorEvent)]
            assert codes == [refused.error.code]
            assert len(replies) == 1
