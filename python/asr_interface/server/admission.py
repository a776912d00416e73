"""Admission control: whether the sessions already open keep within the latency target.

A word is committed when two consecutive hypotheses agree on it, so its commit comes at
the earliest when the step that first transcribes it returns. Each step's *latency* is
therefore a lower bound on its words' commit latency: the session's lag when the step
became ready (audio received but not yet transcribed, counting only audio a live source
would have sent by then) plus the time until the step's result (queue wait and model
time). While the typical recent step of the open sessions is later than the target,
they already miss it, and another stream would only add to the model's work: new
sessions are refused. Steps of sessions that have closed no longer count, so one heavy
session that left does not keep others out.
"""

from __future__ import annotations

import statistics
from collections import deque

HORIZON_SECONDS = 10.0
"""How far back steps count: long enough to hold several steps of every stream (a step
takes at most a few seconds), short enough that a server recovers soon after a burst."""


class LoadMonitor:
    """Recent step latencies of the open sessions against `target` seconds (None: never
    overloaded).

    The median, not the maximum, decides: one slow window (a model's first call, a long
    window after a pause) should not lock new sessions out.
    """

    def __init__(self, target: float | None, horizon: float = HORIZON_SECONDS) -> None:
        self.target = target
        self.horizon = horizon
        self._steps: deque[tuple[float, float, object]] = deque()  # (finished, latency, by)

    def record(self, source: object, now: float, latency: float) -> None:
        """A step of `source` (a session's engine) finished at `now`, `latency` seconds
        after its oldest audio was due."""
        self._steps.append((now, latency, source))
        self._expire(now)

    def forget(self, source: object) -> None:
        """`source`'s session closed: its steps no longer count."""
        self._steps = deque(step for step in self._steps if step[2] is not source)

    def overloaded(self, now: float) -> bool:
        """Whether the open sessions' steps of the last `horizon` seconds typically
        missed the target."""
        self._expire(now)
        if self.target is None or not self._steps:
            return False
        return statistics.median(latency for _, latency, _ in self._steps) > self.target

    def _expire(self, now: float) -> None:
        while self._steps and self._steps[0][0] < now - self.horizon:
            self._steps.popleft()
