"""One stream's bookkeeping inside a session, driven by method calls: the text it commits,
the partial it shows and the arrival times it keeps."""

from __future__ import annotations

import pytest

from asr_interface.core.config import ASRConfig
from asr_interface.protocol import Commit, Done, Partial
from asr_interface.server.models import ModelPool
from asr_interface.server.session import Session
from asr_interface.server.session_types import RunStep, SessionLimits
from tests.server.asr_session import (
    MAX_FRAME_BYTES,
    new_session,
    only_step,
    pcm16,
    result,
    sent,
    streaming,
    text,
)


@pytest.mark.parametrize(
    ("sep", "steps", "expected"),
    [
        (" ", [["Hello", "world"], ["again"], ["and", "again."]], "Hello world again and again."),
        (
            "",
            [[" Hello", " world"], [" again"], [" and", " again."]],
            " Hello world again and again.",
        ),
    ],
    ids=["space", "words-carry-spaces"],
)
def test_commit_texts_concatenate_to_the_transcript(
    pool: ModelPool, sep: str, steps: list[list[str]], expected: str
) -> None:
    """Each commit after the first starts with the separator, so plain concatenation of
    every `text` gives the transcript."""
    session = new_session(pool, sep=sep)
    streaming(session, seconds=5.0)
    texts = []
    for index, words in enumerate(steps):
        timed = [(index + 0.1 * n, index + 0.1 * n + 0.1, word) for n, word in enumerate(words)]
        commits = [
            m for m in sent(session.step_finished(result(timed), 0.0)) if isinstance(m, Commit)
        ]
        assert [w.word for w in commits[0].words] == words
        texts.append(commits[0].text)
        session.receive_bytes(pcm16(1.0), 0.0)
    assert "".join(texts) == expected


def test_partial_is_replaced_only_when_it_changes_and_cleared_at_the_end(
    session: Session,
) -> None:
    """`partial` carries the current guess after the committed text, is not repeated while
    unchanged, and is emptied when the stream ends."""
    guess = [(0.0, 0.4, "maybe"), (0.4, 0.8, "this")]
    streaming(session)
    (partial,) = sent(session.step_finished(result([], guess), 0.0))
    assert partial == Partial(start=0.0, end=0.8, text="maybe this")
    session.receive_bytes(pcm16(1.0), 0.0)
    assert sent(session.step_finished(result([], guess), 0.0)) == []
    session.receive_bytes(pcm16(1.0), 0.0)
    commit, partial = sent(session.step_finished(result(guess[:1], guess[1:]), 0.0))
    assert commit.text == "maybe"
    assert partial == Partial(start=0.4, end=0.8, text=" this")
    only_step(session.receive_text(text("end"), 0.0))
    commit, cleared, done = sent(session.step_finished(result(guess[1:], guess[1:]), 0.0))
    assert commit.text == " this"
    assert cleared == Partial(start=None, end=None, text="")
    assert isinstance(done, Done)


def test_a_stream_that_never_commits_keeps_bounded_arrivals() -> None:
    """The arrival times kept to time commits stay within the window and the backlog, however
    long a stream goes without a commit."""
    limits = SessionLimits(max_frame_bytes=MAX_FRAME_BYTES, max_backlog_seconds=5.0)
    session = Session(
        "s", ASRConfig(), sep=" ", validate_config=ASRConfig.model_validate, limits=limits
    )
    now = 0.0
    for _ in range(600):  # two minutes in 0.2 s frames, each step returning nothing
        now += 0.2
        actions = session.receive_bytes(pcm16(0.2), now)
        for action in actions:
            if isinstance(action, RunStep):
                session.step_finished(result(), now)
    kept = session._stream.arrivals
    assert len(kept) <= (30 + 5) / 0.2 + 2
    assert kept[0][0] >= 120 - 30 - 5 - 0.2
