"""Servers that go away under a stream: draining on SIGTERM, and a client carrying its
stream over to another server when its own is killed."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import pairwise
from typing import Any

import pytest

from asr_interface.client import ServerError, StreamingClient
from asr_interface.evaluation import normalize, word_error_rate
from asr_interface.protocol import Commit, Done, ServerMessage
from asr_interface.resume import Reconnect
from tests.balancer import installed, running_haproxy
from tests.server.conftest import ServerProcess, running_server
from tests.speech import JFK, speech_path, transcript

pytestmark = pytest.mark.model


def health(server: ServerProcess) -> tuple[int, dict[str, Any]]:
    """The status code and body of the server's /health."""
    try:
        with urllib.request.urlopen(server.http_url + "/health", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_sigterm_drains_then_exits_once_open_streams_finish() -> None:
    """After SIGTERM /health answers 503 `draining` and new sessions are refused, while the
    open stream goes on to its own end with every word; then the server exits at once,
    without waiting out the drain time."""
    with running_server("--drain-seconds", "60") as draining:
        assert health(draining)[0] == 200
        async with StreamingClient(draining.url) as client:
            messages: list[ServerMessage] = []
            async for message in client.stream(speech_path(JFK), realtime=True):
                messages.append(message)
                if isinstance(message, Commit) and first_commit(messages):
                    draining.process.send_signal(signal.SIGTERM)
                    await asyncio.sleep(0.5)
                    status, body = health(draining)
                    assert (status, body["status"]) == (503, "draining")
                    with pytest.raises(ServerError) as refused:
                        async with StreamingClient(draining.url):
                            pass
                    assert refused.value.code == "shutting_down"
        done = messages[-1]
        assert isinstance(done, Done)
        assert done.audio_seconds == pytest.approx(11.0, abs=0.1)  # the whole recording
        text = "".join(m.text for m in messages if isinstance(m, Commit))
        assert word_error_rate(normalize(transcript(JFK)), normalize(text)) < 0.1
        assert draining.process.wait(30) == 0


def first_commit(messages: list[ServerMessage]) -> bool:
    """Whether the last of `messages` is the stream's first commit."""
    return sum(isinstance(m, Commit) for m in messages) == 1 and isinstance(messages[-1], Commit)


@pytest.fixture
def two_servers() -> Iterator[list[ServerProcess]]:
    """Two servers with the default model that drain for up to 30 s on SIGTERM."""
    with ExitStack() as stack:
        yield [stack.enter_context(running_server("--drain-seconds", "30")) for _ in range(2)]


@pytest.mark.skipif(not installed("haproxy"), reason="needs haproxy (apt-get install haproxy)")
async def test_balancer_takes_a_draining_server_out_of_rotation(
    two_servers: list[ServerProcess],
) -> None:
    """With deploy/haproxy.cfg, a server draining after SIGTERM fails its health check on
    its 503 (not on a refused connection: it still serves its open session), and new
    sessions through the balancer go to the other server."""
    draining, other = two_servers
    addresses = [server.http_url.removeprefix("http://") for server in two_servers]
    with running_haproxy(addresses) as balancer:
        async with StreamingClient(draining.url):  # an open session keeps it draining
            draining.process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(balancer.wait_until, {"asr1": "DOWN", "asr2": "UP"})
            assert balancer.servers()["asr1"]["check_status"] == "L7STS"  # an HTTP status
            async with StreamingClient(balancer.url), StreamingClient(balancer.url):
                assert health(other)[1]["sessions"] == 2
                status, body = health(draining)
                assert (status, body["sessions"]) == (503, 1)
        assert draining.process.wait(30) == 0


@pytest.mark.skipif(not installed("haproxy"), reason="needs haproxy (apt-get install haproxy)")
async def test_client_carries_its_stream_to_another_server_when_its_own_is_killed(
    two_servers: list[ServerProcess],
) -> None:
    """Through HAProxy with deploy/haproxy.cfg, the server holding a live stream is killed
    (SIGKILL) after its first commit: the client resumes on the other server, and the
    stream's text has every word once, as a stream with no fault would."""
    addresses = [server.http_url.removeprefix("http://") for server in two_servers]
    with running_haproxy(addresses) as balancer:
        async with StreamingClient(balancer.url, reconnect=Reconnect()) as client:
            holder = next(s for s in two_servers if health(s)[1]["sessions"] == 1)
            commits: list[Commit] = []
            dones = 0
            async for message in client.stream(speech_path(JFK), realtime=True):
                if isinstance(message, Commit):
                    commits.append(message)
                    if holder.process.poll() is None:
                        holder.process.kill()
                dones += isinstance(message, Done)
    assert holder.process.wait(10) == -signal.SIGKILL
    assert client.reconnects == 1
    assert dones == 1
    words = [word for commit in commits for word in commit.words]
    assert all(a.end <= b.start + 0.1 for a, b in pairwise(words))
    text = "".join(commit.text for commit in commits)
    assert word_error_rate(normalize(transcript(JFK)), normalize(text)) < 0.1


async def test_refused_client_retries_until_a_session_frees() -> None:
    """A client refused with `too_many_sessions` waits and tries again, and gets in once
    the session holding the server's only place closes; without `reconnect` it fails."""
    with running_server("--max-sessions", "1") as full:
        holder = StreamingClient(full.url)
        await holder.__aenter__()
        with pytest.raises(ServerError) as refused:
            async with StreamingClient(full.url):
                pass
        assert refused.value.code == "too_many_sessions"
        patient = asyncio.create_task(
            StreamingClient(full.url, reconnect=Reconnect(first_delay=0.2)).__aenter__()
        )
        await asyncio.sleep(1.0)
        assert not patient.done()  # refused at least once, still trying
        assert health(full)[1]["status"] == "full"
        await holder.__aexit__()
        client = await asyncio.wait_for(patient, 30)
        assert client.ready is not None
        await client.__aexit__()


@pytest.mark.skipif(not installed("haproxy"), reason="needs haproxy (apt-get install haproxy)")
async def test_client_goes_on_elsewhere_when_its_server_stops() -> None:
    """A server stopping without a drain finishes the live stream (`done` before the client
    said `end`); the client resumes it on the other server through the balancer, and the
    listener still gets one transcript with every word once and one `done`."""
    with ExitStack() as stack:
        servers = [stack.enter_context(running_server()) for _ in range(2)]
        addresses = [server.http_url.removeprefix("http://") for server in servers]
        balancer = stack.enter_context(running_haproxy(addresses))
        async with StreamingClient(balancer.url, reconnect=Reconnect()) as client:
            holder = next(s for s in servers if health(s)[1]["sessions"] == 1)
            messages: list[ServerMessage] = []
            async for message in client.stream(speech_path(JFK), realtime=True):
                messages.append(message)
                if first_commit(messages):
                    holder.process.send_signal(signal.SIGTERM)
        assert holder.process.wait(30) == 0
    assert client.reconnects == 1
    assert [m for m in messages if isinstance(m, Done)] == messages[-1:]
    commits = [m for m in messages if isinstance(m, Commit)]
    words = [word for commit in commits for word in commit.words]
    assert all(a.end <= b.start + 0.1 for a, b in pairwise(words))
    text = "".join(commit.text for commit in commits)
    assert word_error_rate(normalize(transcript(JFK)), normalize(text)) < 0.1


@pytest.mark.skipif(not installed("haproxy"), reason="needs haproxy (apt-get install haproxy)")
def test_stream_command_reconnects_when_its_server_is_killed(
    two_servers: list[ServerProcess],
) -> None:
    """`asr-interface stream FILE --reconnect` through HAProxy: the server holding the
    stream is killed (SIGKILL) once the first commit is printed, and the command goes on
    on the other server, printing every word once, one `done`, and exits with 0."""
    addresses = [server.http_url.removeprefix("http://") for server in two_servers]
    with running_haproxy(addresses) as balancer:
        command = [sys.executable, "-m", "asr_interface.cli.main", "stream"]
        streaming = subprocess.Popen(
            [*command, str(speech_path(JFK)), "--reconnect", "--url", balancer.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert streaming.stdout is not None
        lines = [streaming.stdout.readline()]
        holder = next(s for s in two_servers if health(s)[1]["sessions"] == 1)
        holder.process.kill()
        lines += streaming.stdout.readlines()
        _, errors = streaming.communicate(timeout=60)
        other = f"asr{2 - two_servers.index(holder)}"
        carried_on = int(balancer.servers()[other]["stot"])
    assert streaming.returncode == 0, errors
    assert holder.process.wait(10) == -signal.SIGKILL
    assert carried_on == 1  # the stream went on on the other server
    assert errors.count("# done") == 1
    commits = [line.split(maxsplit=2) for line in lines]
    assert all(float(a[1]) <= float(b[0]) + 0.1 for a, b in pairwise(commits))
    text = " ".join(text for _, _, text in commits)
    assert word_error_rate(normalize(transcript(JFK)), normalize(text)) < 0.1
