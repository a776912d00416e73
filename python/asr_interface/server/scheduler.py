"""Cross-stream batching: which waiting steps share one model call, and the loop running them.

Sessions decide when a step is ready; this module decides which ready steps of one model
go into the same batched call. `BatchPolicy` is that decision as plain code over the
waiting steps and the clock; `run_batch` is one batched call (each engine's `begin`, one
`decode`, each engine's `complete`) on a worker thread; `BatchScheduler` is the thin
asyncio driver between them.

A model runs as many batches at once as it runs calls (its CTranslate2 workers, one per
core on a CPU by default): another batch in flight would only queue inside it, holding
steps that could have joined the next batch. Steps that become ready while every worker is
busy wait for the next free one, which takes the oldest waiting step and every other one
with its key, up to `max_batch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from asr_interface.core.engine import BatchableEngine, BatchKey, StepResult, StreamEngine
from asr_interface.server.admission import LoadMonitor
from asr_interface.server.batch_call import (
    BatchItem,
    ModelCallTimeout,
    Outcome,
    contained,
    detached,
    run_batch,
)

logger = logging.getLogger(__name__)


class Waiting(Protocol):
    """A step waiting for the model: what it may be batched with, and since when."""

    @property
    def key(self) -> Hashable: ...

    @property
    def since(self) -> float: ...


W = TypeVar("W", bound=Waiting)
T = TypeVar("T")


@dataclass(frozen=True)
class RunBatch(Generic[W]):
    """Run these steps now, in one call."""

    steps: list[W]


@dataclass(frozen=True)
class WaitUntil:
    """Nothing to run before `deadline` unless another step becomes ready."""

    deadline: float


@dataclass(frozen=True)
class BatchPolicy:
    """Forms the next batch of one model from its waiting steps.

    The oldest waiting step always goes next, with the steps of the same key (decoding
    options and language) in the order they became ready, up to `max_batch`: within a key
    no step is ever overtaken by a later one, so with one key (the usual case: one model,
    one language, one set of options) no step waits more than one batch behind another.
    Steps of other keys wait for batches of their own; the oldest of them heads the next.

    When fewer than `max_batch` steps of that key are ready and other streams of the model
    could still become ready, the batch waits for them, at most `window` seconds after its
    oldest step became ready or the model became free, whichever is later. Counting from
    the model's last batch matters under load: the streams of that batch become ready again
    only once their results are in, just after the steps that waited meanwhile, and
    without the wait the two groups would take turns instead of sharing the model calls.
    """

    max_batch: int
    """At least 1 (`ServerSettings` checks it)."""
    window: float
    """Not negative (`ServerSettings` checks it)."""

    def plan(
        self, waiting: Sequence[W], now: float, *, joinable: int, free_since: float = 0.0
    ) -> RunBatch[W] | WaitUntil:
        """The batch to run at `now`, or when to look again.

        `waiting` must not be empty; `joinable` is how many other streams of this model
        are not waiting and so might still join; `free_since` is when the model's last
        batch returned.
        """
        oldest = min(waiting, key=lambda step: step.since)
        batch = [step for step in waiting if step.key == oldest.key]
        batch.sort(key=lambda step: step.since)
        batch = batch[: self.max_batch]
        deadline = max(oldest.since, free_since) + self.window
        if len(batch) == self.max_batch or joinable == 0 or now >= deadline:
            return RunBatch(batch)
        return WaitUntil(deadline)


class SchedulerObserver(Protocol):
    """Receives the scheduler's figures for the metrics endpoint."""

    def batch(self, steps: int) -> None: ...
    def queue_wait(self, seconds: float) -> None: ...
    def lag(self, seconds: float) -> None: ...


@dataclass(eq=False)
class _Ticket:
    """A ready step in its model's queue, with the future its session awaits."""

    item: BatchItem
    key: BatchKey
    since: float
    future: asyncio.Future[StepResult]


@dataclass(eq=False)
class _Lane:
    """One model's queue: its waiting steps, the engines that used it, its loop task and the
    batches it runs, at most `parallel_calls` at once."""

    parallel_calls: int
    waiting: list[_Ticket] = field(default_factory=list)
    members: set[BatchableEngine] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    running: set[asyncio.Task[None]] = field(default_factory=set)
    free_since: float = 0.0  # when the last batch returned

    def joinable(self) -> int:
        return len(self.members - {ticket.item.engine for ticket in self.waiting})

    def prune(self) -> None:
        """Drops the waiting steps whose session no longer awaits them."""
        self.waiting = [ticket for ticket in self.waiting if not ticket.future.done()]


class BatchScheduler:
    """Runs every session's steps: batchable ones in per-model batches, others alone.

    Every step reports its queue wait (ready to running) and the session's lag; each
    step's latency (lag, then the time until its result) goes to `load` for admission.
    """

    def __init__(
        self,
        executor: Executor,
        policy: BatchPolicy,
        *,
        observer: SchedulerObserver,
        load: LoadMonitor,
        call_timeout: float | None = None,
    ) -> None:
        self.executor = executor
        self.policy = policy
        self.observer = observer
        self.load = load
        self.call_timeout = call_timeout
        self.stalled = False
        """Whether a model call ran past `call_timeout` since the last call that returned:
        the model may hang, and /health says so."""
        self.in_flight = 0
        """Model calls running on worker threads, abandoned ones included."""
        self._in_flight_lock = threading.Lock()
        self._lanes: dict[object, _Lane] = {}

    async def step(
        self, engine: StreamEngine, audio: npt.NDArray[np.float32], *, final: bool, lag: float
    ) -> StepResult:
        """Runs one step of `engine` and returns its result; raises what failed it."""
        since = time.monotonic()
        self.observer.lag(lag)
        try:
            if isinstance(engine, BatchableEngine) and (key := engine.batch_key()) is not None:
                return await self._batched(BatchItem(engine, audio, final), key, since)
            return await self._alone(engine, audio, final, since)
        finally:
            now = time.monotonic()
            self.load.record(engine, now, lag + now - since)

    def _counted(self, work: Callable[[], T]) -> T:
        with self._in_flight_lock:
            self.in_flight += 1
        try:
            return work()
        finally:
            with self._in_flight_lock:
                self.in_flight -= 1

    def forget(self, engine: StreamEngine) -> None:
        """The engine's session closed or changed model: batches no longer wait for it,
        its steps no longer count for admission, and the queues let go at once of the
        steps it gave up (a closed session's cancelled steps, which would otherwise hold
        its engine and audio until its model's queue next woke)."""
        self.load.forget(engine)
        for lane in self._lanes.values():
            lane.members.discard(engine)
            lane.prune()

    async def close(self) -> None:
        """Stops the model queues; their waiting steps fail."""
        for lane in self._lanes.values():
            if lane.task is not None:
                lane.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lane.task
            for ticket in lane.waiting:
                ticket.future.cancel()
        self._lanes.clear()

    async def _alone(
        self, engine: StreamEngine, audio: npt.NDArray[np.float32], final: bool, since: float
    ) -> StepResult:
        def step() -> StepResult:
            self.observer.queue_wait(time.monotonic() - since)
            return contained(partial(engine.step, audio, final=final))

        return await self._call(step)

    async def _call(self, work: Callable[[], T]) -> T:
        """Runs `work` on a worker thread within `call_timeout`. A call past it is abandoned
        (its thread finishes on its own; nothing waits for it) and raises
        `ModelCallTimeout`."""
        loop = asyncio.get_running_loop()
        try:
            # The future is awaited where it is made, never kept in a local (nor run by
            # `asyncio.wait_for`, which on Python 3.11 keeps it in one): the error it
            # raises would hold it, through the traceback, in a cycle with the frames of
            # the session awaiting it, which only the garbage collector frees.
            async with asyncio.timeout(self.call_timeout):
                result = await loop.run_in_executor(self.executor, self._counted, work)
        except TimeoutError:
            self.stalled = True
            logger.error("a model call ran past %s s; its step fails", self.call_timeout)
            raise ModelCallTimeout(
                f"the model call took longer than {self.call_timeout:g} s"
            ) from None
        self.stalled = False
        return result

    async def _batched(self, item: BatchItem, key: BatchKey, since: float) -> StepResult:
        # Awaited where it is made, as in `_call`.
        return await self._queue(item, key, since)

    def _queue(self, item: BatchItem, key: BatchKey, since: float) -> asyncio.Future[StepResult]:
        """Puts a step in its model's queue; the future of its outcome."""
        lane = self._lanes.get(key.lane)
        if lane is None:
            lane = self._lanes[key.lane] = _Lane(max(1, key.parallel_calls))
        lane.members.add(item.engine)
        future: asyncio.Future[StepResult] = asyncio.get_running_loop().create_future()
        lane.waiting.append(_Ticket(item, key, since, future))
        lane.wake.set()
        if lane.task is None:
            lane.task = asyncio.create_task(self._drain(lane))
        return future

    async def _drain(self, lane: _Lane) -> None:
        """Starts the lane's batches, up to `parallel_calls` at once, until nothing waits or
        runs."""
        try:
            while True:
                lane.prune()
                if not lane.waiting and not lane.running:
                    return
                now = time.monotonic()
                deadline = None
                if lane.waiting and len(lane.running) < lane.parallel_calls:
                    plan = self.policy.plan(
                        lane.waiting, now, joinable=lane.joinable(), free_since=lane.free_since
                    )
                    if isinstance(plan, RunBatch):
                        batch = plan.steps
                        lane.waiting = [ticket for ticket in lane.waiting if ticket not in batch]
                        lane.running.add(asyncio.create_task(self._run_batch(lane, batch)))
                        continue
                    deadline = plan.deadline
                lane.wake.clear()
                with contextlib.suppress(TimeoutError):
                    timeout = None if deadline is None else deadline - now
                    await asyncio.wait_for(lane.wake.wait(), timeout)
        finally:
            for task in lane.running:
                task.cancel()
            lane.task = None

    async def _run_batch(self, lane: _Lane, batch: list[_Ticket]) -> None:
        """Runs one batch on a worker thread and hands each step its outcome."""
        try:
            outcomes = await self._outcomes(batch)
        finally:
            lane.free_since = time.monotonic()
            lane.running.discard(asyncio.current_task())
            lane.wake.set()
        for ticket, outcome in zip(batch, outcomes, strict=True):
            if ticket.future.done():
                continue
            if isinstance(outcome, Exception):
                ticket.future.set_exception(outcome)
            else:
                ticket.future.set_result(outcome)

    async def _outcomes(self, batch: list[_Ticket]) -> list[Outcome]:
        """Each step's outcome; a failure of the call itself (a timeout, or the executor
        refused: stopping) is every step's, `detached`."""
        try:
            return await self._call(partial(self._run, batch))
        except Exception as error:
            return [detached(error)] * len(batch)

    def _run(self, batch: list[_Ticket]) -> list[Outcome]:
        started = time.monotonic()
        for ticket in batch:
            self.observer.queue_wait(started - ticket.since)
        self.observer.batch(len(batch))
        return run_batch(batch[0].key, [ticket.item for ticket in batch])
