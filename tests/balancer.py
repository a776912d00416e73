"""HAProxy with deploy/haproxy.cfg in front of servers on loopback, for tests and bench.

The configuration is the deployed one; only its listening addresses and its `server`
lines are replaced by loopback ones.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEPLOYED_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "haproxy.cfg"
START_TIMEOUT = 30.0


def haproxy_available() -> bool:
    return shutil.which("haproxy") is not None


def loopback_config(text: str, port: int, stats_port: int, servers: Sequence[str]) -> str:
    """`text` (deploy/haproxy.cfg) listening on loopback `port` (and `stats_port`), in
    front of `servers` ("host:port") in place of its own."""
    server_line = re.compile(r"^(\s+)server \S+ \S+(.*)$", re.MULTILINE)
    first = server_line.search(text)
    assert first is not None, "the configuration lists no server"
    indent, options = first[1], first[2]
    lines = "\n".join(
        f"{indent}server asr{index} {address}{options}"
        for index, address in enumerate(servers, start=1)
    )
    text = text[: first.start()] + lines + server_line.sub("", text[first.start() :])
    text = re.sub(
        r"^(\s+)bind 127\.0\.0\.1:\d+$",
        rf"\g<1>bind 127.0.0.1:{stats_port}",
        text,
        flags=re.MULTILINE,
    )
    return re.sub(r"^(\s+)bind :\d+$", rf"\g<1>bind 127.0.0.1:{port}", text, flags=re.MULTILINE)


@dataclass
class Balancer:
    """A running HAProxy: where clients connect, and its statistics."""

    process: subprocess.Popen[bytes]
    port: int
    stats_port: int

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/asr"

    def servers(self) -> dict[str, dict[str, str]]:
        """Each server's row of HAProxy's statistics: `status` (UP, DOWN...), `stot`
        (sessions it was given), `scur` (open now)."""
        stats = f"http://127.0.0.1:{self.stats_port}/stats;csv"
        with urllib.request.urlopen(stats, timeout=10) as response:
            text = response.read().decode().lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == "asr_servers" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def wait_until(self, states: dict[str, str], timeout: float = START_TIMEOUT) -> None:
        """Waits until each named server's status starts with the given one (UP, DOWN)."""
        deadline = time.monotonic() + timeout
        while True:
            servers = self.servers()
            if all(servers[name]["status"].startswith(want) for name, want in states.items()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"servers did not reach {states}: {servers}")
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_haproxy(servers: Sequence[str]) -> Iterator[Balancer]:
    """HAProxy in front of `servers` ("host:port"), once every one of them is UP."""
    with tempfile.TemporaryDirectory() as folder:
        port, stats_port = free_port(), free_port()
        config = Path(folder) / "haproxy.cfg"
        config.write_text(loopback_config(DEPLOYED_CONFIG.read_text(), port, stats_port, servers))
        log = (Path(folder) / "haproxy.log").open("wb")
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        balancer = Balancer(process, port, stats_port)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    balancer.wait_until({f"asr{i}": "UP" for i in range(1, len(servers) + 1)})
                    break
                except OSError:  # not listening yet
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.flush()
                        output = (Path(folder) / "haproxy.log").read_text()
                        raise RuntimeError(f"haproxy did not start:\n{output}") from None
                    time.sleep(0.1)
            yield balancer
        finally:
            process.terminate()
            process.wait(10)
            log.close()
