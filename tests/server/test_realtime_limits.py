"""`/v1/realtime` under hostile clients, on a real server on loopback: the bounds of `/asr`
hold here too, through the same parts."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from asr_interface.server.session_types import SessionLimits
from asr_interface.wire import MAX_ERROR_CHARS, MAX_STRING_CHARS
from tests.bad_inputs import HOSTILE_FRAMES, update_event
from tests.server.conftest import ServerProcess
from tests.server.test_realtime_server import (
    LONG,
    REPLY_TIMEOUT,
    append_event,
    pcm_24k,
    realtime_url,
    receive,
    receive_until,
)
from tests.speech import speech_audio

pytestmark = pytest.mark.model

COMPLETED = "conversation.item.input_audio_transcription.completed"


@pytest.mark.parametrize(("frame", "code"), HOSTILE_FRAMES)
async def test_hostile_frames_get_short_typed_errors(
    server: ServerProcess, frame: str, code: str
) -> None:
    """Deep JSON, a 5000-digit number, a 100k-character `type`, a 1.5 MB `event_id` or
    prompt: each gets a typed `error` of a few hundred bytes (not a close 1011, nor an
    echo that makes the server cut its own client as a slow reader); the session goes on
    and echoes a prompt of the longest length allowed."""
    async with connect(realtime_url(server), max_size=None) as connection:
        assert (await receive(connection))["type"] == "session.created"
        await connection.send(frame)
        reply = await asyncio.wait_for(connection.recv(), REPLY_TIMEOUT)
        assert isinstance(reply, str)
        assert len(reply) < MAX_ERROR_CHARS + 300
        error = json.loads(reply)
        assert (error["type"], error["error"]["code"]) == ("error", code)
        assert error["error"]["event_id"] is None
        longest = "p" * MAX_STRING_CHARS
        await connection.send(update_event({"prompt": longest}, "evt_prompt"))
        updated = await receive(connection)
        assert updated["type"] == "session.updated"
        assert updated["session"]["audio"]["input"]["transcription"]["prompt"] == longest


async def test_events_held_behind_a_turn_are_bounded_by_their_bytes(
    server: ServerProcess,
) -> None:
    """While a committed turn is transcribed, events of any type wait, up to the held
    bytes limit: 1 MB config changes carrying no audio get `buffer_full` past it, at once,
    and the ones held are answered in order once the turn completes."""
    pcm = pcm_24k(speech_audio(LONG)[: 60 * 16000])
    keywords = ["k" * MAX_STRING_CHARS] * 1000  # about 1 MB, no audio
    updates = [update_event({"keywords": keywords}, f"evt_{index}") for index in range(12)]
    held = SessionLimits().max_held_bytes // len(updates[0])
    assert 0 < held < len(updates)
    async with connect(realtime_url(server), max_size=None) as connection:
        await receive(connection)
        for offset in range(0, len(pcm), 480_000):  # 10 s per append
            await connection.send(append_event(pcm[offset : offset + 480_000]))
        await connection.send(json.dumps({"type": "input_audio_buffer.commit"}))
        for update in updates:
            await connection.send(update)
        events = await receive_until(connection, COMPLETED)
        after = [await receive(connection) for _ in range(held)]
    refused = [e["error"]["event_id"] for e in events if e["type"] == "error"]
    assert refused == [f"evt_{index}" for index in range(held, len(updates))]
    assert {e["error"]["code"] for e in events if e["type"] == "error"} == {"buffer_full"}
    assert [(e["type"], e["error"]["event_id"], e["error"]["code"]) for e in after] == [
        ("error", f"evt_{index}", "unsupported_feature") for index in range(held)
    ]
