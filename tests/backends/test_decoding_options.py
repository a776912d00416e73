"""Decoding options are made from `ASRConfig` in one place and validated as it validates."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from asr_interface.backends.decoding_options import WHISPER_STREAMING, DecodingOptions
from asr_interface.core.config import ASRConfig


def test_options_carry_every_decoding_setting_of_the_config() -> None:
    """Each decoding setting of a configuration reaches the options, and equal
    configurations give equal, equally hashed options (one batch key)."""
    config = ASRConfig(
        beam_size=2,
        encoder_seconds=10.0,
        force_committed=True,
        max_tokens_per_second=12.0,
        tail_seconds=1.0,
    )
    options = DecodingOptions.from_config(config)
    assert options == DecodingOptions(
        task="transcribe",
        beam_size=2,
        encoder_seconds=10.0,
        force_committed=True,
        max_tokens_per_second=12.0,
        tail_seconds=1.0,
    )
    again = DecodingOptions.from_config(config.model_copy())
    assert again == options and hash(again) == hash(options)


@pytest.mark.parametrize(
    "options", [{"beam_size": 0}, {"encoder_seconds": 0.015}, {"tail_seconds": -1.0}]
)
def test_values_the_config_refuses_are_refused(options: dict[str, float]) -> None:
    """The option types are the configuration's, so what it refuses is refused here."""
    with pytest.raises(ValidationError):
        ASRConfig(**options)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        replace(WHISPER_STREAMING, **options)  # type: ignore[arg-type]
