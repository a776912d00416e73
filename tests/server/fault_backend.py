"""A backend for fault injection: the real tiny.en model behind an ASR that hangs, crashes or
slows down on request, registered as "fault-test" by `registered()` in a test, or in a server
started with `python -m tests.server.fault_backend serve ...`."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from asr_interface.backends import registry
from asr_interface.backends.registry import register_loader
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.cli.main import main
from asr_interface.core.config import ASRConfig
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.core.protocols import TimedWord

BACKEND = "fault-test"


class Panic(BaseException):
    """What a Rust panic looks like from Python: not an `Exception`."""


class Faults:
    """What the next model calls do, shared by every stream of the process."""

    def __init__(self) -> None:
        self.hang_calls = 0
        self.panic_calls = 0
        self.call_seconds = 0.0
        self.calls = 0
        self.release = threading.Event()


FAULTS = Faults()


class FaultyASR:
    """Transcribes with the real model unless told to hang or to panic."""

    sep = ""

    def __init__(self) -> None:
        self.model = FasterWhisperASR("en", "tiny.en")
        self.original_language = "en"

    def transcribe(self, audio: npt.NDArray[np.float32], init_prompt: str = "") -> Any:
        FAULTS.calls += 1
        if FAULTS.hang_calls > 0:
            FAULTS.hang_calls -= 1
            FAULTS.release.wait(120)
        if FAULTS.panic_calls > 0:
            FAULTS.panic_calls -= 1
            raise Panic("the backend panicked")
        time.sleep(FAULTS.call_seconds)
        return self.model.transcribe(audio, init_prompt)

    def ts_words(self, result: Any) -> list[TimedWord]:
        return self.model.ts_words(result)

    def segments_end_ts(self, result: Any) -> list[float]:
        return self.model.segments_end_ts(result)


class FaultLoader:
    def load(self, config: ASRConfig) -> tuple[OnlineASRProcessor, dict[str, Any]]:
        return OnlineASRProcessor(FaultyASR()), {"backend": BACKEND}


@contextmanager
def registered() -> Iterator[None]:
    """The fault backend registered for the duration, and the registry as it was after."""
    saved = dict(registry._loaders)
    register_loader(BACKEND, FaultLoader(), replace=True)
    try:
        yield
    finally:
        registry._loaders.clear()
        registry._loaders.update(saved)


if __name__ == "__main__":
    # A server process whose model hangs on its first call.
    register_loader(BACKEND, FaultLoader())
    FAULTS.hang_calls = 1
    sys.exit(main(sys.argv[1:]))
