"""The browser page against a real server and the real model, in headless Chromium."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.balancer import PROXIES, installed, running_proxy, wait_for_log
from tests.browser.conftest import CONNECT_TIMEOUT_MS, open_page, serving
from tests.server.conftest import ServerProcess
from tests.speech import speech_path
from tests.wording import heard

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.model]

TRANSCRIBE_TIMEOUT_MS = 90_000
SRT_CUE = re.compile(r"^\d+\n\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d\n.+$", re.MULTILINE)


def words(text: str) -> str:
    """Lower-case words separated by single spaces, so punctuation and case never matter."""
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def wait_for_words(page: Page, phrase: str) -> None:
    """Waits until the transcript (committed and partial text) contains `phrase`."""
    page.wait_for_function(
        """phrase => {
            const text = document.getElementById("transcript").textContent.toLowerCase();
            return text.replace(/[^a-z']+/g, " ").includes(phrase);
        }""",
        arg=phrase,
        timeout=TRANSCRIBE_TIMEOUT_MS,
    )


def wait_until_idle(page: Page) -> None:
    page.wait_for_function(
        "document.body.dataset.activity === 'idle'", timeout=TRANSCRIBE_TIMEOUT_MS
    )


def committed_text(page: Page) -> str:
    return " ".join(page.locator("#transcript .committed").all_text_contents())


def press_tab_until(page: Page, element_id: str) -> None:
    """Moves the keyboard focus with Tab, as a person would, until `element_id` has it."""
    for _ in range(40):
        if page.evaluate("document.activeElement?.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


def test_live_microphone_by_keyboard(page: Page, artefacts: Path) -> None:
    """Start and Stop work from the keyboard; the microphone's words appear, then the
    final text, and the SRT download holds timed cues of them."""
    press_tab_until(page, "live-start")
    page.keyboard.press("Enter")
    wait_for_words(page, "americans")
    page.wait_for_function("document.getElementById('level').value > 0")
    page.screenshot(path=artefacts / "live.png")
    wait_for_words(page, "your country can do")
    press_tab_until(page, "live-stop")
    page.keyboard.press("Enter")
    wait_until_idle(page)
    page.screenshot(path=artefacts / "live-finished.png")

    final = words(committed_text(page))
    assert heard("ask not what your country can do for you", final)
    assert all(not text for text in page.locator("#transcript .partial").all_text_contents())
    assert "Finished" in page.inner_text("#stream-status")

    with page.expect_download() as download:
        page.click("[data-format=srt]")
    saved = artefacts / "live.srt"
    download.value.save_as(saved)
    srt = saved.read_text(encoding="utf-8")
    assert SRT_CUE.search(srt), srt
    assert heard("ask not what your country", words(srt))
    assert download.value.suggested_filename.endswith(".srt")


def choose_file(page: Page, path: Path) -> None:
    page.set_input_files("#file-input", path)


def drop_file(page: Page, path: Path) -> None:
    """Drops the file on the drop zone, as dragging it from a file manager does."""
    page.evaluate(
        """([name, bytes]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], name, { type: "audio/wav" }));
            const zone = document.getElementById("drop-zone");
            for (const type of ["dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true }));
            }
        }""",
        [path.name, list(path.read_bytes())],
    )


@pytest.mark.parametrize(
    ("give", "name", "phrases"),
    [
        (choose_file, "ljspeech/LJ001-0004.wav", ["block books", "printed book"]),
        (drop_file, "ljspeech/LJ001-0002.wav", ["comparatively modern"]),
    ],
    ids=["chosen", "dropped"],
)
def test_file_shows_words_and_real_time_factor(
    page: Page,
    artefacts: Path,
    give: Callable[[Page, Path], None],
    name: str,
    phrases: list[str],
) -> None:
    """A chosen or dropped WAV file is decoded, streamed and transcribed, and the page
    reports its real-time factor and names downloads after it."""
    path = speech_path(name)
    give(page, path)
    wait_for_words(page, phrases[0])
    wait_until_idle(page)
    page.screenshot(path=artefacts / f"file-{give.__name__}.png")

    assert all(phrase in words(committed_text(page)) for phrase in phrases)
    status = page.inner_text("#file-status")
    factor = re.search(r"Real-time factor (\d+(?:\.\d+)?)", status)
    assert factor is not None, status
    assert float(factor[1]) > 0
    assert page.eval_on_selector("#file-progress", "bar => bar.value") == 1

    with page.expect_download() as download:
        page.click("[data-format=vtt]")
    vtt = Path(download.value.path()).read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n\n")
    assert download.value.suggested_filename == path.with_suffix(".vtt").name


def test_model_panel_loads_and_shows_metadata(page: Page) -> None:
    """The Load model button sends the form and shows the metadata the server returns."""
    page.fill("#config-model", "tiny.en")
    page.click("#model-load")
    page.wait_for_selector("#model-metadata dt", timeout=TRANSCRIBE_TIMEOUT_MS)
    assert "Loaded tiny.en" in page.inner_text("#model-status")
    assert "faster-whisper" in page.inner_text("#model-metadata")


@pytest.mark.parametrize(
    ("field", "value", "explanation"),
    [
        ("#config-model", "base", "This server does not allow that model."),
        ("#config-lan", "klingon", "The server refused these model settings"),
    ],
)
def test_model_errors_in_words(page: Page, field: str, value: str, explanation: str) -> None:
    """A refused load_model shows the error code explained in words, with the details."""
    page.fill(field, value)
    page.click("#model-load")
    problem = page.locator("#problem")
    problem.wait_for(state="visible")
    assert explanation in page.inner_text("#problem-summary")
    assert page.inner_text("#problem-detail").split(":")[0] in (
        "model_not_allowed",
        "invalid_config",
    )
    assert page.is_enabled("#live-start")


def test_phone_sized_screen_has_no_sideways_scrolling(
    browser: Browser, server: ServerProcess, artefacts: Path
) -> None:
    """On a phone-sized screen everything fits the width and the transcript follows the
    microphone controls."""
    tab = open_page(browser, server.http_url + "/", viewport={"width": 390, "height": 844})
    try:
        tab.wait_for_selector("#config-model")
        tab.screenshot(path=artefacts / "phone.png", full_page=True)
        assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        microphone = tab.locator("#live-heading").bounding_box()
        transcript = tab.locator("#transcript-heading").bounding_box()
        files = tab.locator("#file-heading").bounding_box()
        assert microphone and transcript and files
        assert microphone["y"] < transcript["y"] < files["y"]
    finally:
        tab.context.close()


def test_reconnects_after_a_restart_with_the_token(browser: Browser, artefacts: Path) -> None:
    """With a token in its address the page connects; when the server stops it says so, and
    it reconnects by itself once the server is back, without a reload. Without the token it
    explains that one is needed."""
    with serving("--token", "s3cret") as first:
        port = urlsplit(first.http_url).port
        assert port is not None
        tab = open_page(browser, first.http_url + "/?token=s3cret")
        tab.evaluate("window.loadedOnce = true")
        tokenless = browser.new_context(bypass_csp=True).new_page()
        tokenless.goto(first.http_url + "/")
        tokenless.wait_for_function(
            "document.getElementById('connection').textContent.includes('access token')",
            timeout=CONNECT_TIMEOUT_MS,
        )
        tokenless.screenshot(path=artefacts / "token-needed.png")
        tokenless.context.close()
        first.stop(signal.SIGTERM)
    tab.wait_for_selector("#connection[data-state=closed]", timeout=CONNECT_TIMEOUT_MS)
    assert "Disconnected" in tab.inner_text("#connection")
    tab.screenshot(path=artefacts / "disconnected.png")

    with serving("--token", "s3cret", "--port", str(port)):
        tab.wait_for_selector("#connection[data-state=ready]", timeout=CONNECT_TIMEOUT_MS)
        assert tab.evaluate("window.loadedOnce") is True
        assert "Connected" in tab.inner_text("#connection")
    tab.context.close()


@pytest.mark.parametrize(
    ("address", "socket", "protocols"),
    [
        ("/#token=abc", "/asr", ["openai-insecure-api-key.abc"]),
        ("/?token=abc", "/asr", ["openai-insecure-api-key.abc"]),
        ("/#token=a%2Fb%3D", "/asr?token=a%2Fb%3D", []),
        ("/", "/asr", []),
    ],
    ids=["fragment", "query", "no-subprotocol-can-hold-it", "none"],
)
def test_socket_offers_the_token_as_a_subprotocol(
    page: Page, address: str, socket: str, protocols: list[str]
) -> None:
    """The page's socket offers the token of the page's address (#token= or ?token=) as a
    subprotocol; only a token no subprotocol can hold goes into the socket's address."""
    opened = page.evaluate(
        """async address => {
            history.replaceState(null, "", address);
            // A fresh copy of the module (its own URL) reads the address anew.
            const fresh = `/static/connection-state.js?${encodeURIComponent(address)}`;
            return (await import(fresh)).socketAddress();
        }""",
        address,
    )
    assert opened == {"url": f"ws://{urlsplit(page.url).netloc}{socket}", "protocols": protocols}


PAGE_TOKEN = "page-s3cret"


@pytest.mark.parametrize("name", PROXIES)
def test_page_streams_through_the_deployed_proxies(
    browser: Browser, artefacts: Path, name: str
) -> None:
    """Through HAProxy and nginx with the deploy/ configurations, the page of a server that
    wants a token loads from an address whose #token= never leaves the browser, opens its
    socket with the token as a subprotocol (the proxy keeping the port in the Host, with
    which the server compares the page's Origin) and streams a file to its words; the
    proxy logged the page and its socket, never the token."""
    if not installed(name):
        pytest.skip(f"needs {name} (apt-get install {name})")
    with (
        serving("--token", PAGE_TOKEN) as guarded,
        running_proxy(name, [guarded.http_url.removeprefix("http://")]) as proxy,
    ):
        tab = open_page(browser, f"{proxy.http_url}/#token={PAGE_TOKEN}")
        choose_file(tab, speech_path("ljspeech/LJ001-0002.wav"))
        wait_for_words(tab, "comparatively modern")
        wait_until_idle(tab)
        tab.screenshot(path=artefacts / f"through-{name}.png")
        assert "comparatively modern" in words(committed_text(tab))
        tab.context.close()
        logged = wait_for_log(proxy, lambda text: "GET /asr " in text)
    assert "GET / " in logged
    assert PAGE_TOKEN not in logged


def test_idle_close_reconnects_quietly(browser: Browser) -> None:
    """When the server closes an idle session, the page opens a new one at once and never
    shows the connection as lost."""
    with serving("--idle-timeout", "1") as idle:
        tab = open_page(browser, idle.http_url + "/")
        first = tab.get_attribute("#connection", "data-session")
        tab.evaluate(
            """() => {
                const line = document.getElementById("connection");
                window.statesSeen = [];
                new MutationObserver(() => window.statesSeen.push(line.dataset.state))
                    .observe(line, { attributes: true, attributeFilter: ["data-state"] });
            }"""
        )
        tab.wait_for_function(
            """first => {
                const line = document.getElementById("connection");
                return line.dataset.state === "ready" && line.dataset.session !== first;
            }""",
            arg=first,
            timeout=CONNECT_TIMEOUT_MS,
        )
        assert "closed" not in tab.evaluate("window.statesSeen")
        assert tab.is_hidden("#problem")
        tab.context.close()


def word(start: float, end: float, text: str) -> dict[str, object]:
    return {"start": start, "end": end, "word": text}


def commit(*words: dict[str, object]) -> dict[str, object]:
    """A `commit` message as the server sends it, its text the words joined."""
    return {
        "type": "commit",
        "start": words[0]["start"],
        "end": words[-1]["end"],
        "text": "".join(str(w["word"]) for w in words),
        "words": list(words),
    }


@pytest.mark.parametrize(
    ("commits", "lines"),
    [
        pytest.param(
            [
                commit(word(0, 0.4, " Hello"), word(0.4, 0.9, " there.")),
                commit(word(1, 1.5, " Next")),
            ],
            [[0, 0.9, " Hello there."], [1, 1.5, " Next"]],
            id="a sentence ends its line",
        ),
        pytest.param(
            [commit(word(0, 0.4, " one"), word(0.5, 0.9, " two."), word(1, 1.4, " three"))],
            [[0, 0.9, " one two."], [1, 1.4, " three"]],
            id="inside one commit",
        ),
        pytest.param(
            [commit(word(0, 0.5, " before")), commit(word(2, 2.5, " after"))],
            [[0, 0.5, " before"], [2, 2.5, " after"]],
            id="a pause ends its line",
        ),
        pytest.param(
            [commit(word(t, t + 0.5, f" w{t}")) for t in range(18)],
            [[0, 14.5, "".join(f" w{t}" for t in range(15))], [15, 17.5, " w15 w16 w17"]],
            id="a long line ends after 15 s",
        ),
    ],
)
def test_transcript_lines(page: Page, commits: list[object], lines: list[list[object]]) -> None:
    """Committed words go onto timed lines that end at a sentence, a pause or 15 s."""
    result = page.evaluate(
        """async commits => {
            const { Transcript } = await import("/static/transcript.js");
            const transcript = new Transcript();
            for (const commit of commits) transcript.addCommit(commit);
            return transcript.lines.map(line => [line.start, line.end, line.text]);
        }""",
        commits,
    )
    assert result == lines


def test_transcript_exports(page: Page) -> None:
    """TXT, SRT and WebVTT hold one cue per line, with WebVTT's markup characters escaped."""
    commits = [
        commit(word(0, 1.25, " Is a < b"), word(1.25, 2, " & c?")),
        commit(word(61.5, 62, " Yes -->"), word(62, 3725.001, " sure.")),
    ]
    exports = page.evaluate(
        """async commits => {
            const { Transcript, FORMATS } = await import("/static/transcript.js");
            const transcript = new Transcript();
            for (const commit of commits) transcript.addCommit(commit);
            return Object.fromEntries(
                Object.entries(FORMATS).map(([name, f]) => [name, f.render(transcript.lines)]));
        }""",
        commits,
    )
    assert exports == {
        "txt": "Is a < b & c?\nYes --> sure.\n",
        "srt": "1\n00:00:00,000 --> 00:00:02,000\nIs a < b & c?\n\n"
        "2\n00:01:01,500 --> 01:02:05,001\nYes --> sure.\n\n",
        "vtt": "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nIs a &lt; b &amp; c?\n\n"
        "00:01:01.500 --> 01:02:05.001\nYes --&gt; sure.\n\n",
    }
