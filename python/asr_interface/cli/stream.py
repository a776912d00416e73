"""`asr-interface stream FILE`: stream a file to a running server and print text live."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TextIO

import av

from asr_interface.cli.options import add_config_arguments, config_from_arguments
from asr_interface.client import ServerError, StreamingClient
from asr_interface.errors import ASRInterfaceError
from asr_interface.protocol import Commit, Done, Error, Partial, ServerMessage
from asr_interface.resume import Reconnect

DEFAULT_URL = "ws://127.0.0.1:43007/asr"


def add_stream_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="audio file (any format PyAV decodes)")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"server WebSocket URL ({DEFAULT_URL})")
    parser.add_argument("--token", help="bearer token, when the server requires one")
    parser.add_argument(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send audio at its own pace, like a microphone (default) or as fast as possible",
    )
    parser.add_argument(
        "--encoding",
        choices=("pcm", "auto"),
        default="pcm",
        help="pcm: decode the file here and send 16 kHz PCM (default); auto: send the file's "
        "bytes as they are (WebM/Ogg Opus, MP3, AAC in ADTS, FLAC, WAV) for the server to decode",
    )
    parser.add_argument(
        "--reconnect",
        action="store_true",
        help="retry a refused connection with backoff and, with --encoding pcm, carry the "
        "stream over to a new session (another server behind a balancer) when the connection "
        "drops: the audio since the last commit is kept and replayed, each word printed once",
    )
    add_config_arguments(parser)


def run_stream(arguments: argparse.Namespace) -> int:
    """Streams the file; model flags given on the command line are checked here and sent
    as `load_model`."""
    fields = config_from_arguments(arguments).model_dump(exclude_unset=True)
    try:
        return asyncio.run(_stream(arguments, fields))
    except ServerError as error:
        raise ASRInterfaceError(f"the server refused: {error}") from None
    except OSError as error:
        raise ASRInterfaceError(f"cannot reach {arguments.url}: {error}") from None


async def _stream(arguments: argparse.Namespace, fields: dict[str, object]) -> int:
    printer = LivePrinter(sys.stdout)
    reconnect = Reconnect() if arguments.reconnect else None
    async with StreamingClient(arguments.url, token=arguments.token, reconnect=reconnect) as client:
        if fields:
            await client.load_model(**fields)
        if arguments.encoding == "auto":
            data, seconds = _encoded_file(arguments.file, paced=arguments.realtime)
            messages = client.stream_encoded(data, seconds=seconds)
        else:
            messages = client.stream(arguments.file, realtime=arguments.realtime)
        async for message in messages:
            printer.show(message)
    return 1 if printer.errors else 0


def _encoded_file(path: str, *, paced: bool) -> tuple[bytes, float | None]:
    """The file's bytes and, to pace them, the length its container states (headers only,
    nothing decoded; None when it states none, and the bytes go as fast as they can)."""
    try:
        data = Path(path).read_bytes()
        if not paced:
            return data, None
        with av.open(path) as container:
            seconds = container.duration / av.time_base if container.duration else None
    except (OSError, av.FFmpegError) as error:
        raise ASRInterfaceError(f"cannot read {path}: {error.strerror}") from None
    return data, seconds


class LivePrinter:
    """Commits as lines; on a terminal the partial is one line rewritten in place."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.live = out.isatty()
        self.errors = 0

    def show(self, message: ServerMessage) -> None:
        if isinstance(message, Commit):
            self._clear()
            self.out.write(f"{message.start:8.2f} {message.end:8.2f} {message.text.strip()}\n")
        elif isinstance(message, Partial) and self.live:
            self._clear()
            self.out.write(f"\x1b[2m{message.text.strip()}\x1b[0m")
        elif isinstance(message, Error):
            self._clear()
            self.errors += 1
            print(f"error {message.code}: {message.message}", file=sys.stderr)
        elif isinstance(message, Done):
            self._clear()
            print(
                f"# done: {message.audio_seconds:.1f} s of audio, "
                f"{message.processing_seconds:.1f} s of model time",
                file=sys.stderr,
            )
        self.out.flush()

    def _clear(self) -> None:
        if self.live:
            self.out.write("\r\x1b[K")
