"""Failover behind a balancer: N live streams through HAProxy over 3 servers, one killed.

Starts 3 servers and HAProxy (deploy/haproxy.cfg, on loopback) in front of them, and runs
N real-time streams through it twice: once with no fault, then again with the server
holding the most streams killed (SIGKILL) `--kill-at` seconds in. The clients resume their
streams on the other servers (`asr_interface.client.Reconnect`). Prints one JSON line per
stream of the faulty run, then a summary line:

- `lost_words` / `duplicated_words`: words of the no-fault run's text missing from the
  faulty run's, and words the faulty run has in excess (a difflib alignment of the
  normalised words; decoding also differs a little between two runs with no fault, as
  their model steps fall differently);
- `lost_words_near_failover` / `duplicated_words_near_failover`: the same, over the
  words from 5 s before to 10 s after the settled time at the kill, where a failover
  could lose or repeat words (the rest measures how much two runs differ anyway), and
  both texts there;
- `overlapping_words`: words committed after the failover that start before the stream
  was settled when its server died (a word committed twice would);
- `wer` / `no_fault_wer` against the clips' transcripts, and `wer_delta_points`;
- `failover_gap_seconds`: from the kill to the stream's next commit;
  `max_commit_latency_after_kill` (commit receipt minus the moment the word's end was
  spoken, over the words committed in the 15 s after the kill) against
  `no_fault_max_commit_latency` of the same stream;
- `reconnects`: sessions the client opened again;
- summary: `sessions_per_server` (HAProxy's count of sessions each server was given in
  each run; a reconnection first sent to the dead server before HAProxy saw it down
  counts there too), `open_sessions_per_server_at_kill`, machine `load_average`.

    python bench/scaleout.py --streams 3
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from load import REPO, ServerProcess, StreamRecord, paced_frames, spawned_server
from speech_sets import Recording, long_stretch

from asr_interface.audio import SAMPLING_RATE
from asr_interface.client import StreamingClient
from asr_interface.evaluation import lost_and_extra_words, normalize, word_errors
from asr_interface.protocol import Commit, Done
from asr_interface.resume import Reconnect

_spec = importlib.util.spec_from_file_location("balancer", REPO / "tests" / "balancer.py")
assert _spec is not None and _spec.loader is not None
balancer = importlib.util.module_from_spec(_spec)
sys.modules["balancer"] = balancer  # its dataclasses look their module up
_spec.loader.exec_module(balancer)

SERVERS = 3
LATENCY_WINDOW_SECONDS = 15.0
NEAR_FAILOVER_SECONDS = (5.0, 10.0)
"""Stream time before and after the settled time at the kill where words count as near
the failover: the replayed audio and the steps after it."""


@dataclass
class StreamRun:
    """What one client saw: commits with their receipt (loop) time, and its reconnects."""

    began: float = 0.0
    commits: list[tuple[float, Commit]] = field(default_factory=list)
    done: Done | None = None
    reconnects: int = 0
    failure: str | None = None

    def text(self) -> str:
        return "".join(commit.text for _, commit in self.commits)

    def words(self, since: float = 0.0, until: float = float("inf")) -> list[str]:
        """The normalised committed words that start between stream times `since` and
        `until`."""
        return [
            text
            for _, commit in self.commits
            for word in commit.words
            if since <= word.start <= until
            for text in normalize(word.word).split()
        ]

    def latencies(self, since: float = 0.0, until: float = float("inf")) -> list[float]:
        """Commit latency of each word received between `since` and `until`."""
        return [
            received - (self.began + word.end)
            for received, commit in self.commits
            if since <= received <= until
            for word in commit.words
        ]


async def stream(url: str, audio: npt.NDArray[np.float32], frame_seconds: float) -> StreamRun:
    run = StreamRun()
    record = StreamRecord()  # only its start time is used
    frames = paced_frames(audio, round(frame_seconds * SAMPLING_RATE), len(audio) + 1, record)
    loop = asyncio.get_running_loop()
    try:
        async with StreamingClient(url, reconnect=Reconnect()) as client:
            async for message in client.stream(frames, realtime=True, chunk_seconds=frame_seconds):
                if isinstance(message, Commit):
                    run.commits.append((loop.time(), message))
                elif isinstance(message, Done):
                    run.done = message
            run.reconnects = client.reconnects
    except Exception as error:  # reported in the figures, not raised
        run.failure = f"{type(error).__name__}: {error}"
    run.began = record.began
    return run


@dataclass
class Kill:
    """When the server holding the most streams is killed, and what it left behind."""

    after: float
    at: float | None = None  # loop time of the kill
    open_sessions: list[int] = field(default_factory=list)  # per server, just before


async def run_streams(
    url: str,
    recordings: Sequence[Recording],
    frame_seconds: float,
    servers: Sequence[ServerProcess],
    kill: Kill | None,
) -> list[StreamRun]:
    """Streams every recording at once; with `kill`, SIGKILLs the server holding the
    most streams `kill.after` seconds in."""
    runs = asyncio.gather(*(stream(url, r.audio, frame_seconds) for r in recordings))
    if kill is not None:
        await asyncio.sleep(kill.after)
        kill.open_sessions = [sessions(server) for server in servers]
        victim = servers[kill.open_sessions.index(max(kill.open_sessions))]
        victim.process.send_signal(signal.SIGKILL)
        kill.at = asyncio.get_running_loop().time()
    return list(await runs)


def sessions(server: ServerProcess) -> int:
    """Open sessions on `server`, from its /health."""
    url = server.url.replace("ws", "http", 1).removesuffix("/asr") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as error:  # 503 while it refuses new sessions
        body = error.read()
    return int(json.loads(body)["sessions"])


def distribution(proxy: Any, before: dict[str, int]) -> dict[str, int]:
    """Sessions HAProxy gave each server since `before` (its `Balancer`)."""
    now = {name: int(row["stot"]) for name, row in proxy.servers().items()}
    return {name: count - before.get(name, 0) for name, count in now.items()}


def compare(
    faulty: StreamRun,
    clean: StreamRun,
    reference: str,
    killed_at: float | None,
) -> dict[str, Any]:
    """One stream's figures: the faulty run against the clean one and the transcript."""
    lost, duplicated = lost_and_extra_words(clean.words(), faulty.words())
    wer = word_errors(reference, faulty.text()).rate
    clean_wer = word_errors(reference, clean.text()).rate
    figures: dict[str, Any] = {
        "reconnects": faulty.reconnects,
        "finished": faulty.done is not None,
        "failure": faulty.failure,
        "lost_words": lost,
        "duplicated_words": duplicated,
        "wer": round(wer, 4),
        "no_fault_wer": round(clean_wer, 4),
        "wer_delta_points": round(100 * (wer - clean_wer), 2),
        "no_fault_max_commit_latency": round(max(clean.latencies(), default=0.0), 2),
    }
    if faulty.reconnects and killed_at is not None:
        before = [commit for received, commit in faulty.commits if received < killed_at]
        after = [(received, c) for received, c in faulty.commits if received >= killed_at]
        settled = before[-1].settled if before else 0.0
        near = (settled - NEAR_FAILOVER_SECONDS[0], settled + NEAR_FAILOVER_SECONDS[1])
        lost_near, duplicated_near = lost_and_extra_words(clean.words(*near), faulty.words(*near))
        figures |= {
            "settled_at_kill": settled,
            "lost_words_near_failover": lost_near,
            "duplicated_words_near_failover": duplicated_near,
            "text_near_failover": " ".join(faulty.words(*near)),
            "no_fault_text_near_failover": " ".join(clean.words(*near)),
            "overlapping_words": sum(
                word.start < settled - 0.05 for _, commit in after for word in commit.words
            ),
            "failover_gap_seconds": round(after[0][0] - killed_at, 2) if after else None,
            "max_commit_latency_after_kill": round(
                max(
                    faulty.latencies(killed_at, killed_at + LATENCY_WINDOW_SECONDS),
                    default=0.0,
                ),
                2,
            ),
        }
    return figures


def recordings(streams: int, clips: int) -> list[Recording]:
    """Different speech for each stream: consecutive stretches of the long recording."""
    return [long_stretch(index * clips, clips) for index in range(streams)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=3, help="concurrent live streams")
    parser.add_argument("--clips", type=int, default=6, help="LJ Speech clips per stream")
    parser.add_argument("--kill-at", type=float, default=15.0, help="seconds into the streams")
    parser.add_argument("--frame-seconds", type=float, default=0.1, help="audio per frame")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--workers", type=int, default=1, help="model threads per server")
    arguments = parser.parse_args()
    server_settings = argparse.Namespace(
        backend="faster-whisper",
        model=arguments.model,
        streams=arguments.streams,
        workers=arguments.workers,
        server_args=[],
        server_cpus=None,
    )
    speech = recordings(arguments.streams, arguments.clips)
    with ExitStack() as stack:
        servers = [stack.enter_context(spawned_server(server_settings)) for _ in range(SERVERS)]
        addresses = [s.url.removeprefix("ws://").removesuffix("/asr") for s in servers]
        proxy = stack.enter_context(balancer.running_haproxy(addresses))

        start = distribution(proxy, {})
        clean = asyncio.run(run_streams(proxy.url, speech, arguments.frame_seconds, servers, None))
        after_clean = distribution(proxy, {})
        clean_spread = distribution(proxy, start)
        # Servers the clean run left overloaded come back into rotation first.
        proxy.wait_until({name: "UP" for name in after_clean})
        kill = Kill(arguments.kill_at)
        faulty = asyncio.run(run_streams(proxy.url, speech, arguments.frame_seconds, servers, kill))
        faulty_spread = distribution(proxy, after_clean)
    rows = [
        compare(f, c, r.reference, kill.at) for f, c, r in zip(faulty, clean, speech, strict=True)
    ]
    for index, (row, recording) in enumerate(zip(rows, speech, strict=True)):
        print(json.dumps({"stream": index, "audio_seconds": round(recording.seconds, 1), **row}))
    print(
        json.dumps(
            {
                "streams": arguments.streams,
                "servers": SERVERS,
                "lost_words": sum(r["lost_words"] for r in rows),
                "duplicated_words": sum(r["duplicated_words"] for r in rows),
                "sessions_per_server": {"no_fault": clean_spread, "faulty": faulty_spread},
                "open_sessions_per_server_at_kill": kill.open_sessions,
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "when": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
