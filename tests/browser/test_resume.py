"""The page carries a stream over to a new server when its own dies mid-stream, in headless
Chromium against real servers and the real model."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import pytest

from asr_interface.evaluation import lost_and_extra_words, normalize, word_error_rate
from asr_interface.protocol import MAX_CONTEXT_CHARS
from asr_interface.resume import CommittedText, KeptAudio, Reconnect
from tests.browser.conftest import CONNECT_TIMEOUT_MS, open_page, serving
from tests.browser.test_page import (
    TRANSCRIBE_TIMEOUT_MS,
    choose_file,
    committed_text,
    wait_until_idle,
    words,
)
from tests.speech import JFK, speech_path, transcript

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, WebSocket

pytestmark = [pytest.mark.browser, pytest.mark.model]

RECORDING = "ljspeech/LJ001-0001.wav"
KILLED_AFTER = "only sense"
"""The server dies once the page shows these words committed, early in the recording."""
LIVE_KILLED_AFTER = "and so my fellow americans"
"""The live stream's server dies once as many words as these are committed."""
LIVE_STOPPED_AFTER = "ask not what your country can do"
"""The live stream stops once as many words more are committed on the new server."""
PASS_SLACK_WORDS = 4
"""Words past one pass of the looped recording that still count as that pass (a word
repeated at the seam shows as one more)."""


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


def wait_for_words(tab: Page, count: int) -> None:
    """Waits until the live stream has committed at least `count` words, however they were
    heard (another CPU's kernels may hear a word of them another way)."""
    tab.wait_for_function(
        """(count) => {
            const line = document.getElementById("stream-status").textContent;
            const committed = [...document.querySelectorAll("#transcript .committed")]
                .map(span => span.textContent).join(" ").toLowerCase();
            const heard = committed.replace(/[^a-z']+/g, " ").trim();
            return line.startsWith("Listening") && heard.split(" ").length >= count;
        }""",
        arg=count,
        timeout=TRANSCRIBE_TIMEOUT_MS,
    )


def wait_for_commit(tab: Page, phrase: str, status: str = "Transcribing") -> None:
    """Waits until the stream's status line starts with `status` (a file's stream has
    cleared the transcript of the one before) and `phrase` is committed."""
    tab.wait_for_function(
        """([phrase, status]) => {
            const line = document.getElementById("stream-status").textContent;
            const committed = [...document.querySelectorAll("#transcript .committed")]
                .map(span => span.textContent).join(" ").toLowerCase();
            return line.startsWith(status)
                && committed.replace(/[^a-z']+/g, " ").includes(phrase);
        }""",
        arg=[phrase, status],
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


def test_live_stream_survives_its_server(browser: Browser, artefacts: Path) -> None:
    """The microphone streams live; its server is killed once as many words are committed
    as "and so my fellow Americans" has, and another starts on the same port. Meanwhile the
    microphone's audio is kept; the page resumes the stream on the new server, replays what
    it kept, goes on live, and no word across the failover is lost or committed twice."""
    with serving() as first:
        port = urlsplit(first.http_url).port
        assert port is not None
        frames: Frames | None = None

        def prepare(tab: Page) -> None:
            nonlocal frames
            frames = Frames(tab)

        tab = open_page(browser, first.http_url + "/", prepare)
        assert frames is not None
        watch_status(tab)
        tab.click("#live-start")
        wait_for_words(tab, len(LIVE_KILLED_AFTER.split()))
        first.process.kill()
        tab.wait_for_selector("#connection[data-state=closed]", timeout=CONNECT_TIMEOUT_MS)
        before = frames.received_messages("commit")
        settled_before = before[-1]["settled"]
        context = "".join(commit["text"] for commit in before)

    with serving("--port", str(port)):
        tab.wait_for_selector("#connection[data-state=ready]", timeout=CONNECT_TIMEOUT_MS)
        wait_for_words(tab, len(LIVE_KILLED_AFTER.split()) + len(LIVE_STOPPED_AFTER.split()))
        tab.click("#live-stop")
        wait_until_idle(tab)
        tab.screenshot(path=artefacts / "resume-live.png")
        statuses = tab.evaluate("window.statuses")
        faulty = words(committed_text(tab))
    tab.context.close()
    resumed = frames.sent_messages("start")[1]
    assert resumed["settled"] == settled_before
    assert resumed["resume_from"] == pytest.approx(max(0.0, settled_before - 1.0), abs=1e-3)
    assert resumed["context"] == context
    reconnecting = statuses.index(next(s for s in statuses if s.startswith("Reconnecting")))
    assert "Listening…" in statuses[reconnecting:]  # live again on the new server
    assert statuses[-1].startswith("Finished: ")
    assert len(frames.received_messages("done")) == 1
    after = frames.received_messages("commit")[len(before) :]
    assert all(w["start"] >= settled_before - 0.5 for commit in after for w in commit["words"])
    # The recording plays from its start: across the failover no word is lost or committed
    # twice (words elsewhere may be heard another way, so the transcripts are aligned, not
    # counted).
    # The microphone loops the recording, and where a slower machine falls behind the page
    # may replay more than one pass: the seam lies in the first.
    said = words(transcript(JFK)).split()
    heard = faulty.split()[: len(said) + PASS_SLACK_WORDS]
    seam = len(words(context).split())
    assert seam_losses(said, heard, seam) == (0, 0), (said, heard, seam)


def kept_by_python(steps: list[tuple[str, float]]) -> dict[str, Any]:
    """What resume.py keeps after `steps`: ("append", seconds) of the stream's next samples
    (each sample's value its position, modulo 30000) or ("settle", time)."""
    policy = Reconnect()
    kept = KeptAudio(policy.kept_seconds, policy.lead_in_seconds)
    position = 0
    for action, value in steps:
        if action == "append":
            count = round(value * 16000)
            kept.append((np.arange(position, position + count) % 30000).astype(np.float32))
            position += count
        else:
            kept.settle(value)
    samples = kept.samples()
    return {
        "start": kept.start_time,
        "settled": kept.settled,
        "count": int(samples.size),
        "first": int(samples[0]) if samples.size else None,
        "last": int(samples[-1]) if samples.size else None,
    }


STEPS = [
    [("append", 0.25)] * 20 + [("settle", 0.76), ("append", 2.0), ("settle", 3.2)],
    [("append", 0.1)] * 400,  # 40 s and no commit: the newest 30 s stay
    [("append", 12.0), ("settle", 11.5), ("append", 1.0), ("settle", 4.0), ("settle", 13.0)],
]


@pytest.mark.parametrize("steps", STEPS, ids=["settled", "full", "settled-to-the-end"])
def test_page_keeps_what_the_python_client_keeps(
    page: Page, steps: list[tuple[str, float]]
) -> None:
    """resume.js keeps the audio and the context by the rule and bounds of resume.py, with
    `Reconnect()`'s defaults: the same appends and commits leave the same samples."""
    found = page.evaluate(
        """async steps => {
            const resume = await import("/static/resume.js");
            const kept = new resume.KeptAudio(resume.KEPT_SECONDS, resume.LEAD_IN_SECONDS);
            let position = 0;
            for (const [action, value] of steps) {
                if (action === "append") {
                    const pcm = new Int16Array(Math.round(value * 16000));
                    for (let i = 0; i < pcm.length; i += 1) pcm[i] = (position + i) % 30000;
                    kept.append(pcm);
                    position += pcm.length;
                } else {
                    kept.settle(value);
                }
            }
            const frames = [...kept.frames(16000)];
            const count = frames.reduce((sum, frame) => sum + frame.length, 0);
            return {
                start: kept.startTime,
                settled: kept.settled,
                count,
                first: count ? frames[0][0] : null,
                last: count ? frames.at(-1).at(-1) : null,
                whole: frames.slice(0, -1).every(frame => frame.length === 16000),
            };
        }""",
        steps,
    )
    assert found.pop("whole")  # replayed in frames of one second
    assert found == kept_by_python(steps)


def test_page_takes_the_python_clients_bounds_and_context(page: Page) -> None:
    """The page's bounds are `Reconnect()`'s and the protocol's, and it cuts a long
    transcript into the same context as resume.py."""
    committed = [f" word{index}" for index in range(400)]
    found = page.evaluate(
        """async committed => {
            const resume = await import("/static/resume.js");
            const text = new resume.CommittedText();
            for (const piece of committed) text.add(piece);
            return [resume.KEPT_SECONDS, resume.LEAD_IN_SECONDS, resume.ATTEMPTS,
                    resume.MAX_CONTEXT_CHARS, text.context()];
        }""",
        committed,
    )
    policy = Reconnect()
    python = CommittedText()
    for piece in committed:
        python.add(piece)
    assert found == [
        policy.kept_seconds,
        policy.lead_in_seconds,
        policy.attempts,
        MAX_CONTEXT_CHARS,
        python.context(),
    ]


def seam_losses(said: list[str], heard: list[str], seam: int) -> tuple[int, int]:
    """Words of `said` lost and words said twice in `heard` by the differences of the two at
    the seam, before `heard`'s word `seam`. A word heard another way, one for one, is
    neither, and differences elsewhere (another CPU's decoding) do not count; nor does a
    word the model made of a fragment of the seam's word ("americans rickest ask"): a
    mishearing of audio the first server's last word may not have covered, not a word
    committed twice."""
    lost = repeated = 0
    matcher = difflib.SequenceMatcher(a=said, b=heard, autojunk=False)
    for operation, a0, a1, b0, b1 in matcher.get_opcodes():
        if operation != "equal" and b0 <= seam <= b1:
            lost += max(0, (a1 - a0) - (b1 - b0))
            surplus = max(0, (b1 - b0) - (a1 - a0))
            near = said[max(0, a0 - 2) : a1 + 2]
            again = sum(any(alike(word, other) for other in near) for word in heard[b0:b1])
            repeated += min(surplus, again)
    return lost, repeated


def alike(word: str, other: str) -> bool:
    """One word heard for another: the same, or one the other but for its ending
    ("america" for "americans"), as the server compares a resumed stream's head."""
    shorter, longer = sorted((word, other), key=len)
    return longer.startswith(shorter) and (shorter == longer or len(shorter) >= 4)
