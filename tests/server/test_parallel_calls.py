"""A model runs as many steps at once as it has workers: the scheduler's lanes on the real
tiny.en model, loaded with one and with two workers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from asr_interface.backends.loaded import load_model
from asr_interface.backends.whisper_batch import BoundDecoder
from asr_interface.core.config import ASRConfig
from asr_interface.core.decoding import WindowRequest, WindowResult
from asr_interface.core.engine import StepResult
from asr_interface.core.processor import AgreementEngine
from asr_interface.server.admission import LoadMonitor
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.scheduler import BatchPolicy, BatchScheduler
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model


@dataclass(eq=False)
class CallCounter:
    """The model's decoder, counting how many of its calls run at the same time."""

    inner: BoundDecoder
    running: int = 0
    most: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def decode(self, requests: Sequence[WindowRequest]) -> list[WindowResult]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return self.inner.decode(requests)
        finally:
            with self.lock:
                self.running -= 1

    @property
    def batch_key(self) -> CallCounter:
        return self

    @property
    def parallel_calls(self) -> int:
        return self.inner.parallel_calls


def engines(num_workers: int, count: int) -> tuple[list[AgreementEngine], CallCounter]:
    """`count` streams of tiny.en loaded with `num_workers`, sharing one counted decoder."""
    model = load_model(ASRConfig(num_workers=num_workers))
    opened = [model.open_stream() for _ in range(count)]
    assert all(isinstance(engine, AgreementEngine) for engine in opened)
    streams = [engine for engine in opened if isinstance(engine, AgreementEngine)]
    decoder = streams[0].processor.decoder
    assert isinstance(decoder, BoundDecoder)
    counter = CallCounter(decoder)
    for stream in streams:
        stream.processor.decoder = counter
    return streams, counter


async def step_all(streams: list[AgreementEngine], workers: int) -> list[StepResult]:
    """One step of every stream at once through a scheduler that decodes each step alone."""
    audio = speech_audio(JFK)
    with ThreadPoolExecutor(workers) as executor:
        scheduler = BatchScheduler(
            executor, BatchPolicy(1, 0.0), observer=ServerMetrics(), load=LoadMonitor(None)
        )
        results = await asyncio.gather(
            *(scheduler.step(stream, audio, final=True, lag=0.0) for stream in streams)
        )
        await scheduler.close()
    return results


@pytest.mark.parametrize("num_workers", [1, 2])
def test_a_model_runs_as_many_steps_at_once_as_it_has_workers(num_workers: int) -> None:
    """Three streams' steps, each decoded alone on a pool of three threads: the model's
    workers, not the threads, bound the calls at once, and every stream commits the same
    words."""
    streams, counter = engines(num_workers, 3)
    assert counter.parallel_calls == num_workers
    results = asyncio.run(step_all(streams, 3))
    assert counter.most == num_workers
    texts = {" ".join(word[2] for word in result.committed) for result in results}
    assert len(texts) == 1 and "country" in texts.pop()
