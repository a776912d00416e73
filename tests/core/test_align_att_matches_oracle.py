"""The Rust AlignAtt core and its Python model agree at every step of random streams.

A state machine appends random audio, and at each step draws the words a decoder might return
for the prepared window (in order, ending anywhere in it, often right at the threshold), or
words out of order that both must refuse. After every step the visible state (window, prompt
and prefix tokens, committed and unconfirmed words) must be identical.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from asr_interface._core import AlignAttCore
from tests.align_att_oracle import FRAME_SECONDS, SAMPLING_RATE, OracleAlignAtt, TokenWord

STEMS = [" the", " cat", " sat", ",", " on", " mat.", " café", " 東京", " 1455", "…"]


def visible(words: list[TokenWord]) -> list[tuple[float, float, str]]:
    return [(w.start, w.end, w.text) for w in words]


@st.composite
def decoded_words(draw: st.DrawFn, decoded_frames: int, threshold_frames: int) -> list[TokenWord]:
    """Words in order inside a window of `decoded_frames` 20 ms frames, their ends often
    exactly at or next to the commit threshold."""
    count = draw(st.integers(0, 10))
    edge = max(0, decoded_frames - threshold_frames)
    frame = st.one_of(
        st.integers(0, decoded_frames), st.sampled_from([max(0, edge - 1), edge, edge + 1])
    )
    frames = sorted(
        min(f, decoded_frames)
        for f in draw(st.lists(frame, min_size=2 * count, max_size=2 * count))
    )
    words = []
    for index in range(count):
        start, end = frames[2 * index], frames[2 * index + 1]
        tokens = tuple(draw(st.lists(st.integers(0, 50000), min_size=1, max_size=3)))
        words.append(
            TokenWord(
                start * FRAME_SECONDS, end * FRAME_SECONDS, draw(st.sampled_from(STEMS)), tokens
            )
        )
    return words


class AlignAttComparison(RuleBasedStateMachine):
    """Drives the core and the oracle with the same audio and decoder output."""

    @initialize(
        frame_threshold=st.integers(0, 30),
        trimming_sec=st.sampled_from([0.5, 2.0, 5.0, 15.0]),
        extra_cap=st.sampled_from([0.0, 1.0, 5.0, 15.0]),
        max_prompt_tokens=st.integers(1, 20),
    )
    def make(
        self, frame_threshold: int, trimming_sec: float, extra_cap: float, max_prompt_tokens: int
    ) -> None:
        settings = (frame_threshold, trimming_sec, trimming_sec + extra_cap, max_prompt_tokens)
        self.core = AlignAttCore(
            max_prompt_tokens,
            frame_threshold=frame_threshold,
            trimming_sec=trimming_sec,
            max_window_sec=trimming_sec + extra_cap,
        )
        self.oracle = OracleAlignAtt(*settings)
        self.threshold_frames = frame_threshold

    @rule(offset=st.sampled_from([0.0, 3.5, 1000.25]))
    def init(self, offset: float) -> None:
        self.core.init(offset)
        self.oracle.init(offset)

    @rule(
        offset=st.sampled_from([0.0, 3.5]),
        lead_in=st.sampled_from([0.0, 0.3, 1.0, 2.5]),
        context=st.lists(st.sampled_from([*STEMS, " The", " cat,"]), max_size=7),
    )
    def resume(self, offset: float, lead_in: float, context: list[str]) -> None:
        self.core.resume(offset, offset + lead_in, context)
        self.oracle.resume(offset, offset + lead_in, context)

    @rule(samples=st.integers(0, 4 * SAMPLING_RATE))
    def insert(self, samples: int) -> None:
        self.core.insert(np.zeros(samples, dtype=np.float32))
        self.oracle.insert(samples)

    @rule(data=st.data(), ends=st.integers(0, 4), disorder=st.integers(0, 4))
    def step(self, data: st.DataObject, ends: int, disorder: int) -> None:
        final, disorder = ends == 0, disorder == 0  # mostly the stream goes on, in order
        window, prompt, prefix = self.core.prepare()
        samples, oracle_prompt, oracle_prefix = self.oracle.prepare()
        assert (len(window), prompt, prefix) == (samples, oracle_prompt, oracle_prefix)
        decoded_frames = int(samples / SAMPLING_RATE / FRAME_SECONDS)
        words = data.draw(decoded_words(decoded_frames, self.threshold_frames))
        if disorder and len(words) >= 2:
            words = words[::-1] if words[0].start != words[-1].start else words
        given = [(w.start, w.end, w.text, list(w.tokens)) for w in words]
        commit = self.core.finish if final else self.core.commit
        try:
            expected = visible(self.oracle.commit(words, final))
        except ValueError:
            with pytest.raises(ValueError, match="word"):
                commit(given)
            return
        assert commit(given) == expected

    @invariant()
    def same_state(self) -> None:
        assert self.core.offset == self.oracle.offset
        assert self.core.window_seconds == self.oracle.samples / SAMPLING_RATE
        assert self.core.unconfirmed() == visible(self.oracle.partial())
        assert self.core.committed_in_window() == visible(self.oracle.in_window())


test_align_att_matches_oracle = AlignAttComparison.TestCase
test_align_att_matches_oracle.__doc__ = (
    "The Rust AlignAtt core and the Python model agree on random streams, step by step."
)
