"""What compressed audio costs a stream: decoding CPU, and commit latency against PCM of
the same audio.

Targets: decoding takes under 2% of a core per stream, and commits come within 0.2 s of
those of the same audio sent as PCM.

1. Decoding: the long LJ Speech recording (3.8 min) is encoded with PyAV in each format
   (as the tests do), then fed to the server's decoders 0.1 s of audio at a time;
   `decode_core_fraction` is the process CPU time this takes (the decoding thread
   included) divided by the audio's length: the share of one core a live stream needs.
   `pcm_s16le` is the baseline.
2. Latency: a server in this process (the default model) receives recordings in real
   time, 0.1 s per frame, once as 16 kHz PCM and once per compressed format, one stream
   at a time. A commit's latency is how long after its last word's audio was sent it
   arrived (for compressed bytes, audio is taken as sent in proportion to the bytes).
   `commit_latency_s` gives the mean and 90th percentile per format, and
   `mean_minus_pcm_s` the difference of the means with PCM.

Prints one JSON line. Model timing depends on load: compare formats from one run.

    python bench/compressed_audio.py [--formats webm_opus,mp3] [--clips N]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import connect

from asr_interface.audio import SAMPLING_RATE, load_audio
from asr_interface.evaluation import read_manifest, word_error_rate
from asr_interface.protocol import Commit, Done, Error, parse_server_message
from asr_interface.server.app import ASRServer
from asr_interface.server.compressed import CompressedDecoder
from asr_interface.server.pcm import PcmDecoder
from asr_interface.server.settings import ServerSettings

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO / ".." / "shared" / "speech"
LONG = SPEECH / "long" / "ljspeech_LJ001-0001_to_0032.wav"
FRAME_SECONDS = 0.1


def encoded_audio_module() -> ModuleType:
    """tests/encoded_audio.py, which makes the test recordings (not in the package)."""
    spec = importlib.util.spec_from_file_location(
        "encoded_audio", REPO / "tests" / "encoded_audio.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def frames_of(data: bytes, seconds: float) -> list[bytes]:
    """`data` cut into pieces of `FRAME_SECONDS` of its audio each."""
    size = max(1, round(len(data) * FRAME_SECONDS / seconds))
    return [data[i : i + size] for i in range(0, len(data), size)]


def decode_cost(encoding: str, data: bytes, seconds: float) -> dict[str, Any]:
    """CPU seconds per second of audio to decode `data` as a live stream would arrive."""
    frames = frames_of(data, seconds)
    began = time.process_time()
    decoder = CompressedDecoder() if encoding == "auto" else PcmDecoder(encoding, SAMPLING_RATE)
    decoded = sum(decoder.decode(frame).size for frame in frames) + decoder.flush().size
    cpu = time.process_time() - began
    return {
        "bytes": len(data),
        "decoded_seconds": round(decoded / SAMPLING_RATE, 2),
        "decode_core_fraction": round(cpu / seconds, 5),
    }


async def stream_latencies(
    url: str, start: dict[str, Any], data: bytes, seconds: float
) -> tuple[list[float], str]:
    """Streams `data` in real time; the latency of each commit and the joined text."""
    latencies: list[float] = []
    text = ""
    async with connect(url, max_size=None, compression=None) as connection:
        await connection.recv()  # ready
        await connection.send(json.dumps(start))
        began = time.monotonic()

        async def send() -> None:
            sent = 0
            for frame in frames_of(data, seconds):
                await connection.send(frame)
                sent += len(frame)
                due = began + seconds * sent / len(data)
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            await connection.send(json.dumps({"type": "end"}))

        sender = asyncio.create_task(send())
        while True:
            message = parse_server_message(await connection.recv())
            if isinstance(message, Error):
                raise RuntimeError(f"{message.code}: {message.message}")
            if isinstance(message, Commit):
                text += message.text
                latencies.append(time.monotonic() - began - message.end)
            if isinstance(message, Done):
                break
        await sender
    return latencies, text


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "mean": round(float(np.mean(latencies)), 3),
        "p90": round(float(np.percentile(latencies, 90)), 3),
    }


async def latency_report(formats: list[str], clips: int, encoded: ModuleType) -> dict[str, Any]:
    entries = [e for e in read_manifest(SPEECH / "manifest.tsv") if e.subset == "ljspeech"]
    recordings = [(load_audio(e.audio_path), e.transcript) for e in entries[:clips]]
    server = ASRServer(ServerSettings(port=0, workers=1))
    await server.start()
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in ["pcm_s16le", *formats]:
            latencies: list[float] = []
            texts, references = [], []
            for audio, reference in recordings:
                seconds = len(audio) / SAMPLING_RATE
                if name == "pcm_s16le":
                    start: dict[str, Any] = {"type": "start"}
                    data = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
                else:
                    start = {"type": "start", "encoding": "auto"}
                    data = encoded.encode_speech(audio, name)
                found, text = await stream_latencies(server.url, start, data, seconds)
                latencies += found
                texts.append(text)
                references.append(reference)
            results[name] = {
                "commit_latency_s": summary(latencies),
                "commits": len(latencies),
                "wer": round(word_error_rate(" ".join(references), " ".join(texts)), 4),
            }
    finally:
        await server.shutdown()
    pcm_mean = results["pcm_s16le"]["commit_latency_s"]["mean"]
    for name in formats:
        mean = results[name]["commit_latency_s"]["mean"]
        results[name]["mean_minus_pcm_s"] = round(mean - pcm_mean, 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--formats",
        default="webm_opus,ogg_opus,mp3",
        help="compressed formats for the latency run (tests/encoded_audio.py names)",
    )
    parser.add_argument("--clips", type=int, default=4, help="LJ Speech clips streamed per format")
    arguments = parser.parse_args()
    encoded = encoded_audio_module()
    audio: npt.NDArray[np.float32] = load_audio(LONG)
    seconds = len(audio) / SAMPLING_RATE
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    decoding = {"pcm_s16le": decode_cost("pcm_s16le", pcm, seconds)}
    for name in encoded.COMPRESSED_FORMATS:
        decoding[name] = decode_cost("auto", encoded.encode_speech(audio, name), seconds)
    formats = [name for name in arguments.formats.split(",") if name]
    latency = asyncio.run(latency_report(formats, arguments.clips, encoded))
    report = {
        "decoding": {"audio_seconds": round(seconds, 1), "formats": decoding},
        "latency": latency,
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "cpu_count": os.cpu_count(),
    }
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    main()
