"""The "replay" backend: a recorded model trace served at no model cost, for load tests.

Each session replays the trace from its first call, so a stream that sends the recorded
audio in the recorded schedule (1 s steps) gets the recorded transcript, while the server
does all its own work (sessions, PCM decoding, the Rust processor, messages) and the
model costs nothing. `model` names the trace file.

    python bench/replay_backend.py --backend replay --model bench/traces/ljspeech_long.json \\
        --port 0   # any `asr-interface serve` flag
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from asr_interface.backends.registry import register_loader
from asr_interface.backends.replay import ReplayASR, Trace
from asr_interface.cli.main import main
from asr_interface.core.config import ASRConfig
from asr_interface.core.processor import OnlineASRProcessor

BACKEND = "replay"


class ReplayProcessor(OnlineASRProcessor):
    """An `OnlineASRProcessor` whose copies each replay the trace on their own."""

    def __init__(self, trace: Trace, **options: Any) -> None:
        super().__init__(ReplayASR(trace, loop=True), **options)
        self.trace = trace
        self.options = options

    def fresh_copy(self) -> ReplayProcessor:
        return ReplayProcessor(self.trace, **self.options)

    def init(self, offset: float | None = None) -> None:
        """A new stream replays the trace from its first call."""
        super().init(offset)
        self.asr.position = 0


class ReplayLoader:
    """Loads the trace named by `config.model`."""

    def load(self, config: ASRConfig) -> tuple[ReplayProcessor, dict[str, Any]]:
        trace = Trace.load(Path(config.model))
        processor = ReplayProcessor(
            trace,
            buffer_trimming=(config.buffer_trimming, config.buffer_trimming_sec),
            min_chunk_sec=config.min_chunk_size,
        )
        described = {key: value for key, value in trace.meta.items() if key != "transcript"}
        return processor, {**described, "trace": config.model, "backend": BACKEND}


if __name__ == "__main__":
    register_loader(BACKEND, ReplayLoader())
    sys.exit(main(["serve", *sys.argv[1:]]))
