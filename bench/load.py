"""Load test: N concurrent clients streaming speech at real-time pace to one server.

Prints one JSON line:

- `commit_latency_p50/p90/p99`: for every committed word, its receipt time minus the moment
  its end was spoken, taking each stream's first frame as time 0 of the stream (a live
  microphone's view of latency);
- `message_delay_p50/p90/p99`: for every `commit` and `partial`, its receipt time minus the
  send time of the frame that completed the model step's chunk (every `min_chunk_size`
  seconds of audio, and `end`) -- the server's own overhead once the model is free. It is
  exact while the server keeps up with the chunk rate; a server falling further behind
  shows in the commit latency;
- `wer` over all streams (against the manifest transcript, or the clips' transcripts with
  `--clips`; null when `--seconds` cuts the recording), `errors` (error messages received),
  `server_cpu_seconds`, `server_cpu_per_audio_second` (over all streams) and
  `server_peak_rss_mb` (from /proc, for a server this script started), `streams`,
  `audio_seconds` per stream and `duration_seconds` of the whole run.

Flags after `--server-arg` go to a started server: `--server-arg=--max-batch=1` decodes
every step alone, `--server-arg=--beam-size=1` decodes greedily.

Two backends: the real model (default tiny.en), and `--backend replay`, which serves the
recorded tiny.en trace of the long LJ Speech recording at no model cost
(bench/replay_backend.py), to measure everything but the model:

    python bench/load.py --streams 2                         # real model
    python bench/load.py --backend replay --streams 200 --server-cpus 0
    python bench/load.py --url ws://host:43007/asr --streams 4   # a running server
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from speech_sets import LONG, REPO, SPEECH, Recording, long_stretch
from websockets.exceptions import ConnectionClosed

from asr_interface.audio import SAMPLING_RATE, load_audio
from asr_interface.client import ServerError, StreamingClient
from asr_interface.errors import ASRInterfaceError
from asr_interface.evaluation import ErrorCount, read_manifest, word_errors
from asr_interface.protocol import Commit, Done, Error, Partial

TRACE = REPO / "bench" / "traces" / "ljspeech_long.json"
LISTENING = re.compile(r"listening on (wss?://\S+/asr)")
START_TIMEOUT = 300.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class StreamRecord:
    """What one client saw, with the loop time of every event."""

    began: float = 0.0
    chunk_sent: list[float] = field(default_factory=list)  # send time of each step's last frame
    commits: list[tuple[float, Commit]] = field(default_factory=list)
    message_delays: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the code of each `error` received
    done: Done | None = None
    failure: str | None = None  # why the stream ended without `done`
    failure_code: str | None = None  # the error code that ended it, if the server's

    def text(self) -> str:
        return "".join(commit.text for _, commit in self.commits)

    def word_latencies(self) -> list[float]:
        return [
            received - (self.began + word.end)
            for received, commit in self.commits
            for word in commit.words
        ]


async def paced_frames(
    audio: npt.NDArray[np.float32], frame_samples: int, chunk_samples: int, record: StreamRecord
) -> AsyncIterator[npt.NDArray[np.float32]]:
    """The audio in frames, noting when each model chunk's last frame leaves.

    The client sends each frame right after it is yielded and paces the stream itself."""
    loop = asyncio.get_running_loop()
    record.began = loop.time()
    for begin in range(0, len(audio), frame_samples):
        end = min(begin + frame_samples, len(audio))
        if end // chunk_samples > begin // chunk_samples:
            record.chunk_sent.append(loop.time())
        yield audio[begin:end]
    record.chunk_sent.append(loop.time())  # `end` follows at once and starts the final step


async def run_stream(
    url: str,
    audio: npt.NDArray[np.float32],
    delay: float,
    frame_seconds: float,
    chunk_seconds: float,
) -> StreamRecord:
    await asyncio.sleep(delay)
    record = StreamRecord()
    loop = asyncio.get_running_loop()
    frames = paced_frames(
        audio,
        round(frame_seconds * SAMPLING_RATE),
        round(chunk_seconds * SAMPLING_RATE),
        record,
    )
    try:
        async with StreamingClient(url) as client:
            async for message in client.stream(frames, realtime=True, chunk_seconds=frame_seconds):
                received = loop.time()
                if isinstance(message, Commit | Partial) and record.chunk_sent:
                    record.message_delays.append(received - record.chunk_sent[-1])
                if isinstance(message, Commit):
                    record.commits.append((received, message))
                elif isinstance(message, Error):
                    record.errors.append(message.code)
                elif isinstance(message, Done):
                    record.done = message
    except (ASRInterfaceError, ConnectionClosed) as error:
        record.failure = f"{type(error).__name__}: {error}"
        if isinstance(error, ServerError):  # refused (`overloaded`), or the stream failed
            record.failure_code = error.code
    return record


@dataclass
class ServerProcess:
    """A server this script started: its URL and its process, for CPU and memory."""

    process: subprocess.Popen[str]
    url: str = ""

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(found[1]) / 1024 if found else float("nan")


@contextmanager
def spawned_server(arguments: argparse.Namespace) -> Iterator[ServerProcess]:
    """Starts a server on a free port, optionally pinned to `--server-cpus`, until exit."""
    if arguments.backend == "replay":
        command = [sys.executable, str(REPO / "bench" / "replay_backend.py")]
        model = ["--backend", "replay", "--model", str(arguments.trace)]
    else:
        command = [sys.executable, "-m", "asr_interface"]
        model = ["--backend", arguments.backend, "--model", arguments.model]
    command += ["--port", "0", "--log-level", "INFO", "--max-sessions", str(arguments.streams)]
    command += ["--workers", str(arguments.workers), *model, *arguments.server_args]
    cpus = arguments.server_cpus
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    server = ServerProcess(process)
    listening = threading.Event()
    log: list[str] = []

    def read_log() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            log.append(line)
            if not server.url and (found := LISTENING.search(line)):
                server.url = found[1]
                listening.set()
        listening.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        listening.wait(START_TIMEOUT)
        if not server.url:
            raise RuntimeError("the server did not start:\n" + "".join(log[-20:]))
        yield server
    finally:
        process.terminate()
        process.wait(60)
        reader.join(10)
        if process.stderr is not None:
            process.stderr.close()


def percentiles(values: list[float], prefix: str) -> dict[str, float | None]:
    points = (50, 90, 99)
    if not values:
        return {f"{prefix}_p{point}": None for point in points}
    found = np.percentile(np.array(values), points)
    return {
        f"{prefix}_p{point}": round(float(v), 4) for point, v in zip(points, found, strict=True)
    }


def speech(arguments: argparse.Namespace) -> Recording:
    """What every client sends, and what is said in it (empty when `--seconds` cuts it)."""
    if arguments.clips is not None:
        return long_stretch(0, arguments.clips)
    audio = load_audio(arguments.file)
    if arguments.seconds is None:
        return Recording("file", audio, reference(arguments.file))
    return Recording("file", audio[: round(arguments.seconds * SAMPLING_RATE)], "")


async def load(
    url: str, audio: npt.NDArray[np.float32], arguments: argparse.Namespace
) -> list[StreamRecord]:
    streams = arguments.streams
    return await asyncio.gather(
        *(
            run_stream(
                url,
                audio,
                arguments.stagger * index / streams,
                arguments.frame_seconds,
                arguments.chunk_seconds,
            )
            for index in range(streams)
        )
    )


def reference(path: Path) -> str:
    entries = read_manifest(SPEECH / "manifest.tsv")
    return next(entry.transcript for entry in entries if entry.audio_path.samefile(path))


def summary(
    records: list[StreamRecord], arguments: argparse.Namespace, expected: str, seconds: float
) -> dict[str, object]:
    wer = None
    if expected:
        errors = sum((word_errors(expected, r.text()) for r in records), ErrorCount(0, 0))
        wer = round(errors.rate, 4)
    latencies = [value for r in records for value in r.word_latencies()]
    delays = [value for r in records for value in r.message_delays]
    audio_seconds = max((r.done.audio_seconds for r in records if r.done), default=0.0)
    return {
        "backend": arguments.backend,
        "model": arguments.model if arguments.backend != "replay" else arguments.trace.name,
        "streams": len(records),
        "finished_streams": sum(r.done is not None for r in records),
        "failures": sorted({r.failure for r in records if r.failure}),
        "audio_seconds": audio_seconds,
        "duration_seconds": round(seconds, 2),
        **percentiles(latencies, "commit_latency"),
        **percentiles(delays, "message_delay"),
        "wer": wer,
        "errors": sum(len(r.errors) for r in records),
    }


def add_server_arg(parser: argparse.ArgumentParser, to_whom: str = "a started server") -> None:
    """`--server-arg`, repeatable: a flag for the server(s) a bench starts, after its own
    flags, so that it wins."""
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        dest="server_args",
        help=f"pass this flag to {to_whom}, e.g. --server-arg=--cpu-threads=1 (repeatable)",
    )


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server (default: start one here)")
    parser.add_argument("--streams", type=int, default=1, help="concurrent clients")
    parser.add_argument(
        "--backend", default="faster-whisper", help="faster-whisper, or replay (no model cost)"
    )
    parser.add_argument("--model", default="tiny.en", help="model of a started server")
    parser.add_argument("--trace", type=Path, default=TRACE, help="trace of the replay backend")
    parser.add_argument("--file", type=Path, default=LONG, help="speech each client sends")
    parser.add_argument("--seconds", type=float, help="send only the first SECONDS of it")
    parser.add_argument(
        "--clips",
        type=int,
        help="send the first CLIPS LJ Speech clips of the long recording instead of --file "
        "(scored for WER)",
    )
    parser.add_argument("--frame-seconds", type=float, default=0.1, help="audio per frame")
    parser.add_argument(
        "--chunk-seconds", type=float, default=1.0, help="the server's min_chunk_size"
    )
    parser.add_argument(
        "--stagger", type=float, default=1.0, help="spread the stream starts over SECONDS"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="model threads")
    add_server_arg(parser)
    parser.add_argument(
        "--server-cpus",
        type=lambda text: {int(cpu) for cpu in text.split(",")},
        help="pin a started server to these CPUs, e.g. 0",
    )
    parser.add_argument(
        "--client-cpus",
        type=lambda text: {int(cpu) for cpu in text.split(",")},
        help="pin this script (the clients) to these CPUs, e.g. 1",
    )
    return parser


def run(arguments: argparse.Namespace) -> dict[str, object]:
    """One load run as the arguments describe it, against a running or a started server."""
    recording = speech(arguments)
    if arguments.url:
        began = time.perf_counter()
        records = asyncio.run(load(arguments.url, recording.audio, arguments))
        result = summary(records, arguments, recording.reference, time.perf_counter() - began)
        result.update(server_cpu_seconds=None, server_peak_rss_mb=None)
        return result
    with spawned_server(arguments) as server:
        return measure(server, recording, arguments)


def measure(
    server: ServerProcess, recording: Recording, arguments: argparse.Namespace
) -> dict[str, object]:
    """One load run against a server this script started, with the server's CPU and memory."""
    cpu_before = server.cpu_seconds()
    began = time.perf_counter()
    records = asyncio.run(load(server.url, recording.audio, arguments))
    result = summary(records, arguments, recording.reference, time.perf_counter() - began)
    cpu_seconds = server.cpu_seconds() - cpu_before
    result.update(
        server_cpu_seconds=round(cpu_seconds, 2),
        server_cpu_per_audio_second=round(cpu_seconds / (len(records) * recording.seconds), 3),
        server_peak_rss_mb=round(server.peak_rss_mb(), 1),
    )
    return result


def held(result: dict[str, Any], target: float) -> bool:
    """Whether a load run held a p90 commit latency target: every stream finished (none
    refused or failed), no error message came, and the p90 of the words' commit latency is
    at most `target`."""
    p90 = result["commit_latency_p90"]
    finished = result["finished_streams"] == result["streams"] and not result["failures"]
    return finished and not result["errors"] and p90 is not None and p90 <= target


def main() -> None:
    arguments = argument_parser().parse_args()
    if arguments.client_cpus:
        os.sched_setaffinity(0, arguments.client_cpus)
    print(json.dumps(run(arguments)), flush=True)


if __name__ == "__main__":
    main()
