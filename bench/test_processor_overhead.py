"""Benchmarks: the processor on a replayed Whisper stream of 1 minute and 1 hour, Rust and oracle.

Run on purpose (the normal test run does not collect bench/):

    pytest bench/test_processor_overhead.py

The replay costs nothing, so the timings are the processor's own work; see
processor_overhead.py for how the stream is built and for the summary figures.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from processor_overhead import IMPLEMENTATIONS, STREAMS, TimedText, replay_stream

ROUNDS = {"1min": 20, "1h": 3}


@cache
def reference_outputs(stream: str) -> list[TimedText]:
    """What the oracle emits for the stream: every implementation must emit the same."""
    return replay_stream(IMPLEMENTATIONS["oracle"], STREAMS[stream]).outputs


@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
def test_processor_overhead(benchmark: Any, implementation: str, stream: str) -> None:
    """Times a whole replayed stream through a fresh processor and checks what it emitted."""
    run = benchmark.pedantic(
        replay_stream,
        args=(IMPLEMENTATIONS[implementation], STREAMS[stream]),
        rounds=ROUNDS[stream],
        iterations=1,
    )
    benchmark.extra_info["calls"] = run.calls
    benchmark.extra_info["per_call_us"] = round(run.per_call_us, 2)
    assert run.calls >= STREAMS[stream]
    assert any(text for _, _, text in run.outputs)
    assert run.outputs == reference_outputs(stream)
