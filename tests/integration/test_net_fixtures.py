"""The network fixtures do what they say, over real sockets: the test CA, the switchable Front,
squid as a forward proxy (CONNECT, plain HTTP, proxy auth, its own hosts), the hostile servers.

Clients are the stdlib and aiohttp (the delivery client's library), never the code under test.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import ssl
import time
from typing import Any

import aiohttp
import pytest
from yarl import URL

from consumer_devtools.sandbox import SandboxServer
from tests.fixtures.front import FrontFactory, Mode
from tests.fixtures.hostile import HostileFactory
from tests.fixtures.proxy import AccessEntry, Squid
from tests.fixtures.tls import CertAuthority

pytestmark = pytest.mark.integration

API = "/api/v2/contact-activities"
# aiohttp 3.14 deprecates BasicAuth, auth= and proxy_auth=: headers it is.
AUTH = {"Authorization": aiohttp.encode_basic_auth("sandbox-key", "X")}


def activity(name: str) -> dict[str, Any]:
    return {"activity": {"name": name, "timestamp": "2020-10-01T14:00:00Z",
                         "actor": {"id": "a1", "name": "Rachel", "type": "contact"},
                         "source": {"name": "shop", "id": "s1"},
                         "object": {"type": "order", "id": "1", "link": "https://shop.example/1"}},
            "contact": {"email": "rachel@example.com"}}


async def post(url: str, name: str, timeout: aiohttp.ClientTimeout | None = None, **kwargs: Any) -> int:
    """POST one activity with aiohttp (fresh session, no env); the answer's status."""
    async with aiohttp.ClientSession(timeout=timeout or aiohttp.ClientTimeout(total=10)) as session, \
            session.post(url + API, json=activity(name), headers=AUTH, **kwargs) as answer:
        await answer.read()
        return answer.status


def get(port: int, path: str = "/_sandbox/activities", timeout: float = 5.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def names(sandbox: SandboxServer) -> list[str]:
    return [a["activity"]["name"] for a in sandbox.activities()]


# --- the test CA and the Front ------------------------------------------------------------------


def test_https_front_terminates_tls_with_a_test_ca_certificate(
        sandbox: SandboxServer, front_factory: FrontFactory, test_ca: CertAuthority,
        untrusted_ca: CertAuthority) -> None:
    front = front_factory(sandbox.base_url, tls=True)
    assert front.url.startswith("https://127.0.0.1:")
    assert asyncio.run(post(front.url, "over tls", ssl=test_ca.client_context())) == 200
    assert asyncio.run(post(front.url_for("localhost"), "by name", ssl=test_ca.client_context())) == 200
    assert names(sandbox) == ["over tls", "by name"]
    assert front.connections["forward"] == 2 and front.bytes_forwarded > 0
    # Trusting only the other CA (or the system's) the same certificate fails verification.
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        asyncio.run(post(front.url, "refused", ssl=untrusted_ca.client_context()))
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        asyncio.run(post(front.url, "refused", ssl=ssl.create_default_context()))
    front.wait_for("tls_failures", 2)
    assert test_ca.env() == {"SSL_CERT_FILE": str(test_ca.pem_path)}
    assert test_ca.pem_path.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_front_modes_switch_at_runtime_and_come_back_on_the_same_port(
        sandbox: SandboxServer, front_factory: FrontFactory) -> None:
    front = front_factory(sandbox.base_url)
    port = front.port
    assert get(port) == 200

    front.set_mode("refuse")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)

    front.set_mode("reset")
    with pytest.raises(ConnectionResetError):
        get(port)
    assert front.connections["reset"] == 1

    front.set_mode("blackhole")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        get(port, timeout=0.3)  # connected and sent; no answer comes
    assert time.monotonic() - started >= 0.3
    assert front.connections["blackhole"] == 1

    front.set_mode("forward")
    assert front.port == port
    assert get(port) == 200
    assert front.connections == {"forward": 2, "blackhole": 1, "tls_untrusted": 0, "reset": 1}


def test_a_switch_cuts_kept_alive_connections(sandbox: SandboxServer, front_factory: FrontFactory) -> None:
    front = front_factory(sandbox.base_url)
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=5)
    conn.request("GET", "/_sandbox/activities")
    assert conn.getresponse().read() is not None
    front.set_mode("refuse")
    front.wait_for("closed", 1)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        conn.request("GET", "/_sandbox/activities")
        conn.getresponse()
    conn.close()


def test_tls_untrusted_fails_the_handshake_until_forward_again(
        sandbox: SandboxServer, front_factory: FrontFactory, test_ca: CertAuthority) -> None:
    front = front_factory(sandbox.base_url, tls=True)
    front.set_mode("tls_untrusted")
    with pytest.raises(aiohttp.ClientConnectorCertificateError) as failure:
        asyncio.run(post(front.url, "untrusted", ssl=test_ca.client_context()))
    assert "certificate verify failed" in str(failure.value)
    assert front.wait_for("tls_failures") == 1
    front.set_mode("forward")
    assert asyncio.run(post(front.url, "trusted again", ssl=test_ca.client_context())) == 200
    assert names(sandbox) == ["trusted again"]


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
def test_what_aiohttp_raises_in_each_mode(sandbox: SandboxServer, front_factory: FrontFactory,
                                          test_ca: CertAuthority, tls: bool) -> None:
    """For the delivery client's classification: each outage as aiohttp reports it."""
    front = front_factory(sandbox.base_url, tls=tls)
    timeout = aiohttp.ClientTimeout(total=5, connect=0.3, sock_read=0.3)
    context = test_ca.client_context() if tls else None
    expected: dict[Mode, type[Exception]] = {
        "refuse": aiohttp.ClientConnectorError,
        "reset": aiohttp.ClientOSError,  # ClientConnectorError when the RST beats the connect
        # TLS: the handshake never ends (connect timeout); plain: no answer (read timeout).
        "blackhole": aiohttp.ConnectionTimeoutError if tls else aiohttp.SocketTimeoutError,
    }
    if tls:
        expected["tls_untrusted"] = aiohttp.ClientConnectorCertificateError
    for mode, error in expected.items():
        front.set_mode(mode)
        with pytest.raises(error):
            asyncio.run(post(front.url, mode, ssl=context, timeout=timeout))
    front.set_mode("forward")
    assert asyncio.run(post(front.url, "back", ssl=context)) == 200
    assert names(sandbox) == ["back"]


# --- squid ---------------------------------------------------------------------------------------


def test_only_squid_resolves_freshdesk_test(forward_proxy: Squid) -> None:
    assert "freshdesk.test" in forward_proxy.hosts
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("freshdesk.test", 443)
    assert forward_proxy.start_seconds < 10


def test_https_through_squid_by_connect(
        sandbox: SandboxServer, front_factory: FrontFactory, test_ca: CertAuthority,
        forward_proxy: Squid) -> None:
    front = front_factory(sandbox.base_url, tls=True)
    url = front.url_for("freshdesk.test")
    with pytest.raises(aiohttp.ClientConnectorDNSError):  # the direct route: no such name
        asyncio.run(post(url, "direct", ssl=test_ca.client_context()))
    mark = forward_proxy.mark()
    assert asyncio.run(post(url, "proxied", ssl=test_ca.client_context(),
                            proxy=forward_proxy.url)) == 200
    entry = forward_proxy.wait_for_entry(
        lambda e: e.method == "CONNECT" and e.url == f"freshdesk.test:{front.port}", since=mark)
    assert (entry.result, entry.status, entry.user) == ("TCP_TUNNEL", 200, "-")
    assert entry.hierarchy == "HIER_DIRECT/127.0.0.1"
    assert names(sandbox) == ["proxied"]
    assert front.connections["forward"] == 1


def test_plain_http_through_squid(sandbox: SandboxServer, front_factory: FrontFactory,
                                  forward_proxy: Squid) -> None:
    front = front_factory(sandbox.base_url)
    url = front.url_for("freshdesk.test")
    mark = forward_proxy.mark()
    assert asyncio.run(post(url, "plain", proxy=forward_proxy.url)) == 200
    entry = forward_proxy.wait_for_entry(lambda e: e.method == "POST", since=mark)
    assert entry.url == f"http://freshdesk.test:{front.port}{API}"
    assert entry.status == 200
    assert names(sandbox) == ["plain"]


def test_the_auth_port_wants_the_right_credentials(
        sandbox: SandboxServer, front_factory: FrontFactory, test_ca: CertAuthority,
        forward_proxy: Squid) -> None:
    front = front_factory(sandbox.base_url, tls=True)
    url = front.url_for("freshdesk.test")
    proxy = URL(forward_proxy.auth_url())
    assert proxy.password == forward_proxy.password and "@" in forward_proxy.password
    bare = str(proxy.with_user(None))
    mark = forward_proxy.mark()
    good = {"Proxy-Authorization": aiohttp.encode_basic_auth(proxy.user or "", proxy.password or "")}
    assert asyncio.run(post(url, "with credentials", ssl=test_ca.client_context(), proxy=bare,
                            proxy_headers=good)) == 200
    entry = forward_proxy.wait_for_entry(lambda e: e.method == "CONNECT", since=mark)
    assert (entry.status, entry.user) == (200, forward_proxy.user)

    for headers in ({}, {"Proxy-Authorization": aiohttp.encode_basic_auth(forward_proxy.user, "wrong")}):
        with pytest.raises(aiohttp.ClientHttpProxyError) as refused:
            asyncio.run(post(url, "refused", ssl=test_ca.client_context(), proxy=bare,
                             proxy_headers=headers))
        assert refused.value.status == 407
    assert names(sandbox) == ["with credentials"]


def test_aiohttp_trust_env_takes_the_proxy_and_its_credentials_from_env(
        sandbox: SandboxServer, front_factory: FrontFactory, test_ca: CertAuthority,
        forward_proxy: Squid, monkeypatch: pytest.MonkeyPatch) -> None:
    front = front_factory(sandbox.base_url, tls=True)
    for name, value in forward_proxy.env(auth=True, no_proxy="localhost").items():
        monkeypatch.setenv(name, value)

    async def scenario() -> tuple[int, int]:
        async with aiohttp.ClientSession(trust_env=True) as session:
            async with session.post(front.url_for("freshdesk.test") + API, json=activity("env"),
                                    headers=AUTH, ssl=test_ca.client_context()) as proxied:
                first = proxied.status
            # squid cannot resolve localhost (its hosts_file is ours): a 200 proves NO_PROXY.
            async with session.post(front.url_for("localhost") + API, json=activity("no_proxy"),
                                    headers=AUTH, ssl=test_ca.client_context()) as direct:
                return first, direct.status

    mark = forward_proxy.mark()
    assert asyncio.run(scenario()) == (200, 200)
    entry = forward_proxy.wait_for_entry(lambda e: e.method == "CONNECT", since=mark)
    assert (entry.url, entry.status, entry.user) == (
        f"freshdesk.test:{front.port}", 200, forward_proxy.user)
    assert names(sandbox) == ["env", "no_proxy"]


def test_squid_cannot_reach_localhost_by_name(front_factory: FrontFactory, sandbox: SandboxServer,
                                              forward_proxy: Squid) -> None:
    front = front_factory(sandbox.base_url)
    # http://: squid answers its own error page (502 here); https://: the CONNECT fails (500).
    assert asyncio.run(post(front.url_for("localhost"), "http", proxy=forward_proxy.url)) >= 500
    tls_front = front_factory(sandbox.base_url, tls=True)
    with pytest.raises(aiohttp.ClientHttpProxyError) as failed:
        asyncio.run(post(tls_front.url_for("localhost"), "https", proxy=forward_proxy.url))
    assert failed.value.status == 500
    assert names(sandbox) == []
    assert front.connections["forward"] == tls_front.connections["forward"] == 0


def test_add_hosts_makes_squid_resolve_another_name(
        sandbox: SandboxServer, front_factory: FrontFactory, forward_proxy: Squid) -> None:
    front = front_factory(sandbox.base_url)
    forward_proxy.add_hosts("other.freshdesk.test")
    assert asyncio.run(post(front.url_for("other.freshdesk.test"), "other",
                            proxy=forward_proxy.url)) == 200
    assert names(sandbox) == ["other"]


def test_access_entry_parses_squid_native_lines() -> None:
    entry = AccessEntry.parse("1796660838.420     50 127.0.0.1 TCP_TUNNEL/200 39 CONNECT "
                              "freshdesk.test:36965 fdtest HIER_DIRECT/127.0.0.1 -")
    assert (entry.elapsed_ms, entry.result, entry.status, entry.method, entry.url, entry.user) == (
        50, "TCP_TUNNEL", 200, "CONNECT", "freshdesk.test:36965", "fdtest")


# --- hostile servers ------------------------------------------------------------------------------


async def read_some(url: str, limit: int) -> tuple[aiohttp.ClientResponse, int]:
    """GET ``url`` and read ``limit`` bytes of the body, then drop the connection."""
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        got = 0
        while got < limit and (chunk := await answer.content.read(65536)):
            got += len(chunk)
        answer.close()
        return answer, got


def test_huge_content_length_claims_2_gb_and_streams(hostile_server: HostileFactory) -> None:
    server = hostile_server("huge_content_length")
    answer, got = asyncio.run(read_some(server.base_url + API, 8 << 20))
    assert answer.status == 200 and answer.content_length == 2_000_000_000
    assert got >= 8 << 20
    server.wait_for("client_closed")
    assert server.requests[0].method == "GET" and server.requests[0].path == API
    assert server.counters.get("bytes_sent") < 200 << 20  # it stops when the client goes


def test_a_hostile_server_behind_a_tls_front(hostile_server: HostileFactory,
                                            front_factory: FrontFactory, test_ca: CertAuthority) -> None:
    server = hostile_server("huge_content_length")
    front = front_factory(server.base_url, tls=True)

    # Connect to the front's address, check the certificate for freshdesk.test.
    async def by_address() -> tuple[int | None, int]:
        async with aiohttp.ClientSession() as session, \
                session.get(front.url + API, ssl=test_ca.client_context(),
                            server_hostname="freshdesk.test") as answer:
            got = len(await answer.content.read(1 << 20))
            # Drop it: a polite TLS close waits for a close_notify that the 2 GB stream delays,
            # and asyncio.run would close the loop first, leaking the socket.
            assert answer.connection is not None
            answer.connection.transport.abort()  # type: ignore[union-attr]
            return answer.content_length, got

    length, got = asyncio.run(by_address())
    assert length == 2_000_000_000 and got > 0
    server.wait_for("client_closed")


def test_endless_chunked_never_ends(hostile_server: HostileFactory) -> None:
    server = hostile_server("endless_chunked")
    answer, got = asyncio.run(read_some(server.base_url + "/", 8 << 20))
    assert answer.headers["Transfer-Encoding"] == "chunked" and answer.content_length is None
    assert got >= 8 << 20
    server.wait_for("client_closed")


def raw_head(port: int, limit: int = 64 << 20) -> bytes:
    """The answer's head over a plain socket (no client limits), up to ``limit`` bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}")
        data = b""
        while b"\r\n\r\n" not in data and len(data) < limit:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        return data


def test_huge_headers_many_long_and_endless(hostile_server: HostileFactory) -> None:
    many = raw_head(hostile_server("huge_headers").port)
    assert many.count(b"\r\nX-Filler-") == 10_000
    long = raw_head(hostile_server("huge_headers", style="long").port)
    assert max(len(line) for line in long.split(b"\r\n")) > 1 << 20
    endless = hostile_server("huge_headers", style="endless")
    assert len(raw_head(endless.port, limit=4 << 20)) >= 4 << 20
    endless.wait_for("client_closed")
    assert endless.requests[0].body == b"{}"


def test_redirects_point_somewhere(hostile_server: HostileFactory) -> None:
    async def scenario(url: str) -> tuple[int, str, int]:
        async with aiohttp.ClientSession() as session:
            async with session.post(url + API, json={}, allow_redirects=False) as answer:
                held = (answer.status, answer.headers["Location"])
            async with session.get(url + API) as followed:
                return (*held, followed.status)

    for status in (301, 302, 307, 308):
        server = hostile_server("redirect", status=status)
        assert asyncio.run(scenario(server.base_url)) == (
            status, f"{server.base_url}/redirected{API}", 200)
        assert [r.path for r in server.requests] == [API, API, f"/redirected{API}"]
    elsewhere = hostile_server("redirect", status=301, location="https://acme.freshdesk.test/")
    assert raw_head(elsewhere.port).startswith(
        b"HTTP/1.1 301 Redirect\r\nLocation: https://acme.freshdesk.test/\r\n")


def test_slow_drip_sends_one_byte_per_interval(hostile_server: HostileFactory) -> None:
    server = hostile_server("slow_drip", interval=0.1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        started = time.monotonic()
        got = [s.recv(100) for _ in range(5)]
        assert time.monotonic() - started >= 0.35
    assert got == [b"H", b"T", b"T", b"P", b"/"]
    body_drip = hostile_server("slow_drip", interval=0.1, phase="body")
    head = raw_head(body_drip.port)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 4096" in head


def test_bad_options_are_refused(hostile_server: HostileFactory) -> None:
    with pytest.raises(ValueError, match="one of"):
        hostile_server("redirect", status=200)
    with pytest.raises(ValueError, match="takes"):
        hostile_server("endless_chunked", interval=1)
