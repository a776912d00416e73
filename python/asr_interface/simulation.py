"""Real-time streaming of a recording through a processor, timing when each text appears.

The clock is simulated: audio "arrives" at real-time speed, and in the default compute-aware
mode every processing step advances the clock by the wall time it really took, so a slow
model sees more new audio at its next step, exactly as in a live stream. The waiting for
audio is not slept through, so a simulation of a faster-than-real-time model finishes in
less than the recording's duration. In compute-unaware mode the clock advances by the
audio alone, which makes the output depend only on the model's results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import numpy.typing as npt

from asr_interface.audio import SAMPLING_RATE
from asr_interface.core.protocols import ASRProcessor, TimedText
from asr_interface.transcript import Segment, transcript_text


@dataclass(frozen=True)
class Commit:
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

    commits: tuple[Commit, ...]
    audio_seconds: float
    asr_calls: int
    processing_seconds: float

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


def simulate(
    processor: ASRProcessor,
    audio: npt.NDArray[np.float32],
    *,
    min_chunk_sec: float,
    compute_aware: bool = True,
    on_commit: Callable[[Commit], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> SimulationResult:
    """Streams 16 kHz `audio` through `processor`, recording each commit and when it appeared.

    The processor is reset with `init()` first. Each step waits until at least
    `min_chunk_sec` of new audio has arrived (or the recording has ended), inserts all audio
    that arrived, and calls `process_iter()`, which runs the model once in
    `OnlineASRProcessor`, so `asr_calls` counts the steps. `finish()` emits the tail at the
    end. `on_commit` sees each commit as it happens; `on_progress` sees the seconds of audio
    received after each step.
    """
    total = len(audio)
    chunk = max(1, round(min_chunk_sec * SAMPLING_RATE))
    commits: list[Commit] = []
    clock = 0.0
    received = 0
    asr_calls = 0
    processing = 0.0

    def record(output: TimedText) -> None:
        start, end, text = output
        if start is None or end is None or not text:
            return
        commit = Commit(clock, float(start), float(end), text)
        commits.append(commit)
        if on_commit is not None:
            on_commit(commit)

    def timed(step: Callable[[], TimedText]) -> TimedText:
        nonlocal clock, processing
        began = time.perf_counter()
        output = step()
        elapsed = time.perf_counter() - began
        processing += elapsed
        if compute_aware:
            clock += elapsed
        return output

    processor.init()
    while received < total:
        # Everything that arrived while the previous step ran, but at least one chunk.
        ready = min(total, max(received + chunk, int(clock * SAMPLING_RATE)))
        clock = max(clock, ready / SAMPLING_RATE)
        record(timed(partial(_step, processor, audio[received:ready])))
        asr_calls += 1
        received = ready
        if on_progress is not None:
            on_progress(received / SAMPLING_RATE)
    record(timed(processor.finish))
    return SimulationResult(tuple(commits), total / SAMPLING_RATE, asr_calls, processing)


def _step(processor: ASRProcessor, new_audio: npt.NDArray[np.float32]) -> TimedText:
    processor.insert_audio_chunk(new_audio)
    return processor.process_iter()
