"""The model pool: configurations loaded once and kept within their limit, and the fields a
client may not choose."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from asr_interface.core.config import ASRConfig
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
