"""Backends written from the integration guide, served by a real server that imports them
with `--plugin`: selected with `POST /load_model` or a session's `load_model`, they
transcribe real speech; the route's refusals are typed JSON answers."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from asr_interface.backends.model_resolution import resolve_model_path
from asr_interface.client import StreamingClient
from asr_interface.protocol import Commit
from tests.server.asr_calls import collect, http_get, http_post, joined
from tests.server.conftest import SERVE, TOKEN, ServerProcess, running_server
from tests.speech import JFK, speech_audio, transcript
from tests.wording import close_to, heard

pytestmark = pytest.mark.model

PLUGINS = ("my_backend", "my_engine", "extended_config")
"""The guide's registration steps (tests/examples/guide), one module per `--plugin`."""
MODEL_PATH = str(resolve_model_path("tiny.en"))
"""The directory the guide's path 2 names its model by, which the operator allows."""

PATH_1 = {
    "model": "tiny",
    "lan": "en",
    "task": "transcribe",
    "backend": "my_custom_backend",
    "min_chunk_size": 1.0,
    "buffer_trimming": "segment",
    "buffer_trimming_sec": 10.0,
}
"""The guide's path 1, step 4 JSON (its model named "tiny")."""
PATH_2 = {
    "backend": "my_engine",
    "model": MODEL_PATH,
    "lan": "en",
    "min_chunk_size": 1.0,
    "buffer_trimming": "segment",
    "buffer_trimming_sec": 10.0,
}
"""The guide's path 2, step 4 JSON, its model path the bundled tiny.en's directory."""


def plugin_flags() -> list[str]:
    """`--plugin MODULE` for each of `PLUGINS`."""
    flags = []
    for module in PLUGINS:
        flags += ["--plugin", f"tests.examples.guide.{module}"]
    return flags


@pytest.fixture(scope="module")
def plugin_server() -> Iterator[ServerProcess]:
    """A server importing the guide's backends, allowing its two model names."""
    allowed = f"tiny.en,tiny,{MODEL_PATH}"
    with running_server(*plugin_flags(), "--allowed-models", allowed) as started:
        yield started


def post_load_model(
    server: ServerProcess, fields: object, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    status, body = http_post(server, "/load_model", json.dumps(fields).encode(), token=token)
    return status, json.loads(body)


async def stream_jfk(url: str) -> tuple[dict[str, object], list[Commit]]:
    """The `ready` configuration of a new session and the commits of JFK streamed on it."""
    async with StreamingClient(url) as client:
        assert client.ready is not None
        commits, _ = await collect(client, speech_audio(JFK))
        return client.ready.config, commits


def test_backends_lists_the_plugins(plugin_server: ServerProcess) -> None:
    """`GET /backends` lists the backends the plugins registered beside faster-whisper."""
    status, body = http_get(plugin_server, "/backends")
    assert status == 200
    backends = json.loads(body)["backends"]
    assert {"faster-whisper", "my_custom_backend", "my_engine", "my_engine_extended"} <= set(
        backends
    )


def test_path_1_by_post_is_the_new_sessions_default(plugin_server: ServerProcess) -> None:
    """The guide's path 1 JSON, posted, answers the configuration and the loader's
    metadata; a session opened afterwards streams with it and transcribes JFK, while a
    session opened before keeps the model it started with."""

    async def scenario() -> None:
        async with StreamingClient(plugin_server.url) as before:
            status, reply = post_load_model(plugin_server, PATH_1)
            assert status == 200, reply
            assert reply["type"] == "model_loaded"
            assert reply["config"]["backend"] == "my_custom_backend"
            assert reply["metadata"] == {
                "separator": " ",
                "model_type": "custom",
                "model_size": "tiny",
                "language": "en",
            }
            config, commits = await stream_jfk(plugin_server.url)
            assert config["backend"] == "my_custom_backend"
            assert close_to(transcript(JFK), joined(commits), wer=0.3)
            assert before.ready is not None
            assert before.ready.config["backend"] == "faster-whisper"
            kept, _ = await collect(before, speech_audio(JFK))
            assert heard("ask not what your country can do for you", joined(kept))

    asyncio.run(scenario())


def test_path_2_by_load_model_transcribes(plugin_server: ServerProcess) -> None:
    """The guide's path 2 engine, selected by a session's `load_model` with the guide's
    fields: its `None` from `process_iter` is "nothing final", its metadata reaches the
    client, its separator joins the segments, and they transcribe JFK (cut every 3 s, so
    words at the cuts may go)."""

    async def scenario() -> list[Commit]:
        async with StreamingClient(plugin_server.url) as client:
            loaded = await client.load_model(**PATH_2)
            assert loaded.metadata["model_type"] == "custom_engine"
            assert loaded.metadata["separator"] == "\n"
            commits, _ = await collect(client, speech_audio(JFK))
            return commits

    commits = asyncio.run(scenario())
    text = joined(commits)
    assert len(commits) >= 3  # one per 3 s segment
    assert text.count("\n") == len(commits) - 1  # the loader's separator joins them
    assert close_to(transcript(JFK), text, wer=0.5)
    assert heard("what your country can do", text) or heard("what you can do for your", text)


def test_extended_configuration_reaches_the_loader(plugin_server: ServerProcess) -> None:
    """A field of the guide's `ExtendedASRConfig` is validated against it and reaches the
    loader that names it; a wrong one is refused naming the field."""
    fields = {**PATH_2, "backend": "my_engine_extended", "custom_param": "x", "batch_size": 4}
    status, reply = post_load_model(plugin_server, fields)
    assert status == 200, reply
    assert reply["metadata"]["custom_param"] == "x"
    assert reply["metadata"]["batch_size"] == 4
    assert reply["config"]["custom_param"] == "x"
    status, reply = post_load_model(plugin_server, {**fields, "batch_size": "many"})
    assert (status, reply["code"]) == (400, "invalid_config")
    assert "batch_size" in reply["message"]
    status, reply = post_load_model(plugin_server, {**PATH_2, "custom_param": "x"})
    assert (status, reply["code"]) == (400, "invalid_config")
    assert "custom_param" in reply["message"]  # my_engine reads the plain ASRConfig


def test_default_configuration_names_a_plugin_backend() -> None:
    """`serve --backend` may name a plugin's backend: its loader gets the configuration
    class it reads, whose own fields a new session's `ready` shows."""
    flags = ["--plugin", "tests.examples.guide.extended_config", "--backend", "my_engine_extended"]
    with running_server(*flags, "--model", MODEL_PATH) as server:
        config, commits = asyncio.run(stream_jfk(server.url))
    assert (config["backend"], config["custom_param"]) == ("my_engine_extended", "")
    assert close_to(transcript(JFK), joined(commits).replace("\n", " "), wer=0.5)


@pytest.mark.parametrize(
    ("fields", "status", "code", "named"),
    [
        ({**PATH_1, "backend": "no-such-backend"}, 400, "unknown_backend", "backend"),
        ({**PATH_1, "min_chunk_size": -1}, 400, "invalid_config", "min_chunk_size"),
        ({**PATH_1, "lan": "xx"}, 400, "invalid_config", "lan"),
        ({**PATH_2, "model": "/tmp"}, 403, "model_not_allowed", "/tmp"),
        ({**PATH_1, "model_dir": "/tmp"}, 403, "model_not_allowed", "model_dir"),
        ([1, 2], 400, "invalid_json", "JSON object"),
    ],
    ids=["backend", "value", "language", "path", "operator-field", "not-an-object"],
)
def test_refusals_are_typed_and_name_the_field(
    plugin_server: ServerProcess, fields: object, status: int, code: str, named: str
) -> None:
    """A refused configuration gets a 4xx `error` naming the field, and changes nothing."""
    got, reply = post_load_model(plugin_server, fields)
    assert (got, reply["type"], reply["code"]) == (status, "error", code)
    assert named in reply["message"]


def test_body_limit_method_and_length(plugin_server: ServerProcess) -> None:
    """A body over --max-request-bytes (64 KiB by default) gets 413 `request_too_large`
    without being read; a GET gets 405; a chunked body 411; the server goes on."""
    body = json.dumps({**PATH_1, "padding": "x" * (64 << 10)}).encode()
    status, text = http_post(plugin_server, "/load_model", body)
    assert status == 413
    assert json.loads(text)["code"] == "request_too_large"
    assert http_get(plugin_server, "/load_model")[0] == 405
    status, _ = http_post(
        plugin_server, "/load_model", b"{}", headers={"Transfer-Encoding": "chunked"}
    )
    assert status == 411
    assert http_get(plugin_server, "/health")[0] == 200


def test_load_model_route_wants_the_token() -> None:
    """With --token, `POST /load_model` answers 401 `unauthorized` without it."""
    with running_server("--token", TOKEN) as server:
        status, reply = post_load_model(server, {"model": "tiny.en"})
        assert (status, reply["code"]) == (401, "unauthorized")
        status, reply = post_load_model(server, {"model": "tiny.en"}, token=TOKEN)
        assert status == 200, reply


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--plugin", "no_such_plugin_module"], "plugin 'no_such_plugin_module' failed to import"),
        (["--plugin", "tests.server.failing_plugin"], "ZeroDivisionError"),
    ],
    ids=["missing", "raising"],
)
def test_failing_plugin_stops_the_start(flags: list[str], says: str) -> None:
    """A plugin that cannot be imported stops `serve` before it listens: exit status 2 and
    the import error on stderr."""
    completed = subprocess.run(
        [*SERVE, "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert says in completed.stderr
    assert "listening" not in completed.stderr
