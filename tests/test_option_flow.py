"""Every recognition option travels one path: from its command-line flag, and from its
`load_model` key, to the configuration, and from there to what the decoder, the processor or
the pacing of an opened stream receives."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from asr_interface.backends.loaded import load_model
from asr_interface.cli.main import build_parser
from asr_interface.cli.options import config_from_arguments
from asr_interface.core.config import ASRConfig
from asr_interface.core.engine import StreamEngine
from asr_interface.core.pacing import Pacing
from asr_interface.core.vac import VoiceActivityEngine
from asr_interface.protocol import ErrorCode, ProtocolError
from asr_interface.server.models import ModelPool

pytestmark = pytest.mark.model


def decoding(name: str) -> Callable[[StreamEngine, ASRConfig], Any]:
    """Reads a decoding option where the model call reads it: the stream's decoder."""
    return lambda engine, _: getattr(engine.processor.decoder.options, name)  # type: ignore[attr-defined]


def asr(name: str) -> Callable[[StreamEngine, ASRConfig], Any]:
    return lambda engine, _: getattr(engine.processor.asr, name)  # type: ignore[attr-defined]


FLOWS: list[tuple[str, str, Any, Callable[[StreamEngine, ASRConfig], Any]]] = [
    # (field, flag value, what arrives, where it arrives)
    ("beam_size", "3", 3, decoding("beam_size")),
    ("encoder_seconds", "20", 20.0, decoding("encoder_seconds")),
    ("encoder_seconds", "none", None, decoding("encoder_seconds")),
    ("force_committed", "", True, decoding("force_committed")),
    ("max_tokens_per_second", "8.5", 8.5, decoding("max_tokens_per_second")),
    ("max_tokens_per_second", "none", None, decoding("max_tokens_per_second")),
    ("tail_seconds", "0.5", 0.5, decoding("tail_seconds")),
    ("task", "transcribe", "transcribe", decoding("task")),
    ("lan", "en", "en", asr("original_language")),
    ("vad", "", True, asr("vad")),
    ("cpu_threads", "1", 1, asr("cpu_threads")),
    ("num_workers", "1", 1, lambda engine, _: engine.processor.asr.model.model.num_workers),  # type: ignore[attr-defined]
    ("compute_type", "int8_float32", "int8_float32", asr("compute_type")),
    ("model", "tiny.en", "tiny.en", asr("model_name")),
    (
        "buffer_trimming",
        "sentence",
        ("sentence", 15.0),
        lambda engine, _: engine.processor.buffer_trimming,  # type: ignore[attr-defined]
    ),
    (
        "buffer_trimming_sec",
        "12",
        ("segment", 12.0),
        lambda engine, _: engine.processor.buffer_trimming,  # type: ignore[attr-defined]
    ),
    (
        "min_chunk_size",
        "0.5",
        0.5,
        lambda _, config: Pacing.from_config(config).min_step_seconds,
    ),
    ("vac", "", True, lambda engine, _: isinstance(engine, VoiceActivityEngine)),
    ("policy", "align-att", "align-att", lambda engine, _: engine.processor.policy),  # type: ignore[attr-defined]
]


def from_flag(field: str, value: str) -> ASRConfig:
    flag = "--" + field.replace("_", "-")
    given = [flag] if value == "" else [flag, value]
    return config_from_arguments(build_parser().parse_args(["simulate", "speech.wav", *given]))


OPERATOR_ONLY = {"compute_type", "cpu_threads", "num_workers"}
"""Fields only the server's command line sets: another value loads another copy of the weights."""

KEY_VALUES = {"buffer_trimming": "sentence", "buffer_trimming_sec": 12}
"""`load_model` values where the table's arriving value is not the key's own."""


def from_load_model(field: str, value: Any) -> ASRConfig:
    with ThreadPoolExecutor(1) as executor:
        return ModelPool(ASRConfig(), executor=executor).validate({field: value})


@pytest.mark.parametrize(("field", "flag_value", "arrives", "read"), FLOWS)
def test_option_reaches_the_stream_from_its_flag_and_its_key(
    field: str,
    flag_value: str,
    arrives: Any,
    read: Callable[[StreamEngine, ASRConfig], Any],
) -> None:
    """The flag and the `load_model` key give one configuration, and an opened stream
    receives the option unchanged; options that load another copy of the weights are the
    operator's, refused as a key."""
    flagged = from_flag(field, flag_value)
    key_value = KEY_VALUES.get(field, True if flag_value == "" else arrives)
    if field in OPERATOR_ONLY:
        with pytest.raises(ProtocolError) as refused:
            from_load_model(field, key_value)
        assert refused.value.code == ErrorCode.MODEL_NOT_ALLOWED
    else:
        assert from_load_model(field, key_value) == flagged
    engine = load_model(flagged).open_stream()
    assert read(engine, flagged) == arrives


def test_every_recognition_field_is_followed() -> None:
    """The table above covers every field a stream's recognition depends on."""
    followed = {field for field, *_ in FLOWS}
    paths = {"model_dir", "model_cache_dir", "backend", "device"}
    assert followed | paths == set(ASRConfig.model_fields)
