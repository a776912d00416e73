"""A session picks its commit policy: `load_model` with `policy: align-att` streams through the
AlignAtt engine on a real server, with word timings and the partial as LocalAgreement gives."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect

from asr_interface.audio import SAMPLING_RATE
from asr_interface.client import StreamingClient
from asr_interface.core.config import ASRConfig
from asr_interface.evaluation import normalize
from asr_interface.protocol import (
    MAX_CONTEXT_CHARS,
    Commit,
    Done,
    Error,
    ErrorCode,
    ModelLoaded,
    Partial,
    ProtocolError,
    Ready,
    ServerMessage,
    parse_server_message,
)
from asr_interface.server.app import ASRServer
from asr_interface.server.models import ModelPool
from asr_interface.server.settings import ServerSettings
from tests.speech import JFK, speech_audio, transcript
from tests.wording import heard

pytestmark = pytest.mark.model

REPLY_TIMEOUT = 120.0


async def test_align_att_session_transcribes_with_word_times() -> None:
    """JFK streamed after `load_model` with the AlignAtt policy comes back whole, with word
    times inside the audio and partials in between."""
    server = ASRServer(ServerSettings(port=0))
    await server.start()
    try:
        async with StreamingClient(server.url) as client:
            loaded = await client.load_model(policy="align-att")
            assert loaded.config["policy"] == "align-att"
            messages = [m async for m in client.stream(speech_audio(JFK), realtime=False)]
    finally:
        await server.shutdown()
    commits = [m for m in messages if isinstance(m, Commit)]
    assert isinstance(messages[-1], Done)
    assert any(isinstance(m, Partial) and m.text for m in messages)
    text = normalize("".join(commit.text for commit in commits))
    assert heard("ask what you can do for your country", text)
    words = [word for commit in commits for word in commit.words]
    assert all(0 <= word.start <= word.end <= 11.5 for word in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


@pytest.mark.parametrize(
    ("fields", "policy"),
    [
        ({}, "align-att"),
        ({"beam_size": 3}, "align-att"),
        ({"vac": True}, "local-agreement"),
        ({"model": "base", "lan": "auto"}, "local-agreement"),
        ({"policy": "local-agreement"}, "local-agreement"),
    ],
)
def test_a_client_asking_for_what_only_local_agreement_offers_gets_it(
    fields: dict[str, Any], policy: str
) -> None:
    """On a server streaming with AlignAtt, `load_model` keeps the server's policy, unless it
    asks for voice activity control or detection without naming a policy."""
    with ThreadPoolExecutor(1) as executor:
        pool = ModelPool(ASRConfig(policy="align-att"), executor=executor)
        assert pool.validate(fields).policy == policy


def test_align_att_with_detection_or_voice_activity_control_is_refused() -> None:
    """Naming AlignAtt together with what it cannot do is an `invalid_config`, not a
    silently different policy."""
    with ThreadPoolExecutor(1) as executor:
        pool = ModelPool(ASRConfig(policy="align-att"), executor=executor)
        for fields in ({"vac": True}, {"vad": True}, {"model": "base", "lan": "auto"}):
            with pytest.raises(ProtocolError) as refused:
                pool.validate({"policy": "align-att", **fields})
            assert refused.value.code == ErrorCode.INVALID_CONFIG
            assert "local-agreement" in refused.value.message


CONTROL_PROMPT = (
    "<|endoftext|><|startoftranscript|><|en|><|transcribe|><|notimestamps|><|0.00|>"
    "<|startofprev|><|nospeech|> "
)
"""Whisper's control tokens, written out as text a client may send."""


async def _stream_with_prompt(url: str, policy: str, prompt: str) -> list[ServerMessage]:
    """One stream of the Kennedy clip after `start` with `prompt`; every reply up to `done`
    (or the first error)."""
    replies: list[ServerMessage] = []
    async with connect(url, max_size=None) as connection:

        async def receive() -> ServerMessage:
            frame = await asyncio.wait_for(connection.recv(), REPLY_TIMEOUT)
            assert isinstance(frame, str)
            return parse_server_message(frame)

        assert isinstance(await receive(), Ready)
        await connection.send(json.dumps({"type": "load_model", "policy": policy}))
        assert isinstance(await receive(), ModelLoaded)
        await connection.send(json.dumps({"type": "start", "prompt": prompt}))
        samples = (np.clip(speech_audio(JFK), -1, 1) * 32767).astype("<i2").tobytes()
        step = SAMPLING_RATE * 2  # half a second of 16-bit samples
        for start in range(0, len(samples), step):
            await connection.send(samples[start : start + step])
        await connection.send(json.dumps({"type": "end"}))
        while not replies or not isinstance(replies[-1], Done | Error):
            replies.append(await receive())
    return replies


@pytest.mark.parametrize("policy", ["local-agreement", "align-att"])
@pytest.mark.parametrize(
    "prompt",
    [
        (CONTROL_PROMPT * 20)[:MAX_CONTEXT_CHARS],
        ("Kennedy spoke in Washington. " * 40)[: MAX_CONTEXT_CHARS - len(CONTROL_PROMPT)]
        + CONTROL_PROMPT,
        (CONTROL_PROMPT + "Kennedy spoke in Washington. " * 40)[:MAX_CONTEXT_CHARS],
    ],
    ids=["control-tokens", "text-then-control-tokens", "control-tokens-then-text"],
)
async def test_a_prompt_is_text_whatever_it_spells(policy: str, prompt: str) -> None:
    """A `start` prompt as long as allowed and full of Whisper's control tokens written out
    is read as text by either policy: the stream transcribes the speech and ends with
    `done`, and no word of it is a control token."""
    server = ASRServer(ServerSettings(port=0))
    await server.start()
    try:
        replies = await _stream_with_prompt(server.url, policy, prompt)
    finally:
        await server.shutdown()
    assert isinstance(replies[-1], Done), replies[-1]
    text = "".join(reply.text for reply in replies if isinstance(reply, Commit))
    assert "<|" not in text
    # The speech is transcribed; after so odd a prompt the model may add words past its end,
    # differently on each CPU's kernels, which a word error rate would count.
    assert heard(transcript(JFK), text), normalize(text)
