"""Edges and bounds, on real servers on loopback: what an attacker or a careless client
sends gets a typed answer, and nothing a client does grows the server without limit."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from asr_interface.protocol import (
    EXCERPT_CHARS,
    MAX_ERROR_CHARS,
    Commit,
    Done,
    Error,
    ModelLoaded,
    Ready,
    ServerMessage,
)
from tests.server.asr_calls import pcm16, receive
from tests.server.conftest import ServerProcess, running_server
from tests.speech import JFK, speech_audio

pytestmark = pytest.mark.model

TOKEN = "limits-token"
ALLOWED_ORIGIN = "http://allowed.example:8080"
REPLY_BYTES = 16384


@pytest.fixture(scope="module")
def guarded() -> Iterator[ServerProcess]:
    """A server with a token, one extra allowed origin, a small reply queue, a 1 s idle
    timeout, no frame-rate limit to speak of and no model allowlist (any model name
    without a path)."""
    flags = ["--token", TOKEN, "--allowed-origins", ALLOWED_ORIGIN]
    flags += ["--max-reply-bytes", str(REPLY_BYTES), "--idle-timeout", "1"]
    flags += ["--max-frames-per-second", "100000"]
    with running_server(*flags) as started:
        yield started


def with_token(server: ServerProcess) -> str:
    return f"{server.url}?token={TOKEN}"


async def next_error(connection: ClientConnection) -> Error:
    message = await receive(connection)
    assert isinstance(message, Error), message
    return message


async def until_done(connection: ClientConnection) -> list[ServerMessage]:
    """Every message up to and including `done`."""
    messages = [await receive(connection)]
    while not isinstance(messages[-1], Done):
        messages.append(await receive(connection))
    return messages


@pytest.mark.parametrize(
    "frame", ["[" * 100_000, "1" * 5000, '{"type": "start", "sample_rate": ' + "9" * 5000 + "}"]
)
async def test_pathological_json_answers_invalid_json(guarded: ServerProcess, frame: str) -> None:
    """Deep nesting and numbers of thousands of digits are `invalid_json`, not a crash
    (close 1011): the session goes on and streams."""
    async with connect(with_token(guarded), max_size=None) as connection:
        assert isinstance(await receive(connection), Ready)
        await connection.send(frame)
        assert (await next_error(connection)).code == "invalid_json"
        await connection.send(json.dumps({"type": "start"}))
        await connection.send(pcm16(speech_audio(JFK)[:16000]))
        await connection.send(json.dumps({"type": "end"}))
        assert isinstance((await until_done(connection))[-1], Done)


async def test_error_replies_quote_only_an_excerpt(guarded: ServerProcess) -> None:
    """A 1 MiB text frame with a bogus type, encoding, field or model is answered in a few
    hundred characters, never echoed whole; a bogus type or encoding is quoted in short."""
    huge = "x" * (1 << 20)
    quoted = [{"type": huge}, {"type": "start", "encoding": huge}]
    named = [{"type": "start", huge: 1}, {"type": "load_model", "model": huge}]
    async with connect(with_token(guarded), max_size=None) as connection:
        assert isinstance(await receive(connection), Ready)
        for message in [*quoted, *named, {"type": "load_model", huge: 1}]:
            await connection.send(json.dumps(message))
            error = await next_error(connection)
            assert len(error.message) <= MAX_ERROR_CHARS
            if message in quoted:
                assert "x" * (EXCERPT_CHARS + 1) not in error.message


def raw_upgrade(server: ServerProcess, headers: list[tuple[str, str]]) -> int:
    """The HTTP status of a WebSocket upgrade of /asr sent with exactly `headers`."""
    parts = urlsplit(server.http_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    connection.putrequest("GET", "/asr")
    upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]
    for name, value in upgrade + headers:
        connection.putheader(name, value)
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([("Authorization", f"Bearer {TOKEN}")], 101),
        ([("Authorization", f"Bearer {TOKEN}"), ("Authorization", f"Bearer {TOKEN}")], 401),
        ([("Authorization", "Bearer wrong"), ("Authorization", f"Bearer {TOKEN}")], 401),
        ([("Authorization", f"Bearer {TOKEN}"), ("Origin", "http://evil.example")], 403),
        ([("Authorization", f"Bearer {TOKEN}"), ("Origin", ALLOWED_ORIGIN)], 101),
        ([("Authorization", f"Bearer {TOKEN}"), ("Origin", "null")], 403),
        (
            [
                ("Authorization", f"Bearer {TOKEN}"),
                ("Origin", ALLOWED_ORIGIN),
                ("Origin", "http://evil.example"),
            ],
            403,
        ),
    ],
    ids=[
        "one-token",
        "token-twice",
        "wrong-then-right",
        "foreign-origin",
        "allowed-origin",
        "null-origin",
        "origin-twice",
    ],
)
def test_upgrade_headers_are_checked_never_500(
    guarded: ServerProcess, headers: list[tuple[str, str]], status: int
) -> None:
    """Duplicate `Authorization` headers are 401 and a foreign or duplicated `Origin` is
    403; a listed origin and clients sending no Origin may connect."""
    assert raw_upgrade(guarded, headers) == status


async def test_the_servers_own_page_may_connect(guarded: ServerProcess) -> None:
    """A page served by the server itself (Origin equal to its own host) opens a session."""
    origin = guarded.http_url
    async with connect(with_token(guarded), origin=origin) as connection:
        assert isinstance(await receive(connection), Ready)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(with_token(guarded), origin="http://localhost:1"):
            pass
    assert refused.value.response.status_code == 403


def test_repeated_if_none_match_headers_are_one_list(guarded: ServerProcess) -> None:
    """`If-None-Match` sent twice is read as one list (HTTP allows either), not a 500:
    the page's ETag in either line gives 304."""
    parts = urlsplit(guarded.http_url)
    first = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    first.request("GET", "/")
    etag = first.getresponse().getheader("ETag")
    first.close()
    assert etag
    statuses = []
    for values in (['"other"', etag], ['"other"', '"another"']):
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        connection.putrequest("GET", "/")
        for value in values:
            connection.putheader("If-None-Match", value)
        connection.endheaders()
        statuses.append(connection.getresponse().status)
        connection.close()
    assert statuses == [304, 200]


@pytest.mark.parametrize("model", ["~", "~root", "~/models/x"])
async def test_home_directory_names_are_not_models(guarded: ServerProcess, model: str) -> None:
    """Model names starting with `~` are refused without touching the file system, and the
    answer names no server path."""
    async with connect(with_token(guarded)) as connection:
        assert isinstance(await receive(connection), Ready)
        await connection.send(json.dumps({"type": "load_model", "model": model}))
        error = await next_error(connection)
        assert error.code == "model_not_allowed"
        assert "/root" not in error.message and "/home" not in error.message


@pytest.mark.parametrize("bad", [3e38, -3e38, np.inf, np.nan])
async def test_out_of_range_float_samples_are_invalid_audio(
    guarded: ServerProcess, bad: float
) -> None:
    """A float frame holding 3e38 (finite, but no audio) is dropped with `invalid_audio`;
    the stream goes on and finishes with `done`."""
    async with connect(with_token(guarded)) as connection:
        assert isinstance(await receive(connection), Ready)
        await connection.send(json.dumps({"type": "start", "encoding": "pcm_f32le"}))
        frame = np.zeros(1600, dtype="<f4")
        frame[100] = bad
        await connection.send(frame.tobytes())
        assert (await next_error(connection)).code == "invalid_audio"
        await connection.send(np.zeros(16000, dtype="<f4").tobytes())
        await connection.send(json.dumps({"type": "end"}))
        done = (await until_done(connection))[-1]
        assert isinstance(done, Done)
        assert done.audio_seconds == pytest.approx(1.0)


async def test_an_empty_frame_does_not_start_a_stream(guarded: ServerProcess) -> None:
    """An empty binary frame before `start` is no audio: `load_model` and `start` with
    another format are still accepted after it."""
    async with connect(with_token(guarded)) as connection:
        assert isinstance(await receive(connection), Ready)
        await connection.send(b"")
        await connection.send(json.dumps({"type": "load_model", "model": "tiny.en"}))
        assert isinstance(await receive(connection), ModelLoaded)
        await connection.send(b"")
        await connection.send(json.dumps({"type": "start", "encoding": "pcm_f32le"}))
        await connection.send(json.dumps({"type": "end"}))
        done = await receive(connection)
        assert isinstance(done, Done)
        assert done.audio_seconds == 0


async def test_a_client_that_never_reads_is_closed_as_slow_reader(
    guarded: ServerProcess,
) -> None:
    """A client that sends frames that are answered but does not read the answers is closed
    (1008, `slow_reader`) once --max-reply-bytes of replies wait beyond what the sockets
    hold; when it reads at last, the close comes after the replies that fitted. Others
    are served meanwhile."""
    parts = urlsplit(guarded.http_url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    # Each is answered with an `invalid_config` error of about 340 bytes; the kernel may
    # buffer megabytes of them before the reply queue fills, so send until the server
    # counts the slow reader (or far more than any buffer holds), then read.
    bogus = json.dumps({"type": "load_model", "x" * 300: 1})
    async with connect(with_token(guarded), sock=sock, max_queue=1) as connection:
        for sent in range(1, 100_001):
            await connection.send(bogus)
            if sent % 2000 == 0 and await asyncio.to_thread(slow_readers, guarded) > 0:
                break
        async with connect(with_token(guarded)) as other:
            assert isinstance(await receive(other), Ready)
        replies = 0
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(connection.recv(), 60)
                replies += 1
    assert replies < sent
    assert closed.value.rcvd is not None, "the server dropped the connection without a close"
    assert closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason.startswith("slow_reader")
    assert slow_readers(guarded) == 1


def slow_readers(server: ServerProcess) -> float:
    """How many connections the server closed as slow readers, from its /metrics."""
    with urllib.request.urlopen(server.http_url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "asr_errors_total" and sample.labels == {"code": "slow_reader"}:
                return float(sample.value)
    return 0.0


async def test_idle_timeout_waits_for_the_servers_own_backlog(guarded: ServerProcess) -> None:
    """A client that sends a recording at once and `end`, then only waits, gets every
    commit and `done` even when the model takes longer than the 1 s idle timeout."""
    audio = speech_audio(JFK)
    async with connect(with_token(guarded)) as connection:
        assert isinstance(await receive(connection), Ready)
        started = time.monotonic()
        await connection.send(json.dumps({"type": "start"}))
        for _ in range(3):  # 33 s of speech: several model steps
            await connection.send(pcm16(audio))
        await connection.send(json.dumps({"type": "end"}))
        messages = await until_done(connection)
        assert time.monotonic() - started > 1.0, "the backlog did not outlast the timeout"
        assert not [m for m in messages if isinstance(m, Error)]
        assert any(isinstance(m, Commit) for m in messages)
        assert messages[-1].audio_seconds == pytest.approx(3 * audio.size / 16000, abs=0.01)
        # Once nothing is owed, the idle timeout applies again.
        assert (await next_error(connection)).code == "idle_timeout"


async def test_frames_beyond_the_rate_are_read_later_not_lost() -> None:
    """Beyond --max-frames-per-second a connection is read at that rate: 300 frames at
    100/s take at least 2 s to be read (the first 100 pass at once), and every sample of
    them is transcribed."""
    with running_server("--max-frames-per-second", "100") as paced:
        async with connect(paced.url) as connection:
            assert isinstance(await receive(connection), Ready)
            started = time.monotonic()
            await connection.send(json.dumps({"type": "start"}))
            for _ in range(298):
                await connection.send(np.zeros(160, dtype="<i2").tobytes())
            await connection.send(json.dumps({"type": "end"}))
            messages = await until_done(connection)
            elapsed = time.monotonic() - started
    assert not [m for m in messages if isinstance(m, Error)]
    done = messages[-1]
    assert isinstance(done, Done)
    assert done.audio_seconds == pytest.approx(298 * 0.01)
    assert elapsed >= 1.9


async def test_sessions_end_at_their_maximum_lifetime() -> None:
    """Past --max-session-seconds a streaming session gets `session_expired`, its stream is
    finished as `end` would (the tail and `done`), and it closes with 1000; an idle session
    is closed at once."""
    with running_server("--max-session-seconds", "3") as expiring:
        async with connect(expiring.url) as idle:
            assert isinstance(await receive(idle), Ready)
            assert (await next_error(idle)).code == "session_expired"
            with pytest.raises(ConnectionClosed) as closed:
                await receive(idle)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        async with connect(expiring.url) as streaming:
            assert isinstance(await receive(streaming), Ready)
            await streaming.send(json.dumps({"type": "start"}))
            audio = speech_audio(JFK)
            sender = asyncio.create_task(send_in_real_time(streaming, audio))
            messages = await until_done(streaming)
            sender.cancel()
            with pytest.raises(ConnectionClosed) as closed:
                await receive(streaming)
    codes = [m.code for m in messages if isinstance(m, Error)]
    assert codes[0] == "session_expired"
    assert set(codes) <= {"session_expired", "audio_after_end"}
    done = messages[-1]
    assert isinstance(done, Done)
    assert 1.0 < done.audio_seconds < audio.size / 16000
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000


async def send_in_real_time(connection: ClientConnection, audio: np.ndarray) -> None:
    for begin in range(0, audio.size, 1600):
        try:
            await connection.send(pcm16(audio[begin : begin + 1600]))
        except ConnectionClosed:
            return
        await asyncio.sleep(0.1)
