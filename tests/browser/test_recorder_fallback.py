"""The page in a browser without AudioWorklet: the microphone goes through MediaRecorder
as WebM/Opus, which the server decodes (`encoding: "auto"`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import open_page, serving
from tests.browser.test_page import committed_text, wait_for_words, wait_until_idle, words
from tests.server.conftest import ServerProcess
from tests.wording import heard

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, WebSocket

pytestmark = [pytest.mark.browser, pytest.mark.model]

WEBM_MAGIC = b"\x1a\x45\xdf\xa3"  # EBML, the first bytes of every WebM stream


def test_microphone_falls_back_to_media_recorder(browser: Browser, server: ServerProcess) -> None:
    """With AudioWorklet removed, Start records WebM/Opus with MediaRecorder: the page
    declares `encoding: "auto"`, sends the stream's bytes, and the words appear."""
    sent: list[str | bytes] = []

    def watch(socket: WebSocket) -> None:
        socket.on("framesent", lambda payload: sent.append(payload))

    def without_worklet(tab: Page) -> None:
        tab.add_init_script("delete window.AudioWorkletNode;")
        tab.on("websocket", watch)

    page = open_page(browser, server.http_url + "/", prepare=without_worklet)
    try:
        assert page.evaluate("typeof AudioWorkletNode") == "undefined"
        page.click("#live-start")
        wait_for_words(page, "your country")
        page.click("#live-stop")
        wait_until_idle(page)
        final = words(committed_text(page))
    finally:
        page.context.close()
    assert heard("ask not what your country can do for you", final)
    starts = [json.loads(f) for f in sent if isinstance(f, str) and '"start"' in f]
    assert starts == [{"type": "start", "encoding": "auto"}]
    audio = [frame for frame in sent if isinstance(frame, bytes)]
    assert audio[0].startswith(WEBM_MAGIC)
    assert len(audio) >= 4  # slices of 250 ms, sent as they were recorded


def test_server_ended_recording_is_explained_and_stops_the_microphone(browser: Browser) -> None:
    """A compressed stream whose decoded audio passes the backlog ends on the server: the
    page says the recording ended there (not that a piece was skipped), stops recording,
    and shows the stream finished, the explanation not replaced by answers to audio that
    was on its way."""

    def without_worklet(tab: Page) -> None:
        tab.add_init_script(
            """delete window.AudioWorkletNode;
            const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
            navigator.mediaDevices.getUserMedia = async (constraints) => {
                window.recorded = await ask(constraints);
                return window.recorded;
            };"""
        )

    with serving("--max-backlog-seconds", "0.1") as small_backlog:
        page = open_page(browser, small_backlog.http_url + "/", prepare=without_worklet)
        try:
            page.click("#live-start")
            page.locator("#problem").wait_for(state="visible")
            released = page.evaluate(
                "window.recorded.getTracks().every(track => track.readyState === 'ended')"
            )
            wait_until_idle(page)
            summary = page.inner_text("#problem-summary")
            detail = page.inner_text("#problem-detail")
            status = page.inner_text("#stream-status")
            startable = page.is_enabled("#live-start")
        finally:
            page.context.close()
    assert detail.startswith("backlog_full:"), detail
    assert "the recording ended there" in summary
    assert released
    assert status.startswith("Finished:")
    assert startable


@pytest.mark.parametrize(
    ("code", "compressed", "explanation"),
    [
        ("backlog_full", False, "skipped a piece of audio"),
        ("invalid_audio", False, "was skipped"),
        ("backlog_full", True, "the recording ended there"),
        ("invalid_audio", True, "the recording ended there"),
        ("frame_too_large", True, "was skipped"),
    ],
)
def test_audio_errors_in_words(page: Page, code: str, compressed: bool, explanation: str) -> None:
    """A refused PCM frame is explained as skipped; the errors that end a compressed
    stream say the recording ended there."""
    said = page.evaluate(
        """async ([code, compressed]) => {
            const { explainError } = await import("/static/errors.js");
            return explainError(code, { compressed });
        }""",
        [code, compressed],
    )
    assert explanation in said
