"""`asr-interface serve`: the streaming server's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from asr_interface.cli.options import add_config_arguments, config_from_arguments


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's own flags, then one flag per `ASRConfig` field for the default model."""
    # Imported here: the server's dependencies would slow every other command's start.
    from asr_interface.server.app import ServerSettings

    defaults = ServerSettings()
    network = parser.add_argument_group("network")
    network.add_argument("--host", default=defaults.host, help="address to listen on")
    network.add_argument("--port", type=int, default=defaults.port, help="0 picks a free port")
    network.add_argument("--ssl-certfile", help="serve wss:// and https:// with this certificate")
    network.add_argument("--ssl-keyfile", help="private key of --ssl-certfile")
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--token",
        default=os.environ.get("ASR_INTERFACE_TOKEN"),
        help="require this bearer token (or ?token=) on /asr and /backends "
        "(default: $ASR_INTERFACE_TOKEN)",
    )
    limits.add_argument(
        "--max-sessions", type=int, default=defaults.max_sessions, help="open sessions at most"
    )
    limits.add_argument(
        "--allowed-models",
        type=lambda text: tuple(name for name in text.split(",") if name),
        help="comma-separated models clients may load (default: any model name, no paths)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        default=defaults.idle_timeout,
        help="close sessions silent for this many seconds",
    )
    limits.add_argument(
        "--drain-seconds",
        type=_non_negative_float,
        default=defaults.drain_seconds,
        help="after SIGTERM, let open streams go on this long (while /health answers 503 "
        "draining) before ending them (default: %(default)s)",
    )
    limits.add_argument(
        "--shutdown-grace",
        type=_non_negative_float,
        default=defaults.shutdown_grace,
        help="then wait this long for the ended streams' final commits before closing "
        "them (default: %(default)s)",
    )
    limits.add_argument(
        "--max-frame-bytes",
        type=int,
        default=defaults.max_frame_bytes,
        help="largest binary audio frame accepted",
    )
    limits.add_argument(
        "--workers", type=int, default=defaults.workers, help="threads running model calls"
    )
    limits.add_argument(
        "--latency-target",
        type=_non_negative_float,
        default=defaults.latency_target,
        help="refuse new sessions (error `overloaded`) while recent model steps return later "
        "than this many seconds after their audio was due; 0 accepts every session "
        "(default: %(default)s)",
    )
    batching = parser.add_argument_group(
        "batching", "steps of different sessions on one model share a model call"
    )
    batching.add_argument(
        "--max-batch",
        type=_positive_int,
        default=defaults.max_batch,
        help="most sessions' steps decoded in one model call; 1 decodes each step alone, "
        "which on a CPU measured as fast as batching and with less delay; try 8 on a GPU "
        "(default: %(default)s)",
    )
    batching.add_argument(
        "--batch-window-ms",
        type=_non_negative_float,
        default=defaults.batch_window_ms,
        help="how long a step that became ready waits for other sessions' steps to join "
        "its batch, when the batch is not full and other sessions could join "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging threshold",
    )
    add_config_arguments(parser)


def run_serve(arguments: argparse.Namespace) -> int:
    """Loads the default model, serves until SIGINT/SIGTERM, then finishes open streams."""
    from asr_interface.server.app import ASRServer, ServerSettings

    logging.basicConfig(
        level=arguments.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ServerSettings(
        host=arguments.host,
        port=arguments.port,
        ssl_certfile=arguments.ssl_certfile,
        ssl_keyfile=arguments.ssl_keyfile,
        config=config_from_arguments(arguments),
        allowed_models=arguments.allowed_models,
        workers=arguments.workers,
        token=arguments.token,
        max_sessions=arguments.max_sessions,
        max_frame_bytes=arguments.max_frame_bytes,
        idle_timeout=arguments.idle_timeout,
        drain_seconds=arguments.drain_seconds,
        shutdown_grace=arguments.shutdown_grace,
        max_batch=arguments.max_batch,
        batch_window_ms=arguments.batch_window_ms,
        latency_target=arguments.latency_target or None,
    )
    asyncio.run(ASRServer(settings).serve_forever())
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value
