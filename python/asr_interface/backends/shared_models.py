"""Loaded Whisper models, one per (directory, device, compute type, threads), shared by all streams.

Weights are large and read-only while decoding, so every stream of a process uses the same
`WhisperModel`; only the per-stream processors differ. A model nobody uses any more is
freed. A lock per key makes concurrent requests for one model load it once, while different
models still load in parallel.
"""

from __future__ import annotations

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


# Weak: weights stay loaded while an ASR object (a session's, a cached template's) uses them.
_models: weakref.WeakValueDictionary[WhisperModelKey, WhisperModel] = weakref.WeakValueDictionary()
_key_locks: dict[WhisperModelKey, threading.Lock] = {}
_table_lock = threading.Lock()


def shared_whisper_model(
    path: Path, *, device: str, compute_type: str, cpu_threads: int
) -> WhisperModel:
    """Returns the process-wide model for these settings, loading it on first use.

    Raises `ModelLoadError` when CTranslate2 cannot load the directory on this device.
    """
    key = WhisperModelKey(str(path.resolve()), device, compute_type, cpu_threads)
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
            key.path, device=key.device, compute_type=key.compute_type, cpu_threads=key.cpu_threads
        )
    except (RuntimeError, ValueError, OSError) as error:
        raise ModelLoadError(
            f"cannot load the Whisper model in {key.path} on {key.device} "
            f"with compute type {key.compute_type}: {error}"
        ) from error
