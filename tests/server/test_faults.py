"""Faults fail one session, never the server: a model call past its deadline, a backend that
panics, a client that vanishes with work queued; and the model cache stays bounded."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import numpy as np
import pytest
from websockets.asyncio.client import connect

from asr_interface.client import StreamingClient
from asr_interface.core.config import ASRConfig
from asr_interface.protocol import Error, ErrorCode, Ready, parse_server_message
from asr_interface.server.app import ASRServer
from asr_interface.server.settings import ServerSettings
from tests.server.conftest import LISTENING
from tests.server.fault_backend import BACKEND, FAULTS, registered
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model


@pytest.fixture(autouse=True)
def fault_backend() -> Iterator[None]:
    """The fault backend is registered for these tests only."""
    with registered():
        yield


FAULTY = ASRConfig(backend=BACKEND)


@asynccontextmanager
async def fault_server(**settings: object) -> AsyncIterator[ASRServer]:
    server = ASRServer(ServerSettings(port=0, config=FAULTY, **settings))  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.shutdown()


def health(server: ASRServer) -> tuple[int, str]:
    url = f"http://127.0.0.1:{server.port}/health"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())["status"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["status"]


def pcm16(seconds: float) -> bytes:
    audio = np.resize(speech_audio(JFK), round(seconds * 16000))
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def first_error(url: str, seconds: float) -> Error:
    async with connect(url) as connection:
        assert isinstance(parse_server_message(str(await connection.recv())), Ready)
        await connection.send(pcm16(seconds))
        await connection.send(json.dumps({"type": "end"}))
        while True:
            message = parse_server_message(str(await asyncio.wait_for(connection.recv(), 60)))
            if isinstance(message, Error):
                return message


async def transcribes(url: str) -> bool:
    async with StreamingClient(url) as client:
        text = "".join(
            [getattr(m, "text", "") async for m in client.stream(speech_audio(JFK)[: 4 * 16000])]
        )
    return "fellow americans" in text.lower()


async def test_hung_model_call_fails_its_session_and_marks_the_model_stalled() -> None:
    """A call past --model-call-timeout fails its session with `backend_error`; /health says
    `model_stalled` (503) until a call returns; the next session is served."""
    FAULTS.hang_calls, FAULTS.release = 1, __import__("threading").Event()
    async with fault_server(model_call_timeout=5.0) as server:
        error = await first_error(server.url, 2.0)
        assert error.code == ErrorCode.BACKEND_ERROR
        assert "longer than 5 s" in error.message
        assert await asyncio.to_thread(health, server) == (503, "model_stalled")
        FAULTS.release.set()
        assert await transcribes(server.url)
        assert await asyncio.to_thread(health, server) == (200, "ok")


async def test_panicking_backend_fails_only_its_session() -> None:
    """A backend raising a `BaseException` (as a Rust panic does) fails that session with
    `backend_error`; the scheduler and the server go on."""
    FAULTS.panic_calls = 1
    async with fault_server(max_batch=1) as server:
        error = await first_error(server.url, 2.0)
        assert error.code == ErrorCode.BACKEND_ERROR
        assert "Panic" in error.message
        assert await transcribes(server.url)


async def test_vanished_client_leaves_no_model_calls_behind() -> None:
    """A client that sends a minute of audio at once and disconnects: its queued steps are
    cancelled, so once the call running at the disconnect returns no other starts, and its
    slot is free."""
    FAULTS.call_seconds = 0.3
    try:
        async with fault_server(workers=1) as server:
            async with connect(server.url) as connection:
                await connection.recv()
                for _ in range(20):
                    await connection.send(pcm16(3.0))
                await asyncio.sleep(1.0)
            for _ in range(300):  # the step running at the disconnect may still finish
                if server.scheduler.in_flight == 0:
                    break
                await asyncio.sleep(0.1)
            assert server.scheduler.in_flight == 0
            calls = FAULTS.calls
            await asyncio.sleep(2.0)
            assert FAULTS.calls == calls
            assert len(server._runners) == 0
    finally:
        FAULTS.call_seconds = 0.0


async def signal_during_a_hung_call(process: subprocess.Popen[str], url: str, signals: int) -> None:
    async with connect(url) as connection:
        await connection.recv()
        await connection.send(pcm16(2.0))
        await asyncio.sleep(1.0)  # the first step is now hung
        for _ in range(signals):
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)


@pytest.mark.parametrize("signals", [1, 2])
def test_a_hung_call_never_blocks_exit_and_a_second_signal_exits_at_once(signals: int) -> None:
    """SIGTERM with a model call hung: the server closes its streams after the grace period
    and exits although the call still runs; a second SIGTERM exits at once."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.server.fault_backend", "serve", "--port", "0"),
            *("--backend", BACKEND, "--shutdown-grace", "3", "--model-call-timeout", "0"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    url = ""
    for line in process.stderr:
        if found := LISTENING.search(line):
            url = f"{found[1]}://{found[2]}/asr"
            break
    assert url
    began = time.monotonic()
    asyncio.run(signal_during_a_hung_call(process, url, signals))
    assert process.wait(20) == (0 if signals == 1 else 1)
    assert time.monotonic() - began < (8.0 if signals == 1 else 2.5)
    process.stderr.close()
