"""The proxies of deploy/ in front of servers on loopback, for tests and bench: HAProxy with
deploy/haproxy.cfg and nginx with deploy/nginx.conf.

The configurations are the deployed ones; only their listening addresses, their `server`
lines and the paths of their logs are replaced.
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
START_TIMEOUT = 30.0


PROXIES = ("haproxy", "nginx")
"""The proxies deploy/ configures, by the names of their programs (and Debian packages)."""


def installed(program: str) -> bool:
    """Whether `program` (`haproxy`, `nginx`) is on the PATH."""
    return shutil.which(program) is not None


def with_servers(
    text: str, server_line: str, servers: Sequence[str], name: Callable[[int, str], str]
) -> str:
    """`text` with the lines matching `server_line` (indent, the part to replace, options)
    replaced by one line for each of `servers` ("host:port"), its part written by `name`
    (a server's number from 1, its address)."""
    pattern = re.compile(server_line, re.MULTILINE)
    first = pattern.search(text)
    assert first is not None, "the configuration lists no server"
    indent, options = first[1], first[2]
    lines = "\n".join(
        f"{indent}{name(index, address)}{options}" for index, address in enumerate(servers, start=1)
    )
    return text[: first.start()] + lines + pattern.sub("", text[first.start() :])


def loopback_config(text: str, port: int, stats_port: int, servers: Sequence[str]) -> str:
    """`text` (deploy/haproxy.cfg) listening on loopback `port` (and `stats_port`), in
    front of `servers` ("host:port") in place of its own."""
    text = with_servers(
        text, r"^([ \t]+)server \S+ \S+(.*)$", servers, lambda i, a: f"server asr{i} {a}"
    )
    text = re.sub(
        r"^(\s+)bind 127\.0\.0\.1:\d+$",
        rf"\g<1>bind 127.0.0.1:{stats_port}",
        text,
        flags=re.MULTILINE,
    )
    return re.sub(r"^(\s+)bind :\d+$", rf"\g<1>bind 127.0.0.1:{port}", text, flags=re.MULTILINE)


def nginx_loopback_config(text: str, port: int, servers: Sequence[str], access_log: Path) -> str:
    """`text` (deploy/nginx.conf) listening on loopback `port` in front of `servers`
    ("host:port") in place of its own, writing its access log to `access_log`."""
    text = with_servers(
        text, r"^([ \t]+)server [\d.]+:\d+(.*)$", servers, lambda _, a: f"server {a}"
    )
    text = re.sub(r"^(\s+)listen \d+;$", rf"\g<1>listen 127.0.0.1:{port};", text, flags=re.M)
    return re.sub(r"^(\s+access_log )\S+", rf"\g<1>{access_log}", text, flags=re.MULTILINE)


def nginx_main_config(folder: Path, site: Path) -> str:
    """nginx's main configuration around `site` (deploy/nginx.conf is meant for the `http`
    block), with every file it writes inside `folder`."""
    temp_paths = "".join(
        f"    {kind}_temp_path {folder / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"pid {folder / 'nginx.pid'};\nevents {{}}\nhttp {{\n{temp_paths}    include {site};\n}}\n"
    )


@dataclass
class Proxy:
    """A running proxy in front of the servers: where clients connect, and its log of
    requests."""

    process: subprocess.Popen[bytes]
    port: int
    access_log: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/asr"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logged(self) -> str:
        """Everything the proxy has logged about requests so far."""
        return self.access_log.read_text(errors="replace")


@dataclass
class Balancer(Proxy):
    """A running HAProxy: a proxy with statistics."""

    stats_port: int

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
        deployed = (DEPLOY / "haproxy.cfg").read_text()
        config.write_text(loopback_config(deployed, port, stats_port, servers))
        log_path = Path(folder) / "haproxy.log"  # the deployed one logs to stdout
        log = log_path.open("wb")
        process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        balancer = Balancer(process, port, log_path, stats_port)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    balancer.wait_until({f"asr{i}": "UP" for i in range(1, len(servers) + 1)})
                    break
                except OSError:  # not listening yet
                    if process.poll() is not None or time.monotonic() > deadline:
                        log.flush()
                        output = log_path.read_text()
                        raise RuntimeError(f"haproxy did not start:\n{output}") from None
                    time.sleep(0.1)
            yield balancer
        finally:
            process.terminate()
            process.wait(10)
            log.close()


@contextmanager
def running_nginx(servers: Sequence[str]) -> Iterator[Proxy]:
    """nginx with deploy/nginx.conf in front of `servers` ("host:port"), once it listens."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        port = free_port()
        site = folder / "asr.conf"
        access_log = folder / "access.log"
        deployed = (DEPLOY / "nginx.conf").read_text()
        site.write_text(nginx_loopback_config(deployed, port, servers, access_log))
        config = folder / "nginx.conf"
        config.write_text(nginx_main_config(folder, site))
        errors = folder / "error.log"
        command = ["nginx", "-p", str(folder), "-c", str(config), "-e", str(errors)]
        process = subprocess.Popen(
            [*command, "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not listening(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    output = errors.read_text() if errors.exists() else ""
                    raise RuntimeError(f"nginx did not start:\n{output}")
                time.sleep(0.1)
            yield Proxy(process, port, access_log)
        finally:
            process.terminate()
            process.wait(10)


def listening(port: int) -> bool:
    """Whether something accepts connections on loopback `port`."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def running_proxy(name: str, servers: Sequence[str]) -> AbstractContextManager[Proxy]:
    """The proxy `name` (one of `PROXIES`) with its deploy/ configuration in front of
    `servers` ("host:port")."""
    return running_haproxy(servers) if name == "haproxy" else running_nginx(servers)


def wait_for_log(
    proxy: Proxy, logged: Callable[[str], bool], timeout: float = START_TIMEOUT
) -> str:
    """The proxy's log once `logged` says it holds what a test is waiting for: a proxy
    writes a WebSocket's line when its connection closes, after the client saw the close."""
    deadline = time.monotonic() + timeout
    while not logged(text := proxy.logged()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not logged within {timeout} s:\n{text}")
        time.sleep(0.1)
    return text
