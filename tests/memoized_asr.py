"""Replaying one ASR's outputs to several whisper_streaming-style processors: each window is
decoded once, and every processor that asks for the same window with the same prompt gets the
same answer, so their commits can be compared on identical model outputs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

TimedWord = tuple[float, float, str]
Flushed = tuple[float | None, float | None, str]
CHUNK = 16000
"""One second of 16 kHz audio: whisper_streaming's default `min_chunk_size`."""


class StreamingProcessor(Protocol):
    """whisper_streaming's `OnlineASRProcessor` interface, as both processors offer it."""

    def insert_audio_chunk(self, audio: npt.NDArray[np.float32]) -> None: ...
    def process_iter(self) -> Flushed: ...
    def finish(self) -> Flushed: ...


@dataclass
class MemoizedASR:
    """An ASR object (transcribe, ts_words, segments_end_ts, sep) whose `transcribe` answers
    are remembered by window and prompt: the model runs once per distinct window."""

    asr: Any
    answers: dict[tuple[bytes, str], Any] = field(default_factory=dict)
    requests: int = 0
    longest_window: int = 0
    """Samples in the longest window asked for."""

    @property
    def sep(self) -> str:
        return str(self.asr.sep)

    def transcribe(self, audio: npt.NDArray[np.float32], init_prompt: str = "") -> Any:
        self.requests += 1
        self.longest_window = max(self.longest_window, len(audio))
        samples = np.ascontiguousarray(audio, dtype=np.float32)
        key = (hashlib.sha256(samples.tobytes()).digest(), init_prompt)
        if key not in self.answers:
            self.answers[key] = self.asr.transcribe(samples, init_prompt=init_prompt)
        return self.answers[key]

    def ts_words(self, result: Any) -> list[TimedWord]:
        return list(self.asr.ts_words(result))

    def segments_end_ts(self, result: Any) -> list[float]:
        """A new list per call: whisper_streaming's segment trimming pops from it."""
        return list(self.asr.segments_end_ts(result))


@dataclass(frozen=True)
class Commit:
    """What one `process_iter` (or the closing `finish`) returned, at which 1 s step."""

    step: int
    start: float
    end: float
    text: str


def stream_commits(
    processor: StreamingProcessor, audio: npt.NDArray[np.float32], chunk: int = CHUNK
) -> list[Commit]:
    """Feeds `audio` in chunks, one `process_iter` after each as whisper_streaming's loop
    does, then `finish`; returns every non-empty commit with its step."""
    commits: list[Commit] = []
    steps = range(0, len(audio), chunk)
    for step, start in enumerate(steps):
        processor.insert_audio_chunk(audio[start : start + chunk])
        _note(commits, step, processor.process_iter())
    _note(commits, len(steps), processor.finish())
    return commits


def _note(commits: list[Commit], step: int, flushed: Flushed) -> None:
    start, end, text = flushed
    if start is not None and end is not None:
        commits.append(Commit(step, start, end, text))
