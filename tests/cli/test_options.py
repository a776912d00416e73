"""Recognition flags mirror `ASRConfig` field by field and report bad values in one line."""

from __future__ import annotations

import argparse

import pytest

from asr_interface.cli.options import (
    add_config_arguments,
    config_flags,
    config_from_arguments,
    flag_name,
)
from asr_interface.core.config import ASRConfig
from asr_interface.errors import ConfigError


def parse(*flags: str) -> ASRConfig:
    """The configuration a command line with `flags` produces."""
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    return config_from_arguments(parser.parse_args(flags))


def test_every_field_has_a_flag() -> None:
    """Each configuration field is settable, so the CLI never lags behind the configuration."""
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    flags = {option for action in parser._actions for option in action.option_strings}
    assert {flag_name(field) for field in ASRConfig.model_fields} <= flags


def test_no_flags_means_the_configuration_defaults() -> None:
    """Flags left out keep the defaults `ASRConfig` documents."""
    assert parse() == ASRConfig()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--min-chunk-size", "0.5"], {"min_chunk_size": 0.5}),
        (["--model", "base", "--lan", "de"], {"model": "base", "lan": "de"}),
        (["--language", "auto", "--model", "base"], {"lan": "auto", "model": "base"}),
        (["--buffer-trimming", "sentence"], {"buffer_trimming": "sentence"}),
        (["--buffer_trimming_sec", "20"], {"buffer_trimming_sec": 20.0}),
        (
            ["--model-dir", "/models/x", "--model_cache_dir", "/c"],
            {"model_dir": "/models/x", "model_cache_dir": "/c"},
        ),
        (["--vad", "--vac"], {"vad": True, "vac": True}),
        (["--no-vad"], {"vad": False}),
        (["--beam-size", "1", "--cpu-threads", "2"], {"beam_size": 1, "cpu_threads": 2}),
        (
            ["--encoder-seconds", "30", "--tail-seconds", "0", "--force-committed"],
            {"encoder_seconds": 30.0, "tail_seconds": 0.0, "force_committed": True},
        ),
        (
            ["--encoder-seconds", "none", "--max-tokens-per-second", "None"],
            {"encoder_seconds": None, "max_tokens_per_second": None},
        ),
        (
            ["--compute-type", "float32", "--device", "auto"],
            {"compute_type": "float32", "device": "auto"},
        ),
        (["--task", "translate", "--backend", "other"], {"task": "translate", "backend": "other"}),
    ],
)
def test_flags_set_fields(flags: list[str], expected: dict[str, object]) -> None:
    """Hyphenated, underscored (whisper_streaming) and alias spellings all reach their field."""
    assert parse(*flags) == ASRConfig(**expected)


@pytest.mark.parametrize(
    "config",
    [
        ASRConfig(),
        ASRConfig(beam_size=5, encoder_seconds=None, tail_seconds=0.0, max_tokens_per_second=None),
        ASRConfig(policy="local-agreement", vac=True, min_chunk_size=0.5, lan="de", model="base"),
        ASRConfig(policy="align-att", min_chunk_size=0.5, lan="de", model="base"),
        ASRConfig(model_dir="/models/x", buffer_trimming="sentence", cpu_threads=1),
    ],
)
def test_config_flags_read_back_as_the_configuration(config: ASRConfig) -> None:
    """A process started with `config_flags(config)` recognises with `config` itself."""
    assert parse(*config_flags(config)) == config


def test_config_flags_name_only_what_differs_from_the_defaults_and_the_policy() -> None:
    """A started server's command line shows what was changed, and the policy, which a server
    would otherwise choose for itself."""
    assert config_flags(ASRConfig()) == ["--policy=local-agreement"]
    assert config_flags(ASRConfig(policy="align-att", beam_size=2)) == [
        "--policy=align-att",
        "--beam-size=2",
    ]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--min-chunk-size", "abc"], r"invalid --min-chunk-size value: .*valid number"),
        (
            ["--min-chunk-size", "0"],
            r"invalid --min-chunk-size value: .*greater than or equal to 0\.1",
        ),
        (
            ["--buffer-trimming-sec", "nan"],
            r"invalid --buffer-trimming-sec value: .*finite number \(range 1 to 29\.9\)",
        ),
        (["--beam-size", "11"], r"invalid --beam-size value: .*equal to 10 \(range 1 to 10\)"),
        (["--beam-size", "0"], r"invalid --beam-size value: .*greater than or equal to 1"),
        (["--lan", "xx"], r"invalid --lan value: lan must be 'auto' or a Whisper language code"),
        (["--task", "sing"], r"invalid --task value: .*'transcribe' or 'translate'"),
        (
            ["--task", "sing", "--device", "tpu"],
            r"invalid --task value: .*; invalid --device value:",
        ),
    ],
)
def test_invalid_values_name_the_flag_in_one_line(flags: list[str], message: str) -> None:
    """A refused value raises ConfigError naming the flag, the reason and a number's range,
    on one line."""
    with pytest.raises(ConfigError, match=message) as raised:
        parse(*flags)
    assert "\n" not in str(raised.value)
