"""The drop-in `OnlineASRProcessor`: whisper_streaming's interface over the Rust core, and
the one model step every caller runs.

The buffer work (window, LocalAgreement, trimming, prompt) runs in `asr_interface._core`;
this class holds a stream's core, its language and its decoder, and runs the step: the window
out (`window_request`), the decoder's words in (`take_result`), or both around one decoder
call (`step`). The policy is specified in docs/streaming-policy.md.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from asr_interface._core import SAMPLE_RATE, StreamingCore, join_words
from asr_interface.core.config import ASRConfig
from asr_interface.core.decoding import (
    TimedWord,
    TranscribeDecoder,
    WindowDecoder,
    WindowRequest,
    WindowResult,
    decoder_for,
)
from asr_interface.core.engine import BatchKey, ResumingEngine, StepResult
from asr_interface.core.language import DetectedLanguage, StreamLanguage
from asr_interface.core.protocols import TimedText

Flushed = TimedText

_DEFAULTS = ASRConfig()
DEFAULT_TRIMMING = (_DEFAULTS.buffer_trimming, _DEFAULTS.buffer_trimming_sec)
"""The trimming a processor built without a configuration keeps: the configuration's
(whisper_streaming's too: segment ends, 15 s)."""


class HypothesisView:
    """Read-only view with the attribute names of whisper_streaming's `HypothesisBuffer`."""

    def __init__(self, core: StreamingCore) -> None:
        self._core = core

    @property
    def buffer(self) -> list[TimedWord]:
        return self._core.unconfirmed()

    @property
    def commited_in_buffer(self) -> list[TimedWord]:
        return self._core.committed_in_window()

    @property
    def last_commited_time(self) -> float:
        return self._core.last_committed_time

    @property
    def last_commited_word(self) -> str | None:
        return self._core.last_committed_word

    def complete(self) -> list[TimedWord]:
        return self._core.unconfirmed()


@dataclass(frozen=True)
class StepOutput:
    """What one model step committed and what the model call cost."""

    committed: list[TimedWord]
    model_seconds: float


class OnlineASRProcessor:
    """Streams audio into an ASR object and commits text that consecutive passes agree on.

    Use it as whisper_streaming's: `insert_audio_chunk` then `process_iter` in a loop, and
    `finish` at the end. A scheduler that runs the model itself takes `window_request()`,
    decodes it (alone or in a batch with other streams), and hands the result to
    `take_result()`; `step()` does the three for one stream. Every caller, `process_iter`
    included, runs that one step.

    `min_chunk_sec` is the step size the processor is meant for (`simulate` paces with it
    unless told otherwise); `logfile` is accepted for whisper_streaming's signature, this
    package logs through `logging`. `max_window_sec` caps the window when given (the server
    gives it); without it the window grows until trimming cuts it, as whisper_streaming's
    does, and the commits are whisper_streaming's on the same ASR outputs.
    """

    SAMPLING_RATE = SAMPLE_RATE
    policy = "local-agreement"

    def __init__(
        self,
        asr: Any,
        tokenizer: Any = None,
        buffer_trimming: tuple[str, float] = DEFAULT_TRIMMING,
        min_chunk_sec: float = _DEFAULTS.min_chunk_size,
        logfile: TextIO = sys.stderr,
        *,
        max_window_sec: float | None = None,
        agreement_n: int = 2,
    ) -> None:
        self.asr = asr
        self.tokenizer = tokenizer
        self.buffer_trimming = buffer_trimming
        self.min_chunk_size = min_chunk_sec
        self.max_window_sec = max_window_sec
        self.agreement_n = agreement_n
        self.decoder: WindowDecoder = decoder_for(asr)
        self._new_stream_state()

    def _new_stream_state(self) -> None:
        """The per-stream parts: the Rust core and the stream's language."""
        way, seconds = self.buffer_trimming
        self._core = StreamingCore(
            self.asr.sep,
            way,
            float(seconds),
            max_window_sec=self.max_window_sec,
            agreement_n=self.agreement_n,
            tokenizer=self.tokenizer,
        )
        self.transcript_buffer = HypothesisView(self._core)
        self.language = StreamLanguage(self.asr)
        self._tail_waits = False

    def cap_window(self, seconds: float) -> None:
        """Caps the window at `seconds` (or keeps a lower cap) from the next stream on: the
        bound a server puts on what one stream holds, which whisper_streaming does not."""
        if self.max_window_sec is None or seconds < self.max_window_sec:
            self.max_window_sec = seconds
            self._new_stream_state()

    def fresh_copy(self) -> OnlineASRProcessor:
        """A processor with the same ASR object, decoder and settings and an empty stream, so
        many streams can share one loaded model."""
        clone = copy.copy(self)
        clone._new_stream_state()
        return clone

    def engine(self) -> AgreementEngine:
        """The engine that steps this processor for the server and `simulate`."""
        return AgreementEngine(self)

    def init(self, offset: float | None = None) -> None:
        """Starts a new stream whose first sample is at `offset` seconds (default 0)."""
        self._core.init(0.0 if offset is None else float(offset))
        self.language.reset()
        self._tail_waits = False

    def resume(self, offset: float, context: Sequence[str], settled: float | None = None) -> None:
        """Starts a stream at `offset` seconds that continues one committed elsewhere up
        to `settled` (default `offset`) with the words `context`: they prime the prompt,
        and words heard again in the audio before `settled`, or the last of them repeated
        just after it, are not committed twice."""
        self.init(offset)  # what a subclass does for every new stream
        self._core.resume(
            float(offset), float(offset if settled is None else settled), list(context)
        )

    def prime(self, words: Sequence[str]) -> None:
        """Primes the prompt with `words` said before this stream's audio (a client's
        prompt: names, spellings); they are never taken for words the audio repeats."""
        if words:
            self._core.prime(list(words))

    def insert_audio_chunk(self, audio: npt.ArrayLike) -> None:
        """Appends 16 kHz mono samples: float (in [-1, 1]) or int16 PCM, 1-D."""
        self._core.insert(audio if isinstance(audio, np.ndarray) else np.asarray(audio))

    def prompt(self) -> tuple[str, str]:
        """The committed text before the window (the prompt) and inside it (the context)."""
        return self._core.prompt()

    def prepare(self) -> tuple[npt.NDArray[np.float32], str]:
        """The window to transcribe and its prompt; the window stays valid as audio arrives."""
        return self._core.prepare()

    def commit(self, words: Sequence[TimedWord], segment_ends: Sequence[float]) -> list[TimedWord]:
        """Takes the model's words and segment ends (relative to the window start) and
        returns the newly committed words in stream time."""
        return self._core.commit(list(words), list(segment_ends))

    # The model step.

    def window_request(self, *, final: bool) -> WindowRequest:
        """The window to decode next, with its prompt, the committed text inside it and the
        stream's language; `final` says that no audio follows it."""
        window, prompt = self._core.prepare()
        _, committed = self._core.prompt()
        return WindowRequest(window, prompt, committed, self.window_language(), final)

    def window_language(self) -> str | None:
        """The language the next window is decoded in: the stream's once detected, else the
        ASR's configured one (None: detect it)."""
        return self.language.window_language() or getattr(self.asr, "original_language", None)

    def take_result(self, result: WindowResult) -> list[TimedWord]:
        """Commits what the decoder made of `window_request()`'s window; returns the newly
        committed words in stream time."""
        if result.language is not None:
            self.language.observe(DetectedLanguage(result.language, result.language_probability))
        self._tail_waits = result.left_tail
        return self.commit(result.words, result.segment_ends)

    def step(self, *, final: bool) -> StepOutput:
        """One model step with this stream's decoder: window out, decode, commit. A window
        longer than the decoder takes (`max_window_samples`, when it says; only without a
        cap) goes to the ASR's `transcribe`, as whisper_streaming decodes every window."""
        request = self.window_request(final=final)
        decoder = self.decoder
        limit: int | None = getattr(decoder, "max_window_samples", None)
        if limit is not None and len(request.audio) > limit:
            decoder = TranscribeDecoder(self.asr)
        began = time.perf_counter()
        (result,) = decoder.decode([request])
        model_seconds = time.perf_counter() - began
        return StepOutput(self.take_result(result), model_seconds)

    def process_iter(self) -> Flushed:
        """Transcribes the window once and returns the newly committed text. Every window
        is decoded in full, as if `final`, as whisper_streaming does: `finish` does not call
        the model."""
        return self.to_flush(self.step(final=True).committed)

    def finish(self) -> Flushed:
        """Commits and returns the unconfirmed tail; the processor is ready for more audio."""
        return self.to_flush(self.finish_words())

    def finish_words(self) -> list[TimedWord]:
        """`finish`, returning the tail's words rather than their joined text."""
        return self._core.finish()

    def unconfirmed(self) -> list[TimedWord]:
        """The current guess beyond the committed text; it may still change."""
        return self._core.unconfirmed()

    def to_flush(
        self, words: Sequence[TimedWord], sep: str | None = None, offset: float = 0
    ) -> Flushed:
        """Joins words into `(start, end, text)`, or `(None, None, "")` when there are none."""
        return join_words(list(words), self.asr.sep if sep is None else sep, offset)

    @property
    def audio_buffer(self) -> npt.NDArray[np.float32]:
        """The current window, read-only."""
        return self._core.window()

    @property
    def buffer_time_offset(self) -> float:
        """Stream time in seconds of the window's first sample."""
        return self._core.offset

    @property
    def commited(self) -> list[TimedWord]:
        """The committed words still kept: those in the window and the prompt's."""
        return self._core.committed()

    @property
    def window_seconds(self) -> float:
        return self._core.window_seconds

    @property
    def undecoded(self) -> bool:
        """Whether some audio has not been decoded in full: audio arrived since the last
        window, or the decoder left the last window's tail to the next one
        (`WindowResult.left_tail`). The last step of a stream decodes whenever this holds,
        so no tail is lost."""
        return self.pending_seconds > 0 or self._tail_waits

    @property
    def pending_seconds(self) -> float:
        """Seconds of audio inserted since the last `prepare`."""
        return self._core.pending_seconds


class AgreementEngine(ResumingEngine):
    """Runs the processor's model step: `step` alone, or `begin` and `complete` around a
    batched decoder call that the scheduler makes for many streams at once."""

    processor: OnlineASRProcessor

    def __init__(self, processor: OnlineASRProcessor) -> None:
        self.processor = processor
        self.sep: str = processor.asr.sep

    def step(self, audio: npt.NDArray[np.float32], *, final: bool) -> StepResult:
        processor = self.processor
        processor.insert_audio_chunk(audio)
        if not self._due(final=final):
            return self._conclude([], 0.0, 0, final=final)
        output = processor.step(final=final)
        return self._conclude(output.committed, output.model_seconds, 1, final=final)

    def batch_key(self) -> BatchKey | None:
        decoder = self.processor.decoder
        if decoder.batch_key is None:
            return None
        return BatchKey(decoder, self.processor.window_language())

    def begin(self, audio: npt.NDArray[np.float32], *, final: bool) -> WindowRequest | None:
        processor = self.processor
        processor.insert_audio_chunk(audio)
        if not self._due(final=final):
            return None
        return processor.window_request(final=final)

    def complete(
        self, result: WindowResult | None, model_seconds: float, *, final: bool
    ) -> StepResult:
        if result is None:
            return self._conclude([], model_seconds, 0, final=final)
        committed = self.processor.take_result(result)
        return self._conclude(committed, model_seconds, 1, final=final)

    def _due(self, *, final: bool) -> bool:
        """Whether the step decodes: audio arrived since the last window (without, the last
        hypothesis already covers it), or, in a stream's last step, a tail may be undecoded."""
        processor = self.processor
        return processor.undecoded if final else processor.pending_seconds > 0

    def _conclude(
        self, committed: list[TimedWord], model_seconds: float, calls: int, *, final: bool
    ) -> StepResult:
        processor = self.processor
        if final:
            committed = committed + processor.finish_words()
        language = processor.language.announcement(final=final)
        return StepResult(
            committed, processor.unconfirmed(), model_seconds, calls, language=language
        )
