"""A session picks its commit policy: `load_model` with `policy: align-att` streams through the
AlignAtt engine on a real server, with word timings and the partial as LocalAgreement gives."""

from __future__ import annotations

import pytest

from asr_interface.client import StreamingClient
from asr_interface.evaluation import normalize
from asr_interface.protocol import Commit, Done, Partial
from asr_interface.server.app import ASRServer, ServerSettings
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model


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
    assert "ask what you can do for your country" in text
    words = [word for commit in commits for word in commit.words]
    assert all(0 <= word.start <= word.end <= 11.5 for word in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
