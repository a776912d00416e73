"""Stream engines: one session's recogniser, as the server and `simulate` drive it.

An engine takes the audio of one step and returns what the step produced. It does no model
work of its own. Each processor offers its engine beside it (`engine()`: `AgreementEngine` in
processor.py runs the one LocalAgreement step, alone or in halves around a batched decoder
call; `VoiceActivityEngine` in vac.py the voice-activity-controlled processor; `PolicyEngine`
here a policy that decodes once per step); `ProcessorEngine` drives any other `ASRProcessor`
(a custom engine from the integration guide) through `process_iter`. `engine_of` picks, so no
caller needs to know their classes.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from asr_interface._core import SAMPLE_RATE
from asr_interface.core.decoding import TimedWord, WindowDecoder, WindowRequest, WindowResult
from asr_interface.core.language import DetectedLanguage

if TYPE_CHECKING:
    from asr_interface.core.protocols import ASRProcessor

SpeechKind = Literal["speech_start", "speech_end"]


@dataclass(frozen=True)
class SpeechEvent:
    """Speech started or ended at `time`, in seconds of stream time."""

    kind: SpeechKind
    time: float


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
        self,
        offset: float = 0.0,
        context: Sequence[str] = (),
        settled: float | None = None,
        prompt: Sequence[str] = (),
    ) -> None:
        """Forgets the stream; the next step starts a new one at `offset` seconds. A
        stream resumed from elsewhere was committed there up to `settled` with the words
        `context`; `prompt` are words said before the stream, to prime the model."""
        ...


@dataclass(frozen=True)
class BatchKey:
    """What steps must share to be decoded in one call: the decoder (a model and its
    options) and the language (None: detected per window)."""

    decoder: WindowDecoder
    language: str | None

    @property
    def lane(self) -> Hashable:
        """The model the steps queue for."""
        key = self.decoder.batch_key
        return getattr(key, "decoder", key)

    @property
    def parallel_calls(self) -> int:
        """How many of the lane's batches may run at once: the model's workers (one for a
        decoder that does not say)."""
        return int(getattr(self.decoder, "parallel_calls", 1))


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


class _Resumable(Protocol):
    def resume(self, offset: float, context: Sequence[str], settled: float | None = None) -> None:
        """Starts a stream at `offset` that continues one committed elsewhere up to
        `settled` with the words `context`; the words heard before `settled`, or the
        context's last words heard again just after it, are not committed twice."""
        ...

    def prime(self, words: Sequence[str]) -> None:
        """Takes `words` said before the stream's audio as the model's previous text."""
        ...


class ResumingEngine:
    """Engines whose processor takes a resumed stream's context and a prompt: the prompt
    primes the model, and the context's words heard again are not committed twice (whether
    the context primes the model too is the processor's choice: AlignAtt's does not)."""

    processor: _Resumable

    def reset(
        self,
        offset: float = 0.0,
        context: Sequence[str] = (),
        settled: float | None = None,
        prompt: Sequence[str] = (),
    ) -> None:
        self.processor.resume(offset, context, settled)
        self.processor.prime(prompt)


class WordPolicy(_Resumable, Protocol):
    """A commit policy's processor that decodes its window once per step."""

    sep: str

    def insert_audio_chunk(self, audio: npt.NDArray[np.float32]) -> None: ...

    def step_words(self, *, final: bool) -> list[TimedWord]:
        """Decodes once; the newly committed words (all of them when `final`)."""
        ...

    def unconfirmed(self) -> list[TimedWord]: ...


class _Restartable(Protocol):
    def init(self, offset: float | None = None) -> None: ...


class _StartsAfresh:
    """Engines whose processor takes no text and gives no word times: a custom
    `ASRProcessor` (its protocol, `init`, `insert_audio_chunk`, `process_iter`, `finish`,
    has no way to hand its model a prompt) cannot tell the words of a resumed stream's
    lead-in, committed before, from new ones, so a resumed stream starts at its settled
    time, and the lead-in's audio is dropped."""

    processor: _Restartable
    _lead_in = 0
    """Samples of a resumed stream's audio before its settled time not yet dropped."""

    def reset(
        self,
        offset: float = 0.0,
        context: Sequence[str] = (),
        settled: float | None = None,
        prompt: Sequence[str] = (),
    ) -> None:
        start = offset if settled is None else max(offset, settled)
        self.processor.init(start)
        self._lead_in = round((start - offset) * SAMPLE_RATE)

    def _after_lead_in(self, audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        dropped = min(self._lead_in, audio.size)
        self._lead_in -= dropped
        return audio[dropped:]


class PolicyEngine(ResumingEngine):
    """Runs a `WordPolicy` (the AlignAtt policy): one decode per step, word timings and the
    partial as with LocalAgreement.

    A resumed stream decodes its lead-in, the audio between `offset` and `settled`, so that
    its first new word is heard from its beginning rather than cut at its onset; the words
    aligned into the lead-in were committed before and the processor leaves them out."""

    processor: WordPolicy

    def __init__(self, processor: WordPolicy) -> None:
        self.processor = processor
        self.sep: str = processor.sep

    def step(self, audio: npt.NDArray[np.float32], *, final: bool) -> StepResult:
        processor = self.processor
        processor.insert_audio_chunk(audio)
        if audio.size == 0 and not final:
            return StepResult([], processor.unconfirmed(), 0.0, 0)
        began = time.perf_counter()
        committed = processor.step_words(final=final)
        model_seconds = time.perf_counter() - began
        unconfirmed = [] if final else processor.unconfirmed()
        return StepResult(committed, unconfirmed, model_seconds, 1)


class ProcessorEngine(_StartsAfresh):
    """Drives any `ASRProcessor`; its commits carry text and times but no word timings.
    `sep` joins its texts, as its loader's metadata says (`separator`)."""

    processor: ASRProcessor

    def __init__(self, processor: ASRProcessor, sep: str = " ") -> None:
        self.processor = processor
        self.sep = sep

    def step(self, audio: npt.NDArray[np.float32], *, final: bool) -> StepResult:
        processor = self.processor
        processor.insert_audio_chunk(self._after_lead_in(audio))
        began = time.perf_counter()
        outputs = [processor.process_iter()]
        if final:
            outputs.append(processor.finish())
        model_seconds = time.perf_counter() - began
        # None, like (None, None, ""), means nothing became final.
        committed = [
            (b, e, text.strip())
            for b, e, text in filter(None, outputs)
            if text and b is not None and e is not None
        ]
        return StepResult(committed, [], model_seconds, 1)


def engine_of(processor: object, separator: str = " ") -> StreamEngine:
    """An engine over `processor` itself: the one it offers (`engine()`, as the package's
    processors do), else `ProcessorEngine` over its `process_iter`, joining its texts with
    `separator`."""
    offered = getattr(processor, "engine", None)
    if callable(offered):
        engine: StreamEngine = offered()
        return engine
    return ProcessorEngine(processor, separator)  # type: ignore[arg-type]
