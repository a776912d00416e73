"""A client that goes leaves nothing behind: its session's threads, tasks, queued steps and
buffers are freed the moment its connection closes, by reference counting alone (the
garbage collector is off in these tests), whether it drops mid-stream or closes cleanly."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest
from websockets.asyncio.client import ClientConnection, connect

from asr_interface.core.decoding import WindowRequest, WindowResult
from asr_interface.core.engine import BatchKey, StepResult
from asr_interface.server.admission import LoadMonitor
from asr_interface.server.app import ASRServer
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.scheduler import BatchPolicy, BatchScheduler
from tests.encoded_audio import encode_speech
from tests.server.asr_calls import pcm16
from tests.server.conftest import in_process_server
from tests.server.test_realtime_server import append_event, pcm_24k
from tests.speech import JFK, speech_audio

CLIENTS = 30
KINDS = ("pcm", "wav", "ogg_opus", "realtime")
"""`/asr` with PCM, `/asr` with `encoding: auto` (WAV, Ogg Opus), `/v1/realtime`."""
STREAM_SECONDS = 3.0
FRAMES = 12  # a quarter second of speech each, sent at twice real time
SETTLE_SECONDS = 1.0
RSS_TOLERANCE = 20 << 20
"""What resident memory may stay above its baseline once the clients are gone. Measured: 4
to 9 MiB after the second round of 30 clients, what the allocators keep of the round's
buffers (the decoding threads' malloc arenas, Python's object pools), not anything a
session holds. It catches a session keeping a model-sized object; the weak references
catch the smaller leaks (30 sessions' three seconds of audio are under 6 MiB)."""


@pytest.fixture(autouse=True)
def no_collector() -> Iterator[None]:
    """The garbage collector is off: whatever a reference cycle holds stays held."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@cache
def frames(kind: str) -> list[bytes | str]:
    """The first `STREAM_SECONDS` of JFK, in `FRAMES` frames of what `kind` sends; a
    compressed stream is cut from the whole file's bytes, so it stays open mid-stream."""
    audio = speech_audio(JFK)
    if kind == "realtime":
        pcm = pcm_24k(audio[: round(STREAM_SECONDS * 16000)])
        size = -(-len(pcm) // FRAMES)
        return [append_event(pcm[i : i + size]) for i in range(0, len(pcm), size)]
    if kind == "pcm":
        data = pcm16(audio[: round(STREAM_SECONDS * 16000)])
    else:
        encoded = encode_speech(audio, kind)
        data = encoded[: round(len(encoded) * STREAM_SECONDS * 16000 / len(audio))]
    size = -(-len(data) // FRAMES)
    return [data[i : i + size] for i in range(0, len(data), size)]


async def streaming(server: ASRServer, kind: str) -> ClientConnection:
    """A client that has streamed `STREAM_SECONDS` of speech and keeps its stream open."""
    url = server.url
    if kind == "realtime":
        url = url.removesuffix("/asr") + "/v1/realtime?intent=transcription"
    connection = await connect(url)
    await connection.recv()  # `ready`, or `session.created`
    if kind in ("wav", "ogg_opus"):
        await connection.send(json.dumps({"type": "start", "encoding": "auto"}))
    for frame in frames(kind):
        await connection.send(frame)
        await asyncio.sleep(STREAM_SECONDS / FRAMES / 2)
    return connection


def open_sessions(server: ASRServer) -> int:
    """The open sessions, as /health tells a balancer."""
    url = f"http://127.0.0.1:{server.port}/health"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as error:  # 503: full or overloaded, still counted
        body = error.read()
    sessions: int = json.loads(body)["sessions"]
    return sessions


def rss() -> int:
    """This process's resident memory in bytes: the server runs in it."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


@dataclass(frozen=True)
class Footprint:
    """What the server holds for its sessions, as seen from outside and in."""

    threads: int
    sessions: int
    rss: int


async def footprint(server: ASRServer) -> Footprint:
    sessions = await asyncio.to_thread(open_sessions, server)
    return Footprint(threading.active_count(), sessions, rss())


def held(server: ASRServer) -> tuple[list[weakref.ref[object]], list[weakref.ref[object]]]:
    """Weak references to every open session's runner and protocol session, and to its
    engine, which a model call already running on a worker thread holds until it returns."""
    runners = list(server._runners)
    sessions: list[weakref.ref[object]] = [
        weakref.ref(part) for r in runners for part in (r, r.session)
    ]
    engines: list[weakref.ref[object]] = [weakref.ref(r.engine) for r in runners]
    return sessions, engines


def alive(refs: list[weakref.ref[object]]) -> list[str]:
    """The kinds of the objects still alive."""
    return [type(obj).__name__ for obj in (ref() for ref in refs) if obj is not None]


async def settled(
    server: ASRServer, baseline: Footprint, sessions: list[weakref.ref[object]]
) -> Footprint:
    """The footprint once it is back at `baseline` and none of `sessions` survives, or as
    it is `SETTLE_SECONDS` after the call."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        now = await footprint(server)
        back = (
            now.threads <= baseline.threads
            and now.sessions == 0
            and now.rss <= baseline.rss + RSS_TOLERANCE
            and not alive(sessions)
        )
        if back or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.05)


async def calls_returned(server: ASRServer) -> None:
    """Waits for the model calls running on worker threads to return."""
    for _ in range(600):
        if server.scheduler.in_flight == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a model call never returned")


async def dropped(
    server: ASRServer, clients: int
) -> tuple[list[weakref.ref[object]], list[weakref.ref[object]]]:
    """Opens `clients` clients of every kind in turn, streams on each, then drops them all
    without a close handshake; weak references to what their sessions held (`held`)."""
    kinds = [KINDS[i % len(KINDS)] for i in range(clients)]
    connections = await asyncio.gather(*(streaming(server, kind) for kind in kinds))
    assert (await footprint(server)).sessions == clients
    refs = held(server)
    for connection in connections:
        connection.transport.abort()
    return refs


async def warm(server: ASRServer, clients: int) -> Footprint:
    """The footprint after a first round of `clients` dropped clients: it makes what the
    server keeps once made (every model worker, allocator arenas, the thread asking
    /health) before the baseline is taken."""
    loop = asyncio.get_running_loop()
    workers = server.settings.workers
    await asyncio.gather(
        *(loop.run_in_executor(server.model_workers, time.sleep, 0.1) for _ in range(workers))
    )
    before = await footprint(server)
    sessions, _ = await dropped(server, clients)
    await calls_returned(server)
    await settled(server, before, sessions)
    return await footprint(server)


@pytest.mark.model
async def test_dropped_clients_release_everything_at_once() -> None:
    """30 clients (/asr PCM, WAV and Ogg Opus, /v1/realtime) dropped mid-stream without a
    close handshake: within a second the server is back at its thread count, has no open
    session, every runner and session is freed, and resident memory is within
    `RSS_TOLERANCE` of where it was; the engines go once the model calls running at the
    drop return."""
    async with in_process_server() as server:
        baseline = await warm(server, CLIENTS)
        sessions, engines = await dropped(server, CLIENTS)
        after = await settled(server, baseline, sessions)
        assert after.sessions == 0
        assert after.threads <= baseline.threads, [t.name for t in threading.enumerate()]
        assert not alive(sessions)
        assert after.rss <= baseline.rss + RSS_TOLERANCE
        await calls_returned(server)
        assert not alive(engines)


@pytest.mark.model
async def test_a_clean_close_mid_step_leaves_nothing_behind() -> None:
    """A client closing with a handshake while its step runs on a worker thread: within a
    second no session is open, its runner and session are freed and the thread count is
    back; its engine goes when that step returns."""
    async with in_process_server() as server:
        baseline = await warm(server, len(KINDS))
        connection = await connect(server.url)
        await connection.recv()
        sessions, engines = held(server)
        for frame in frames("pcm") * 4:
            await connection.send(frame)
            await asyncio.sleep(STREAM_SECONDS / FRAMES / 2)
            if server.scheduler.in_flight:
                break
        assert server.scheduler.in_flight
        await connection.close()
        after = await settled(server, baseline, sessions)
        assert after.sessions == 0
        assert after.threads <= baseline.threads, [t.name for t in threading.enumerate()]
        assert not alive(sessions)
        await calls_returned(server)
        assert not alive(engines)


class BrokenDecoder:
    """A model that fails on every window (after `hang` is set, when given)."""

    batch_key = "broken"
    parallel_calls = 1

    def __init__(self, hang: threading.Event | None) -> None:
        self.hang = hang

    def decode(self, requests: Sequence[WindowRequest]) -> list[WindowResult]:
        if self.hang is not None:
            self.hang.wait(10)
        raise RuntimeError("the model failed")


class BrokenEngine:
    """A session's engine whose steps fail: alone in `step`, batched in the model's
    `decode` (after `hang` is set, when given)."""

    sep = " "

    def __init__(self, batched: bool, hang: threading.Event | None) -> None:
        self.batched = batched
        self.hang = hang

    def batch_key(self) -> BatchKey | None:
        return BatchKey(BrokenDecoder(self.hang), None) if self.batched else None

    def begin(self, audio: npt.NDArray[np.float32], *, final: bool) -> WindowRequest:
        return WindowRequest(audio)

    def complete(
        self, result: WindowResult | None, model_seconds: float, *, final: bool
    ) -> StepResult:
        raise AssertionError("the model failed before")

    def step(self, audio: npt.NDArray[np.float32], *, final: bool) -> StepResult:
        raise RuntimeError("the backend failed")

    def reset(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("batched", "streams", "timeout"),
    [(False, 1, False), (True, 1, False), (True, 3, False), (True, 2, True)],
    ids=["alone", "batch of one", "batch decoded again one by one", "past the call timeout"],
)
async def test_a_failed_step_leaves_no_cycle_holding_its_engine(
    batched: bool, streams: int, timeout: bool
) -> None:
    """A step failing in the backend, in a batched model call (then in each window alone)
    or in a batch past `call_timeout`: once each session has its error and has closed, its
    engine, with the audio it was given, is freed without the garbage collector. A batch's
    error still says where on the worker thread it was raised, as text."""
    hang = threading.Event() if timeout else None
    engines = [BrokenEngine(batched, hang) for _ in range(streams)]
    refs: list[weakref.ref[object]] = [weakref.ref(engine) for engine in engines]
    with ThreadPoolExecutor(2) as executor:
        scheduler = BatchScheduler(
            executor,
            BatchPolicy(max_batch=streams, window=0.0),
            observer=ServerMetrics(),
            load=LoadMonitor(None),
            call_timeout=0.2 if timeout else None,
        )

        async def failed(engine: BrokenEngine) -> tuple[str, str]:
            audio = np.zeros(1600, dtype=np.float32)
            try:
                await scheduler.step(engine, audio, final=False, lag=0.0)
            except Exception as error:
                return type(error).__name__, "".join(getattr(error, "__notes__", []))
            finally:
                scheduler.forget(engine)
            return "no error", ""

        errors = await asyncio.gather(*(failed(engine) for engine in engines))
        if hang is not None:
            hang.set()
        await scheduler.close()
    await asyncio.sleep(0)  # the loop hears of the calls that returned
    del engines
    assert [name for name, _ in errors] == [
        "ModelCallTimeout" if timeout else "RuntimeError"
    ] * streams
    if batched and not timeout:
        assert all("in decode" in notes for _, notes in errors), errors
    assert not alive(refs)
