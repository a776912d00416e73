"""The model pool: configurations loaded once and kept within their limit, and the fields a
client may not choose."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from asr_interface.backends import registry
from asr_interface.core.config import ASRConfig
from asr_interface.core.processor import OnlineASRProcessor
from asr_interface.protocol import ErrorCode, ProtocolError
from asr_interface.server.models import ModelPool


def test_loaded_models_are_least_recently_used_and_operator_fields_are_refused() -> None:
    """At most --max-loaded-models configurations stay loaded besides the default; clients
    cannot pick the device, compute type or threads (another copy of the weights)."""

    async def run() -> None:
        with ThreadPoolExecutor(1) as executor:
            pool = ModelPool(ASRConfig(), executor=executor, max_loaded=1)
            await pool.engine(ASRConfig())
            for beam in (2, 3):
                await pool.engine(pool.validate({"beam_size": beam}))
            loaded = [entry["config"]["beam_size"] for entry in pool.loaded()]
            assert sorted(loaded) == [1, 3]
            for field, value in (
                ("compute_type", "float32"),
                ("cpu_threads", 1),
                ("device", "cuda"),
            ):
                with pytest.raises(ProtocolError) as refused:
                    pool.validate({field: value})
                assert refused.value.code == ErrorCode.MODEL_NOT_ALLOWED

    asyncio.run(run())


class TaggedConfig(ASRConfig):
    """A custom backend's configuration, with a field of its own."""

    tag: str = "none"


class TaggedLoader:
    """Records the configuration it is given: the one the pool validated."""

    def __init__(self) -> None:
        self.configs: list[TaggedConfig] = []

    def load(self, config: TaggedConfig) -> tuple[OnlineASRProcessor, dict[str, Any]]:
        self.configs.append(config)
        return object(), {"tag": config.tag}  # type: ignore[return-value]


def test_fields_are_validated_against_the_backends_class_and_reach_its_loader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backend's own field is validated by the class its loader names and reaches the
    loader; the server's options it lacks are left out; `load_default` makes it the
    default of new sessions."""
    monkeypatch.setattr(registry, "_loaders", dict(registry._loaders))
    loader = TaggedLoader()
    registry.register_loader("tagged", loader)  # type: ignore[arg-type]

    async def run() -> None:
        with ThreadPoolExecutor(1) as executor:
            pool = ModelPool(ASRConfig(beam_size=2), executor=executor)
            with pytest.raises(ProtocolError, match="tag") as refused:
                pool.validate({"tag": "x"})  # faster-whisper's configuration has no tag
            assert refused.value.code == ErrorCode.INVALID_CONFIG
            with pytest.raises(ProtocolError, match="backend: unknown backend 'nope'"):
                pool.validate({"backend": "nope"})
            model = await pool.load_default({"backend": "tagged", "tag": "x"})
            assert model.metadata == {"tag": "x"}
            assert loader.configs == [TaggedConfig(backend="tagged", tag="x", beam_size=2)]
            assert pool.default == loader.configs[0]

    asyncio.run(run())
