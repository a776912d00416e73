"""The page carries a stream over to a new server when its own dies mid-stream, in headless
Chromium against real servers and the real model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from asr_interface.evaluation import lost_and_extra_words, normalize, word_error_rate
from tests.browser.conftest import CONNECT_TIMEOUT_MS, open_page, serving
from tests.browser.test_page import (
    TRANSCRIBE_TIMEOUT_MS,
    choose_file,
    committed_text,
    wait_until_idle,
    words,
)
from tests.speech import speech_path, transcript

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, WebSocket

pytestmark = [pytest.mark.browser, pytest.mark.model]

RECORDING = "ljspeech/LJ001-0001.wav"
KILLED_AFTER = "only sense"
"""The server dies once the page shows these words committed, early in the recording."""


class Frames:
    """What the tab's WebSockets carried: the protocol messages it sent and got, and the
    length of each audio frame it sent (`sent` holds both, in order)."""

    def __init__(self, tab: Page) -> None:
        self.sent: list[dict[str, Any] | int] = []
        self.received: list[dict[str, Any]] = []
        tab.on("websocket", self._watch)

    def _watch(self, socket: WebSocket) -> None:
        socket.on("framesent", self._sent)
        socket.on("framereceived", self._received)

    def _sent(self, payload: str | bytes) -> None:
        self.sent.append(json.loads(payload) if isinstance(payload, str) else len(payload))

    def _received(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            self.received.append(json.loads(payload))

    def sent_messages(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if isinstance(m, dict) and m["type"] == kind]

    def received_messages(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m["type"] == kind]

    def audio_bytes(self) -> int:
        """Bytes of audio sent since the last `start`."""
        since = self.sent.index(self.sent_messages("start")[-1])
        return sum(m for m in self.sent[since:] if isinstance(m, int))

    def clear(self) -> None:
        self.sent.clear()
        self.received.clear()


def watch_status(tab: Page) -> None:
    """Records every text the stream's status line shows, in `window.statuses`."""
    tab.evaluate(
        """() => {
            const line = document.getElementById("stream-status");
            window.statuses = [];
            new MutationObserver(() => window.statuses.push(line.textContent))
                .observe(line, { childList: true, characterData: true, subtree: true });
        }"""
    )


def wait_for_commit(tab: Page, phrase: str) -> None:
    """Waits until the stream just started (its status line set, the old transcript
    cleared) has committed `phrase`."""
    tab.wait_for_function(
        """phrase => {
            const status = document.getElementById("stream-status").textContent;
            const committed = [...document.querySelectorAll("#transcript .committed")]
                .map(span => span.textContent).join(" ").toLowerCase();
            return status.startsWith("Transcribing")
                && committed.replace(/[^a-z']+/g, " ").includes(phrase);
        }""",
        arg=phrase,
        timeout=TRANSCRIBE_TIMEOUT_MS,
    )


def test_file_stream_survives_its_server(browser: Browser, artefacts: Path) -> None:
    """A file streams through the page; its server is killed (SIGKILL) after the first
    commit and another starts on the same port. The page says it is reconnecting,
    resumes the stream there as the Python client does (`resume_from` a second before the
    last `settled`, the committed text as `context`, the kept audio replayed) and finishes
    it: the transcript has the very words of the same stream with no fault, each once."""
    path = speech_path(RECORDING)
    with serving() as first:
        port = urlsplit(first.http_url).port
        assert port is not None
        frames: Frames | None = None

        def prepare(tab: Page) -> None:
            nonlocal frames
            frames = Frames(tab)

        tab = open_page(browser, first.http_url + "/", prepare)
        assert frames is not None
        choose_file(tab, path)
        wait_until_idle(tab)
        clean = words(committed_text(tab))
        file_bytes = frames.audio_bytes()
        frames.clear()
        watch_status(tab)
        session = tab.get_attribute("#connection", "data-session")

        choose_file(tab, path)
        wait_for_commit(tab, KILLED_AFTER)
        first.process.kill()
        tab.wait_for_selector("#connection[data-state=closed]", timeout=CONNECT_TIMEOUT_MS)
        before = frames.received_messages("commit")
        settled_before = before[-1]["settled"]
        context = "".join(commit["text"] for commit in before)
    tab.screenshot(path=artefacts / "resume-reconnecting.png")

    with serving("--port", str(port)):
        tab.wait_for_selector("#connection[data-state=ready]", timeout=CONNECT_TIMEOUT_MS)
        wait_until_idle(tab)
        tab.screenshot(path=artefacts / "resume-finished.png")
        assert tab.get_attribute("#connection", "data-session") != session
        statuses = tab.evaluate("window.statuses")
        done_line = tab.inner_text("#file-status")
        faulty = words(committed_text(tab))
    tab.context.close()

    starts = frames.sent_messages("start")
    assert len(starts) == 2
    assert starts[0] == {"type": "start", "sample_rate": 16000, "encoding": "pcm_s16le",
                         "resumable": True}  # fmt: skip
    resumed = starts[1]
    assert resumed["resumable"] is True
    assert resumed["settled"] == settled_before
    assert resumed["resume_from"] == pytest.approx(max(0.0, settled_before - 1.0), abs=1e-3)
    assert resumed["context"] == context
    # Every sample from `resume_from` on went to the new server, once: replayed or live.
    assert frames.audio_bytes() == file_bytes - 2 * round(resumed["resume_from"] * 16000)
    assert frames.sent[-1] == {"type": "end"}  # the stream ends on the new server
    assert any(status.startswith("Reconnecting") for status in statuses)
    assert statuses[-1] == f"Finished {path.name}."
    assert done_line.startswith(f"Done: {file_bytes / 2 / 16000:.1f} s of audio")  # all of it
    assert len(frames.received_messages("done")) == 1
    # The new server commits no word of the audio settled before, but for the alignment's
    # own tolerance: a resumed stream's next word may start up to 0.5 s before `settled`.
    after = frames.received_messages("commit")[len(before) :]
    assert all(w["start"] >= settled_before - 0.5 for commit in after for w in commit["words"])
    # Where the stream changed servers, two words either side, the page shows the words of
    # the stream with no fault, none lost or repeated (a word heard another way is the
    # model's, not the failover's). Further on the two differ only as two decodings of the
    # same speech do, as their model steps fall differently: bounded by the WER, as the
    # Python client's failover test bounds them.
    seam = len(words(context).split())
    around = slice(max(0, seam - 2), seam + 2)
    assert lost_and_extra_words(clean.split()[around], faulty.split()[around]) == (0, 0)
    assert word_error_rate(normalize(transcript(RECORDING)), faulty) < 0.1
