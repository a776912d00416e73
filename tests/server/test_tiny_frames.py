"""Tiny frames on a real server on loopback: thousands of one-byte frames are read within a
client's keepalive and answered with every sample, `/health` answers meanwhile, and frames
that split samples lose no byte, on `/asr` and `/v1/realtime` alike."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import multiprocessing
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from asr_interface.evaluation import normalize
from asr_interface.protocol import Commit, Done, Error, Ready, ServerMessage
from tests.server.asr_calls import joined, receive
from tests.server.conftest import ServerProcess
from tests.server.test_realtime_server import realtime_url, receive_until
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model

ONE_BYTE_FRAMES = 16_000
"""Half a second of 16 kHz 16-bit PCM, one byte per frame: four times the default burst."""
HEALTH_INTERVAL = 0.05
HEALTH_BOUND = 0.1
"""Slowest `/health` answer allowed while the frames are read (the promise of
docs/protocol.md, Limits)."""


def poll_health(url: str, stop: Any, answers: Any) -> None:
    """GET `url` every 50 ms until `stop` is set; puts how long each answer took on
    `answers`, then None."""
    while not stop.is_set():
        began = time.monotonic()
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
        answers.put(time.monotonic() - began)
        stop.wait(HEALTH_INTERVAL)
    answers.put(None)


@contextmanager
def polled_health(server: ServerProcess) -> Iterator[list[float]]:
    """Polls `/health` every 50 ms from a process of its own (so that this client's sending
    does not delay the polls) while the block runs; gives the seconds each answer took."""
    processes = multiprocessing.get_context("spawn")
    stop, polled = processes.Event(), processes.Queue()
    poller = processes.Process(target=poll_health, args=(server.http_url + "/health", stop, polled))
    poller.start()
    answers: list[float] = [polled.get(timeout=60)]  # polling has begun
    try:
        yield answers
    finally:
        stop.set()
        answers += iter(polled.get, None)
        poller.join(30)


async def until_done(connection: ClientConnection) -> list[ServerMessage]:
    """Every message up to and including `done`."""
    messages = [await receive(connection)]
    while not isinstance(messages[-1], Done):
        messages.append(await receive(connection))
    return messages


async def test_one_byte_frames_are_answered_while_health_answers(server: ServerProcess) -> None:
    """16,000 one-byte frames of silence then `end`, from a client whose keepalive pings
    every second and gives up on a ping unanswered for 10 s (its pings wait behind the
    frames sent before them): the keepalive holds, `done` counts every sample (0.5 s) with
    no error, and `/health` answers within 100 ms all along."""
    with polled_health(server) as health:
        async with connect(server.url, ping_interval=1, ping_timeout=10) as connection:
            assert isinstance(await receive(connection), Ready)
            for _ in range(ONE_BYTE_FRAMES):
                await connection.send(b"\x00")
            await connection.send(json.dumps({"type": "end"}))
            messages = await until_done(connection)
            await asyncio.wait_for(await connection.ping(), 20)  # the keepalive still answers
    assert [m for m in messages if isinstance(m, Error)] == []
    done = messages[-1]
    assert isinstance(done, Done)
    assert done.audio_seconds == pytest.approx(ONE_BYTE_FRAMES / 2 / 16000)
    assert len(health) >= 5
    assert max(health) < HEALTH_BOUND, sorted(health)[-5:]


async def test_odd_length_frames_lose_no_byte(server: ServerProcess) -> None:
    """JFK's speech as 16-bit PCM in frames of 1001 and 3 bytes in turn (nearly every
    sample split between two frames) and one byte too many: the speech is transcribed,
    `done` counts every whole sample, and the last byte alone is refused, with
    `invalid_audio` before `done`."""
    pcm = (speech_audio(JFK) * 32767).astype("<i2").tobytes() + b"\x00"
    async with connect(server.url) as connection:
        assert isinstance(await receive(connection), Ready)
        await connection.send(json.dumps({"type": "start"}))
        begin = 0
        for size in itertools.cycle((1001, 3)):
            if begin >= len(pcm):
                break
            await connection.send(pcm[begin : begin + size])
            begin += size
        await connection.send(json.dumps({"type": "end"}))
        messages = await until_done(connection)
    errors = [m for m in messages if isinstance(m, Error)]
    assert [e.code for e in errors] == ["invalid_audio"]
    assert "1 byte(s) into a sample" in errors[0].message
    done = messages[-1]
    assert isinstance(done, Done)
    assert done.audio_seconds == pytest.approx(len(pcm) // 2 / 16000, abs=0.001)
    text = normalize(joined([m for m in messages if isinstance(m, Commit)]))
    assert {"fellow", "americans", "ask", "country"} <= set(text.split())


async def test_one_byte_realtime_appends_end_in_the_same_sink(server: ServerProcess) -> None:
    """4801 Realtime appends of one byte each, then a commit: the turn is transcribed and
    completed with every whole sample (2400 at 24 kHz, 0.1 s), and the odd byte at its
    end gets `invalid_audio` naming the commit."""
    one_byte = json.dumps(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(b"\x00").decode()}
    )
    async with connect(realtime_url(server)) as connection:
        await receive_until(connection, "session.created")
        for _ in range(4801):
            await connection.send(one_byte)
        commit = {"type": "input_audio_buffer.commit", "event_id": "the-commit"}
        await connection.send(json.dumps(commit))
        events = await receive_until(
            connection, "conversation.item.input_audio_transcription.completed"
        )
    errors = [event["error"] for event in events if event["type"] == "error"]
    assert [(e["code"], e["event_id"]) for e in errors] == [("invalid_audio", "the-commit")]
    assert events[-1]["usage"]["seconds"] == pytest.approx(0.1, abs=0.001)
