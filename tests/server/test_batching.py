"""Batched decoding across streams gives the words of unbatched decoding: engines driven by
`run_batch` with the real tiny.en model, and real servers on loopback ports."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from asr_interface.audio import SAMPLING_RATE
from asr_interface.backends.registry import get_loader
from asr_interface.backends.whisper_loader import FasterWhisperASR
from asr_interface.client import ServerError, StreamingClient
from asr_interface.core.config import ASRConfig
from asr_interface.core.decoding import TimedWord, WindowDecoder, WindowRequest, WindowResult
from asr_interface.core.engine import BatchKey, StepResult
from asr_interface.core.processor import AgreementEngine, OnlineASRProcessor
from asr_interface.evaluation import ErrorCount, word_errors
from asr_interface.protocol import Commit, Done, Error, Ready, parse_server_message
from asr_interface.server.app import ASRServer
from asr_interface.server.batch_call import BatchItem, Outcome, run_batch
from asr_interface.server.settings import ServerSettings
from tests.espeak import speak_all
from tests.server.conftest import ServerProcess, running_server
from tests.speech import JFK, SHORT, speech_audio, transcript

pytestmark = pytest.mark.model

RATE = SAMPLING_RATE
CLIPS = [
    "ljspeech/LJ001-0004.wav",
    "ljspeech/LJ001-0006.wav",
    "ljspeech/LJ001-0011.wav",
    "ljspeech/LJ001-0016.wav",
]
REPLY_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def template() -> OnlineASRProcessor:
    """The server's default processor (tiny.en), copied for every stream."""
    processor, _ = get_loader("faster-whisper").load(ASRConfig())
    assert isinstance(processor, OnlineASRProcessor)
    return processor


def new_engine(template: OnlineASRProcessor) -> AgreementEngine:
    engine = AgreementEngine(template.fresh_copy())
    assert engine.batch_key() is not None
    return engine


def chunks(name: str, seconds: float) -> list[tuple[npt.NDArray[np.float32], bool]]:
    """`name`'s audio in pieces of `seconds`, the last one final."""
    audio = speech_audio(name)
    size = round(seconds * RATE)
    starts = range(0, len(audio), size)
    return [(audio[start : start + size], start + size >= len(audio)) for start in starts]


def words_of(outcomes: Sequence[Outcome]) -> list[TimedWord]:
    committed = []
    for outcome in outcomes:
        assert isinstance(outcome, StepResult), outcome
        committed += outcome.committed
    return committed


def stream_alone(engine: AgreementEngine, name: str, seconds: float) -> list[TimedWord]:
    """The words `step` commits for `name` streamed in pieces of `seconds`."""
    return [
        word
        for audio, final in chunks(name, seconds)
        for word in engine.step(audio, final=final).committed
    ]


def stream_together(
    engines: Sequence[AgreementEngine], names: Sequence[str], seconds: float
) -> list[list[TimedWord]]:
    """Streams every file on its own engine, the steps of all streams in one batch each."""
    pieces = [chunks(name, seconds) for name in names]
    return [words_of(outcomes) for outcomes in batched_steps(engines, pieces)]


def batched_steps(
    engines: Sequence[AgreementEngine],
    pieces: Sequence[Sequence[tuple[npt.NDArray[np.float32], bool]]],
) -> list[list[Outcome]]:
    """Runs the pieces of every stream on its engine, one step per stream in each round,
    the steps of one round that share a key in one batch; each stream's outcomes."""
    outcomes: list[list[Outcome]] = [[] for _ in engines]
    for round_ in range(max(len(stream) for stream in pieces)):
        batches: dict[BatchKey, list[int]] = {}
        for index, stream in enumerate(pieces):
            if round_ < len(stream):
                key = engines[index].batch_key()
                assert key is not None
                batches.setdefault(key, []).append(index)
        for key, members in batches.items():
            items = [BatchItem(engines[index], *pieces[index][round_]) for index in members]
            for index, outcome in zip(members, run_batch(key, items), strict=True):
                outcomes[index].append(outcome)
    return outcomes


def test_batch_of_one_commits_what_a_step_commits(template: OnlineASRProcessor) -> None:
    """A stream decoded through the batched decoder, alone in every batch, commits exactly
    the words, times included, of the same stream run step by step."""
    expected = stream_alone(new_engine(template), JFK, 2.0)
    (batched,) = stream_together([new_engine(template)], [JFK], 2.0)
    assert batched == expected
    assert {"fellow", "americans", "country"} <= {
        word.strip(" ,.").lower() for _, _, word in batched
    }


def test_streams_batched_together_commit_what_each_commits_alone(
    template: OnlineASRProcessor,
) -> None:
    """Four streams whose steps share every model call commit, each, exactly the words it
    commits decoded alone."""
    alone = [stream_alone(new_engine(template), name, 3.0) for name in CLIPS]
    together = stream_together([new_engine(template) for _ in CLIPS], CLIPS, 3.0)
    assert together == alone


def seen(outcome: Outcome) -> tuple[Any, ...]:
    """What a step tells the client: its commits, its guess and the language announced."""
    assert isinstance(outcome, StepResult), outcome
    return outcome.committed, outcome.unconfirmed, outcome.language


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, npt.NDArray[np.float32]]:
    """German and Spanish sentences as 16 kHz audio, synthesised into a temporary folder."""
    return speak_all(tmp_path_factory.mktemp("espeak"))


@pytest.mark.usefixtures("beam_search_only")
def test_languages_are_detected_and_fixed_alike_batched_and_alone(
    spoken: dict[str, npt.NDArray[np.float32]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A German and a Spanish stream, batched together while their keys agree (both still
    detecting), commit and announce what each does alone, and end up in batches of their
    own language. Beam search: greedy decoding of base in a batch of two differed from each
    window alone (docs/batching.md)."""
    config = ASRConfig(
        model="base", lan="auto", beam_size=5, model_cache_dir=str(tmp_path_factory.mktemp("m"))
    )
    base, _ = get_loader(config.backend).load(config)
    assert isinstance(base, OnlineASRProcessor)
    pieces = [
        [
            (audio[start : start + RATE], start + RATE >= len(audio))
            for start in range(0, len(audio), RATE)
        ]
        for audio in spoken.values()
    ]
    alone = []
    for stream in pieces:
        engine = AgreementEngine(base.fresh_copy())
        alone.append([seen(engine.step(audio, final=final)) for audio, final in stream])
    engines = [AgreementEngine(base.fresh_copy()) for _ in pieces]
    together = batched_steps(engines, pieces)
    assert [[seen(outcome) for outcome in steps] for steps in together] == alone
    for language, engine, steps in zip(spoken, engines, together, strict=True):
        assert [s.language.language for s in steps if isinstance(s, StepResult) and s.language] == [
            language
        ]
        key = engine.batch_key()
        assert key is not None and key.language == language


class ChokingDecoder:
    """The real decoder, except that it raises on any batch holding a silent window, as a
    model crashing on one stream's input would."""

    def __init__(self, decoder: WindowDecoder) -> None:
        self.decoder = decoder
        self.calls: list[int] = []

    @property
    def batch_key(self) -> ChokingDecoder:
        return self

    def decode(self, requests: Sequence[WindowRequest]) -> list[WindowResult]:
        self.calls.append(len(requests))
        if any(not request.audio.any() for request in requests):
            raise RuntimeError("injected fault on a silent window")
        return self.decoder.decode(requests)


def test_window_the_model_fails_on_fails_only_its_step(template: OnlineASRProcessor) -> None:
    """When the batched call raises, each window is decoded again alone: the clean stream
    gets the result it gets alone, and only the silent stream's step fails."""
    expected = stream_alone(new_engine(template), SHORT, 3.0)
    clean, silent = new_engine(template), new_engine(template)
    key = clean.batch_key()
    assert key is not None and key == silent.batch_key()
    choking = ChokingDecoder(key.decoder)
    faulty_key = BatchKey(choking, key.language)
    audio = speech_audio(SHORT)
    outcomes = run_batch(
        faulty_key,
        [BatchItem(clean, audio, True), BatchItem(silent, np.zeros(RATE, np.float32), True)],
    )
    assert words_of(outcomes[:1]) == expected
    assert isinstance(outcomes[1], RuntimeError)
    assert "injected fault" in str(outcomes[1])
    assert choking.calls == [2, 1, 1]


# Real servers.


def pcm16(audio: npt.NDArray[np.float32]) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def receive(connection: ClientConnection) -> Any:
    frame = await asyncio.wait_for(connection.recv(), REPLY_TIMEOUT)
    assert isinstance(frame, str)
    return parse_server_message(frame)


async def open_session(url: str) -> ClientConnection:
    connection = await connect(url, max_size=None, compression=None)
    assert isinstance(await receive(connection), Ready)
    return connection


async def send_whole(connection: ClientConnection, name: str) -> list[Commit]:
    """Streams `name` as one frame, so that its steps do not depend on the network's pace,
    and returns its commits."""
    await connection.send(json.dumps({"type": "start"}))
    await connection.send(pcm16(speech_audio(name)))
    await connection.send(json.dumps({"type": "end"}))
    commits = []
    while not isinstance(message := await receive(connection), Done):
        assert not isinstance(message, Error), message
        if isinstance(message, Commit):
            commits.append(message)
    return commits


async def stream_each(url: str, names: Sequence[str], *, concurrently: bool) -> list[str]:
    """The transcript of each file, streamed on a session of its own."""
    connections = [await open_session(url) for _ in names]
    try:
        if concurrently:
            results = await asyncio.gather(
                *(send_whole(c, name) for c, name in zip(connections, names, strict=True))
            )
        else:
            results = [await send_whole(c, n) for c, n in zip(connections, names, strict=True)]
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    return ["".join(commit.text for commit in commits) for commits in results]


def http_json(server: ServerProcess, path: str) -> Any:
    try:
        with urllib.request.urlopen(server.http_url + path, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # /health is 503 while it refuses sessions
        return json.loads(error.read())


def metric(server: ServerProcess, name: str, **labels: str) -> float:
    """The value of one sample of /metrics (0 when absent)."""
    with urllib.request.urlopen(server.http_url + "/metrics", timeout=30) as response:
        body = response.read().decode()
    found = [
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == name and sample.labels == labels
    ]
    return found[0] if found else 0.0


@pytest.fixture(scope="module")
def unbatched() -> Iterator[ServerProcess]:
    """A LocalAgreement server, the policy whose steps batch, decoding every step alone."""
    with running_server("--policy", "local-agreement", "--max-batch", "1") as started:
        yield started


@pytest.fixture(scope="module")
def batched() -> Iterator[ServerProcess]:
    """A LocalAgreement server batching up to four streams' steps, waiting up to 50 ms."""
    with running_server(
        "--policy", "local-agreement", "--max-batch", "4", "--batch-window-ms", "50"
    ) as started:
        yield started


def corpus_errors(names: Sequence[str], texts: Sequence[str]) -> ErrorCount:
    counts = [word_errors(transcript(n), t) for n, t in zip(names, texts, strict=True)]
    return sum(counts[1:], counts[0])


async def test_one_stream_on_a_batching_server_commits_what_an_unbatched_one_does(
    batched: ServerProcess, unbatched: ServerProcess
) -> None:
    """A stream alone in every batch gets exactly the commits, word times included, that a
    server decoding every step alone sends."""
    results = []
    for server in (batched, unbatched):
        connection = await open_session(server.url)
        async with connection:
            results.append(await send_whole(connection, JFK))
    assert results[0] == results[1]
    assert len(results[0]) >= 2


async def test_concurrent_streams_batched_keep_the_unbatched_word_error_rate(
    batched: ServerProcess, unbatched: ServerProcess
) -> None:
    """Four files streamed at once through the batching server, whose batches then hold
    several streams, are transcribed within half a WER point of the same files streamed
    one after the other unbatched; /metrics shows the batches, queue waits and lags."""
    series = [
        ("asr_batch_size_count", {}),
        ("asr_batch_size_bucket", {"le": "1.0"}),
        ("asr_queue_wait_seconds_count", {}),
        ("asr_session_lag_seconds_count", {}),
    ]
    before = [metric(batched, name, **labels) for name, labels in series]
    together = await stream_each(batched.url, CLIPS, concurrently=True)
    alone = await stream_each(unbatched.url, CLIPS, concurrently=False)
    batched_wer = corpus_errors(CLIPS, together).rate
    assert abs(batched_wer - corpus_errors(CLIPS, alone).rate) <= 0.005
    assert batched_wer <= 0.2
    batches, single, waits, lags = (
        metric(batched, name, **labels) - earlier
        for (name, labels), earlier in zip(series, before, strict=True)
    )
    assert batches > single  # some batches held more than one stream's step
    assert waits >= batches
    assert lags >= len(CLIPS)


async def wait_for_sessions(server: ServerProcess, count: int) -> None:
    """Returns once the server counts `count` open sessions (closes are seen a bit late)."""
    while http_json(server, "/health")["sessions"] != count:
        await asyncio.sleep(0.05)


async def test_overloaded_server_refuses_new_sessions_until_the_load_leaves() -> None:
    """With a latency target no step can meet, a session is accepted while nothing has run;
    once its steps missed the target, a new connection gets `overloaded` and close 1013;
    when that session closes, new sessions are accepted again."""
    with running_server("--latency-target", "0.001") as strict:
        async with await open_session(strict.url) as first:
            assert await send_whole(first, SHORT)
            with pytest.raises(ServerError) as refused:
                async with StreamingClient(strict.url):
                    pass
            assert refused.value.code == "overloaded"
            async with connect(strict.url) as second:
                error = await receive(second)
                assert isinstance(error, Error) and error.code == "overloaded"
                with pytest.raises(ConnectionClosed) as closed:
                    await second.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        await asyncio.wait_for(wait_for_sessions(strict, 0), REPLY_TIMEOUT)
        async with StreamingClient(strict.url) as later:
            assert later.ready is not None
        assert metric(strict, "asr_errors_total", code="overloaded") == 2


@contextmanager
def choking_decoders(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[int, ChokingDecoder]]:
    """Every faster-whisper model's shared decoder chokes on silent windows; yields them
    as they are made."""
    real = FasterWhisperASR.window_decoder
    wrapped: dict[int, ChokingDecoder] = {}

    def window_decoder(asr: FasterWhisperASR) -> Any:
        decoder = real(asr)
        assert decoder is not None
        return wrapped.setdefault(id(decoder.decoder), ChokingDecoder(decoder))

    monkeypatch.setattr(FasterWhisperASR, "window_decoder", window_decoder)
    yield wrapped


async def test_stream_the_model_fails_on_fails_alone_on_a_batching_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stream whose window makes the batched call raise gets `backend_error`; the stream
    sharing that batch still gets the transcript it gets alone, and the server goes on."""
    with choking_decoders(monkeypatch) as decoders:
        settings = ServerSettings(
            port=0,
            max_batch=4,
            batch_window_ms=200,
            config=ASRConfig(policy="local-agreement"),  # whose steps batch
        )
        server = ASRServer(settings)
        await server.start()
        try:
            (alone,) = await stream_each(server.url, [JFK], concurrently=False)
            clean, silent = await open_session(server.url), await open_session(server.url)
            async with clean, silent:
                # The clean stream's first step runs alone; the silent one's waits for it
                # and shares the next batch with the clean stream's second step.
                commits = asyncio.create_task(send_whole(clean, JFK))
                await asyncio.sleep(0.2)
                await silent.send(pcm16(np.zeros(5 * RATE, np.float32)))
                error = await receive(silent)
                assert isinstance(error, Error) and error.code == "backend_error"
                assert "injected fault" in error.message
                assert "".join(commit.text for commit in await commits) == alone
            (decoder,) = decoders.values()
            assert 2 in decoder.calls  # the clean and the silent window in one call
            assert await stream_each(server.url, [SHORT], concurrently=False)
        finally:
            await server.shutdown()
