"""The proxies of deploy/ (HAProxy, nginx) in front of a real server that wants a token:
the server's own page may open its socket through them, and no token reaches a log."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from asr_interface.protocol import Ready
from tests.balancer import PROXIES, Proxy, installed, running_proxy, wait_for_log
from tests.server.asr_calls import receive, sessions_closed
from tests.server.conftest import TOKEN, ServerProcess

pytestmark = pytest.mark.model

WRONG = "wr0ng-secret-value"
"""A wrong token: refused, and no more to be logged than the right one."""


@pytest.fixture(params=PROXIES)
def proxy(request: pytest.FixtureRequest, guarded_server: ServerProcess) -> Iterator[Proxy]:
    """One of the deploy/ proxies in front of the module's server that wants `TOKEN`."""
    name: str = request.param
    if not installed(name):
        pytest.skip(f"needs {name} (apt-get install {name})")
    with running_proxy(name, [guarded_server.http_url.removeprefix("http://")]) as started:
        yield started


def http_status(url: str, headers: dict[str, str]) -> int:
    """The status of a GET on `url` with `headers`."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


async def test_page_origin_passes_and_no_token_is_logged(
    proxy: Proxy, guarded_server: ServerProcess
) -> None:
    """Through the proxy, sockets with the Origin of the page it serves are let in (the
    server compares the Origin with the Host, which must keep its port), by `?token=` and
    by the token subprotocol; the token, right or wrong, in the query, a Bearer header, a
    subprotocol or a Referer, is in neither the proxy's access log nor the server's log,
    while every request is logged."""
    origin = {"Origin": proxy.http_url}
    key = Subprotocol(f"openai-insecure-api-key.{TOKEN}")
    await sessions_closed(guarded_server)  # it holds one session at a time
    async with connect(f"{proxy.url}?token={TOKEN}", additional_headers=origin) as queried:
        assert isinstance(await receive(queried), Ready)
    await sessions_closed(guarded_server)
    async with connect(proxy.url, additional_headers=origin, subprotocols=[key]) as offered:
        assert offered.subprotocol == key
        assert isinstance(await receive(offered), Ready)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{proxy.url}?token={WRONG}", additional_headers=origin):
            pass
    assert refused.value.response.status_code == 401
    referer = {"Referer": f"{proxy.http_url}/?token={TOKEN}"}
    assert http_status(f"{proxy.http_url}/?token={TOKEN}", referer) == 200
    assert http_status(f"{proxy.http_url}/backends?token={WRONG}", {}) == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert http_status(f"{proxy.http_url}/backends", bearer) == 200

    logged = wait_for_log(
        proxy, lambda text: text.count("GET /asr") == 3 and text.count("GET /backends") == 2
    )
    assert TOKEN not in logged
    assert WRONG not in logged
    assert not [line for line in guarded_server.log if TOKEN in line or WRONG in line]
