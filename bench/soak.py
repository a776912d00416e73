"""Soak: real-time streams for minutes against one server while other clients vanish and
misbehave; nothing they do may leak, or slow the clean streams.

`--streams` clean clients each stream LJ Speech clips at the pace of speech, one session
after another, through bench/load.py's `run_stream`: scored for word error rate, and for
commit latency as bench/capacity.py measures it (a word's receipt time minus the moment its
end was spoken). Meanwhile, from a process of their own (their work never delays the clean
clients' clock), until the time is up:

- `--churn` clients stream a few seconds live and vanish (the TCP connection aborted, no
  close), then reconnect;
- `--hostile` clients play every case of the test suite's bad-input tables
  (tests/bad_inputs.py) on the endpoint each table is for, `/asr` or `/v1/realtime`, and
  check each reply against the code the table names (a frame over the frame limit expects
  close 1009, as a live server sends); now and then one vanishes in the middle of a table;
- `--non-readers` clients never read a reply after the greeting: they send refused messages
  on `/asr`, or on `/v1/realtime` prompts the server echoes, until the server closes them
  (`slow_reader`) or for a minute;
- `--floods` clients send a second of PCM as 32,000 one-byte frames, then `end`, and expect
  `done` at 1.0 s.

Every `--sample-seconds` the server's resident memory and threads are read from /proc.
Once every client is gone, a probe client sends a minute of audio at once and vanishes:
the model calls the server makes after that are work for nobody (orphaned).

With `--compare`, the same clean streams first run alone (no other client) for the same
time on a server of their own, then the soak on another. Prints one JSON object: the run's
figures, or with `--compare` both runs (`alone`, `soak`) and their figures `side_by_side`:

- `server`: `rss_mb` and `threads` when `idle` before any client, at `start` (the first
  sample after `--warmup-minutes`), at `end` (the last sample under load) and `after` every
  client left; `growth_pct` from start to end (`flat`: within 5%) and from idle to after;
  `samples` as `[seconds, MiB, threads]`;
- `clean`: `finished` streams, `wer` over them and `wer_first` / `wer_last` over each
  client's first and last (drift), `commit_latency_p50/p90/p99`, `errors` received by code,
  `failures` of sessions that ended without `done`, by code (`overloaded`: refused);
- `misbehaving`: what each kind did; `hostile.mismatches` counts each
  "TABLE endpoint [case]: expected X, got Y" (none when every reply is the typed one);
- `orphan_probe`: model calls in the first 2 s after the probe vanished and in the 8 s
  after those (`calls_after_2s`: 0 when a disconnect cancels its work);
- `server_errors`: every error the server counted in /metrics, by code; `load_average`.

    python bench/soak.py --compare              # 30 minutes alone, then 30 minutes soaked
    python bench/soak.py --compare --minutes 2  # a quick look
    python bench/soak.py --compare --server-arg=--latency-target=0  # no stream refused
    python bench/soak.py --hostile 0 --non-readers 0 --floods 0 --minutes 60 --warmup-minutes 10
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import random
import re
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from load import TRACE, StreamRecord, add_server_arg, percentiles, run_stream, spawned_server
from prometheus_client.parser import text_string_to_metric_families
from speech_sets import REPO, Recording, long_stretch
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from asr_interface.audio import SAMPLING_RATE
from asr_interface.core.config import ASRConfig
from asr_interface.evaluation import ErrorCount, word_errors
from asr_interface.protocol import Done, Error, parse_server_message
from asr_interface.wire import MAX_STRING_CHARS

sys.path.insert(0, str(REPO))
from tests.bad_inputs import (
    BAD_INPUTS,
    BAD_MESSAGES,
    HOSTILE_FRAMES,
    LIMITS,
    SERVER_FLAGS,
    SHARED_REFUSALS,
    update_event,
)

FRAME_SECONDS = 0.1
PROBE_SECONDS = 60.0
STREAM_GRACE_SECONDS = 120.0
"""How long after its audio a clean stream may still wait for `done`."""
REPLY_TIMEOUT = 60.0
VANISH_SHARE = 0.25
"""The share of bad-input tables a hostile client leaves in the middle, vanishing."""
NON_READER_SECONDS = 60.0
FLOOD_FRAMES = 32_000
FLOOD_SECONDS = 300.0
FLAT_PCT = 5.0
MISBEHAVING = ("churn", "hostile", "non_readers", "floods")
ASR = "/asr"
REALTIME = "/v1/realtime?intent=transcription"
GREETINGS = ("ready", "session.created")
TOO_BIG = "close 1009"


@dataclass(frozen=True)
class Table:
    """One bad-input table and the endpoint its cases are sent to."""

    name: str
    endpoint: str
    cases: Sequence[tuple[str | bytes, str]]


TABLES = (
    Table("BAD_INPUTS", ASR, BAD_INPUTS),
    Table("BAD_MESSAGES", ASR, BAD_MESSAGES),
    Table("SHARED_REFUSALS", ASR, SHARED_REFUSALS),
    Table("SHARED_REFUSALS", REALTIME, SHARED_REFUSALS),
    Table("HOSTILE_FRAMES", REALTIME, HOSTILE_FRAMES),
)


@dataclass
class Misbehaviour:
    """What the misbehaving clients did."""

    vanished: int = 0
    tables: int = 0
    cases: int = 0
    tables_left: int = 0
    mismatches: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    closed_after: dict[str, list[float | None]] = field(
        default_factory=lambda: {ASR: [], REALTIME: []}
    )
    floods: Counter[str] = field(default_factory=Counter)

    def figures(self) -> dict[str, object]:
        def non_readers(seconds: list[float | None]) -> dict[str, object]:
            closed = [value for value in seconds if value is not None]
            return {
                "rounds": len(seconds),
                "closed_by_server": len(closed),
                "seconds_to_close_max": round(max(closed), 1) if closed else None,
            }

        return {
            "churn": {"vanished": self.vanished},
            "hostile": {
                "tables_played": self.tables,
                "cases_checked": self.cases,
                "tables_left_midway": self.tables_left,
                "mismatches": dict(self.mismatches),
            },
            "non_readers": {
                path(endpoint): non_readers(seconds)
                for endpoint, seconds in self.closed_after.items()
            },
            "floods": dict(self.floods),
            "refusals": dict(self.refusals),
            "failures": dict(self.failures),
        }


def pcm16(audio: npt.NDArray[np.float32]) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def send_live(
    connection: ClientConnection, audio: npt.NDArray[np.float32], seconds: float | None = None
) -> None:
    """Sends `audio` (or its first `seconds`) at the pace of speech, in 100 ms frames."""
    step = round(FRAME_SECONDS * SAMPLING_RATE)
    end = len(audio) if seconds is None else min(len(audio), round(seconds * SAMPLING_RATE))
    began = time.monotonic()
    for index, begin in enumerate(range(0, end, step)):
        await connection.send(pcm16(audio[begin : min(begin + step, end)]))
        await asyncio.sleep(max(0.0, began + (index + 1) * FRAME_SECONDS - time.monotonic()))


async def clean_client(
    url: str, recording: Recording, delay: float, until: float, records: list[StreamRecord]
) -> None:
    """Streams `recording` live, session after session, until `until`."""
    await asyncio.sleep(delay)
    chunk_seconds = ASRConfig().min_chunk_size
    while time.monotonic() < until:
        try:
            record = await asyncio.wait_for(
                run_stream(url, recording.audio, 0.0, FRAME_SECONDS, chunk_seconds),
                recording.seconds + STREAM_GRACE_SECONDS,
            )
        except (TimeoutError, OSError, InvalidHandshake) as error:
            record = StreamRecord(failure=f"{type(error).__name__}: {error}")
        records.append(record)
        if record.done is None:  # refused or failed: not again at once
            await asyncio.sleep(1.0)


async def vanish(
    connection: ClientConnection, audio: npt.NDArray[np.float32], seconds: float, live: bool
) -> None:
    """Streams `seconds` of `audio` (live, or all at once) on a session past its greeting,
    then drops the TCP connection without a close, as a client losing its network would."""
    await connection.send(json.dumps({"type": "start"}))
    if live:
        await send_live(connection, audio, seconds)
    else:
        for begin in range(0, round(seconds * SAMPLING_RATE), SAMPLING_RATE):
            await connection.send(pcm16(audio[begin : begin + SAMPLING_RATE]))
    connection.transport.abort()


async def churn_client(
    url: str, audio: npt.NDArray[np.float32], seed: int, until: float, tally: Misbehaviour
) -> None:
    generator = random.Random(seed)
    while time.monotonic() < until:
        try:
            if connection := await greeted(url, ASR, tally):
                await vanish(connection, audio, generator.uniform(2.0, 8.0), live=True)
                tally.vanished += 1
        except Exception as error:  # counted: one surprise does not end the soak
            tally.failures[f"churn: {type(error).__name__}"] += 1
        await asyncio.sleep(1.0)


async def asr_reply(connection: ClientConnection) -> str:
    """The next `/asr` message: an error's code, or else its type."""
    message = parse_server_message(str(await asyncio.wait_for(connection.recv(), REPLY_TIMEOUT)))
    return message.code if isinstance(message, Error) else message.type


async def realtime_reply(connection: ClientConnection) -> str:
    """The next Realtime event: an error's code, or else its type."""
    event = json.loads(await asyncio.wait_for(connection.recv(), REPLY_TIMEOUT))
    return str(event["error"]["code"] if event["type"] == "error" else event["type"])


Reply = Callable[[ClientConnection], Awaitable[str]]


def ending(closed: ConnectionClosed) -> str:
    """How a connection ended: the server's close code, the client's own (its keepalive
    ping unanswered: 1011), or 1006 when the TCP connection dropped without a close."""
    if closed.rcvd is not None and (closed.sent is None or closed.rcvd_then_sent):
        return f"close {closed.rcvd.code}"
    if closed.sent is not None:
        return f"client close {closed.sent.code}"
    return "close 1006"


def on_socket(frame: str | bytes, code: str) -> str:
    """What a live server answers a case with: its code, unless the frame is over the
    limit the WebSocket layer enforces before any parser sees it."""
    size = len(frame.encode() if isinstance(frame, str) else frame)
    return TOO_BIG if size > LIMITS.max_text_chars else str(code)


def address(url: str, endpoint: str) -> str:
    """`endpoint` on the server of `url`, an `/asr` URL."""
    return url.removesuffix(ASR) + endpoint


def path(endpoint: str) -> str:
    return endpoint.split("?")[0]


def replies(endpoint: str) -> Reply:
    return realtime_reply if endpoint == REALTIME else asr_reply


async def exchange(
    connection: ClientConnection, reply: Reply, frame: str | bytes, expected: str
) -> str:
    """Sends one case and reads its reply (none when none is expected)."""
    try:
        await connection.send(frame)
        return await reply(connection) if expected else ""
    except ConnectionClosed as closed:
        return ending(closed)
    except TimeoutError:
        return "timeout"


async def greeted(
    url: str, endpoint: str, tally: Misbehaviour, **options: Any
) -> ClientConnection | None:
    """A new connection to `endpoint` past its greeting, or None when the server turned
    it away."""
    connection = await connect(address(url, endpoint), compression=None, max_size=None, **options)
    try:
        greeting = await replies(endpoint)(connection)
    except BaseException:
        connection.transport.abort()
        raise
    if greeting in GREETINGS:
        return connection
    tally.refusals[greeting] += 1
    await connection.close()
    await asyncio.sleep(1.0)
    return None


async def play_table(
    url: str, table: Table, cut: int | None, until: float, tally: Misbehaviour
) -> None:
    """Sends every case of `table` in order and checks each reply; a new connection
    carries on after the server closes one; vanishes before case `cut`."""
    position = 0
    while position < len(table.cases):
        connection = await greeted(url, table.endpoint, tally)
        if connection is None:
            if time.monotonic() >= until:
                return
            continue
        try:
            while position < len(table.cases):
                if position == cut:
                    tally.tables_left += 1
                    return
                frame, code = table.cases[position]
                expected = on_socket(frame, code)
                got = await exchange(connection, replies(table.endpoint), frame, expected)
                tally.cases += 1
                if got != expected:
                    case = f"{table.name} {path(table.endpoint)} [{position}]"
                    tally.mismatches[f"{case}: expected {expected}, got {got}"] += 1
                position += 1
                if got.startswith("close") or got == "timeout":
                    break
            else:
                await connection.close()
        finally:
            connection.transport.abort()  # at once, unless closed above
    tally.tables += 1


async def hostile_client(url: str, seed: int, until: float, tally: Misbehaviour) -> None:
    """Plays the bad-input tables one after another until `until`."""
    generator = random.Random(seed)
    for table in itertools.cycle(TABLES):
        if time.monotonic() >= until:
            return
        cut = generator.randrange(len(table.cases)) if generator.random() < VANISH_SHARE else None
        try:
            await play_table(url, table, cut, until, tally)
        except Exception as error:  # counted: one surprise does not end the soak
            tally.failures[f"hostile: {type(error).__name__}"] += 1
            await asyncio.sleep(1.0)


async def non_reader(url: str, until: float, tally: Misbehaviour) -> None:
    """Sends frames that each get a reply and reads none, on `/asr` and `/v1/realtime` in
    turn; notes how long the server kept each connection open."""
    frames = {
        ASR: [frame for frame, _ in BAD_MESSAGES],
        REALTIME: [update_event({"prompt": "p" * MAX_STRING_CHARS})],
    }
    for endpoint in itertools.cycle(frames):
        if time.monotonic() >= until:
            return
        try:
            # No keepalive pings: their pongs would go unread too, and the client close.
            connection = await greeted(url, endpoint, tally, ping_interval=None)
        except Exception as error:  # counted: one surprise does not end the soak
            tally.failures[f"non-reader: {type(error).__name__}"] += 1
            await asyncio.sleep(1.0)
            continue
        if connection is None:
            continue
        began = time.monotonic()
        closed: float | None = None
        try:
            for frame in itertools.cycle(frames[endpoint]):
                if time.monotonic() - began > NON_READER_SECONDS:
                    break
                await asyncio.wait_for(connection.send(frame), NON_READER_SECONDS)
        except ConnectionClosed:
            closed = time.monotonic() - began
        except TimeoutError:  # the server read nothing for that long: still open
            pass
        finally:
            connection.transport.abort()
        tally.closed_after[endpoint].append(closed)


async def flooder(url: str, until: float, tally: Misbehaviour) -> None:
    """Sends a second of silence as one-byte frames, then `end`; notes what came back."""
    while time.monotonic() < until:
        try:
            connection = await greeted(url, ASR, tally)
        except Exception as error:  # counted: one surprise does not end the soak
            tally.failures[f"flood: {type(error).__name__}"] += 1
            await asyncio.sleep(1.0)
            continue
        if connection is None:
            continue
        errors: Counter[str] = Counter()
        try:
            async with asyncio.timeout(FLOOD_SECONDS):
                await connection.send(json.dumps({"type": "start"}))
                for _ in range(FLOOD_FRAMES):
                    await connection.send(b"\0")
                await connection.send(json.dumps({"type": "end"}))
                while True:
                    message = parse_server_message(str(await connection.recv()))
                    if isinstance(message, Done):
                        outcome = f"done {message.audio_seconds}"
                        break
                    if isinstance(message, Error):
                        errors[message.code] += 1
        except ConnectionClosed as closed:
            outcome = ending(closed)
        except TimeoutError:
            outcome = "timeout"
        finally:
            connection.transport.abort()
        if errors:
            outcome += f" after errors {dict(errors)}"
        tally.floods[outcome] += 1


def misbehave(
    url: str, audio: npt.NDArray[np.float32], until: float, arguments: argparse.Namespace
) -> dict[str, object]:
    """Every misbehaving client until `until`, a monotonic time (one clock for every process
    of the machine); runs in a process of its own."""
    tally = Misbehaviour()

    async def everyone() -> None:
        await asyncio.gather(
            *(churn_client(url, audio, seed, until, tally) for seed in range(arguments.churn)),
            *(hostile_client(url, seed, until, tally) for seed in range(arguments.hostile)),
            *(non_reader(url, until, tally) for _ in range(arguments.non_readers)),
            *(flooder(url, until, tally) for _ in range(arguments.floods)),
        )

    asyncio.run(everyone())
    return tally.figures()


def scrape(url: str) -> dict[str, float]:
    """The unlabelled samples of /metrics, and errors by code as `errors:<code>`."""
    http_url = url.replace("ws", "http", 1).removesuffix("/asr")
    with urllib.request.urlopen(http_url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "asr_errors_total":
                samples[f"errors:{sample.labels['code']}"] = sample.value
            elif not sample.labels:
                samples[sample.name] = sample.value
    return samples


def server_state(pid: int) -> dict[str, float]:
    """The server's resident memory and thread count, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = re.search(r"VmRSS:\s+(\d+) kB", status)
    threads = re.search(r"Threads:\s+(\d+)", status)
    return {
        "rss_mb": round(int(rss[1]) / 1024, 1) if rss else float("nan"),
        "threads": int(threads[1]) if threads else float("nan"),
    }


async def sample(
    pid: int, every: float, until: float, began: float, out: list[list[float]]
) -> None:
    def take() -> None:
        state = server_state(pid)
        out.append([round(time.monotonic() - began, 1), state["rss_mb"], state["threads"]])

    while time.monotonic() < until:
        take()
        await asyncio.sleep(every)
    take()


async def orphan_probe(url: str, audio: npt.NDArray[np.float32]) -> dict[str, float]:
    """Model calls after a client that sent a minute at once vanished, all else quiet."""
    long_audio = np.tile(audio, int(np.ceil(PROBE_SECONDS * SAMPLING_RATE / len(audio))))
    connection = await connect(url, compression=None)
    await connection.recv()  # ready: every other client is gone
    await vanish(connection, long_audio, PROBE_SECONDS, live=False)
    before = scrape(url)["asr_model_call_seconds_count"]
    await asyncio.sleep(2.0)
    at_2s = scrape(url)["asr_model_call_seconds_count"]
    await asyncio.sleep(8.0)
    at_10s = scrape(url)["asr_model_call_seconds_count"]
    return {
        "calls_in_first_2s": at_2s - before,
        "calls_after_2s": at_10s - at_2s,
    }


def growth_pct(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: round(100 * (after[key] - before[key]) / before[key], 2) for key in before}


def clean_figures(clients: list[list[StreamRecord]], reference: str) -> dict[str, object]:
    """WER, commit latency, errors and failures of the clean streams."""
    finished = [[record for record in records if record.done] for records in clients]
    scores = [[word_errors(reference, record.text()) for record in records] for records in finished]

    def rate(counts: list[ErrorCount]) -> float | None:
        return round(sum(counts, ErrorCount(0, 0)).rate, 4) if counts else None

    every = [record for records in clients for record in records]
    latencies = [value for records in finished for r in records for value in r.word_latencies()]
    return {
        "finished": sum(len(records) for records in finished),
        "wer": rate([score for client in scores for score in client]),
        "wer_first": rate([client[0] for client in scores if client]),
        "wer_last": rate([client[-1] for client in scores if client]),
        **percentiles(latencies, "commit_latency"),
        "errors": dict(Counter(code for record in every for code in record.errors)),
        "failures": dict(
            Counter(
                record.failure_code or record.failure.split(":")[0]
                for record in every
                if record.failure
            )
        ),
    }


async def soak(
    url: str, pid: int, recording: Recording, arguments: argparse.Namespace
) -> dict[str, object]:
    """One run: the clean clients here, the misbehaving ones in a process of their own,
    then the orphan probe."""
    idle = server_state(pid)
    began = time.monotonic()
    until = began + arguments.minutes * 60
    samples: list[list[float]] = []
    clients: list[list[StreamRecord]] = [[] for _ in range(arguments.streams)]
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter, not a fork of this loop
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        misbehaving = asyncio.get_running_loop().run_in_executor(
            pool, misbehave, url, recording.audio, until, arguments
        )
        await asyncio.gather(
            sample(pid, arguments.sample_seconds, until, began, samples),
            *(
                clean_client(url, recording, index / arguments.streams, until, records)
                for index, records in enumerate(clients)
            ),
        )
        misbehaviour = await misbehaving
    probe = await orphan_probe(url, recording.audio)
    after = server_state(pid)
    warm = [row for row in samples if row[0] >= arguments.warmup_minutes * 60] or samples
    start, end = ({"rss_mb": row[1], "threads": row[2]} for row in (warm[0], samples[-1]))
    under_load = growth_pct(start, end)
    return {
        **{name: getattr(arguments, name) for name in ("minutes", "streams", *MISBEHAVING)},
        "server": {
            "idle": idle,
            "start": start,
            "end": end,
            "after": after,
            "growth_pct": {"start_to_end": under_load, "idle_to_after": growth_pct(idle, after)},
            "flat": all(abs(value) <= FLAT_PCT for value in under_load.values()),
            "samples": samples,
        },
        "clean": clean_figures(clients, recording.reference),
        "misbehaving": misbehaviour,
        "orphan_probe": probe,
        "server_errors": {k: v for k, v in scrape(url).items() if k.startswith("errors:")},
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def run(arguments: argparse.Namespace, recording: Recording) -> dict[str, object]:
    """One run on a server of its own, with the server flags the bad-input tables assume."""
    launcher = argparse.Namespace(**vars(arguments))
    # What the server launcher of bench/load.py reads; its --max-sessions leaves each
    # misbehaving client room for a second session while the server notices the first gone.
    launcher.backend, launcher.trace, launcher.server_cpus = "faster-whisper", TRACE, None
    launcher.streams = arguments.streams + 2 * sum(getattr(arguments, n) for n in MISBEHAVING) + 1
    launcher.server_args = [*SERVER_FLAGS, *arguments.server_args]
    with spawned_server(launcher) as server:
        result = asyncio.run(soak(server.url, server.process.pid, recording, arguments))
    print(f"run done: {json.dumps(result['clean'])}", file=sys.stderr, flush=True)
    return result


SIDE_BY_SIDE = ("finished", "wer", "commit_latency_p50", "commit_latency_p90", "failures")


def side_by_side(alone: dict[str, Any], soaked: dict[str, Any]) -> dict[str, object]:
    """The clean streams' figures, the server's growth and the orphaned calls of both runs."""
    figures: dict[str, object] = {
        key: {"alone": alone["clean"][key], "soak": soaked["clean"][key]} for key in SIDE_BY_SIDE
    }
    for key in ("rss_mb", "threads"):
        figures[f"{key}_growth_pct"] = {
            name: run["server"]["growth_pct"]["start_to_end"][key]
            for name, run in (("alone", alone), ("soak", soaked))
        }
    figures["orphaned_calls"] = {
        name: run["orphan_probe"]["calls_after_2s"]
        for name, run in (("alone", alone), ("soak", soaked))
    }
    return figures


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=4, help="clean real-time clients")
    parser.add_argument("--churn", type=int, default=2, help="clients that vanish mid-stream")
    parser.add_argument(
        "--hostile", type=int, default=2, help="clients playing the bad-input tables"
    )
    parser.add_argument(
        "--non-readers", type=int, default=1, help="clients that never read a reply"
    )
    parser.add_argument("--floods", type=int, default=1, help="clients sending one-byte frames")
    parser.add_argument("--minutes", type=float, default=30.0, help="length of each run")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="first run the clean streams alone for as long, on a server of their own",
    )
    parser.add_argument(
        "--warmup-minutes", type=float, default=1.0, help="growth is measured after this"
    )
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="RSS sample period")
    parser.add_argument(
        "--clips", type=int, default=4, help="LJ Speech clips each clean session streams"
    )
    parser.add_argument("--model", default="tiny.en", help="model of the started server")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="model threads")
    add_server_arg(parser, "the started servers")
    return parser


def main() -> None:
    arguments = argument_parser().parse_args()
    recording = long_stretch(0, arguments.clips)
    if not arguments.compare:
        print(json.dumps(run(arguments, recording)))
        return
    quiet = argparse.Namespace(**{**vars(arguments), **dict.fromkeys(MISBEHAVING, 0)})
    alone = run(quiet, recording)
    soaked = run(arguments, recording)
    print(json.dumps({"alone": alone, "soak": soaked, "side_by_side": side_by_side(alone, soaked)}))


if __name__ == "__main__":
    main()
