"""The server's `vad` and `language` messages, from an in-process server with voice activity
control, language detection and translation, over a real WebSocket on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt
import pytest

from asr_interface.audio import SAMPLING_RATE
from asr_interface.client import StreamingClient
from asr_interface.core.config import ASRConfig
from asr_interface.protocol import Commit, Done, Language, ServerMessage, Vad
from asr_interface.server.app import ASRServer
from asr_interface.server.settings import ServerSettings
from tests.espeak import SENTENCES, speak_all

RATE = SAMPLING_RATE
QUIET_SECONDS = 2.0
PAD_SECONDS = 0.3
"""The detector's default speech padding."""


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, npt.NDArray[np.float32]]:
    """Each test sentence as 16 kHz audio, synthesised into a temporary folder."""
    return speak_all(tmp_path_factory.mktemp("espeak"))


@pytest.fixture
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ASRServer]:
    """A server whose default configuration has VAC on and translates any language."""
    config = ASRConfig(
        model="base",
        lan="auto",
        task="translate",
        vac=True,
        model_cache_dir=str(tmp_path_factory.mktemp("models")),
    )
    server = ASRServer(ServerSettings(port=0, config=config, workers=2))
    await server.start()
    try:
        yield server
    finally:
        await server.shutdown()


def quiet(seconds: float) -> npt.NDArray[np.float32]:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


@pytest.mark.model
@pytest.mark.usefixtures("beam_search_only")
async def test_each_stream_reports_its_speech_and_language(
    server: ASRServer, spoken: dict[str, npt.NDArray[np.float32]]
) -> None:
    """Speech between pauses is framed by speech_start and speech_end at the right times,
    each stream of a session announces its own language once, and the text is English."""
    async with StreamingClient(server.url) as client:
        for language, speech in spoken.items():
            audio = np.concatenate([quiet(QUIET_SECONDS), speech, quiet(QUIET_SECONDS)])
            messages: list[ServerMessage] = [m async for m in client.stream(audio)]
            assert isinstance(messages[-1], Done)
            speech_end = QUIET_SECONDS + len(speech) / RATE

            events = [m for m in messages if isinstance(m, Vad)]
            assert [event.event for event in events] == ["speech_start", "speech_end"]
            assert QUIET_SECONDS - PAD_SECONDS - 0.05 <= events[0].time <= QUIET_SECONDS + 0.3
            assert speech_end - 1 <= events[1].time <= speech_end + PAD_SECONDS + 0.05

            languages = [m for m in messages if isinstance(m, Language)]
            assert [found.language for found in languages] == [language]
            assert 0 < languages[0].probability <= 1

            commits = [m for m in messages if isinstance(m, Commit)]
            assert commits
            assert events[0].time <= commits[0].start
            assert commits[-1].end <= events[1].time + 0.1
            # The utterance's end is announced before its tail is committed.
            assert messages.index(events[1]) < messages.index(commits[-1])
            assert SENTENCES[language].translated("".join(commit.text for commit in commits))
