"""`asr-interface serve`: the streaming server's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import TYPE_CHECKING

from asr_interface.cli.options import add_config_arguments, config_from_arguments, flag_name
from asr_interface.core.config import SERVING_POLICY
from asr_interface.errors import ConfigError

if TYPE_CHECKING:
    from asr_interface.core.config import ASRConfig
    from asr_interface.server.settings import ServerSettings


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's own flags, then one flag per `ASRConfig` field for the default model."""
    # Imported here: the server's dependencies would slow every other command's start.
    from asr_interface.server.frame_rate import FRAME_BUDGET_BYTES
    from asr_interface.server.logs import LOG_FORMATS
    from asr_interface.server.settings import ServerSettings

    defaults = ServerSettings()
    network = parser.add_argument_group("network")
    network.add_argument("--host", default=defaults.host, help="address to listen on")
    network.add_argument("--port", type=int, default=defaults.port, help="0 picks a free port")
    network.add_argument("--ssl-certfile", help="serve wss:// and https:// with this certificate")
    network.add_argument("--ssl-keyfile", help="private key of --ssl-certfile")
    access = parser.add_argument_group("access")
    access.add_argument(
        "--token",
        default=os.environ.get("ASR_INTERFACE_TOKEN"),
        help="require this token on /asr, /v1/realtime, /backends and /load_model, as a Bearer "
        "header, the openai-insecure-api-key.<token> subprotocol or ?token=; an empty one is "
        "refused (default: $ASR_INTERFACE_TOKEN)",
    )
    access.add_argument(
        "--allowed-origins",
        type=_comma_separated,
        default=defaults.allowed_origins,
        help="comma-separated origins (scheme://host[:port], or *) of web pages that may "
        "connect besides the server's own page; clients sending no Origin always may",
    )
    access.add_argument(
        "--allowed-hosts",
        type=_comma_separated,
        default=defaults.allowed_hosts,
        help="comma-separated host names (or *) that requests may name when there is no "
        "token, besides localhost, 127.0.0.1, ::1 and the --host address: a guard against "
        "pages that rebind their name to this machine",
    )
    limits = parser.add_argument_group("limits", "docs/protocol.md#limits lists every bound")
    limits.add_argument(
        "--max-sessions",
        type=int,
        default=defaults.max_sessions,
        help="open sessions at most (default: %(default)s)",
    )
    limits.add_argument(
        "--allowed-models",
        type=_comma_separated,
        help="comma-separated models clients may load, names or model directories (a "
        "custom backend's model path); only these and the default (default: any model name, "
        "no paths)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        default=defaults.idle_timeout,
        help="close sessions silent for this many seconds while the server owes them nothing "
        "(default: %(default)s)",
    )
    limits.add_argument(
        "--max-session-seconds",
        type=float,
        default=defaults.max_session_seconds,
        help="finish a session's stream and close it after this many seconds "
        "(default: %(default)s)",
    )
    limits.add_argument(
        "--drain-seconds",
        type=float,
        default=defaults.drain_seconds,
        help="after SIGTERM, let open streams go on this long (while /health answers 503 "
        "draining) before ending them (default: %(default)s)",
    )
    limits.add_argument(
        "--shutdown-grace",
        type=float,
        default=defaults.shutdown_grace,
        help="then wait this long for the ended streams' final commits before closing "
        "them; a second signal exits at once (default: %(default)s)",
    )
    limits.add_argument(
        "--max-frame-bytes",
        type=int,
        default=defaults.max_frame_bytes,
        help="largest binary audio frame accepted, and most bytes of a compressed stream "
        "waiting for its decoder (default: %(default)s)",
    )
    limits.add_argument(
        "--max-backlog-seconds",
        type=float,
        default=defaults.max_backlog_seconds,
        help="most seconds of a stream's decoded audio, of any encoding, waiting for the "
        "model; frames beyond get `backlog_full` (default: %(default)s)",
    )
    limits.add_argument(
        "--model-call-timeout",
        type=float,
        default=defaults.model_call_timeout,
        help="fail a step whose model call runs longer than this many seconds, and report the "
        "model as stalled on /health until a call returns; 0 waits forever "
        "(default: %(default)s)",
    )
    limits.add_argument(
        "--max-loaded-models",
        type=int,
        default=defaults.max_loaded_models,
        help="configurations kept loaded besides the default, least recently used unloaded "
        "first (default: %(default)s)",
    )
    limits.add_argument(
        "--max-frames-per-second",
        type=float,
        default=defaults.max_frames_per_second,
        help="read each connection's frames at this rate at most, after a burst of one "
        f"second's worth; a frame larger than {FRAME_BUDGET_BYTES // 1024} KiB counts as "
        f"one per {FRAME_BUDGET_BYTES // 1024} KiB (default: %(default)s)",
    )
    limits.add_argument(
        "--max-reply-bytes",
        type=int,
        default=defaults.max_reply_bytes,
        help="close a connection (1008, slow_reader) whose client leaves more than this many "
        "bytes of replies unread (default: %(default)s)",
    )
    limits.add_argument(
        "--max-request-bytes",
        type=int,
        default=defaults.max_request_bytes,
        help="largest body of a plain HTTP request such as POST /load_model; a longer one gets "
        "413 (default: %(default)s)",
    )
    limits.add_argument(
        "--workers",
        type=int,
        default=defaults.workers,
        help="threads running model calls (default: %(default)s)",
    )
    limits.add_argument(
        "--latency-target",
        type=float,
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
        type=int,
        default=defaults.max_batch,
        help="most sessions' steps decoded in one model call; 1 decodes each step alone, "
        "which on a CPU measured as fast as batching and with less delay; try 8 on a GPU "
        "(default: %(default)s)",
    )
    batching.add_argument(
        "--batch-window-ms",
        type=float,
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
    parser.add_argument(
        "--log-format",
        default=next(iter(LOG_FORMATS)),
        choices=list(LOG_FORMATS),
        help="log lines as escaped text, or as one JSON object each (time, level, logger, "
        "message, and fields such as session, code and remote); credentials are redacted "
        "either way (default: %(default)s)",
    )
    add_config_arguments(parser)
    parser.description = (
        f"Without --policy the server streams with policy {SERVING_POLICY!r}, or with "
        "'local-agreement' when the options ask for what only it serves (vac, vad, lan 'auto', "
        "sentence trimming); a client's load_model that asks for those without naming a "
        "policy gets 'local-agreement' too."
    )


def serving_config(arguments: argparse.Namespace) -> ASRConfig:
    """The server's default configuration, which `simulate` and `evaluate` stream with too:
    the flags given, under `SERVING_POLICY` unless a policy is named or the options need
    LocalAgreement (`ASRConfig.for_policy`)."""
    config = config_from_arguments(arguments)
    return config.for_policy(config.model_dump(exclude_unset=True), SERVING_POLICY)


def server_settings(arguments: argparse.Namespace) -> ServerSettings:
    """The settings the flags give, checked before anything loads: `ConfigError` names the
    flag at fault and its range. 0 turns `--model-call-timeout` and `--latency-target` off."""
    from asr_interface.server.settings import ServerSettings, SettingOutOfRange

    try:
        settings = ServerSettings(
            host=arguments.host,
            port=arguments.port,
            ssl_certfile=arguments.ssl_certfile,
            ssl_keyfile=arguments.ssl_keyfile,
            config=serving_config(arguments),
            allowed_models=arguments.allowed_models,
            workers=arguments.workers,
            token=arguments.token,
            allowed_origins=arguments.allowed_origins,
            allowed_hosts=arguments.allowed_hosts,
            max_sessions=arguments.max_sessions,
            max_frame_bytes=arguments.max_frame_bytes,
            max_frames_per_second=arguments.max_frames_per_second,
            max_reply_bytes=arguments.max_reply_bytes,
            max_request_bytes=arguments.max_request_bytes,
            max_backlog_seconds=arguments.max_backlog_seconds,
            model_call_timeout=arguments.model_call_timeout or None,
            max_loaded_models=arguments.max_loaded_models,
            shutdown_grace=arguments.shutdown_grace,
            drain_seconds=arguments.drain_seconds,
            idle_timeout=arguments.idle_timeout,
            max_session_seconds=arguments.max_session_seconds,
            max_batch=arguments.max_batch,
            batch_window_ms=arguments.batch_window_ms,
            latency_target=arguments.latency_target or None,
        )
    except SettingOutOfRange as error:
        raise ConfigError(f"invalid {flag_name(error.name)} value: {error.reason}") from None
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return settings


def run_serve(arguments: argparse.Namespace) -> int:
    """Loads the default model, serves until SIGINT/SIGTERM, then finishes open streams."""
    from asr_interface.server.app import ASRServer
    from asr_interface.server.logs import configure_logging

    configure_logging(arguments.log_level, arguments.log_format)
    if arguments.entry_points:  # loaded by `main`, before the default model names one
        logging.getLogger("asr_interface.server").info(
            "loaded backend entry points: %s", ", ".join(arguments.entry_points)
        )
    settings = server_settings(arguments)
    server = ASRServer(settings)
    asyncio.run(server.serve_forever())
    if server.scheduler.in_flight:
        # Model calls past their deadline still hold worker threads, which the interpreter
        # would wait for at exit: leave them.
        logging.getLogger("asr_interface.server").warning(
            "exiting with %d model call(s) still running", server.scheduler.in_flight
        )
        logging.shutdown()
        os._exit(0)
    return 0


def _comma_separated(text: str) -> tuple[str, ...]:
    return tuple(name for name in text.split(",") if name)
