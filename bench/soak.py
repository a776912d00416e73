"""Soak test: real-time streams for minutes against one server, with clients that vanish.

`--streams` clean clients each stream LJ Speech clips at the pace of speech, one session
after another, and are scored for word error rate; `--churn` clients connect, stream a
few seconds and vanish mid-stream (the TCP connection aborted, no close), then reconnect.
Every `--sample-seconds` the server's resident memory and /metrics are read. At the end a
probe client sends a minute of audio at once and vanishes while every other client is
gone: the model calls the server makes after that are work for nobody.

Prints one JSON object:

- `rss_mb`: `[seconds since start, resident MiB]` samples, and `rss_growth_after_warmup_pct`:
  the growth from the first sample after `--warmup-minutes` to the last;
- `orphan_probe`: model calls counted from /metrics 2 s and 10 s after the probe vanished,
  and between the two (`calls_after_2s`: should be 0 once a disconnect cancels its work);
- `errors`: `error` messages the clean clients received in their sessions, by code;
  `refusals`: connections turned away (`overloaded`, `too_many_sessions`), by code;
  `failures`: how their sessions ended without `done`, if any; `server_errors`: every
  error the server counted in /metrics, the vanishing clients' included;
- `wer_clean` over every finished clean stream, and `wer_clean_first` / `wer_clean_last`
  over each client's first and last, to see whether accuracy drifts;
- `clean_streams_finished`, `vanished`, `load_average` (1, 5, 15 min) when it ended.

    python bench/soak.py --streams 2 --churn 1 --minutes 3
    python bench/soak.py --streams 4 --churn 2 --minutes 60 --warmup-minutes 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from load import TRACE, spawned_server
from prometheus_client.parser import text_string_to_metric_families
from speech_sets import Recording, long_stretch
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from asr_interface.audio import SAMPLING_RATE
from asr_interface.evaluation import ErrorCount, word_errors
from asr_interface.protocol import Commit, Done, Error, parse_server_message

FRAME_SECONDS = 0.1
PROBE_SECONDS = 60.0


@dataclass
class CleanClient:
    """What one clean client saw over all its sessions."""

    scores: list[ErrorCount] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


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


async def clean_session(url: str, recording: Recording, client: CleanClient) -> None:
    """One session streaming `recording` live, then `end`; scored against its text."""
    async with connect(url, compression=None) as connection:
        greeting = parse_server_message(str(await connection.recv()))
        if isinstance(greeting, Error):  # turned away: too many sessions, overloaded
            client.refusals[greeting.code] += 1
            await asyncio.sleep(1.0)
            return
        await connection.send(json.dumps({"type": "start"}))

        async def send() -> None:
            await send_live(connection, recording.audio)
            await connection.send(json.dumps({"type": "end"}))

        sender = asyncio.create_task(send())
        texts: list[str] = []
        try:
            while True:
                frame = await asyncio.wait_for(connection.recv(), 120)
                message = parse_server_message(str(frame))
                if isinstance(message, Commit):
                    texts.append(message.text)
                elif isinstance(message, Error):
                    client.errors[message.code] += 1
                elif isinstance(message, Done):
                    break
        finally:
            sender.cancel()
    client.scores.append(word_errors(recording.reference, "".join(texts)))


async def clean_client(url: str, recording: Recording, until: float, client: CleanClient) -> None:
    while time.monotonic() < until:
        try:
            await clean_session(url, recording, client)
        except (ConnectionClosed, TimeoutError, OSError) as error:
            client.failures.append(f"{type(error).__name__}: {error}")
            await asyncio.sleep(1.0)


async def vanish(url: str, audio: npt.NDArray[np.float32], seconds: float, live: bool) -> None:
    """Connects, streams `seconds` of `audio` (live, or all at once), then drops the TCP
    connection without a close, as a client losing its network would."""
    connection = await connect(url, compression=None)
    await connection.recv()  # ready
    await connection.send(json.dumps({"type": "start"}))
    if live:
        await send_live(connection, audio, seconds)
    else:
        for begin in range(0, round(seconds * SAMPLING_RATE), SAMPLING_RATE):
            await connection.send(pcm16(audio[begin : begin + SAMPLING_RATE]))
    connection.transport.abort()


async def churn_client(
    url: str, audio: npt.NDArray[np.float32], until: float, vanished: list[float]
) -> None:
    generator = random.Random(len(vanished))
    while time.monotonic() < until:
        try:
            await vanish(url, audio, generator.uniform(2.0, 8.0), live=True)
            vanished.append(time.monotonic())
        except (ConnectionClosed, OSError):
            pass
        await asyncio.sleep(1.0)


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


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found[1]) / 1024 if found else float("nan")


async def sample(
    pid: int, every: float, until: float, began: float, out: list[list[float]]
) -> None:
    while time.monotonic() < until:
        out.append([round(time.monotonic() - began, 1), round(rss_mb(pid), 1)])
        await asyncio.sleep(every)
    out.append([round(time.monotonic() - began, 1), round(rss_mb(pid), 1)])


async def orphan_probe(url: str, audio: npt.NDArray[np.float32]) -> dict[str, float]:
    """Model calls after a client that sent a minute at once vanished, all else quiet."""
    long_audio = np.tile(audio, int(np.ceil(PROBE_SECONDS * SAMPLING_RATE / len(audio))))
    await vanish(url, long_audio, PROBE_SECONDS, live=False)
    before = scrape(url)["asr_model_call_seconds_count"]
    await asyncio.sleep(2.0)
    at_2s = scrape(url)["asr_model_call_seconds_count"]
    await asyncio.sleep(8.0)
    at_10s = scrape(url)["asr_model_call_seconds_count"]
    return {
        "calls_in_first_2s": at_2s - before,
        "calls_after_2s": at_10s - at_2s,
    }


async def soak(url: str, pid: int, arguments: argparse.Namespace) -> dict[str, object]:
    recording = long_stretch(0, arguments.clips)
    began = time.monotonic()
    until = began + arguments.minutes * 60
    clients = [CleanClient() for _ in range(arguments.streams)]
    vanished: list[float] = []
    rss: list[list[float]] = []
    await asyncio.gather(
        sample(pid, arguments.sample_seconds, until, began, rss),
        *(clean_client(url, recording, until, client) for client in clients),
        *(churn_client(url, recording.audio, until, vanished) for _ in range(arguments.churn)),
    )
    probe = await orphan_probe(url, recording.audio)
    warm = [mb for at, mb in rss if at >= arguments.warmup_minutes * 60] or [rss[0][1]]
    finished = [client.scores for client in clients if client.scores]

    def rate(scores: list[ErrorCount]) -> float | None:
        return round(sum(scores, ErrorCount(0, 0)).rate, 4) if scores else None

    return {
        "streams": arguments.streams,
        "churn": arguments.churn,
        "minutes": arguments.minutes,
        "rss_mb": rss,
        "rss_growth_after_warmup_pct": round(100 * (warm[-1] - warm[0]) / warm[0], 2),
        "orphan_probe": probe,
        "errors": dict(sum((client.errors for client in clients), Counter())),
        "refusals": dict(sum((client.refusals for client in clients), Counter())),
        "failures": sorted({failure for client in clients for failure in client.failures}),
        "server_errors": {k: v for k, v in scrape(url).items() if k.startswith("errors:")},
        "wer_clean": rate([score for scores in finished for score in scores]),
        "wer_clean_first": rate([scores[0] for scores in finished]),
        "wer_clean_last": rate([scores[-1] for scores in finished]),
        "clean_streams_finished": sum(len(scores) for scores in finished),
        "vanished": len(vanished),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=2, help="clean real-time clients")
    parser.add_argument("--churn", type=int, default=1, help="clients that vanish mid-stream")
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the soak")
    parser.add_argument(
        "--warmup-minutes", type=float, default=1.0, help="RSS growth is measured after this"
    )
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="RSS sample period")
    parser.add_argument(
        "--clips", type=int, default=4, help="LJ Speech clips each clean session streams"
    )
    parser.add_argument("--model", default="tiny.en", help="model of the started server")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="model threads")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        dest="server_args",
        help="pass this flag to the started server (repeatable)",
    )
    return parser


def main() -> None:
    arguments = argument_parser().parse_args()
    # What the server launcher of bench/load.py reads.
    arguments.backend, arguments.trace, arguments.server_cpus = "faster-whisper", TRACE, None
    launcher = argparse.Namespace(**vars(arguments))
    launcher.streams = arguments.streams + arguments.churn + 1  # its --max-sessions
    with spawned_server(launcher) as server:
        result = asyncio.run(soak(server.url, server.process.pid, arguments))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
