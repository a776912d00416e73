"""What a flood of tiny frames does to a server: 32,000 one-byte frames of silence, then
`end`, from a client with the `websockets` library's default keepalive (a ping every 20 s,
20 s to answer it).

Target (docs/protocol.md, Limits): `done` comes with `audio_seconds` 1.0, the client's
keepalive survives, and `/health`, polled every 50 ms from a process of its own for the
whole run, always answers within 100 ms.

A server with the default limits is started here (`--server-arg` passes flags to it, e.g.
`--server-arg=--max-frames-per-second=500` for an older default). Prints one JSON object:

- `send_s`: how long the client took to hand over the frames and `end`;
- `done_after_s`: from the first frame to `done`; `audio_seconds` of `done`;
- `keepalive_ok`: the connection was still open after `done` and answered a ping
  (`close` says how it closed otherwise: 1011 is a keepalive timeout);
- `health_polls`, `health_p50_ms`, `health_max_ms`: the `/health` answers meanwhile, and
  `health_max_at_s` when the slowest was asked (seconds from the first frame);
- `server_cpu_s`: the server's CPU time over the run (the model's step on the second of
  silence included).

    python bench/tiny_frames.py [--frames 32000] [--frame-bytes 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import time
import urllib.request
from typing import Any

import numpy as np
from load import TRACE, add_server_arg, spawned_server
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from asr_interface.protocol import Done, Error, parse_server_message

HEALTH_INTERVAL = 0.05


def poll_health(url: str, stop: Any, answers: Any) -> None:
    """GET /health every `HEALTH_INTERVAL` until `stop` is set; puts on `answers` when each
    request went out and how long its answer took. Runs in a process of its own, so that
    the client's sending does not delay it."""
    while not stop.is_set():
        began = time.monotonic()
        with urllib.request.urlopen(url + "/health", timeout=30) as response:
            response.read()
        answers.put((began, time.monotonic() - began))
        stop.wait(HEALTH_INTERVAL)
    answers.put(None)


async def flood(url: str, frames: int, frame_bytes: int) -> dict[str, Any]:
    """Sends the frames and `end` on one session; what the client saw."""
    frame = bytes(frame_bytes)
    result: dict[str, Any] = {"errors": []}
    async with connect(url) as connection:  # the library's default keepalive
        await connection.recv()  # ready
        began = time.monotonic()
        result["began"] = began
        try:
            for _ in range(frames):
                await connection.send(frame)
            await connection.send(json.dumps({"type": "end"}))
            result["send_s"] = round(time.monotonic() - began, 3)
            while True:
                message = parse_server_message(str(await connection.recv()))
                if isinstance(message, Error):
                    result["errors"].append(message.code)
                if isinstance(message, Done):
                    result["done_after_s"] = round(time.monotonic() - began, 3)
                    result["audio_seconds"] = message.audio_seconds
                    break
            await asyncio.wait_for(await connection.ping(), 20)
            result["keepalive_ok"] = True
        except ConnectionClosed as closed:
            result["keepalive_ok"] = False
            received = closed.rcvd or closed.sent
            result["close"] = None if received is None else [received.code, received.reason]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32_000, help="frames sent before end")
    parser.add_argument("--frame-bytes", type=int, default=1, help="bytes of each frame")
    parser.add_argument("--model", default="tiny.en", help="model of the started server")
    add_server_arg(parser, "the started server")
    arguments = parser.parse_args()
    # What the server launcher of bench/load.py reads.
    launcher = argparse.Namespace(
        backend="faster-whisper",
        model=arguments.model,
        trace=TRACE,
        streams=4,
        workers=os.cpu_count() or 1,
        server_args=arguments.server_args,
        server_cpus=None,
    )
    with spawned_server(launcher) as server:
        http_url = server.url.replace("ws", "http", 1).removesuffix("/asr")
        processes = multiprocessing.get_context("spawn")
        stop, polled = processes.Event(), processes.Queue()
        poller = processes.Process(target=poll_health, args=(http_url, stop, polled))
        poller.start()
        time.sleep(1.0)  # the poller's interpreter starts
        cpu_before = server.cpu_seconds()
        try:
            result = asyncio.run(flood(server.url, arguments.frames, arguments.frame_bytes))
        finally:
            stop.set()
            answers: list[tuple[float, float]] = list(iter(polled.get, None))
            poller.join(60)
        result["server_cpu_s"] = round(server.cpu_seconds() - cpu_before, 2)
    began = result.pop("began")
    milliseconds = np.array([took for _, took in answers]) * 1000
    slowest = int(np.argmax(milliseconds))
    print(
        json.dumps(
            {
                "frames": arguments.frames,
                "frame_bytes": arguments.frame_bytes,
                "server_args": arguments.server_args,
                **result,
                "health_polls": len(answers),
                "health_p50_ms": round(float(np.median(milliseconds)), 1),
                "health_max_ms": round(float(milliseconds[slowest]), 1),
                "health_max_at_s": round(answers[slowest][0] - began, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
