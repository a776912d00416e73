"""Loaded Whisper models, one per (directory, device, compute type, threads, workers), shared by
all streams.

Weights are large and read-only while decoding, so every stream of a process uses the same
`WhisperModel`; only the per-stream processors differ. A model nobody uses any more is
freed. A lock per key makes concurrent requests for one model load it once, while different
models still load in parallel.

On a CPU a model runs one call per core by default, each on one thread: a Whisper call
gains little from a second intra-op thread, while two calls at once on one copy of the
weights gave 1.68x the calls per second of one call on both cores, each as fast as a lone
call (bench/model_replicas.py).
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from asr_interface.errors import ModelLoadError

if TYPE_CHECKING:
    from faster_whisper import WhisperModel


class WhisperModelKey(NamedTuple):
    """What makes two loaded models interchangeable."""

    path: str
    device: str
    compute_type: str
    cpu_threads: int
    num_workers: int


def model_parallelism(device: str, cpu_threads: int, num_workers: int) -> tuple[int, int]:
    """The threads per call and the calls at once a model is loaded with, 0 meaning the
    default: on a CPU one worker per core, the cores shared equally among the workers; on a
    GPU one worker, and CTranslate2's own thread count."""
    if device != "cpu" and _has_gpu():
        return cpu_threads, num_workers or 1
    cores = os.cpu_count() or 1
    workers = num_workers or cores
    return cpu_threads or max(1, cores // workers), workers


def _has_gpu() -> bool:
    import ctranslate2

    return bool(ctranslate2.get_cuda_device_count())


# Weak: weights stay loaded while an ASR object (a session's, a cached template's) uses them.
_models: weakref.WeakValueDictionary[WhisperModelKey, WhisperModel] = weakref.WeakValueDictionary()
_key_locks: dict[WhisperModelKey, threading.Lock] = {}
_table_lock = threading.Lock()


def shared_whisper_model(
    path: Path, *, device: str, compute_type: str, cpu_threads: int = 0, num_workers: int = 0
) -> WhisperModel:
    """Returns the process-wide model for these settings, loading it on first use; 0 threads
    or workers take `model_parallelism`'s default.

    Raises `ModelLoadError` when CTranslate2 cannot load the directory on this device.
    """
    threads, workers = model_parallelism(device, cpu_threads, num_workers)
    key = WhisperModelKey(str(path.resolve()), device, compute_type, threads, workers)
    with _table_lock:
        model = _models.get(key)
        if model is not None:
            return model
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _table_lock:
            model = _models.get(key)
            if model is not None:
                return model
        model = _load(key)
        with _table_lock:
            _models[key] = model
    return model


def _load(key: WhisperModelKey) -> WhisperModel:
    # Imported here because faster-whisper pulls in CTranslate2 and PyAV.
    from faster_whisper import WhisperModel

    try:
        return WhisperModel(
            key.path,
            device=key.device,
            compute_type=key.compute_type,
            cpu_threads=key.cpu_threads,
            num_workers=key.num_workers,
        )
    except (RuntimeError, ValueError, OSError) as error:
        raise ModelLoadError(
            f"cannot load the Whisper model in {key.path} on {key.device} "
            f"with compute type {key.compute_type}: {error}"
        ) from error
