"""Per-call cost of the Rust processor against the pure-Python oracle, on a replayed Whisper stream.

The trace bench/traces/ljspeech_long.json (tiny.en streaming the long LJ Speech file in 1 s
chunks) is replayed with no model, so only the processor's own work is timed: inserting the
chunk and one `process_iter` (plus `finish()` where the recording ended). A 1-hour stream
loops the recording, each pass ending with `finish()` as at the end of an utterance; the
committed history keeps growing across passes. Prints one JSON line:

- `per_call_us`: mean processor CPU time per call, the fastest of several repeats, and its
  split between `insert_audio_chunk` and `process_iter` for the hour;
- `oracle_over_rust` at 1 min and 1 h (target >= 20);
- `rust_1h_over_1min`: Rust's per-call cost after an hour against the first minute (target <= 1.2);
- `peak_rss_growth_bytes`, `memory_1h_over_1min` and `memory_4h_over_1h`: peak resident set
  size above the pre-stream baseline, each run in a fresh process (RSS, not tracemalloc,
  because the Rust processor allocates outside Python's allocator);
- `outputs_identical`: both processors emitted the same text at the same times for the hour,
  and `replay_reproduces_recording`: one pass commits exactly what the recording committed.

    python bench/processor_overhead.py
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from asr_interface import OnlineASRProcessor
from asr_interface.backends.replay import ReplayASR, Trace
from asr_interface.core.config import MAX_WINDOW_SECONDS
from asr_interface.simulation import simulate

REPO = Path(__file__).resolve().parents[1]
TRACE = REPO / "bench" / "traces" / "ljspeech_long.json"
SAMPLE_RATE = 16000
STREAMS = {"1min": 60.0, "1h": 3600.0}
REPEATS = {"1min": 30, "1h": 3}
MEMORY_STREAMS = {**STREAMS, "4h": 4 * 3600.0}  # the 4 h point shows whether memory is flat
TARGET_RATIO = 20.0
TARGET_GROWTH = 1.2

TimedText = tuple[float | None, float | None, str]
ProcessorFactory = Callable[[ReplayASR], Any]


def load_oracle() -> ProcessorFactory:
    """The oracle class from tests/oracle.py, which is not part of the installed package."""
    spec = importlib.util.spec_from_file_location("oracle", REPO / "tests" / "oracle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.OracleASRProcessor  # type: ignore[no-any-return]


IMPLEMENTATIONS: dict[str, ProcessorFactory] = {
    "rust": partial(OnlineASRProcessor, max_window_sec=MAX_WINDOW_SECONDS),
    "oracle": partial(load_oracle(), max_window_sec=MAX_WINDOW_SECONDS),
}
"""Both with the window cap the server asks for, as the trace was recorded."""


@cache
def load_trace() -> Trace:
    return Trace.load(TRACE)


def chunk_sizes(trace: Trace) -> list[int]:
    """Samples inserted before each call of one pass, as when the trace was recorded."""
    chunk, total = int(trace.meta["chunk_samples"]), int(trace.meta["audio_samples"])
    sizes = [min(chunk, total - start) for start in range(0, total, chunk)]
    if len(sizes) != len(trace.calls):
        raise ValueError(f"{len(sizes)} chunks but {len(trace.calls)} calls in {TRACE}")
    return sizes


@dataclass
class StreamRun:
    """What one replayed stream cost and emitted; times are this thread's CPU seconds."""

    calls: int = 0
    insert_seconds: float = 0.0
    iterate_seconds: float = 0.0
    outputs: list[TimedText] = field(default_factory=list)
    peak_rss_growth: int = 0

    @property
    def per_call_us(self) -> float:
        return (self.insert_seconds + self.iterate_seconds) / self.calls * 1e6

    def breakdown_us(self) -> dict[str, float]:
        """Per-call cost of `insert_audio_chunk` and of `process_iter` (with `finish`)."""
        return {
            "insert_audio_chunk": round(self.insert_seconds / self.calls * 1e6, 2),
            "process_iter": round(self.iterate_seconds / self.calls * 1e6, 2),
        }


def replay_stream(
    make_processor: ProcessorFactory,
    stream_seconds: float,
    *,
    keep_outputs: bool = True,
    sample_memory: bool = False,
) -> StreamRun:
    """Streams `stream_seconds` of audio through a new processor replaying the trace.

    Time is the calling thread's CPU time, so other processes on the machine do not count.
    """
    trace = load_trace()
    sizes = chunk_sizes(trace)
    audio = np.zeros(max(sizes), dtype=np.float32)  # the replay ignores the samples
    # The baseline comes first: what a processor allocates up front counts too.
    baseline = resident_bytes() if sample_memory else 0
    processor = make_processor(ReplayASR(trace, loop=True))
    run = StreamRun()
    samples_left = round(stream_seconds * SAMPLE_RATE)
    while samples_left > 0:
        size = sizes[run.calls % len(sizes)]
        ends_pass = run.calls % len(sizes) == len(sizes) - 1
        began = time.thread_time()
        processor.insert_audio_chunk(audio[:size])
        inserted = time.thread_time()
        output = processor.process_iter()
        final = processor.finish() if ends_pass else None
        run.iterate_seconds += time.thread_time() - inserted
        run.insert_seconds += inserted - began
        run.calls += 1
        samples_left -= size
        if keep_outputs:
            run.outputs.append(output)
            if final is not None:
                run.outputs.append(final)
        if sample_memory:
            run.peak_rss_growth = max(run.peak_rss_growth, resident_bytes() - baseline)
    return run


def resident_bytes() -> int:
    """This process's resident set size."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def fastest_run(implementation: str, stream: str) -> StreamRun:
    """The least disturbed of several runs: the best estimate of the processor's own cost."""
    runs = [
        replay_stream(IMPLEMENTATIONS[implementation], STREAMS[stream], keep_outputs=False)
        for _ in range(REPEATS[stream])
    ]
    return min(runs, key=lambda run: run.per_call_us)


def peak_rss_growth(implementation: str, stream_seconds: float) -> int:
    """Peak RSS growth of one stream, measured in a fresh process so no earlier run hides it."""
    command = [sys.executable, __file__, "--memory", implementation, str(stream_seconds)]
    return int(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def replay_reproduces_recording(trace: Trace) -> bool:
    """One pass through the same streaming loop commits exactly what the recording did."""
    audio = np.zeros(int(trace.meta["audio_samples"]), dtype=np.float32)
    processor = IMPLEMENTATIONS["rust"](ReplayASR(trace))
    chunk_sec = int(trace.meta["chunk_samples"]) / SAMPLE_RATE
    replayed = simulate(processor, audio, min_chunk_sec=chunk_sec, compute_aware=False)
    return replayed.text == str(trace.meta["transcript"])


def measure() -> dict[str, Any]:
    trace = load_trace()
    runs = {name: {s: fastest_run(name, s) for s in STREAMS} for name in IMPLEMENTATIONS}
    per_call = {name: {s: run.per_call_us for s, run in d.items()} for name, d in runs.items()}
    memory = {
        name: {s: peak_rss_growth(name, seconds) for s, seconds in MEMORY_STREAMS.items()}
        for name in IMPLEMENTATIONS
    }
    hour = {name: replay_stream(make, STREAMS["1h"]) for name, make in IMPLEMENTATIONS.items()}
    return {
        "trace": str(TRACE.relative_to(REPO)),
        "trace_calls": len(trace.calls),
        "stream_calls": {s: run.calls for s, run in runs["rust"].items()},
        "clock": "thread CPU time, fastest of several runs",
        "per_call_us": {n: {s: round(v, 2) for s, v in d.items()} for n, d in per_call.items()},
        "per_call_breakdown_us_1h": {n: d["1h"].breakdown_us() for n, d in runs.items()},
        "oracle_over_rust": {
            s: round(per_call["oracle"][s] / per_call["rust"][s], 2) for s in STREAMS
        },
        "target_oracle_over_rust": TARGET_RATIO,
        "rust_1h_over_1min": round(per_call["rust"]["1h"] / per_call["rust"]["1min"], 3),
        "target_rust_1h_over_1min": TARGET_GROWTH,
        "memory_measure": "peak RSS above the pre-stream baseline, one fresh process per run",
        "peak_rss_growth_bytes": memory,
        "memory_1h_over_1min": {n: round(d["1h"] / d["1min"], 3) for n, d in memory.items()},
        "memory_4h_over_1h": {n: round(d["4h"] / d["1h"], 3) for n, d in memory.items()},
        "outputs_identical": hour["rust"].outputs == hour["oracle"].outputs,
        "replay_reproduces_recording": replay_reproduces_recording(trace),
    }


def main() -> None:
    if sys.argv[1:2] == ["--memory"]:
        implementation, stream_seconds = sys.argv[2], float(sys.argv[3])
        run = replay_stream(
            IMPLEMENTATIONS[implementation],
            stream_seconds,
            keep_outputs=False,
            sample_memory=True,
        )
        print(run.peak_rss_growth)
        return
    print(json.dumps(measure()))


if __name__ == "__main__":
    main()
