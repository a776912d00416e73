"""The drop-in processor commits exactly what whisper_streaming's `OnlineASRProcessor` commits
on the same model outputs, over long speech.

whisper_streaming's processor is here in the form of `tests/oracle.py`: its rules in plain
Python, but for the differences docs/streaming-policy.md lists, none of which applies to segment
trimming without a cap (with sentence trimming the oracle reads sentences as this package does).
whisper_streaming itself is not on PyPI; `bench/whisper_streaming_parity.py` runs its own
`whisper_online.py` beside this processor. Both get the same tiny.en ASR object, whose answers
are remembered by window and prompt, so each window is decoded once and both read identical
outputs; every step's commit is compared, times included, to the last bit."""

from __future__ import annotations

from functools import cache

import pytest

from asr_interface import OnlineASRProcessor
from asr_interface.backends.whisper_loader import FasterWhisperASR
from tests.memoized_asr import CHUNK, MemoizedASR, stream_commits
from tests.oracle import OracleASRProcessor
from tests.speech import LONG, speech_audio

pytestmark = pytest.mark.model

SECONDS = 100
"""The first 100 s of the long recording: 15 LJ Speech sentences, and a first window that
grows past 30 s before a segment end lies inside the committed text."""
STEP = 2 * CHUNK
"""Audio per step: 2 s, half the model calls of whisper_streaming's 1 s (which
`bench/whisper_streaming_parity.py` runs); the rules compared do not depend on it."""


@cache
def remembered_tiny_en() -> MemoizedASR:
    """tiny.en with whisper_streaming's decoding, shared by the module's streams."""
    return MemoizedASR(FasterWhisperASR("en", "tiny.en"))


@pytest.mark.parametrize("trimming", [("segment", 15.0), ("sentence", 15.0)])
def test_commits_equal_whisper_streamings_over_long_speech(trimming: tuple[str, float]) -> None:
    """Step by step, the drop-in commits whisper_streaming's words at whisper_streaming's
    times, and asks the model for no window or prompt that whisper_streaming did not."""
    asr = remembered_tiny_en()
    audio = speech_audio(LONG)[: SECONDS * CHUNK]
    reference = stream_commits(OracleASRProcessor(asr, buffer_trimming=trimming), audio, STEP)
    windows = set(asr.answers)
    asr.longest_window = 0
    ours = stream_commits(OnlineASRProcessor(asr, buffer_trimming=trimming), audio, STEP)
    assert ours == reference
    assert set(asr.answers) == windows
    assert sum(len(commit.text.split()) for commit in ours) >= 200
    if trimming[0] == "segment":
        assert asr.longest_window > 30 * CHUNK, "the window never outgrew the server's cap"
