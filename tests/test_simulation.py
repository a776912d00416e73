"""Simulated live streams follow the real-time schedule and stream long speech accurately."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pytest

from asr_interface.audio import SAMPLING_RATE, audio_duration
from asr_interface.backends.registry import get_loader
from asr_interface.backends.whisper_loader import OnlineASRProcessor
from asr_interface.core.config import ASRConfig
from asr_interface.evaluation import word_error_rate
from asr_interface.simulation import EmittedCommit, SimulationResult, simulate, summarize
from tests.speech import JFK, SHORT, speech_audio, transcript
from tests.wording import heard

LONG = "long/ljspeech_LJ001-0001_to_0032.wav"
LONG_CHUNK_SEC = 2.0
"""Half the model calls of the 1 s default keep this test to minutes on two cores; the
window still grows past the 15 s trimming threshold, so trimming and prompts are exercised."""
POLICY_OVERLAP = 0.1
"""New words may start this much before the last committed word ends (streaming policy)."""


def load_processor(**options: Any) -> OnlineASRProcessor:
    """A processor for `ASRConfig(**options)` from the registry, as the CLI builds it."""
    processor, _metadata = get_loader("faster-whisper").load(ASRConfig(**options))
    assert isinstance(processor, OnlineASRProcessor)
    return processor


def assert_in_time_order(result: SimulationResult) -> None:
    """Commits lie within the audio, each after the previous as the streaming policy allows."""
    for commit in result.commits:
        assert 0 <= commit.start <= commit.end <= result.audio_seconds
    for previous, commit in zip(result.commits, result.commits[1:], strict=False):
        assert commit.start > previous.end - POLICY_OVERLAP
        assert commit.end >= previous.end
        assert commit.emission >= previous.emission


class DelayedASR:
    """Injects a slow model: the real ASR, with `delay` seconds added to every call."""

    def __init__(self, asr: Any, delay: float) -> None:
        self.asr = asr
        self.sep = asr.sep
        self.delay = delay

    def transcribe(self, audio: np.ndarray, init_prompt: str = "") -> Any:
        time.sleep(self.delay)
        return self.asr.transcribe(audio, init_prompt=init_prompt)

    def ts_words(self, result: Any) -> Any:
        return self.asr.ts_words(result)

    def segments_end_ts(self, result: Any) -> Any:
        return self.asr.segments_end_ts(result)


def result_with(latencies: list[float], audio_seconds: float = 10.0) -> SimulationResult:
    """A result whose commits have the given latencies, one word per second."""
    commits = tuple(
        EmittedCommit(emission=index + latency, start=index - 0.5, end=index, text=f" w{index}")
        for index, latency in enumerate(latencies, start=1)
    )
    return SimulationResult(commits, audio_seconds, asr_calls=5, processing_seconds=2.5)


def test_latency_figures() -> None:
    """Mean and linear-interpolated 90th percentile of commit latency, and the real-time factor."""
    result = result_with([1.0, 2.0, 3.0, 4.0, 10.0])
    assert result.latencies == pytest.approx([1.0, 2.0, 3.0, 4.0, 10.0])
    assert result.mean_latency == pytest.approx(4.0)
    assert result.p90_latency == pytest.approx(7.6)
    assert result.real_time_factor == pytest.approx(0.25)
    assert result.text == "w1 w2 w3 w4 w5"


def test_no_commits_means_no_latency() -> None:
    """A stream that committed nothing has no latency figures rather than a misleading zero."""
    result = result_with([])
    assert result.mean_latency is None
    assert result.p90_latency is None
    assert result.text == ""


def test_summarize_pools_streams() -> None:
    """Pooled results weigh every commit and every second of audio equally."""
    pooled = summarize([result_with([1.0]), result_with([2.0, 3.0], audio_seconds=30.0)])
    assert len(pooled.commits) == 3
    assert pooled.mean_latency == pytest.approx(2.0)
    assert pooled.audio_seconds == 40.0
    assert pooled.asr_calls == 10
    assert pooled.real_time_factor == pytest.approx(5.0 / 40.0)


@pytest.mark.model
def test_compute_unaware_stream_advances_by_the_audio_alone() -> None:
    """One model call per second of JFK; every commit is emitted at a chunk boundary, after
    its words were spoken, and the famous line comes through."""
    audio = speech_audio(JFK)
    commits: list[EmittedCommit] = []
    result = simulate(
        load_processor(), audio, min_chunk_sec=1.0, compute_aware=False, on_commit=commits.append
    )
    assert result.asr_calls == math.ceil(audio_duration(audio))
    assert list(result.commits) == commits
    assert all(commit.emission == round(commit.emission) for commit in commits)
    assert all(latency >= 0 for latency in result.latencies)
    assert_in_time_order(result)
    assert heard("ask what you can do for your country", result.text)


@pytest.mark.model
def test_compute_aware_stream_gives_a_slow_model_more_audio_per_call() -> None:
    """A model slower than the chunk size sees all audio that arrived meanwhile, so it is
    called less often than once per chunk, and its slowness shows in the emission times."""
    delay = 0.5
    processor = OnlineASRProcessor(DelayedASR(load_processor().asr, delay), min_chunk_sec=0.1)
    audio = speech_audio(SHORT)
    progress: list[float] = []
    result = simulate(processor, audio, min_chunk_sec=0.1, on_progress=progress.append)
    assert result.asr_calls <= math.ceil(audio_duration(audio) / delay) + 1
    assert result.processing_seconds >= result.asr_calls * delay
    assert progress == sorted(progress)
    assert progress[-1] == pytest.approx(audio_duration(audio))
    assert all(np.diff(progress[:-1]) >= delay - 1 / SAMPLING_RATE)
    assert all(latency >= 0 for latency in result.latencies)
    assert_in_time_order(result)
    assert word_error_rate(transcript(SHORT), result.text) < 0.5


@pytest.mark.model
@pytest.mark.timeout(1200)  # minutes of model calls; more on a busy machine
def test_long_unsegmented_speech_streams_accurately() -> None:
    """3.8 minutes of read speech, streamed with trimming and prompts, stay below 12% WER
    with every committed word inside the audio and in time order."""
    audio = speech_audio(LONG)
    result = simulate(load_processor(), audio, min_chunk_sec=LONG_CHUNK_SEC, compute_aware=False)
    assert result.audio_seconds == pytest.approx(len(audio) / SAMPLING_RATE)
    assert result.audio_seconds > 220
    assert_in_time_order(result)
    assert word_error_rate(transcript(LONG), result.text) < 0.12
