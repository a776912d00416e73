"""Every number a client or the operator gives has the range that docs/protocol.md's "Ranges of
numeric options" table states: the checks below are generated from that table, each through
the validation its surface really runs, and every numeric field of the project's own classes
and every numeric flag must have a row, so an option cannot be added without a range.

Fields that users' configuration subclasses add are theirs to bound; only the project's own
classes are enumerated here."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import io
import json
import math
import re
import types
import typing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from asr_interface import realtime_protocol
from asr_interface.cli.main import build_parser
from asr_interface.cli.options import config_from_arguments, flag_name
from asr_interface.cli.serve import server_settings
from asr_interface.core.config import ASRConfig
from asr_interface.errors import ConfigError
from asr_interface.protocol import ClientMessage, LoadModel, parse_client_message
from asr_interface.realtime_protocol import UnparsedEvent, parse_client_event
from asr_interface.server.models import ModelPool
from asr_interface.server.realtime_settings import FORMATS, RealtimeSettings, updated_settings
from asr_interface.server.settings import ServerSettings
from asr_interface.wire import ErrorCode, ProtocolError, WireLimits

PROTOCOL_DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
HEADING = "### Ranges of numeric options"
LIMITS = WireLimits.for_frames(1 << 20)
COMMAND_ARGUMENTS = {
    "transcribe": ["speech.wav"],
    "simulate": ["speech.wav"],
    "evaluate": ["speech.wav"],
    "stream": ["speech.wav"],
    "serve": [],
}
"""The commands with numeric flags and the positional arguments each needs to parse (nothing
is read)."""
SESSION_PARENTS: dict[str, dict[str, Any]] = {
    "audio.input.format": {"type": "audio/pcm"},
    "audio.input.turn_detection": {"type": "server_vad"},
}
"""What a `session.update` object must hold besides the field under test."""


@dataclass(frozen=True)
class Row:
    """One row of the table: where `option` is accepted and its inclusive range; no range
    (`-`) means no number is accepted."""

    option: str
    surfaces: tuple[str, ...]
    low: float | None
    high: float | None


def _bound(cell: str) -> float | None:
    return None if cell == "-" else float(cell)


def read_table() -> list[Row]:
    """The rows of the table under `HEADING`, up to the next heading."""
    section = PROTOCOL_DOC.read_text(encoding="utf-8").split(HEADING, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("#"):
            break
        if not line.startswith("|"):
            continue
        option, surfaces, low, high, *_ = (cell.strip() for cell in line.strip("|").split("|"))
        if option in ("option", "---"):
            continue
        spans = tuple(span.strip("`") for span in surfaces.split(", "))
        rows.append(Row(option.strip("`"), spans, _bound(low), _bound(high)))
    return rows


ROWS = read_table()


# Which fields and flags are numeric, found by introspection.


def numeric_kind(annotation: Any) -> type | None:
    """`int` or `float` if the annotation is one of them (optional or annotated), else None."""
    if annotation is bool:
        return None
    if annotation in (int, float):
        return typing.cast(type, annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        kinds = {numeric_kind(argument) for argument in typing.get_args(annotation)} - {None}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def model_numbers(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type]]:
    """The dotted path and kind of every numeric field of `model` and the models it holds."""
    for name, field in model.model_fields.items():
        kind = numeric_kind(field.annotation)
        if kind is not None:
            yield prefix + name, kind
        for argument in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(argument, type) and issubclass(argument, BaseModel):
                yield from model_numbers(argument, f"{prefix}{name}.")


def _message_type(model: type[BaseModel]) -> str:
    return str(model.model_fields["type"].default)


def client_message_models(union: Any) -> list[type[BaseModel]]:
    """The models of a (discriminated) union of client messages."""
    if typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    return list(typing.get_args(union))


def enumerated_numbers() -> dict[tuple[str, str], type]:
    """Every numeric option by (surface, option), from the classes and parsers themselves."""
    found: dict[tuple[str, str], type] = {}
    for name, kind in model_numbers(ASRConfig):
        found["ASRConfig", name] = kind
    for model in client_message_models(ClientMessage):
        for name, kind in model_numbers(model):
            found[_message_type(model), name] = kind
    for model in client_message_models(realtime_protocol.ClientEvent):
        for name, kind in model_numbers(model):
            surface = _message_type(model)
            found[surface, name.removeprefix("session.")] = kind
    hints = typing.get_type_hints(ServerSettings)
    for field in dataclasses.fields(ServerSettings):
        kind = numeric_kind(hints[field.name])
        if kind is not None:
            found["ServerSettings", field.name] = kind
    for command, parser in command_parsers().items():
        for action in parser._actions:
            kind = flag_kind(action)
            if kind is not None and action.option_strings:
                found[f"{command} {action.option_strings[0]}", action.dest] = kind
    return found


def flag_kind(action: argparse.Action) -> type | None:
    """The kind of number a flag takes: its converter's, or its configuration field's."""
    if action.type is None:
        field = ASRConfig.model_fields.get(action.dest)
        return None if field is None else numeric_kind(field.annotation)
    if action.type in (int, float):
        return typing.cast(type, action.type)
    with contextlib.suppress(TypeError, NameError):
        return numeric_kind(typing.get_type_hints(action.type).get("return"))
    return None


@functools.cache
def command_parsers() -> dict[str, argparse.ArgumentParser]:
    """Each command's own parser; a command with a numeric flag needs its positional
    arguments in `COMMAND_ARGUMENTS` to be checked."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


NUMBERS = enumerated_numbers()


def row_covers(row: Row, surface: str, option: str) -> bool:
    """Whether `row` states the range of `option` on `surface` (a flag as `command --flag`)."""
    if " --" in surface:
        return surface.split(" ", 1)[1] in row.surfaces
    named = row.option == option
    if surface == "ASRConfig":
        return named and ("ASRConfig" in row.surfaces or "load_model" in row.surfaces)
    return named and surface in row.surfaces


@pytest.mark.parametrize(
    ("surface", "option"), [pytest.param(*key, id=" ".join(key)) for key in sorted(NUMBERS)]
)
def test_every_numeric_option_has_a_row(surface: str, option: str) -> None:
    """A numeric field or flag added without a row in the table fails here."""
    assert any(row_covers(row, surface, option) for row in ROWS), (
        f"{surface} {option} has no range in docs/protocol.md ({HEADING})"
    )


def test_the_table_and_the_enumeration_agree_on_what_is_numeric() -> None:
    """Each row names numeric options that exist: a row left behind by a removed option, or
    a misspelt one, fails."""
    for row in ROWS:
        assert row.low is None or row.high is None or row.low <= row.high, row
        for surface in row.surfaces:
            if surface.startswith("--"):
                assert any(key[0].endswith(" " + surface) for key in NUMBERS), (row, surface)
            else:
                name = "ASRConfig" if surface == "load_model" else surface
                assert (name, row.option) in NUMBERS, (row, surface)


# Checking a value through each surface's own validation.


def _config_values(row: Row, value: object) -> dict[str, object]:
    """`value` for `row.option`, with the shortest step: `min_chunk_size + buffer_trimming_sec`
    must fit Whisper's window, which holds at every bound of either once the other is
    shortest."""
    return {"min_chunk_size": SHORTEST_STEP, row.option: value}


SHORTEST_STEP = next(row.low for row in ROWS if row.option == "min_chunk_size")


def _in_asr_config(row: Row, value: object) -> bool:
    try:
        ASRConfig.model_validate(_config_values(row, value))
    except ValidationError:
        return False
    return True


POOL = ModelPool(ServerSettings().config, executor=ThreadPoolExecutor(max_workers=1))


def _in_load_model(row: Row, value: object) -> bool:
    """A `load_model` text frame, parsed and validated as a session does."""
    text = json.dumps({"type": "load_model", **_config_values(row, value)})
    try:
        message = parse_client_message(text, LIMITS)
        assert isinstance(message, LoadModel)
        POOL.validate(message.config_fields())
    except ProtocolError as error:
        assert error.code == ErrorCode.INVALID_CONFIG, error.message
        assert row.option in error.message or "min_chunk_size" in error.message
        return False
    return True


def _in_start(row: Row, value: object) -> bool:
    try:
        parse_client_message(json.dumps({"type": "start", row.option: value}), LIMITS)
    except ProtocolError as error:
        assert error.code in (ErrorCode.INVALID_MESSAGE, ErrorCode.UNSUPPORTED_SAMPLE_RATE)
        assert row.option in error.message, error.message
        return False
    return True


def _session_object(path: str, value: object) -> dict[str, Any]:
    """The `session` of a `session.update` setting the dotted `path` to `value`."""
    *parents, name = path.split(".")
    inner: dict[str, Any] = {**SESSION_PARENTS.get(".".join(parents), {}), name: value}
    for index in range(len(parents) - 1, -1, -1):
        inner = {**SESSION_PARENTS.get(".".join(parents[:index]), {}), parents[index]: inner}
    return {"type": "transcription", **inner}


def _in_session_update(row: Row, value: object) -> bool:
    """A `session.update` event, parsed and applied as a Realtime session does."""
    event_text = json.dumps(
        {"type": "session.update", "session": _session_object(row.option, value)}
    )
    current = RealtimeSettings.of(ASRConfig(), FORMATS["audio/pcm"])
    try:
        event = parse_client_event(event_text, LIMITS)
        assert isinstance(event, realtime_protocol.SessionUpdate)
        updated_settings(current, event.session, None, "tiny.en")
    except UnparsedEvent as unparsed:
        assert unparsed.error.code == ErrorCode.INVALID_MESSAGE, unparsed.error.message
        return False
    except ProtocolError as error:
        assert error.code == ErrorCode.UNSUPPORTED_FEATURE, error.message
        assert row.option.rsplit(".", 1)[1] in error.message, error.message
        return False
    return True


def _in_server_settings(row: Row, value: object) -> bool:
    try:
        ServerSettings(**{row.option: value})  # type: ignore[arg-type]
    except ValueError as error:
        assert row.option in str(error)
        return False
    return True


def _on_command_line(row: Row, command: str, flag: str, value: object) -> bool:
    """`command` with `flag` set to `value`, parsed and checked as the command checks it
    before anything is loaded; a refusal names the flag. A recognition flag is given with
    the shortest step, as in `_config_values`."""
    given = [f"{flag}={value}"]
    if row.option in ASRConfig.model_fields:
        given.insert(0, f"--min-chunk-size={SHORTEST_STEP}")
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            arguments = command_parsers()[command].parse_args([*COMMAND_ARGUMENTS[command], *given])
        if command == "serve":
            server_settings(arguments)
        else:
            config_from_arguments(arguments)
    except SystemExit as stop:
        assert stop.code == 2
        assert flag in stderr.getvalue(), stderr.getvalue()
        return False
    except ConfigError as error:
        assert flag in str(error), str(error)
        return False
    return True


CHECKS = {
    "ASRConfig": _in_asr_config,
    "load_model": _in_load_model,
    "start": _in_start,
    "session.update": _in_session_update,
    "ServerSettings": _in_server_settings,
}


def cases() -> Iterator[Any]:
    """One case per row and place it is accepted in; a flag once per command that has it."""
    for row in ROWS:
        for surface in row.surfaces:
            if not surface.startswith("--"):
                yield pytest.param(row, surface, id=f"{row.option} {surface}")
                continue
            commands = [key[0] for key in NUMBERS if key[0].endswith(" " + surface)]
            for command in commands:
                yield pytest.param(row, command, id=f"{row.option} {command}")


def kind_of(row: Row, surface: str) -> type:
    """Whether `row`'s option takes integers or floats where `surface` reads it."""
    if " --" in surface:
        return next(kind for (place, _), kind in NUMBERS.items() if place == surface)
    name = "ASRConfig" if surface == "load_model" else surface
    return NUMBERS[name, row.option]


def accepted(row: Row, surface: str, value: object) -> bool:
    """Whether `surface` takes `value` for `row.option`; a new surface needs its check."""
    if surface in CHECKS:
        return CHECKS[surface](row, value)
    if " --" not in surface:
        pytest.fail(f"no check of the values {surface} takes: add one to CHECKS")
    command, flag = surface.split(" ", 1)
    return _on_command_line(row, command, flag, value)


def just_past(bound: float, kind: type, direction: float) -> float:
    """The next number past `bound` that `kind` can hold."""
    return bound + direction if kind is int else math.nextafter(bound, direction * math.inf)


@pytest.mark.parametrize(("row", "surface"), list(cases()))
def test_each_bound_is_accepted_and_the_number_past_it_refused(row: Row, surface: str) -> None:
    """Both ends of the range pass the surface's validation; the nearest number outside it,
    NaN and the infinities are refused with that surface's typed refusal."""
    kind = kind_of(row, surface)
    cast = int if kind is int else float
    if row.low is None or row.high is None:
        for value in (0, 1):
            assert not accepted(row, surface, value), f"{row.option}={value} was accepted"
        return
    for bound in (row.low, row.high):
        assert accepted(row, surface, cast(bound)), f"{row.option}={bound} was refused"
    outside = [just_past(row.low, kind, -1.0), just_past(row.high, kind, 1.0)]
    if kind is float:
        outside += [math.nan, math.inf, -math.inf]
    for value in outside:
        assert not accepted(row, surface, cast(value)), f"{row.option}={value} was accepted"


@pytest.mark.parametrize(
    "row", [pytest.param(row, id=row.option) for row in ROWS if "load_model" in row.surfaces]
)
def test_a_recognition_option_past_its_range_is_told_the_range(row: Row) -> None:
    """The `invalid_config` reply and the command line's error name the whole range, so a
    client told it crossed one bound does not cross the other next."""
    assert row.low is not None and row.high is not None
    stated = f"(range {row.low:g} to {row.high:g})"
    kind = kind_of(row, "load_model")
    past = kind(just_past(row.high, kind, 1.0))
    text = json.dumps({"type": "load_model", **_config_values(row, past)})
    message = parse_client_message(text, LIMITS)
    assert isinstance(message, LoadModel)
    with pytest.raises(ProtocolError, match=re.escape(stated)):
        POOL.validate(message.config_fields())
    given = ["speech.wav", f"--min-chunk-size={SHORTEST_STEP}", f"{flag_name(row.option)}={past}"]
    arguments = command_parsers()["transcribe"].parse_args(given)
    with pytest.raises(ConfigError, match=re.escape(stated)):
        config_from_arguments(arguments)
