"""Command-line flags generated from `ASRConfig`, so every subcommand takes the same options.

Each field `some_name` becomes `--some-name`; `none` sets an option that takes None to None.
`config_from_arguments` is the one place every subcommand turns flags into a configuration, and
`config_flags` the way back, for a process started with a configuration. Values
reach the configuration as strings and pydantic validates them, so a flag accepts exactly
what the configuration accepts and reports the same reasons.
"""

from __future__ import annotations

import argparse
from typing import Any, Literal, get_args, get_origin

from pydantic import ValidationError

from asr_interface.core.config import ASRConfig, problem_message
from asr_interface.errors import ConfigError

_ALIASES = {
    "lan": ["--language"],
    "buffer_trimming": ["--buffer_trimming"],
    "buffer_trimming_sec": ["--buffer_trimming_sec"],
    "model_dir": ["--model_dir"],
    "model_cache_dir": ["--model_cache_dir"],
}
"""whisper_streaming's own spellings of the flags it has, so its command lines work here."""


def flag_name(field: str) -> str:
    """The primary command-line flag of a configuration field."""
    return "--" + field.replace("_", "-")


def _choices(annotation: Any) -> tuple[Any, ...]:
    """The allowed values of a `Literal` annotation, else ()."""
    return get_args(annotation) if get_origin(annotation) is Literal else ()


def add_plugin_argument(parser: argparse.ArgumentParser) -> None:
    """`--plugin`: modules to import before the command runs, for the backends they
    register; `main` loads them (and installed entry points) for every command that has it."""
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this module first, so that the backends it registers (register_loader) "
        "can be named; repeatable. Installed packages' entry points of group "
        "asr_interface.backends are loaded too",
    )


def add_config_arguments(
    parser: argparse.ArgumentParser, config_class: type[ASRConfig] = ASRConfig
) -> None:
    """Adds one flag per field of `config_class`; unset flags keep the configuration defaults."""
    group = parser.add_argument_group("recognition options")
    for name, field in config_class.model_fields.items():
        flags = [flag_name(name), *_ALIASES.get(name, [])]
        help_text = f"{field.description} (default: {field.default})"
        if field.annotation is bool:
            action = argparse.BooleanOptionalAction
            group.add_argument(*flags, dest=name, default=None, action=action, help=help_text)
            continue
        choices = _choices(field.annotation)
        metavar = "{" + ",".join(map(str, choices)) + "}" if choices else name.upper()
        group.add_argument(*flags, dest=name, default=None, metavar=metavar, help=help_text)


def config_from_arguments(
    arguments: argparse.Namespace, config_class: type[ASRConfig] = ASRConfig
) -> ASRConfig:
    """Builds the configuration from the flags given; ConfigError names the flag at fault."""
    values = {
        name: _value(getattr(arguments, name), field.annotation)
        for name, field in config_class.model_fields.items()
        if getattr(arguments, name, None) is not None
    }
    try:
        return config_class(**values)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, config_class)) from None


def config_flags(config: ASRConfig) -> list[str]:
    """The flags that turn the defaults into `config`: what `config_from_arguments` reads back
    as `config`, for a command line that starts another process with it. The policy is always
    named: a server chooses its own when none is (`cli.serve.serving_config`)."""
    defaults = type(config)()
    flags = []
    for name in type(config).model_fields:
        value = getattr(config, name)
        if value == getattr(defaults, name) and name != "policy":
            continue
        if isinstance(value, bool):
            flags.append(flag_name(name) if value else "--no-" + flag_name(name)[2:])
        else:
            flags.append(f"{flag_name(name)}={'none' if value is None else value}")
    return flags


def _value(given: Any, annotation: Any) -> Any:
    """The flag's value, with `none` meaning None for the options that take None."""
    if isinstance(given, str) and given.lower() == "none" and type(None) in get_args(annotation):
        return None
    return given


def describe_validation_error(error: ValidationError, config_class: type[ASRConfig]) -> str:
    """One line naming each offending flag, why its value was refused and its range."""
    problems = []
    for detail in error.errors():
        reason = problem_message(config_class, detail)
        location = detail["loc"]
        if location:
            problems.append(f"invalid {flag_name(str(location[0]))} value: {reason}")
        else:
            problems.append(reason)
    return "; ".join(problems)
