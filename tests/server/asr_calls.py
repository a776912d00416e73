"""Talking to a real server over `/asr` and its HTTP routes, for the tests that share it."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import ClientConnection

from asr_interface.client import StreamingClient
from asr_interface.protocol import Commit, Done, Error, ServerMessage, parse_server_message
from tests.server.conftest import ServerProcess
from tests.speech import speech_audio

REPLY_TIMEOUT = 120.0


async def receive(connection: ClientConnection) -> ServerMessage:
    """The next message of the server, within the reply timeout."""
    frame = await asyncio.wait_for(connection.recv(), REPLY_TIMEOUT)
    assert isinstance(frame, str)
    return parse_server_message(frame)


async def stream_file(url: str, name: str, *, realtime: bool = False) -> tuple[list[Commit], Done]:
    """Streams one speech file on a new session; its commits and its `done`."""
    async with StreamingClient(url) as client:
        return await collect(client, speech_audio(name), realtime=realtime)


async def collect(
    client: StreamingClient, source: Any, *, realtime: bool = False
) -> tuple[list[Commit], Done]:
    """The commits and the `done` of one stream on an open client; no error may come."""
    commits: list[Commit] = []
    async for message in client.stream(source, realtime=realtime):
        assert not isinstance(message, Error), message
        if isinstance(message, Commit):
            commits.append(message)
        if isinstance(message, Done):
            return commits, message
    raise AssertionError("the stream ended without done")


def joined(commits: list[Commit]) -> str:
    """The text of the commits, as the client shows it."""
    return "".join(commit.text for commit in commits)


def http_get(server: ServerProcess, path: str, token: str | None = None) -> tuple[int, str]:
    """The status and body of a GET on the server's HTTP routes, with a bearer token if given."""
    request = urllib.request.Request(server.http_url + path)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def http_post(
    server: ServerProcess,
    path: str,
    body: bytes,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """The status and body of a POST of `body` (JSON) on the server's HTTP routes."""
    request = urllib.request.Request(server.http_url + path, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=REPLY_TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def pcm16(audio: npt.NDArray[np.float32]) -> bytes:
    """Samples as the s16le PCM frames `/asr` takes by default."""
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def sessions_closed(server: ServerProcess) -> None:
    """Waits until the server has let go of every session (a closed connection's session
    ends just after the client sees the close)."""
    for _ in range(100):
        if json.loads(http_get(server, "/health")[1])["sessions"] == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("sessions still open")
