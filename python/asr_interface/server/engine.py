"""Stream engines: one model step of one session, run on a worker thread.

The session decides *when* a step runs; an engine does the step. `AgreementEngine` drives
our `OnlineASRProcessor` through `prepare`/`commit`, which yields word timings and the
unconfirmed tail. `VoiceActivityEngine` drives `VACOnlineASRProcessor`, which runs the
model only on speech and reports where speech starts and ends. `ProcessorEngine` drives
any other `ASRProcessor` (a custom engine from the integration guide) through
`process_iter`/`finish`, one commit per call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from asr_interface.core.language import DetectedLanguage, StreamLanguage
from asr_interface.core.processor import OnlineASRProcessor, TimedWord
from asr_interface.core.protocols import ASRProcessor
from asr_interface.core.vac import SpeechEvent, VACOnlineASRProcessor


@dataclass(frozen=True)
class StepResult:
    """What one step produced: new commits, the current guess and the model time spent;
    with voice activity control, where speech started or ended; with `lan="auto"`, the
    stream's language, once."""

    committed: list[TimedWord]
    unconfirmed: list[TimedWord]
    model_seconds: float
    model_calls: int
    speech_events: tuple[SpeechEvent, ...] = ()
    language: DetectedLanguage | None = None


class StreamEngine(Protocol):
    """One session's recogniser. Steps never overlap; the session makes sure of that."""

    sep: str

    def step(self, audio: npt.NDArray[np.float32], *, final: bool) -> StepResult:
        """Adds `audio`, transcribes once and, when `final`, commits the tail."""
        ...

    def reset(self) -> None:
        """Forgets the stream; the next step starts a new one at time 0."""
        ...


class AgreementEngine:
    """Runs the model between `prepare` and `commit` of the Rust-backed processor."""

    def __init__(self, processor: OnlineASRProcessor) -> None:
        self.processor = processor
        self.sep: str = processor.asr.sep
        self.language = StreamLanguage(processor.asr)

    def step(self, audio: npt.NDArray[np.float32], *, final: bool) -> StepResult:
        processor = self.processor
        asr = processor.asr
        processor.insert_audio_chunk(audio)
        committed: list[TimedWord] = []
        model_seconds = 0.0
        calls = 0
        # Without new audio the last hypothesis already covers the window.
        if processor.pending_seconds > 0:
            window, prompt = processor.prepare()
            began = time.perf_counter()
            result = self.language.transcribe(window, prompt)
            words, ends = asr.ts_words(result), asr.segments_end_ts(result)
            model_seconds = time.perf_counter() - began
            calls = 1
            committed = processor.commit(words, ends)
        if final:
            committed += processor.finish_words()
        language = self.language.announcement(final=final)
        return StepResult(
            committed, processor.unconfirmed(), model_seconds, calls, language=language
        )

    def reset(self) -> None:
        self.processor.init()
        self.language.reset()


class VoiceActivityEngine:
    """Runs the voice-activity-controlled processor, which calls the model itself."""

    def __init__(self, processor: VACOnlineASRProcessor) -> None:
        self.processor = processor
        self.sep: str = processor.asr.sep

    def step(self, audio: npt.NDArray[np.float32], *, final: bool) -> StepResult:
        processor = self.processor
        processor.insert_audio_chunk(audio)
        done = processor.iterate(final=final)
        return StepResult(
            done.committed,
            processor.unconfirmed(),
            done.model_seconds,
            done.model_calls,
            tuple(processor.take_events()),
            done.language,
        )

    def reset(self) -> None:
        self.processor.init()


class ProcessorEngine:
    """Drives any `ASRProcessor`; its commits carry text and times but no word timings."""

    sep = " "

    def __init__(self, processor: ASRProcessor) -> None:
        self.processor = processor

    def step(self, audio: npt.NDArray[np.float32], *, final: bool) -> StepResult:
        processor = self.processor
        processor.insert_audio_chunk(audio)
        began = time.perf_counter()
        outputs = [processor.process_iter()]
        if final:
            outputs.append(processor.finish())
        model_seconds = time.perf_counter() - began
        committed = [
            (b, e, text.strip())
            for b, e, text in outputs
            if text and b is not None and e is not None
        ]
        return StepResult(committed, [], model_seconds, 1)

    def reset(self) -> None:
        self.processor.init()


def engine_for(processor: object) -> StreamEngine:
    """The engine that drives `processor` best."""
    if isinstance(processor, VACOnlineASRProcessor):
        return VoiceActivityEngine(processor)
    if isinstance(processor, OnlineASRProcessor):
        return AgreementEngine(processor)
    return ProcessorEngine(processor)  # type: ignore[arg-type]
