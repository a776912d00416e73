"""Instrumentation for tests and benchmarks: the real ASR object, with a record of its calls."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

SAMPLING_RATE = 16000


@dataclass(frozen=True)
class ModelCall:
    """One `transcribe` call: the window's length, its prompt, the options and the cost."""

    window_seconds: float
    prompt: str
    options: dict[str, Any]
    cpu_seconds: float


@dataclass
class RecordingASR:
    """Passes everything to `asr` and records each `transcribe` call; changes no result."""

    asr: Any
    calls: list[ModelCall] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.asr, name)

    def transcribe(
        self, audio: npt.NDArray[np.float32], init_prompt: str = "", **options: Any
    ) -> Any:
        began = time.process_time()
        result = self.asr.transcribe(audio, init_prompt=init_prompt, **options)
        cpu_seconds = time.process_time() - began
        self.calls.append(ModelCall(len(audio) / SAMPLING_RATE, init_prompt, options, cpu_seconds))
        return result

    @property
    def cpu_seconds(self) -> float:
        """CPU time of every call together, across all the model's threads."""
        return sum(call.cpu_seconds for call in self.calls)
