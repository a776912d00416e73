"""A session picks its commit policy: `load_model` with `policy: align-att` streams through the
AlignAtt engine on a real server, with word timings and the partial as LocalAgreement gives."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from asr_interface.client import StreamingClient
from asr_interface.core.config import ASRConfig
from asr_interface.evaluation import normalize
from asr_interface.protocol import Commit, Done, ErrorCode, Partial, ProtocolError
from asr_interface.server.app import ASRServer, ServerSettings
from asr_interface.server.models import ModelPool
from tests.speech import JFK, speech_audio
from tests.wording import heard

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
