"""Voice activity control: the model runs only while someone speaks.

`VoiceActivityDetector` runs the Silero VAD network that faster-whisper ships (ONNX, on
onnxruntime) over a 16 kHz stream, 32 ms at a time, and reports where speech starts and
ends. `VACOnlineASRProcessor` puts it in front of an `OnlineASRProcessor`, as
whisper_streaming's class of that name does: silence never reaches the model, and each
utterance is committed in full as soon as its speaker pauses, instead of waiting for the
next words to confirm it.
"""

from __future__ import annotations

import copy
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TextIO

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.core.decoding import TimedWord
from asr_interface.core.engine import VoiceActivityEngine
from asr_interface.core.language import DetectedLanguage
from asr_interface.core.processor import Flushed, OnlineASRProcessor

if TYPE_CHECKING:
    import onnxruntime

FRAME_SAMPLES = 512
"""Samples the network judges at once (32 ms); Silero VAD takes 512 at 16 kHz."""
CONTEXT_SAMPLES = 64
"""The end of the previous frame, which the network sees in front of each frame."""
STATE_SHAPE = (1, 1, 128)
"""The network's recurrent state (`h` and `c`), carried from frame to frame."""
HYSTERESIS = 0.15
"""Once speech has started, only probabilities this far below the threshold count as
silence, so a soft syllable does not end an utterance (Silero VAD's own rule)."""

SpeechKind = Literal["speech_start", "speech_end"]


class SpeechBoundary(NamedTuple):
    """Where speech starts or ends, as a sample index from the start of the detector's stream."""

    kind: SpeechKind
    sample: int


@dataclass(frozen=True)
class SpeechEvent:
    """Speech started or ended at `time`, in seconds of stream time."""

    kind: SpeechKind
    time: float


@cache
def silero_session() -> onnxruntime.InferenceSession:
    """The Silero VAD network from faster-whisper's assets, loaded once per process.

    Sessions are safe to run from many threads, and each stream keeps its own state, so all
    streams share one. One thread per run: a 32 ms frame is too small to split.
    """
    # Imported here: onnxruntime and faster-whisper are heavy, and only VAC needs them.
    import onnxruntime

    from asr_interface.backends.faster_whisper_internals import assets_path

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    path = assets_path() / "silero_vad_v6.onnx"
    return onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )


class VoiceActivityDetector:
    """Finds speech in a 16 kHz stream fed in chunks of any size.

    Speech starts at the first frame whose speech probability reaches `threshold` and ends
    once the probability has stayed below `threshold - 0.15` for `min_silence_ms`. Both
    boundaries are moved outwards by `speech_pad_ms` (never before the previous end), so the
    quiet onset and decay of the words stay with them. An end is reported `min_silence_ms`
    after the speech stopped: that is the delay before an utterance can be closed.
    """

    def __init__(
        self, threshold: float = 0.5, min_silence_ms: float = 500, speech_pad_ms: float = 300
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if min_silence_ms <= 0 or speech_pad_ms < 0:
            raise ValueError(
                "min_silence_ms must be positive and speech_pad_ms not negative, "
                f"got {min_silence_ms} and {speech_pad_ms}"
            )
        self.threshold = threshold
        self.min_silence_ms = min_silence_ms
        self.speech_pad_ms = speech_pad_ms
        self._silence_threshold = max(threshold - HYSTERESIS, 0.01)
        self._min_silence = round(min_silence_ms * SAMPLING_RATE / 1000)
        self.pad_samples = round(speech_pad_ms * SAMPLING_RATE / 1000)
        self._session = silero_session()
        self.reset()

    def fresh_copy(self) -> VoiceActivityDetector:
        """A detector with the same settings at the start of a new stream."""
        return VoiceActivityDetector(self.threshold, self.min_silence_ms, self.speech_pad_ms)

    def reset(self) -> None:
        """Starts a new stream at sample 0."""
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
        self._unjudged = np.zeros(0, dtype=np.float32)
        self._judged = 0  # samples of whole frames judged so far
        self.in_speech = False
        self._silence_since: int | None = None
        self._last_end = 0

    @property
    def samples_fed(self) -> int:
        """Samples fed since the stream started, judged or not."""
        return self._judged + self._unjudged.size

    def feed(self, audio: npt.NDArray[np.float32]) -> list[SpeechBoundary]:
        """Judges the whole frames that `audio` completes; returns the boundaries found."""
        samples = np.concatenate((self._unjudged, np.asarray(audio, dtype=np.float32)))
        count = samples.size // FRAME_SAMPLES
        self._unjudged = samples[count * FRAME_SAMPLES :]
        if count == 0:
            return []
        frames = samples[: count * FRAME_SAMPLES].reshape(count, FRAME_SAMPLES)
        boundaries = []
        for probability in self._speech_probabilities(frames):
            boundary = self._judge(float(probability))
            if boundary is not None:
                boundaries.append(boundary)
        return boundaries

    def close(self) -> SpeechBoundary | None:
        """Ends the current speech at the last sample fed (the stream ends); None if quiet."""
        if not self.in_speech:
            return None
        self.in_speech = False
        self._silence_since = None
        self._last_end = self.samples_fed
        return SpeechBoundary("speech_end", self._last_end)

    def _speech_probabilities(self, frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        # Each row is the previous frame's last 64 samples followed by the frame itself.
        contexts = np.vstack((self._context, frames[:-1, -CONTEXT_SAMPLES:]))
        rows = np.hstack((contexts, frames))
        probabilities, self._h, self._c = self._session.run(
            None, {"input": rows, "h": self._h, "c": self._c}
        )
        self._context = frames[-1, -CONTEXT_SAMPLES:].copy()
        return np.asarray(probabilities).reshape(-1)

    def _judge(self, probability: float) -> SpeechBoundary | None:
        """Advances by one frame with its speech probability."""
        start = self._judged
        self._judged += FRAME_SAMPLES
        if probability >= self.threshold:
            self._silence_since = None
            if not self.in_speech:
                self.in_speech = True
                return SpeechBoundary("speech_start", max(start - self.pad_samples, self._last_end))
        elif self.in_speech and probability < self._silence_threshold:
            if self._silence_since is None:
                self._silence_since = start
            if self._judged - self._silence_since >= self._min_silence:
                self.in_speech = False
                self._last_end = min(self._silence_since + self.pad_samples, self._judged)
                self._silence_since = None
                return SpeechBoundary("speech_end", self._last_end)
        return None


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
    and the keywords tune the detector. While nobody speaks, audio is dropped unheard. When
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
        buffer_trimming: tuple[str, float] = ("segment", 15),
        logfile: TextIO = sys.stderr,
        *,
        max_window_sec: float = 30.0,
        agreement_n: int = 2,
        threshold: float = 0.5,
        min_silence_ms: float = 500,
        speech_pad_ms: float = 300,
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
        self.detector = VoiceActivityDetector(threshold, min_silence_ms, speech_pad_ms)
        self.init()

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
            committed += self._transcribe(run, more_audio=True)
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
                    pre_roll = self.detector.pad_samples + 2 * FRAME_SAMPLES
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
        committed = self._transcribe(run, more_audio=False) if self.online.undecoded else []
        return committed + self._to_stream_time(self.online.finish_words())

    def _transcribe(self, run: _Run, *, more_audio: bool) -> list[TimedWord]:
        output = self.online.step(more_audio=more_audio)
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
