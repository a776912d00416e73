"""Loaded Whisper models are shared: one per directory, device, compute type and parallelism,
loaded once however many streams ask for it at the same moment."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import faster_whisper
import pytest

from asr_interface.backends.shared_models import model_parallelism
from asr_interface.backends.whisper_loader import FasterWhisperLoader, OnlineASRProcessor
from asr_interface.core.config import ASRConfig
from tests.backends.loading import TINY_EN_DIR, load


def linked_copy(source: Path, target: Path) -> Path:
    """A new model directory whose files link to `source`'s, so it is a fresh cache key."""
    target.mkdir()
    for item in source.iterdir():
        (target / item.name).symlink_to(item)
    return target


@pytest.mark.model
def test_same_config_shares_one_model() -> None:
    """Two loads of one configuration give two processors over the same WhisperModel."""
    first, _ = load()
    second, _ = load()
    assert first is not second
    assert first.asr is not second.asr
    assert first.asr.model is second.asr.model


@pytest.mark.model
def test_model_dir_and_name_share_one_model() -> None:
    """Naming tiny.en or pointing model_dir at its directory reaches the same loaded model."""
    by_name, _ = load()
    by_dir, metadata = load(model="not-consulted", model_dir=str(TINY_EN_DIR))
    assert by_dir.asr.model is by_name.asr.model
    assert metadata["model"] == str(TINY_EN_DIR)


@pytest.mark.model
def test_other_compute_type_is_another_model() -> None:
    """A different compute type on the same weights is a separate loaded model."""
    int8, _ = load()
    float32, metadata = load(compute_type="float32")
    assert float32.asr.model is not int8.asr.model
    assert metadata["compute_type"] == "float32"


@pytest.mark.model
def test_concurrent_loads_load_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two streams asking for a not yet loaded model at the same moment construct it once."""
    constructed = []

    class CountingWhisperModel(faster_whisper.WhisperModel):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            constructed.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(faster_whisper, "WhisperModel", CountingWhisperModel)
    config = ASRConfig(model_dir=str(linked_copy(TINY_EN_DIR, tmp_path / "tiny")))
    barrier = threading.Barrier(2)
    processors: list[OnlineASRProcessor] = []

    def load_after_barrier() -> None:
        barrier.wait()
        processors.append(FasterWhisperLoader().load(config)[0])

    threads = [threading.Thread(target=load_after_barrier) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert constructed == [str(tmp_path / "tiny")]
    assert len(processors) == 2
    assert processors[0].asr.model is processors[1].asr.model


def test_a_cpu_model_runs_one_call_per_core_on_one_thread_each() -> None:
    """The default: every core runs a call; given workers share the cores; given threads
    stay."""
    cores = model_parallelism("cpu", 0, 1)[0]
    assert model_parallelism("cpu", 0, 0) == (1, cores)
    assert model_parallelism("cpu", 0, 1) == (cores, 1)
    assert model_parallelism("cpu", 3, 2) == (3, 2)
