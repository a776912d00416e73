"""One batched model call, as it runs on a worker thread: each engine's `begin`, one
`decode` of every window, each engine's `complete`. A failure fails only the steps it
touches, and what is kept of it holds no frame (`detached`), so a failed step frees its
session's engine and audio at once.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from asr_interface.core.decoding import WindowRequest, WindowResult
from asr_interface.core.engine import BatchableEngine, BatchKey, StepResult

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class BatchItem:
    """One session's step in a batch."""

    engine: BatchableEngine
    audio: npt.NDArray[np.float32]
    final: bool


Outcome = StepResult | Exception
"""What one step of a batch came to: its result, or the error that failed that step only."""


class BackendCrash(RuntimeError):
    """A backend raised something that is not an `Exception` (a Rust panic arrives as
    `BaseException`); it fails that step only, like any backend error."""


class ModelCallTimeout(TimeoutError):
    """A model call ran past `--model-call-timeout`; its step fails, the call is abandoned."""


def contained(call: Callable[[], T]) -> T:
    """Runs `call`, turning a non-`Exception` failure of a backend into `BackendCrash`, so that
    it fails one step and never the scheduler or the server."""
    try:
        return call()
    except Exception:
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:
        raise BackendCrash(f"{type(error).__name__}: {error}") from error


def outcome_of(call: Callable[[], T]) -> T | Exception:
    """What `call` returned, or the `Exception` it raised (after `contained`), `detached`."""
    try:
        return contained(call)
    except Exception as error:
        return detached(error)


def detached(error: Exception) -> Exception:
    """`error` without the tracebacks of it and of the errors it chains. Kept among a
    batch's outcomes, an error would otherwise hold, through a traceback's frames and
    their callers, the very frame that keeps it, and with it the batch's engines and
    audio: a cycle that only the garbage collector frees. Where it failed stays readable:
    each traceback is kept as text, a note the log prints with the error."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        chained = pending.pop()
        if chained is None or id(chained) in seen:
            continue
        seen.add(id(chained))
        if chained.__traceback__ is not None:
            where = "".join(traceback.format_tb(chained.__traceback__)).rstrip()
            chained.add_note(f"on the model's worker thread:\n{where}")
        chained.__traceback__ = None
        pending += [chained.__cause__, chained.__context__]
    return error


def run_batch(key: BatchKey, items: Sequence[BatchItem]) -> list[Outcome]:
    """Runs the steps of one batch with one model call; call it on a worker thread.

    Each engine adds its audio and hands over its window (a step with no new audio has
    none), the decoder transcribes all windows in one call, and each engine commits its
    result. The call's time is shared equally among its windows. An error in one engine's
    `begin` or `complete`, or in the model on one window, fails that step only.
    """
    outcomes: dict[int, Outcome] = {}
    requests: dict[int, WindowRequest] = {}
    for index, item in enumerate(items):
        request = outcome_of(partial(item.engine.begin, item.audio, final=item.final))
        if isinstance(request, Exception):
            outcomes[index] = request
        elif request is not None:
            requests[index] = request
    decoded, failed = _decode(key, requests)
    outcomes.update(failed)
    for index, item in enumerate(items):
        if index in outcomes:
            continue
        result, seconds = decoded.get(index, (None, 0.0))
        outcomes[index] = outcome_of(
            partial(item.engine.complete, result, seconds, final=item.final)
        )
    return [outcomes[index] for index in range(len(items))]


def _decode(
    key: BatchKey, requests: dict[int, WindowRequest]
) -> tuple[dict[int, tuple[WindowResult, float]], dict[int, Exception]]:
    """Each window's result with its share of the call's time, and the error of each window
    the model failed on. When the batched call raises, the windows are decoded again one by
    one, so that only those the model really fails on fail."""
    if not requests:
        return {}, {}
    together = outcome_of(partial(_timed_decode, key, requests))
    if not isinstance(together, Exception):
        return together, {}
    if len(requests) == 1:
        return {}, {index: together for index in requests}
    logger.warning("a batch of %d windows failed; decoding them one by one", len(requests))
    decoded: dict[int, tuple[WindowResult, float]] = {}
    failed: dict[int, Exception] = {}
    for index, request in requests.items():
        outcome = outcome_of(partial(_timed_decode, key, {index: request}))
        if isinstance(outcome, Exception):
            failed[index] = outcome
        else:
            decoded |= outcome
    return decoded, failed


def _timed_decode(
    key: BatchKey, requests: dict[int, WindowRequest]
) -> dict[int, tuple[WindowResult, float]]:
    began = time.perf_counter()
    results = contained(partial(key.decoder.decode, list(requests.values())))
    share = (time.perf_counter() - began) / len(requests)
    return {index: (result, share) for index, result in zip(requests, results, strict=True)}
