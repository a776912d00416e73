"""Session rules behind the server's bounds: empty frames, pending work, maximum lifetime,
short error replies. Method calls alone, as in test_session."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from asr_interface.core.config import ASRConfig
from asr_interface.protocol import MAX_ERROR_CHARS, Commit, Done, Error
from asr_interface.server.models import ModelPool
from asr_interface.server.session import Phase, Session
from asr_interface.server.session_types import CLOSE_NORMAL, Close, Send
from tests.server.asr_session import (
    error_codes,
    new_session,
    only_step,
    pcm16,
    result,
    sent,
    streaming,
    text,
)


@pytest.fixture
def session() -> Iterator[Session]:
    """A session validating `load_model` as the server does; nothing is loaded."""
    with ThreadPoolExecutor(1) as executor:
        yield new_session(ModelPool(ASRConfig(), executor=executor))


@pytest.mark.parametrize("frame", ["[" * 100_000, "7" * 5000, '{"a": [' + "1" * 4301 + "]}"])
def test_pathological_json_is_invalid_json(session: Session, frame: str) -> None:
    """Nesting too deep for the parser and integers too long to convert are `invalid_json`,
    like any other text that is not JSON, not an exception."""
    assert error_codes(session.receive_text(frame, 0.0)) == ["invalid_json"]
    assert session.phase is Phase.IDLE


def test_an_empty_frame_starts_no_stream(session: Session) -> None:
    """An empty binary frame is no audio: the session stays idle, in every phase it is
    simply ignored."""
    assert session.receive_bytes(b"", 0.0) == []
    assert session.phase is Phase.IDLE
    assert session.receive_text(text("start", encoding="pcm_f32le"), 0.0) == []
    assert session.phase is Phase.STREAMING


def test_error_replies_are_cut_short(session: Session) -> None:
    """However long the offending input, an `error` message holds at most
    `MAX_ERROR_CHARS` characters."""
    huge = "y" * 100_000
    for message in (text(huge), text("start", encoding=huge), text("load_model", **{huge: 1})):
        (reply,) = sent(session.receive_text(message, 0.0))
        assert isinstance(reply, Error)
        assert len(reply.message) <= MAX_ERROR_CHARS


def test_pending_work_lasts_until_done(session: Session) -> None:
    """The server owes a session results from its first ready audio to its `done`, and
    while a model loads for it: the idle timeout does not run meanwhile."""
    assert not session.has_pending_work
    streaming(session)
    assert session.has_pending_work  # a step runs
    session.receive_bytes(pcm16(0.5), 0.0)
    session.receive_text(text("end"), 0.0)
    final = only_step(session.step_finished(result(), 0.0))
    assert final.final and session.has_pending_work
    assert isinstance(sent(session.step_finished(result(), 0.0))[-1], Done)
    assert not session.has_pending_work
    session.receive_text(text("load_model", model="tiny.en"), 0.0)
    assert session.has_pending_work  # `model_loaded` is owed


def test_expiry_mid_stream_finishes_the_stream_then_closes(session: Session) -> None:
    """At its maximum lifetime a streaming session hears `session_expired`, gets its last
    commits and `done` as after `end`, then a normal close."""
    streaming(session)
    actions = session.expired(0.0)
    assert error_codes(actions) == ["session_expired"]
    assert session.phase is Phase.ENDING
    final = only_step(session.step_finished(result(), 0.0))
    assert final.final
    actions = session.step_finished(result([(0.0, 1.0, "tail")]), 0.0)
    assert [type(message) for message in sent(actions)] == [Commit, Done]
    assert actions[-1] == Close(CLOSE_NORMAL, "session expired")


def test_expiry_without_a_stream_closes_at_once(session: Session) -> None:
    """An idle session at its maximum lifetime is told why and closed normally."""
    actions = session.expired(0.0)
    assert isinstance(actions[0], Send)
    assert error_codes(actions) == ["session_expired"]
    assert actions[-1] == Close(CLOSE_NORMAL, "session expired")
