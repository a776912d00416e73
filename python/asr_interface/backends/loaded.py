"""A configuration loaded by its backend, which opens one stream engine per session.

Loaders keep the integration guide's contract, `load(config) -> (processor, metadata)`. The
processor a loader returns is a template: a processor that can open streams of its own
(`open_stream()`, as `OnlineASRProcessor` and `VACOnlineASRProcessor` do) hands each session
an engine over a fresh copy sharing its model; any other processor cannot be copied, so the
loader runs again for every session and is expected to share the heavy parts itself, and its
texts are joined by the metadata's `separator` (a space without one). Callers
(the server, `simulate`, the command line) never need to know which kind they hold.

Every processor served gets the server's bound on its window (`MAX_WINDOW_SECONDS`), here
and only here: the drop-in `OnlineASRProcessor` has no cap unless asked, as
whisper_streaming's has none, and a custom loader wrapping it need not know of the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asr_interface.backends.registry import get_loader
from asr_interface.core.config import MAX_WINDOW_SECONDS, ASRConfig
from asr_interface.core.engine import StreamEngine, engine_of


@dataclass(frozen=True)
class LoadedModel:
    """What `load_model` returns: the loader's processor and the model's metadata."""

    config: ASRConfig
    template: Any
    metadata: dict[str, Any] = field(default_factory=dict)

    def open_stream(self) -> StreamEngine:
        """An engine for one new stream; may run the loader again (blocking)."""
        copy = getattr(self.template, "fresh_copy", None)
        if callable(copy):
            return engine_of(copy())
        processor, _ = get_loader(self.config.backend).load(self.config)
        served(processor)
        separator = self.metadata.get("separator", " ")
        return engine_of(processor, separator if isinstance(separator, str) else " ")


def load_model(config: ASRConfig) -> LoadedModel:
    """Loads `config` with its registered backend (blocking: model weights may load).

    Raises what the loader raises: `UnknownBackendError`, `ModelLoadError`, `ConfigError`.
    """
    processor, metadata = get_loader(config.backend).load(config)
    return LoadedModel(config, served(processor), dict(metadata))


def served(processor: Any) -> Any:
    """`processor` with its window capped at `MAX_WINDOW_SECONDS`, where it has a window to
    cap (`cap_window`); a custom engine bounds its own buffers."""
    cap = getattr(processor, "cap_window", None)
    if callable(cap):
        cap(MAX_WINDOW_SECONDS)
    return processor
