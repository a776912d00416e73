"""The page in a browser without AudioWorklet: the microphone goes through MediaRecorder
as WebM/Opus, which the server decodes (`encoding: "auto"`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import open_page
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
