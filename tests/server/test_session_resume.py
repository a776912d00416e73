"""The resume handshake on the sans-I/O session: `settled` on commits, `resume_from` and
`context` on `start`."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from asr_interface.core.config import ASRConfig
from asr_interface.protocol import MAX_CONTEXT_CHARS, Commit, Done, ResetDone
from asr_interface.server.models import ModelPool
from asr_interface.server.session import Phase
from asr_interface.server.session_types import (
    CLOSE_GOING_AWAY,
    Action,
    Close,
    ResetStream,
    Send,
)
from tests.server.asr_session import (
    error_codes,
    new_session,
    only_step,
    pcm16,
    result,
    sent,
    text,
)


@pytest.fixture(scope="module")
def validation() -> Iterator[ModelPool]:
    """The server's own validation of `load_model` fields; nothing is loaded."""
    with ThreadPoolExecutor(1) as executor:
        yield ModelPool(ASRConfig(), executor=executor, allowed_models=["tiny.en"])


def commits(actions: list[Action]) -> list[Commit]:
    return [message for message in sent(actions) if isinstance(message, Commit)]


def test_each_commit_is_settled_at_its_last_word(validation: ModelPool) -> None:
    """A live step's commit settles the stream at its last word's end, not at the end of
    the audio: the words after it may still change."""
    session = new_session(validation)
    session.receive_text(text("start"), 0.0)
    session.receive_bytes(pcm16(1.0), 0.0)
    actions = session.step_finished(result([(0.1, 0.4, "one")], [(0.5, 0.9, "two")]), 1.0)
    (commit,) = commits(actions)
    assert commit.settled == 0.4


def test_resume_starts_the_stream_at_its_time_after_its_context(
    validation: ModelPool,
) -> None:
    """`start` with `resume_from`, `settled` and `context` resets the engine for a stream
    starting at `resume_from` that was committed up to `settled` with the context's words,
    and the stream's first commit continues the text with a separator."""
    session = new_session(validation, sep=" ")
    start = text("start", resume_from=11.5, settled=12.5, context="ask not what your")
    assert session.receive_text(start, 0.0) == [
        ResetStream(11.5, ("ask", "not", "what", "your"), 12.5)
    ]
    assert only_step(session.receive_bytes(pcm16(1.0), 0.0))
    actions = session.step_finished(result([(12.6, 13.0, "country")]), 1.0)
    (commit,) = commits(actions)
    assert (commit.text, commit.start, commit.settled) == (" country", 12.6, 13.0)


def test_resumed_context_keeps_the_leading_spaces_of_words_without_a_separator(
    validation: ModelPool,
) -> None:
    """Without a separator (faster-whisper's words carry their space) the context splits
    into words that keep it, as the model's own words would be committed."""
    session = new_session(validation, sep="")
    actions = session.receive_text(text("start", resume_from=3.0, context=" can do  for"), 0.0)
    assert actions == [ResetStream(3.0, (" can", " do", "  for"))]


def test_final_commit_settles_the_whole_resumed_stream(validation: ModelPool) -> None:
    """After the final step everything received is committed: the last commit settles
    the stream at the end of its audio, counted from `resume_from`."""
    session = new_session(validation)
    session.receive_text(text("start", resume_from=20.0), 0.0)
    session.receive_bytes(pcm16(1.5), 0.0)
    session.receive_text(text("end"), 0.5)
    final = only_step(session.step_finished(result(), 1.0))
    assert final.final
    actions = session.step_finished(result([(20.2, 20.7, "you")]), 2.0)
    (commit,) = commits(actions)
    assert commit.settled == 21.5
    assert isinstance(sent(actions)[-1], Done)


def test_resume_after_a_reset_waits_for_the_running_step(validation: ModelPool) -> None:
    """A resumed `start` right after a reset, while a step still runs, waits for that step:
    the reset is answered, then the engine is reset for the resumed stream."""
    session = new_session(validation)
    session.receive_text(text("start"), 0.0)
    only_step(session.receive_bytes(pcm16(1.0), 0.0))
    assert session.receive_text(text("reset"), 0.0) == []
    assert session.receive_text(text("start", resume_from=7.0, context="a b"), 0.0) == []
    actions = session.step_finished(result([(0.0, 0.5, "dropped")]), 1.0)
    assert actions == [ResetStream(), Send(ResetDone()), ResetStream(7.0, ("a", "b"))]
    assert session.phase is Phase.STREAMING


@pytest.mark.parametrize(
    "fields",
    [
        {"resume_from": -1.0},
        {"resume_from": "3"},
        {"resume_from": float("inf")},
        {"context": "x" * (MAX_CONTEXT_CHARS + 1)},
        {"context": 5},
        {"resume_from": 2.0, "settled": 1.5},
    ],
    ids=["negative", "string", "infinite", "too-long", "not-text", "settled-before-start"],
)
def test_bad_resume_fields_are_refused(validation: ModelPool, fields: dict[str, object]) -> None:
    """A resume time that is not a finite non-negative number, a settled time before it,
    or a context that is not text of bounded length, gets `invalid_message` and starts
    nothing."""
    session = new_session(validation)
    assert error_codes(session.receive_text(text("start", **fields), 0.0)) == ["invalid_message"]
    assert session.phase is Phase.IDLE


def test_shutdown_closes_a_resumable_stream_unfinished(validation: ModelPool) -> None:
    """At shutdown a resumable stream is closed at once, its tail neither decoded nor
    committed: its client resumes it elsewhere from whole audio."""
    session = new_session(validation)
    session.receive_text(text("start", resumable=True), 0.0)
    only_step(session.receive_bytes(pcm16(1.0), 0.0))
    session.receive_bytes(pcm16(0.7), 0.5)
    assert session.shutdown(1.0) == [
        Close(CLOSE_GOING_AWAY, "server shutting down; resume the stream elsewhere")
    ]
