"""Real-time streaming of a recording through a stream engine, timing when each text appears.

The clock is simulated: audio "arrives" at real-time speed, steps are paced by the server's
own rule (`asr_interface.core.pacing`), and in the default compute-aware mode every step
advances the clock by the wall time it really took, so a slow model sees more new audio at
its next step, exactly as in a live stream. The waiting for audio is not slept through, so a
simulation of a faster-than-real-time model finishes in less than the recording's duration.
In compute-unaware mode the clock advances by the audio alone, which makes the output depend
only on the model's results.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.core.decoding import TimedWord
from asr_interface.core.engine import SpeechEvent, StreamEngine, engine_of
from asr_interface.core.pacing import AudioInbox, Pacing
from asr_interface.core.protocols import ASRProcessor
from asr_interface.transcript import Segment, transcript_text


@dataclass(frozen=True)
class EmittedCommit:
    """Text that became final, the span of its words, and when the stream emitted it (seconds)."""

    emission: float
    start: float
    end: float
    text: str

    @property
    def latency(self) -> float:
        """How long after its last word was spoken the text was emitted."""
        return self.emission - self.end


@dataclass(frozen=True)
class SimulationResult:
    """Everything one simulated stream produced and cost."""

    commits: tuple[EmittedCommit, ...]
    audio_seconds: float
    asr_calls: int
    processing_seconds: float
    speech_events: tuple[SpeechEvent, ...] = ()
    """Where speech started and ended, with voice activity control."""

    @property
    def segments(self) -> list[Segment]:
        """The commits as a timed transcript."""
        return [Segment(c.start, c.end, c.text.strip()) for c in self.commits]

    @property
    def text(self) -> str:
        """The streamed transcript."""
        return transcript_text(self.segments)

    @property
    def latencies(self) -> list[float]:
        """Commit latency of every commit, in emission order."""
        return [commit.latency for commit in self.commits]

    @property
    def mean_latency(self) -> float | None:
        """Mean commit latency in seconds, or None when nothing was committed."""
        return float(np.mean(self.latencies)) if self.commits else None

    @property
    def p90_latency(self) -> float | None:
        """90th percentile of commit latency in seconds, or None when nothing was committed."""
        return float(np.percentile(self.latencies, 90)) if self.commits else None

    @property
    def real_time_factor(self) -> float:
        """Processing time per second of audio: below 1 keeps up with a live stream."""
        return self.processing_seconds / self.audio_seconds if self.audio_seconds else 0.0


def summarize(results: Sequence[SimulationResult]) -> SimulationResult:
    """Pools several streams into one result, for corpus-level latency and real-time factor."""
    return SimulationResult(
        commits=tuple(commit for result in results for commit in result.commits),
        audio_seconds=sum(result.audio_seconds for result in results),
        asr_calls=sum(result.asr_calls for result in results),
        processing_seconds=sum(result.processing_seconds for result in results),
    )


@dataclass(frozen=True)
class _Arrival:
    """A client frame arriving at `time`, or (`audio` None) the client's `end`."""

    time: float
    audio: npt.NDArray[np.float32] | None


def simulate(
    stream: ASRProcessor | StreamEngine,
    audio: npt.NDArray[np.float32],
    *,
    min_chunk_sec: float | None = None,
    pacing: Pacing | None = None,
    frame_sec: float | None = None,
    compute_aware: bool = True,
    on_commit: Callable[[EmittedCommit], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> SimulationResult:
    """Streams 16 kHz `audio` through `stream` as a live client streams it to the server,
    recording each commit and when it appeared.

    `stream` is an engine (`LoadedModel.open_stream()`) or a processor (driven by the
    engine it offers, or through `process_iter`/`finish`); it is reset first. A client
    sends the recording in frames of `frame_sec` seconds (default: the step size), each as
    soon as it has been spoken, then `end`; steps start and take audio exactly as a server
    session's do (`Pacing`: steps of at least `min_chunk_sec`, by default the processor's
    `min_chunk_size`, or `pacing` for a configuration's),
    and the last step commits the tail. `asr_calls` counts model calls. `on_commit` sees each
    commit as it happens; `on_progress` the seconds of audio stepped through so far.
    """
    if pacing is None:
        step = (
            min_chunk_sec if min_chunk_sec is not None else getattr(stream, "min_chunk_size", None)
        )
        if step is None:
            raise TypeError("simulate() needs min_chunk_sec or pacing for this stream")
        pacing = Pacing(min_step_seconds=step)
    engine: StreamEngine = engine_of(stream) if hasattr(stream, "process_iter") else stream
    total = len(audio)
    frame = max(1, round((frame_sec or pacing.min_step_seconds) * SAMPLING_RATE))
    arrivals = deque(
        _Arrival(min(start + frame, total) / SAMPLING_RATE, audio[start : start + frame])
        for start in range(0, total, frame)
    )
    arrivals.append(_Arrival(total / SAMPLING_RATE, None))
    inbox = AudioInbox()
    commits: list[EmittedCommit] = []
    events: list[SpeechEvent] = []
    clock = processing = 0.0
    asr_calls = 0
    ended = False

    def arrive(arrival: _Arrival) -> None:
        nonlocal ended
        if arrival.audio is None:
            ended = True
        else:
            inbox.add(arrival.audio, arrival.time)

    engine.reset()
    while True:
        step = inbox.take_step(pacing, clock, final=ended)
        if step is None:
            # Idle: the session decides again at the next frame (or `end`).
            arrival = arrivals.popleft()
            clock = max(clock, arrival.time)
            arrive(arrival)
            continue
        began = time.perf_counter()
        result = engine.step(step.audio, final=step.final)
        elapsed = time.perf_counter() - began
        processing += elapsed
        if compute_aware:
            clock += elapsed
        asr_calls += result.model_calls
        events += result.speech_events
        if result.committed:
            commit = _commit(result.committed, engine.sep, clock)
            commits.append(commit)
            if on_commit is not None:
                on_commit(commit)
        if on_progress is not None:
            on_progress((inbox.received_samples - inbox.waiting_samples) / SAMPLING_RATE)
        if step.final:
            break
        # What arrived while the step ran waits for the next decision, as on the server.
        while arrivals and arrivals[0].time <= clock:
            arrive(arrivals.popleft())
    return SimulationResult(
        tuple(commits), total / SAMPLING_RATE, asr_calls, processing, tuple(events)
    )


def _commit(words: list[TimedWord], sep: str, emission: float) -> EmittedCommit:
    text = sep.join(word for _, _, word in words)
    return EmittedCommit(emission, float(words[0][0]), float(words[-1][1]), text)
