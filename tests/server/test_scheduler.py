"""Which waiting steps form the next batch: the policy as plain code, no model, no clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from asr_interface.server.scheduler import BatchPolicy, RunBatch, WaitUntil


@dataclass(frozen=True)
class Step:
    """A waiting step named `<key><since>`, e.g. "a3": key "a", ready at time 3."""

    name: str

    @property
    def key(self) -> str:
        return self.name[0]

    @property
    def since(self) -> float:
        return float(self.name[1:])


def steps(names: str) -> list[Step]:
    return [Step(name) for name in names.split()]


def names(batch: list[Step]) -> str:
    return " ".join(step.name for step in batch)


@pytest.mark.parametrize(
    ("waiting", "max_batch", "batch"),
    [
        ("a1", 8, "a1"),
        ("a2 a1 a3", 8, "a1 a2 a3"),  # oldest first, whatever the queue order
        ("a1 b2 a3 b4", 8, "a1 a3"),  # only the oldest step's key
        ("b2 a1 b3", 8, "a1"),
        ("a1 a2 a3 a4 a5", 3, "a1 a2 a3"),  # at most max_batch, the oldest of them
        ("a5 a4 a3 a2 a1", 2, "a1 a2"),
        ("a1 a2 a3", 1, "a1"),
    ],
)
def test_batch_takes_the_oldest_step_and_its_key_up_to_max_batch(
    waiting: str, max_batch: int, batch: str
) -> None:
    """The batch is the oldest waiting step and the next oldest of its key, at most
    `max_batch` of them."""
    plan = BatchPolicy(max_batch, window=0.05).plan(steps(waiting), 10.0, joinable=0)
    assert isinstance(plan, RunBatch)
    assert names(plan.steps) == batch


@pytest.mark.parametrize(
    ("waiting", "max_batch", "now", "joinable", "free_since", "plan"),
    [
        ("a1", 4, 1.00, 3, 0.0, WaitUntil(1.05)),  # others could join: wait for them
        ("a1 a1.02", 4, 1.03, 2, 0.0, WaitUntil(1.05)),  # the oldest step sets the deadline
        ("a1", 4, 1.05, 3, 0.0, "a1"),  # the window is over
        ("a1 a1.02", 4, 1.2, 2, 0.0, "a1 a1.02"),
        ("a1", 4, 1.00, 0, 0.0, "a1"),  # no other stream could join: no reason to wait
        ("a1 a1.01", 2, 1.01, 5, 0.0, "a1 a1.01"),  # full: no reason to wait
        ("a1", 1, 1.00, 5, 0.0, "a1"),  # unbatched never waits
        ("a1 b1.01", 4, 1.02, 1, 0.0, WaitUntil(1.05)),  # another key does not fill it
        # The step waited for a batch that just returned: its streams may follow at once.
        ("a1", 4, 3.00, 2, 3.0, WaitUntil(3.05)),
        ("a1", 4, 3.05, 2, 3.0, "a1"),
        ("a1", 4, 3.00, 0, 3.0, "a1"),
    ],
)
def test_batch_waits_at_most_the_window_for_more_steps(
    waiting: str,
    max_batch: int,
    now: float,
    joinable: int,
    free_since: float,
    plan: WaitUntil | str,
) -> None:
    """A batch that is not full waits for steps that could still join, until `window`
    after its oldest step became ready or the model became free, and no longer."""
    policy = BatchPolicy(max_batch, window=0.05)
    decided = policy.plan(steps(waiting), now, joinable=joinable, free_since=free_since)
    if isinstance(plan, WaitUntil):
        assert isinstance(decided, WaitUntil)
        assert decided.deadline == pytest.approx(plan.deadline)
    else:
        assert isinstance(decided, RunBatch)
        assert names(decided.steps) == plan


def drain(waiting: list[Step], max_batch: int) -> list[str]:
    """The batches the policy runs, one after the other, until nothing waits."""
    policy = BatchPolicy(max_batch, window=0.05)
    batches = []
    while waiting:
        plan = policy.plan(waiting, 100.0, joinable=0)
        assert isinstance(plan, RunBatch)
        batches.append(names(plan.steps))
        waiting = [step for step in waiting if step not in plan.steps]
    return batches


@pytest.mark.parametrize(
    ("waiting", "max_batch", "batches"),
    [
        ("a1 a2 a3 a4 a5", 2, ["a1 a2", "a3 a4", "a5"]),
        ("a5 a3 a1 a4 a2", 2, ["a1 a2", "a3 a4", "a5"]),
        ("a1 b2 a3 a4 b5", 8, ["a1 a3 a4", "b2 b5"]),
        ("a1 b2 c3 a4 b5 c6", 8, ["a1 a4", "b2 b5", "c3 c6"]),
        ("a1 b2 a3 a4 a5", 2, ["a1 a3", "b2", "a4 a5"]),  # b2 heads the batch after a1's
    ],
)
def test_no_step_waits_behind_a_later_step_of_its_key(
    waiting: str, max_batch: int, batches: list[str]
) -> None:
    """Steps of one key run in the order they became ready, in full batches; a step of
    another key heads the next batch once it is the oldest waiting."""
    assert drain(steps(waiting), max_batch) == batches
