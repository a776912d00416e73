"""Real servers for the tests: `python -m asr_interface` subprocesses on loopback ports, or
one in the test's own event loop."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from asr_interface.core.config import ASRConfig
from asr_interface.server.app import ASRServer
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.models import ModelPool
from asr_interface.server.realtime import RealtimeSession
from asr_interface.server.session import Session
from asr_interface.server.settings import ServerSettings
from tests.bad_inputs import SERVER_FLAGS
from tests.server import asr_session, realtime_events

LISTENING = re.compile(r"asr-interface listening on (wss?)://([^\s/]+)/asr")
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
TOKEN = "s3cret-token"
"""The token of `guarded_server`."""


@dataclass
class ServerProcess:
    """A running server: its process, its WebSocket URL and everything it logged."""

    process: subprocess.Popen[str]
    url: str = ""
    log: list[str] = field(default_factory=list)
    listening: threading.Event = field(default_factory=threading.Event)

    @property
    def http_url(self) -> str:
        """The same host and port, for the plain HTTP routes."""
        return self.url.replace("ws", "http", 1).removesuffix("/asr")

    def read_log(self) -> None:
        """Collects stderr lines (so the pipe never fills) and notes the listening URL."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            found = LISTENING.search(line)
            if found and not self.listening.is_set():
                self.url = f"{found[1]}://{found[2]}/asr"
                self.listening.set()
        self.listening.set()  # the process ended: stop waiting

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signals the server and waits for it to exit; returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                return self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


SERVE = (sys.executable, "-m", "asr_interface")
"""The server of the package this interpreter imports."""


@contextmanager
def running_server(*flags: str, serve: Sequence[str] = SERVE) -> Iterator[ServerProcess]:
    """Starts `<serve> --port 0 <flags>`, yields it once it listens, and stops it at the end
    (SIGTERM, as a service manager would); `serve` is another command that runs the server,
    such as an installed `asr-interface serve`."""
    command = [*serve, "--port", "0", "--log-level", "INFO"]
    process = subprocess.Popen(
        [*command, *flags],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = ServerProcess(process)
    reader = threading.Thread(target=server.read_log, daemon=True)
    reader.start()
    try:
        if not server.listening.wait(START_TIMEOUT) or not server.url:
            raise RuntimeError("the server did not start:\n" + "".join(server.log))
        yield server
    finally:
        server.stop()
        reader.join(STOP_TIMEOUT)
        if process.stderr is not None:
            process.stderr.close()


@asynccontextmanager
async def in_process_server(**settings: Any) -> AsyncIterator[ASRServer]:
    """A server in the test's own event loop, where a test can register a faulty backend
    or look at the server's objects; `settings` override `ServerSettings` (two workers)."""
    server = ASRServer(ServerSettings(**{"port": 0, "workers": 2, **settings}))
    await server.start()
    try:
        yield server
    finally:
        await server.shutdown()


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """One server with the default model (tiny.en) shared by a test module."""
    with running_server(*SERVER_FLAGS) as started:
        yield started


@pytest.fixture(scope="module")
def guarded_server() -> Iterator[ServerProcess]:
    """A server that takes one session at most and wants a token."""
    with running_server("--max-sessions", "1", "--token", TOKEN) as started:
        yield started


@pytest.fixture(scope="module")
def pool() -> Iterator[ModelPool]:
    """The server's own validation of model choices and `load_model` fields; nothing is
    loaded."""
    with ThreadPoolExecutor(1) as executor:
        yield ModelPool(ASRConfig(), executor=executor, allowed_models=["tiny.en", "base.en"])


@pytest.fixture
def realtime(pool: ModelPool) -> RealtimeSession:
    """A connected Realtime session over the server's default configuration."""
    session = realtime_events.new_session(pool)
    session.connected()
    return session


@pytest.fixture
def metrics() -> ServerMetrics:
    """The metrics a session reports to, in a registry of their own."""
    return ServerMetrics()


@pytest.fixture
def session(pool: ModelPool, metrics: ServerMetrics) -> Session:
    """An `/asr` session validating `load_model` as the server does; nothing is loaded."""
    return asr_session.new_session(pool, metrics)
