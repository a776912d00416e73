"""Voice activity control: the model runs only while someone speaks.

`VACOnlineASRProcessor` puts a speech detector (`SpeechDetector`; the package's is the Silero
network in backends/silero_vad.py) in front of an `OnlineASRProcessor`, as whisper_streaming's
class of that name does: silence never reaches the model, and each utterance is committed in
full as soon as its speaker pauses, instead of waiting for the next words to confirm it.
`VoiceActivityEngine` steps it for the server and `simulate`.
"""

from __future__ import annotations

import copy
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol, TextIO

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.core.decoding import TimedWord
from asr_interface.core.engine import ResumingEngine, SpeechEvent, SpeechKind, StepResult
from asr_interface.core.language import DetectedLanguage
from asr_interface.core.processor import DEFAULT_TRIMMING, Flushed, OnlineASRProcessor


class SpeechBoundary(NamedTuple):
    """Where speech starts or ends, as a sample index from the start of the detector's stream."""

    kind: SpeechKind
    sample: int


class SpeechDetector(Protocol):
    """Finds where speech starts and ends in a 16 kHz stream fed in chunks of any size
    (the Silero network in backends/silero_vad.py is the one the package ships)."""

    frame_samples: int
    """Samples judged at once: a boundary lies on a frame's edge."""
    pad_samples: int
    """How far each boundary is moved outwards, so quiet onsets stay with their words."""
    in_speech: bool

    def fresh_copy(self) -> SpeechDetector:
        """A detector with the same settings at the start of a new stream."""
        ...

    def reset(self) -> None:
        """Starts a new stream at sample 0."""
        ...

    @property
    def samples_fed(self) -> int:
        """Samples fed since the stream started."""
        ...

    def feed(self, audio: npt.NDArray[np.float32]) -> list[SpeechBoundary]:
        """The boundaries that `audio` completes."""
        ...

    def close(self) -> SpeechBoundary | None:
        """Ends the current speech at the last sample fed; None if quiet."""
        ...


@dataclass(frozen=True)
class VACIteration:
    """What one iteration produced: committed words, model use and a language to report."""

    committed: list[TimedWord]
    model_calls: int
    model_seconds: float
    language: DetectedLanguage | None


class VACOnlineASRProcessor:
    """An `OnlineASRProcessor` that hears only speech and closes each utterance at its pause.

    Constructed as whisper_streaming's: `online_chunk_size` seconds of new speech trigger a
    model call, the other arguments go to the inner `OnlineASRProcessor` (`self.online`),
    and `detector` finds the speech. While nobody speaks, audio is dropped unheard. When
    speech ends, the utterance's remaining audio is transcribed and its tail committed at
    once (the inner `finish()`); the next utterance starts with an empty window, prompted
    with the text before it. Every model call is the inner processor's one step.

    The inner processor sees only speech, so its times skip the pauses; this class maps
    every word back to stream time. `take_events()` returns the speech starts and ends.
    """

    SAMPLING_RATE = SAMPLING_RATE

    def __init__(
        self,
        online_chunk_size: float,
        asr: Any,
        tokenizer: Any = None,
        buffer_trimming: tuple[str, float] = DEFAULT_TRIMMING,
        logfile: TextIO = sys.stderr,
        *,
        max_window_sec: float | None = None,
        agreement_n: int = 2,
        detector: SpeechDetector,
    ) -> None:
        self.min_chunk_size = online_chunk_size
        self.asr = asr
        self.online = OnlineASRProcessor(
            asr,
            tokenizer,
            buffer_trimming,
            online_chunk_size,
            max_window_sec=max_window_sec,
            agreement_n=agreement_n,
        )
        self.detector = detector
        self.init()

    def cap_window(self, seconds: float) -> None:
        """Caps the inner processor's window (`OnlineASRProcessor.cap_window`)."""
        self.online.cap_window(seconds)

    def fresh_copy(self) -> VACOnlineASRProcessor:
        """A processor with the same ASR object and settings and an empty stream, so many
        streams can share one loaded model."""
        clone = copy.copy(self)
        clone.online = self.online.fresh_copy()
        clone.detector = self.detector.fresh_copy()
        clone.init()
        return clone

    def engine(self) -> VoiceActivityEngine:
        """The engine that steps this processor for the server and `simulate`."""
        return VoiceActivityEngine(self)

    def init(self, offset: float | None = None) -> None:
        """Starts a new stream whose first sample is at `offset` seconds (default 0)."""
        self._offset = 0.0 if offset is None else float(offset)
        self.online.init(self._offset)
        self.detector.reset()
        self._held = np.zeros(0, dtype=np.float32)  # received, not yet routed
        self._held_start = 0  # stream sample of `_held[0]`
        self._boundaries: deque[SpeechBoundary] = deque()  # found, not yet routed
        self._events: list[SpeechEvent] = []
        self._in_utterance = False
        self._utterance_ended = False  # routed up to its end, not yet finalised
        self._shift = 0.0  # stream time minus the inner processor's time
        self._opening: _Opening | None = None  # what the first utterance starts with

    def resume(self, offset: float, context: Sequence[str], settled: float | None = None) -> None:
        """Starts a stream at `offset` seconds that continues one committed elsewhere up
        to `settled` (default `offset`) with the words `context`, as
        `OnlineASRProcessor.resume` does. The inner processor's clock skips the pauses, so
        it is resumed when the first utterance starts, with `settled` on that clock: a
        silent lead-in must not push the settled time into the first words."""
        self.init(offset)
        self._opening = _Opening(tuple(context), self._offset if settled is None else settled)

    def prime(self, words: Sequence[str]) -> None:
        """Primes the first utterance's prompt with `words` said before the stream, as
        `OnlineASRProcessor.prime` does."""
        if not words:
            return
        opening = self._opening or _Opening((), self._offset)
        self._opening = replace(opening, prompt=opening.prompt + tuple(words))

    def insert_audio_chunk(self, audio: npt.ArrayLike) -> None:
        """Appends 16 kHz mono samples: float (in [-1, 1]) or int16 PCM, 1-D."""
        samples = _float_samples(audio)
        boundaries = self.detector.feed(samples)
        self._held = np.concatenate((self._held, samples))
        self._queue(boundaries)
        self._route()

    def process_iter(self) -> Flushed:
        """Finalises utterances that ended and transcribes the current one once enough new
        speech arrived; returns the newly committed text."""
        return self.online.to_flush(self.iterate().committed)

    def finish(self) -> Flushed:
        """Ends the stream's speech here: transcribes what the model has not heard yet and
        commits everything. Unlike the plain processor's, this may call the model, because
        less than a chunk of speech is held back between calls."""
        return self.online.to_flush(self.iterate(final=True).committed)

    def iterate(self, *, final: bool = False) -> VACIteration:
        """`process_iter` (or, when `final`, `finish`) with the model use it took."""
        run = _Run()
        if final:
            closing = self.detector.close()
            if closing is not None:
                self._queue([closing])
                self._route()
        committed: list[TimedWord] = []
        while self._utterance_ended:
            committed += self._finalise(run)
            self._utterance_ended = False
            self._route()
        enough = self.online.pending_seconds >= self.min_chunk_size
        if self._in_utterance and enough and not final:
            committed += self._transcribe(run, final=False)
        return VACIteration(
            committed, run.calls, run.seconds, self.online.language.announcement(final=final)
        )

    def unconfirmed(self) -> list[TimedWord]:
        """The current guess beyond the committed text, in stream time."""
        return self._to_stream_time(self.online.unconfirmed())

    def take_events(self) -> list[SpeechEvent]:
        """The speech starts and ends found since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    @property
    def in_speech(self) -> bool:
        """Whether the detector currently hears speech."""
        return self.detector.in_speech

    def _queue(self, boundaries: list[SpeechBoundary]) -> None:
        self._boundaries.extend(boundaries)
        self._events += [
            SpeechEvent(b.kind, self._offset + b.sample / SAMPLING_RATE) for b in boundaries
        ]

    def _route(self) -> None:
        """Hands the held audio of the current utterance to the inner processor, up to an
        utterance end; audio after an end waits until that utterance is finalised."""
        while not self._utterance_ended:
            if not self._boundaries:
                if self._in_utterance:
                    self._hand_over(self._held.size)
                else:
                    # A start is found at most two frames late and padded in front.
                    pre_roll = self.detector.pad_samples + 2 * self.detector.frame_samples
                    self._drop(self._held.size - pre_roll)
                return
            boundary = self._boundaries.popleft()
            if boundary.kind == "speech_start":
                self._drop(boundary.sample - self._held_start)
                self._shift = (
                    self._offset + self._held_start / SAMPLING_RATE - self.online.buffer_time_offset
                )
                if self._opening is not None:
                    self._open_inner(self._opening)
                    self._opening = None
                self._in_utterance = True
            else:
                self._hand_over(boundary.sample - self._held_start)
                self._in_utterance = False
                self._utterance_ended = True

    def _open_inner(self, opening: _Opening) -> None:
        """Starts the inner processor's stream, about to hear its first speech."""
        inner_offset = self.online.buffer_time_offset
        self.online.resume(inner_offset, opening.context, opening.settled - self._shift)
        self.online.prime(opening.prompt)

    def _hand_over(self, count: int) -> None:
        count = max(0, min(count, self._held.size))
        if count:
            self.online.insert_audio_chunk(self._held[:count])
        self._drop(count)

    def _drop(self, count: int) -> None:
        count = max(0, min(count, self._held.size))
        self._held = self._held[count:]
        self._held_start += count

    def _finalise(self, run: _Run) -> list[TimedWord]:
        """Transcribes the utterance's unheard audio, then commits its tail."""
        committed = self._transcribe(run, final=True) if self.online.undecoded else []
        return committed + self._to_stream_time(self.online.finish_words())

    def _transcribe(self, run: _Run, *, final: bool) -> list[TimedWord]:
        output = self.online.step(final=final)
        run.calls += 1
        run.seconds += output.model_seconds
        return self._to_stream_time(output.committed)

    def _to_stream_time(self, words: list[TimedWord]) -> list[TimedWord]:
        shift = self._shift
        return [(start + shift, end + shift, text) for start, end, text in words]


@dataclass(frozen=True)
class _Opening:
    """A stream's start that waits for its first utterance: a resumed stream's context
    and settled time (stream time), and the prompt's words."""

    context: tuple[str, ...]
    settled: float
    prompt: tuple[str, ...] = ()


@dataclass
class _Run:
    """Model use during one iteration."""

    calls: int = 0
    seconds: float = 0.0


def _float_samples(audio: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Checks audio as `OnlineASRProcessor.insert_audio_chunk` does, before anything changes."""
    samples = np.asarray(audio)
    if samples.ndim != 1:
        raise ValueError(f"audio must be a 1-D array of samples, got shape {samples.shape}")
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    if samples.dtype.kind != "f":
        raise ValueError(
            f"audio must hold float32, float64 or int16 samples, got dtype {samples.dtype}"
        )
    converted = samples.astype(np.float32)
    if not np.isfinite(converted).all():
        raise ValueError("audio must not contain NaN or infinite samples")
    return converted


class VoiceActivityEngine(ResumingEngine):
    """Runs the voice-activity-controlled processor, which runs the model step on speech."""

    processor: VACOnlineASRProcessor

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
