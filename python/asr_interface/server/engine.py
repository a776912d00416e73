"""Stream engines: one model step of one session, run on a worker thread.

The session decides *when* a step runs; an engine does the step. `AgreementEngine` drives
our `OnlineASRProcessor` through `prepare`/`commit`, which yields word timings and the
unconfirmed tail; over a batchable faster-whisper model it also splits a step around the
model call (`begin`, then the decoder's batched call, then `complete`), so that the
scheduler can decode the windows of many streams in one call. `VoiceActivityEngine` drives
`VACOnlineASRProcessor`, which runs the model only on speech and reports where speech
starts and ends. `ProcessorEngine` drives any other `ASRProcessor` (a custom engine from
the integration guide) through `process_iter`/`finish`, one commit per call.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from asr_interface.backends.whisper_batch import (
    DecodingOptions,
    WhisperBatchDecoder,
    WindowRequest,
    WindowResult,
)
from asr_interface.backends.whisper_loader import FasterWhisperASR
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

    def reset(
        self, offset: float = 0.0, context: Sequence[str] = (), settled: float | None = None
    ) -> None:
        """Forgets the stream; the next step starts a new one at `offset` seconds. A
        stream resumed from elsewhere was committed there up to `settled` with the words
        `context`."""
        ...


@dataclass(frozen=True)
class BatchKey:
    """What steps must share to be decoded in one call: the model's decoder, the decoding
    options and the language (None: detected per window)."""

    decoder: WhisperBatchDecoder
    options: DecodingOptions
    language: str | None


@runtime_checkable
class BatchableEngine(StreamEngine, Protocol):
    """An engine whose steps can be decoded in a batch with other streams' steps."""

    def batch_key(self) -> BatchKey | None:
        """The batch the next step may join, or None when it must run alone by `step`."""
        ...

    def begin(self, audio: npt.NDArray[np.float32], *, final: bool) -> WindowRequest | None:
        """Adds `audio` and returns the window to decode, or None without new audio; the
        window of a `final` step has its every tail decoded."""
        ...

    def complete(
        self, result: WindowResult | None, model_seconds: float, *, final: bool
    ) -> StepResult:
        """Commits the decoded window (`begin`'s request) and, when `final`, the tail."""
        ...


class AgreementEngine:
    """Runs the model between `prepare` and `commit` of the Rust-backed processor.

    Over a batchable faster-whisper model a step is split into `begin` and `complete`
    around the model's batched decoder, which the scheduler calls for many streams at once;
    `step` runs the same three parts for this stream alone. Over any other ASR object `step`
    calls its `transcribe`.
    """

    def __init__(self, processor: OnlineASRProcessor) -> None:
        self.processor = processor
        self.sep: str = processor.asr.sep
        self.language = StreamLanguage(processor.asr)
        asr = processor.asr
        batchable = isinstance(asr, FasterWhisperASR) and asr.batchable
        self._decoding = (asr.batch_decoder(), asr.decoding_options()) if batchable else None

    def step(self, audio: npt.NDArray[np.float32], *, final: bool) -> StepResult:
        if self._decoding is not None:
            return self._decode_alone(audio, final=final)
        processor = self.processor
        asr = processor.asr
        processor.insert_audio_chunk(audio)
        if not self._pending():
            return self._conclude([], 0.0, 0, final=final)
        window, prompt = processor.prepare()
        began = time.perf_counter()
        result = self.language.transcribe(window, prompt)
        words, ends = asr.ts_words(result), asr.segments_end_ts(result)
        model_seconds = time.perf_counter() - began
        return self._conclude(processor.commit(words, ends), model_seconds, 1, final=final)

    def _decode_alone(self, audio: npt.NDArray[np.float32], *, final: bool) -> StepResult:
        """A batch of one: the step a batched call would make for this stream alone."""
        assert self._decoding is not None
        decoder, options = self._decoding
        request = self.begin(audio, final=final)
        if request is None:
            return self.complete(None, 0.0, final=final)
        began = time.perf_counter()
        (result,) = decoder.decode([request], options)
        return self.complete(result, time.perf_counter() - began, final=final)

    def batch_key(self) -> BatchKey | None:
        if self._decoding is None:
            return None
        decoder, options = self._decoding
        return BatchKey(decoder, options, self._window_language())

    def begin(self, audio: npt.NDArray[np.float32], *, final: bool) -> WindowRequest | None:
        processor = self.processor
        processor.insert_audio_chunk(audio)
        if not self._pending():
            return None
        window, prompt = processor.prepare()
        _, committed = processor.prompt()
        language = self._window_language()
        return WindowRequest(window, prompt, committed, language, more_audio=not final)

    def complete(
        self, result: WindowResult | None, model_seconds: float, *, final: bool
    ) -> StepResult:
        if result is None:
            return self._conclude([], model_seconds, 0, final=final)
        self.language.observe(DetectedLanguage(result.language, result.language_probability))
        committed = self.processor.commit(result.words, result.segment_ends)
        return self._conclude(committed, model_seconds, 1, final=final)

    def _pending(self) -> bool:
        """Whether audio arrived since the last window; without, the last hypothesis
        already covers the window."""
        return self.processor.pending_seconds > 0

    def _window_language(self) -> str | None:
        """The language the next window is decoded in, as `transcribe` would choose it."""
        return self.language.window_language() or self.processor.asr.original_language

    def _conclude(
        self, committed: list[TimedWord], model_seconds: float, calls: int, *, final: bool
    ) -> StepResult:
        processor = self.processor
        if final:
            committed = committed + processor.finish_words()
        language = self.language.announcement(final=final)
        return StepResult(
            committed, processor.unconfirmed(), model_seconds, calls, language=language
        )

    def reset(
        self, offset: float = 0.0, context: Sequence[str] = (), settled: float | None = None
    ) -> None:
        self.processor.resume(offset, context, settled)
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

    def reset(
        self, offset: float = 0.0, context: Sequence[str] = (), settled: float | None = None
    ) -> None:
        self.processor.init(offset)  # a resumed stream's context is not primed here


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

    def reset(
        self, offset: float = 0.0, context: Sequence[str] = (), settled: float | None = None
    ) -> None:
        self.processor.init(offset)  # a resumed stream's context is not primed here


def engine_for(processor: object) -> StreamEngine:
    """The engine that drives `processor` best."""
    if isinstance(processor, VACOnlineASRProcessor):
        return VoiceActivityEngine(processor)
    if isinstance(processor, OnlineASRProcessor):
        return AgreementEngine(processor)
    return ProcessorEngine(processor)  # type: ignore[arg-type]
