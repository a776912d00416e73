"""The drop-in `OnlineASRProcessor`: whisper_streaming's interface over the Rust core.

The buffer work (window, LocalAgreement, trimming, prompt) runs in `asr_interface._core`;
this class only calls the ASR object and converts arguments. The policy is specified in
docs/streaming-policy.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from asr_interface._core import SAMPLE_RATE, StreamingCore, join_words

TimedWord = tuple[float, float, str]
Flushed = tuple[float | None, float | None, str]


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


class OnlineASRProcessor:
    """Streams audio into an ASR object and commits text that consecutive passes agree on.

    Use it as whisper_streaming's: `insert_audio_chunk` then `process_iter` in a loop, and
    `finish` at the end. A scheduler that runs the model itself calls `prepare`, runs the
    model on the returned window and prompt, then `commit`s the model's words.
    """

    SAMPLING_RATE = SAMPLE_RATE

    def __init__(
        self,
        asr: Any,
        tokenizer: Any = None,
        buffer_trimming: tuple[str, float] = ("segment", 15),
        min_chunk_sec: float = 1.0,
        logfile: TextIO = sys.stderr,
        *,
        max_window_sec: float = 30.0,
        agreement_n: int = 2,
    ) -> None:
        self.asr = asr
        self.tokenizer = tokenizer
        self.logfile = logfile
        self.min_chunk_sec = min_chunk_sec
        self.max_window_sec = max_window_sec
        self.agreement_n = agreement_n
        self.buffer_trimming_way, self.buffer_trimming_sec = buffer_trimming
        self._core = StreamingCore(
            asr.sep,
            self.buffer_trimming_way,
            float(self.buffer_trimming_sec),
            max_window_sec=max_window_sec,
            agreement_n=agreement_n,
            tokenizer=tokenizer,
        )
        self.transcript_buffer = HypothesisView(self._core)

    def fresh_copy(self) -> OnlineASRProcessor:
        """A processor with the same ASR object and settings and an empty stream, so many
        streams can share one loaded model."""
        return OnlineASRProcessor(
            self.asr,
            self.tokenizer,
            (self.buffer_trimming_way, self.buffer_trimming_sec),
            self.min_chunk_sec,
            self.logfile,
            max_window_sec=self.max_window_sec,
            agreement_n=self.agreement_n,
        )

    def init(self, offset: float | None = None) -> None:
        """Starts a new stream whose first sample is at `offset` seconds (default 0)."""
        self._core.init(0.0 if offset is None else float(offset))

    def resume(self, offset: float, context: Sequence[str], settled: float | None = None) -> None:
        """Starts a stream at `offset` seconds that continues one committed elsewhere up
        to `settled` (default `offset`) with the words `context`: they prime the prompt,
        and words heard again in the audio before `settled`, or the last of them repeated
        just after it, are not committed twice."""
        self.init(offset)  # what a subclass does for every new stream
        self._core.resume(
            float(offset), float(offset if settled is None else settled), list(context)
        )

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

    def process_iter(self) -> Flushed:
        """Transcribes the window once and returns the newly committed text."""
        return self._core.process_iter(self.asr)

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
    def pending_seconds(self) -> float:
        """Seconds of audio inserted since the last `prepare`."""
        return self._core.pending_seconds
