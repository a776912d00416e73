"""ASRConfig accepts what the backends can run and rejects the rest, naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from asr_interface.core.config import WHISPER_LANGUAGE_CODES, ASRConfig


class ExtendedASRConfig(ASRConfig):
    """A backend's own configuration, as the integration guide shows it."""

    custom_param: str = "default"


DEFAULTS = {
    "model": "tiny.en",
    "lan": "en",
    "task": "transcribe",
    "backend": "faster-whisper",
    "min_chunk_size": 1.0,
    "policy": "local-agreement",
    "buffer_trimming": "segment",
    "buffer_trimming_sec": 15.0,
    "model_dir": None,
    "model_cache_dir": None,
    "vac": False,
    "vad": False,
    "device": "cpu",
    "compute_type": "int8",
    "beam_size": 1,
    "encoder_seconds": 10.0,
    "force_committed": False,
    "max_tokens_per_second": 12.0,
    "tail_seconds": 2.0,
    "cpu_threads": 0,
    "num_workers": 0,
}

VALID = [
    ("model", "base"),
    ("model", "/models/whisper-small-ct2"),
    ("lan", "auto"),
    ("lan", "de"),
    ("lan", "yue"),
    ("lan", "haw"),
    ("task", "translate"),
    ("backend", "my-custom-engine"),
    ("min_chunk_size", 0.25),
    ("buffer_trimming", "sentence"),
    ("policy", "align-att"),
    ("buffer_trimming_sec", 29.0),
    ("model_dir", "/models/tiny"),
    ("model_cache_dir", "/var/cache/models"),
    ("vac", True),
    ("vad", True),
    ("device", "cuda"),
    ("device", "auto"),
    ("compute_type", "float16"),
    ("compute_type", "int8_float32"),
    ("compute_type", "default"),
    ("beam_size", 5),
    ("encoder_seconds", None),
    ("encoder_seconds", 30.0),
    ("encoder_seconds", 0.5),
    ("encoder_seconds", 0.02),
    ("force_committed", True),
    ("max_tokens_per_second", None),
    ("max_tokens_per_second", 20.0),
    ("tail_seconds", 0.0),
    ("tail_seconds", 1.5),
    ("cpu_threads", 4),
    ("beam_size", 10),
    ("min_chunk_size", 10.0),
]

INVALID = [
    ("model", "", ["at least 1 character"]),
    ("lan", "english", ["lan must be 'auto' or a Whisper language code", "'english'", "en, es"]),
    ("lan", "EN", ["lan must be 'auto'"]),
    ("task", "summarise", ["'transcribe' or 'translate'"]),
    ("backend", "", ["at least 1 character"]),
    ("min_chunk_size", 0, ["greater than or equal to 0.1"]),
    ("min_chunk_size", 1e-9, ["greater than or equal to 0.1"]),
    ("min_chunk_size", -1.0, ["greater than or equal to 0.1"]),
    ("min_chunk_size", float("nan"), ["finite number"]),
    ("buffer_trimming", "word", ["'segment' or 'sentence'"]),
    ("policy", "wait-k", ["'local-agreement' or 'align-att'"]),
    ("buffer_trimming_sec", 0.5, ["greater than or equal to 1"]),
    ("buffer_trimming_sec", float("inf"), ["finite number"]),
    ("model_dir", "", ["at least 1 character"]),
    ("model_cache_dir", "", ["at least 1 character"]),
    ("vac", "sometimes", ["valid boolean"]),
    ("vad", "sometimes", ["valid boolean"]),
    ("device", "tpu", ["'cpu', 'cuda' or 'auto'"]),
    ("compute_type", "int4", ["'int8'", "'float16'", "'float32'"]),
    ("beam_size", 0, ["greater than or equal to 1"]),
    ("beam_size", 2.5, ["valid integer"]),
    ("encoder_seconds", 0, ["greater than or equal to 0.02"]),
    ("encoder_seconds", 31, ["less than or equal to 30"]),
    ("encoder_seconds", float("nan"), ["finite number"]),
    ("encoder_seconds", 0.03, ["multiple of 0.02 s"]),
    ("beam_size", 11, ["less than or equal to 10"]),
    ("min_chunk_size", 11.0, ["less than or equal to 10"]),
    ("buffer_trimming_sec", 31.0, ["less than or equal to 29.9"]),
    ("cpu_threads", 65, ["less than or equal to 64"]),
    ("force_committed", "sometimes", ["valid boolean"]),
    ("max_tokens_per_second", 0.4, ["greater than or equal to 0.5"]),
    ("tail_seconds", -1, ["greater than or equal to 0"]),
    ("tail_seconds", 31, ["less than or equal to 30"]),
    ("cpu_threads", -1, ["greater than or equal to 0"]),
]


def test_defaults() -> None:
    """An empty configuration is tiny.en in English on the CPU with whisper_streaming's policy
    and the cheaper decoding measured in docs/batching.md."""
    assert ASRConfig().model_dump() == DEFAULTS


def test_translation_keeps_careful_decoding_unless_told() -> None:
    """Translating defaults to beam 5 and Whisper's 30 s encoder input; explicit values win."""
    translating = ASRConfig(task="translate")
    assert (translating.beam_size, translating.encoder_seconds) == (5, None)
    told = ASRConfig(task="translate", beam_size=1, encoder_seconds=10)
    assert (told.beam_size, told.encoder_seconds) == (1, 10)
    assert (ASRConfig().beam_size, ASRConfig().encoder_seconds) == (1, 10)


@pytest.mark.parametrize(("field", "value"), VALID)
def test_valid_value_is_kept(field: str, value: Any) -> None:
    """Each accepted value is stored unchanged."""
    assert getattr(ASRConfig(**{field: value}), field) == value


@pytest.mark.parametrize(("field", "value", "fragments"), INVALID)
def test_invalid_value_names_field_and_allowed_values(
    field: str, value: Any, fragments: list[str]
) -> None:
    """A rejected value's message names the field and says what it accepts."""
    with pytest.raises(ValidationError) as caught:
        ASRConfig(**{field: value})
    [error] = caught.value.errors()
    assert error["loc"] == (field,)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message


def test_every_whisper_language_is_accepted() -> None:
    """All of Whisper's language codes pass (the list is held to the tokenizer's by
    tests/backends/test_faster_whisper_internals.py)."""
    codes = WHISPER_LANGUAGE_CODES
    assert len(codes) >= 99
    assert [ASRConfig(lan=code).lan for code in codes] == list(codes)


def test_unknown_key_is_rejected_with_the_accepted_keys() -> None:
    """A misspelt key is named, and the message lists every key the configuration accepts."""
    with pytest.raises(ValidationError) as caught:
        ASRConfig(modle="base", beam=3)
    message = str(caught.value)
    assert "unknown option(s) 'beam', 'modle'" in message
    assert all(name in message for name in DEFAULTS)


def test_subclass_adds_fields() -> None:
    """A subclass keeps every base field and validation and adds its own fields."""
    config = ExtendedASRConfig(custom_param="fast", model="base")
    assert (config.custom_param, config.model) == ("fast", "base")
    assert ExtendedASRConfig().custom_param == "default"
    with pytest.raises(ValidationError, match=r"greater than or equal to 0\.1"):
        ExtendedASRConfig(min_chunk_size=0)


def test_subclass_rejects_unknown_keys_and_lists_its_own() -> None:
    """The unknown-key message of a subclass names its class and includes its extra fields."""
    with pytest.raises(ValidationError) as caught:
        ExtendedASRConfig(custom_parm="x")
    assert "ExtendedASRConfig accepts:" in str(caught.value)
    assert "custom_param" in str(caught.value)


def test_config_is_frozen() -> None:
    """A loaded configuration cannot change under a running stream; copies are made instead."""
    config = ASRConfig()
    with pytest.raises(ValidationError, match="frozen"):
        config.model = "base"  # type: ignore[misc]
    assert config.model_copy(update={"model": "base"}).model == "base"


def test_equal_configs_are_equal_and_hash_equally() -> None:
    """Configurations built separately with the same values collapse to one in a set."""
    configs = {
        ASRConfig(model="base", lan="auto"),
        ASRConfig(lan="auto", model="base"),
        ASRConfig(),
    }
    assert len(configs) == 2
    assert ASRConfig(beam_size=1) != ASRConfig(beam_size=2)


def test_a_step_must_fit_beside_what_trimming_keeps() -> None:
    """A step longer than the window leaves after trimming is refused: the window would cut
    audio the model never heard."""
    with pytest.raises(ValidationError, match="min_chunk_size \\+ buffer_trimming_sec"):
        ASRConfig(min_chunk_size=5.0, buffer_trimming_sec=26.0)
    assert ASRConfig(min_chunk_size=5.0, buffer_trimming_sec=25.0).buffer_trimming_sec == 25.0


LOCAL_AGREEMENT_ONLY = [
    ({"vac": True}, "vac"),
    ({"vad": True}, "vad"),
    ({"lan": "auto"}, "lan 'auto'"),
    ({"buffer_trimming": "sentence"}, "buffer_trimming 'sentence'"),
    ({"force_committed": True}, "force_committed"),
    ({"tail_seconds": 0.5}, "tail_seconds"),
]


@pytest.mark.parametrize(("fields", "named"), LOCAL_AGREEMENT_ONLY)
def test_align_att_refuses_what_only_local_agreement_serves(
    fields: dict[str, Any], named: str
) -> None:
    """An option AlignAtt does not serve is refused by name, never ignored, and the message
    names the policy that serves it."""
    with pytest.raises(
        ValidationError, match=f"does not serve {named}; use policy 'local-agreement'"
    ):
        ASRConfig(policy="align-att", **fields)
    assert ASRConfig(policy="local-agreement", **fields).needs_local_agreement()
    assert not ASRConfig(policy="align-att").needs_local_agreement()


@pytest.mark.parametrize(("fields", "named"), LOCAL_AGREEMENT_ONLY)
def test_one_rule_chooses_the_policy(fields: dict[str, Any], named: str) -> None:
    """Without a named policy the preferred one is taken unless the options need
    LocalAgreement; a named policy is always the one taken."""
    assert ASRConfig.for_policy({}, "align-att").policy == "align-att"
    assert ASRConfig.for_policy({}, "local-agreement").policy == "local-agreement"
    assert ASRConfig.for_policy(fields, "align-att").policy == "local-agreement"
    assert ASRConfig.for_policy({"policy": "local-agreement"}, "align-att").policy == (
        "local-agreement"
    )
    with pytest.raises(ValidationError, match=named):
        ASRConfig.for_policy({**fields, "policy": "align-att"}, "local-agreement")
