"""The http1 engine's own cases (consumer/http1.py), against real servers on 127.0.0.1.

test_freshdesk_client.py runs the common scenarios on both engines; here is what only a client
that parses HTTP itself has to get right: framing (chunked, EOF-delimited, 1-byte pieces), when a
connection is not reused, "was it sent" on a reused connection the server had closed, the pool's
limit and its idle expiry. The tests that take ``engine`` run on aiohttp too, as the reference.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from consumer.config import FreshdeskSettings
from consumer.delivery import http1
from consumer.delivery.freshdesk import _ANSWER_HEADERS, Answer, FreshdeskClient, Reply
from tests.unit.test_freshdesk_client import BODY, CLOSE, HOLD, KEY, SILENT, Raw, Server, post_and_close

pytestmark = pytest.mark.timeout(30)

CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-RateLimit-Total: 700\r\n"
           b"x-ratelimit-remaining: 699\r\nContent-Type: application/json\r\n\r\n"
           b"4\r\n{\"id\r\n5\r\n\": 42\r\n1\r\n}\r\n0\r\n\r\n")
DELIVERED_42 = Reply(Answer.DELIVERED, 200, '{"id": 42}', None, 700, 699, None, sent=True)


@pytest.fixture(params=["aiohttp", "http1"])
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def client_for(port: int, engine: str = "http1", timeout_s: float = 5.0, max_in_flight: int = 16,
               scheme: str = "http") -> FreshdeskClient:
    return FreshdeskClient(FreshdeskSettings(
        base_url=f"{scheme}://127.0.0.1:{port}", api_key=KEY, timeout_s=timeout_s,
        max_in_flight=max_in_flight), engine=engine)  # type: ignore[arg-type]


def posts(script: list[Any], n: int, engine: str = "http1", timeout_s: float = 5.0
          ) -> tuple[list[Reply], Server]:
    """n posts one after another against a server playing ``script``."""
    async def main() -> tuple[list[Reply], Server]:
        async with Server(list(script)) as server:
            client = client_for(server.port, engine, timeout_s)
            try:
                return [await client.post(BODY) for _ in range(n)], server
            finally:
                await client.aclose()
    return asyncio.run(main())


def test_a_chunked_answer_is_read_and_its_connection_reused(engine):
    replies, server = posts([Raw(CHUNKED, close=False)], 2, engine)
    assert replies[0] == DELIVERED_42
    assert replies[1].answer is Answer.DELIVERED
    assert (server.accepts, len(server.requests)) == (1, 2)


def test_an_answer_split_into_1_byte_writes_is_read(engine):
    replies, server = posts([Raw(CHUNKED, close=False, split=True)], 2, engine)
    assert replies[0] == DELIVERED_42
    assert (server.accepts, len(server.requests)) == (1, 2)


@pytest.mark.parametrize("answer", [
    CHUNKED,
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-RateLimit-Total: 700\r\n"
    b"X-RateLimit-Remaining:   699  \r\n\r\n{\"id\": 42}",
])
def test_the_parser_fed_1_byte_at_a_time_gives_the_same_answer(answer):
    """The protocol itself, each byte its own data_received: no TCP coalescing can hide a bug."""
    async def main() -> tuple[int, list[tuple[str, str]], bytes, bool]:
        pool = http1.Pool("http", "127.0.0.1", 1, 1, keep_headers=_ANSWER_HEADERS)
        conn = http1._Connection(pool)

        class Transport:
            def write(self, data: bytes) -> None:
                pass

            def abort(self) -> None:
                raise AssertionError("the answer was refused")

            close = abort
        conn.connection_made(Transport())  # type: ignore[arg-type]
        waiter = conn.send(b"request")
        for i in range(len(answer)):
            assert not waiter.done()
            conn.data_received(answer[i:i + 1])
        return await waiter
    status, headers, body, keep = asyncio.run(main())
    assert (status, body, keep) == (200, b'{"id": 42}', True)
    assert dict(headers)["X-RateLimit-Total"] == "700"
    assert {k.lower(): v for k, v in headers}["x-ratelimit-remaining"] == "699"


def test_connection_close_is_honoured_the_next_post_opens_a_new_connection(engine):
    replies, server = posts([(200, {"Connection": "close"}, b'{"id": 1}')], 2, engine)
    assert [r.answer for r in replies] == [Answer.DELIVERED] * 2
    assert (server.accepts, len(server.requests)) == (2, 2)


def test_an_http_1_0_answer_is_not_kept_alive(engine):
    replies, server = posts([Raw(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", close=False)],
                            2, engine)
    assert [r.answer for r in replies] == [Answer.DELIVERED] * 2
    assert server.accepts == 2


def test_an_answer_without_length_ends_at_eof(engine):
    replies, server = posts([Raw(b"HTTP/1.1 400 Bad\r\nContent-Type: application/json\r\n\r\n"
                                 b'{"code": "invalid"}')], 2, engine)
    assert (replies[0].answer, replies[0].status, replies[0].detail, replies[0].sent) == (
        Answer.REJECTED, 400, '{"code": "invalid"}', True)
    assert replies[1].answer is Answer.DELIVERED
    assert server.accepts == 2


def test_a_partial_answer_then_eof_may_have_been_sent(engine):
    replies, server = posts([Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\"")], 2,
                            engine)
    assert (replies[0].answer, replies[0].status, replies[0].sent) == (Answer.TRANSIENT, None, True)
    # aiohttp says ClientPayloadError (a body cut short), http1 ServerDisconnectedError
    assert replies[0].detail.startswith("connection failed: ")
    assert replies[1].answer is Answer.DELIVERED
    assert (server.accepts, len(server.requests)) == (2, 2)


def test_headers_cut_off_by_eof_may_have_been_sent(engine):
    replies, _ = posts([Raw(b"HTTP/1.1 200 OK\r\nContent-Le")], 1, engine)
    assert (replies[0].answer, replies[0].status, replies[0].sent) == (Answer.TRANSIENT, None, True)


def test_garbage_instead_of_an_answer_may_have_been_sent_and_the_connection_is_dropped(engine):
    replies, server = posts([Raw(b"SMTP ready\r\n\r\n", close=False)], 2, engine)
    assert (replies[0].answer, replies[0].status, replies[0].sent) == (Answer.TRANSIENT, None, True)
    assert replies[0].detail.startswith("connection failed: " + {
        "aiohttp": "ClientResponseError", "http1": "InvalidResponseError: invalid HTTP"}[engine])
    assert replies[1].answer is Answer.DELIVERED
    assert server.accepts == 2


def test_after_a_timeout_the_connection_is_not_reused(engine):
    replies, server = posts([SILENT], 2, engine, timeout_s=0.3)
    assert (replies[0].answer, replies[0].sent) == (Answer.TRANSIENT, True)
    assert replies[0].detail == "timed out: TimeoutError: no complete answer within 0.3s"
    assert replies[1].answer is Answer.DELIVERED
    assert server.accepts == 2


def test_a_request_on_a_reused_connection_times_out_too_and_the_next_one_goes_on(engine):
    """The second request finds the first one's idle connection: the pool's watchdog (not a
    timer of its own) ends it at the deadline; the third opens a new connection and is answered."""
    replies, server = posts([(200, {}, b"{}"), SILENT], 3, engine, timeout_s=0.3)
    assert [r.answer for r in replies] == [Answer.DELIVERED, Answer.TRANSIENT, Answer.DELIVERED]
    assert replies[1].detail == "timed out: TimeoutError: no complete answer within 0.3s"
    assert replies[1].sent is True
    assert server.accepts == 2


def test_the_watchdog_ends_only_the_requests_past_their_deadline():
    """Two requests on the wire, deadlines 0.2 s apart: the first silent one times out while the
    second, answered before its own deadline, is delivered."""
    async def main() -> tuple[list[Any], Server]:
        async with Server([(200, {}, b"{}"), (200, {}, b"{}"), SILENT]) as server:
            client = client_for(server.port, timeout_s=0.4, max_in_flight=2)
            try:
                await asyncio.gather(client.post(BODY), client.post(BODY))  # two idle connections
                silent = asyncio.ensure_future(client.post(BODY))
                while len(server.requests) < 3:
                    server.received.clear()
                    await server.received.wait()
                answered = await client.post(BODY)
                return [await silent, answered], server
            finally:
                await client.aclose()

    (silent, answered), server = asyncio.run(main())
    assert silent.detail == "timed out: TimeoutError: no complete answer within 0.4s"
    assert answered.answer is Answer.DELIVERED
    assert server.accepts == 2


def test_a_connection_closed_without_an_answer_is_not_reused(engine):
    replies, server = posts([CLOSE], 2, engine)
    assert replies[0].detail.startswith("connection failed: ServerDisconnectedError")
    assert replies[1].answer is Answer.DELIVERED
    assert server.accepts == 2


def test_a_reused_connection_the_server_closed_before_our_write_may_have_been_sent(engine):
    """The server answers, keeps the connection alive, then closes it; the client has not seen
    the FIN yet (its loop is blocked meanwhile) and writes the next request on it. Nobody can
    know whether a server read it: TRANSIENT, sent, and no silent second write."""
    listening = socket.create_server(("127.0.0.1", 0))
    close_now, closed = threading.Event(), threading.Event()
    requests: list[bytes] = []

    def serve() -> None:
        conn, _ = listening.accept()
        with conn:
            data = b""
            while not data.endswith(BODY):
                data += conn.recv(65536)
            requests.append(data)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            close_now.wait(10)
        closed.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def main() -> list[Reply]:
        client = client_for(listening.getsockname()[1], engine, timeout_s=3)
        try:
            first = await client.post(BODY)
            close_now.set()
            assert closed.wait(10)  # blocking: the loop does not run, the FIN waits unread
            second = await client.post(BODY)
            return [first, second]
        finally:
            await client.aclose()
    try:
        first, second = asyncio.run(main())
    finally:
        thread.join(10)
        listening.close()
    assert first.answer is Answer.DELIVERED
    assert (second.answer, second.status, second.sent) == (Answer.TRANSIENT, None, True)
    assert second.detail.startswith("connection failed: ServerDisconnectedError")
    assert len(requests) == 1  # one connection, one request read by the server


def test_50_concurrent_posts_never_open_more_than_max_in_flight_connections(engine):
    async def main() -> tuple[list[Reply], Server, int]:
        async with Server([HOLD] * 50) as server:
            client = client_for(server.port, engine, max_in_flight=4)
            try:
                tasks = [asyncio.ensure_future(client.post(BODY)) for _ in range(50)]
                while len(server.requests) < 4:  # four are held on the wire
                    server.received.clear()
                    await server.received.wait()
                held_on = server.accepts
                server.release.set()
                return list(await asyncio.gather(*tasks)), server, held_on
            finally:
                await client.aclose()
    replies, server, held_on = asyncio.run(main())
    assert [r.answer for r in replies] == [Answer.DELIVERED] * 50
    assert held_on == 4
    assert (server.accepts, len(server.requests)) == (4, 50)


def test_idle_connections_expire_after_5_seconds():
    now = [1000.0]

    async def main() -> tuple[list[Reply], Server, list[int]]:
        async with Server() as server:
            client = client_for(server.port)
            pool = client._pool
            assert pool is not None
            pool._clock = lambda: now[0]
            seen = []
            try:
                replies = [await client.post(BODY)]
                now[0] += 4.9  # still fresh: reused
                replies.append(await client.post(BODY))
                seen.append(server.accepts)
                now[0] += 5.0  # expired: closed, a new one made
                [old] = pool._idle
                replies.append(await client.post(BODY))
                await old.lost
                seen.append(server.accepts)
                # the sweep closes an expired idle connection without any post
                now[0] += 5.0
                [idle] = pool._idle
                pool._sweep()
                await idle.lost
                seen.append(pool.connections)
                return replies, server, seen
            finally:
                await client.aclose()
    replies, _, seen = asyncio.run(main())
    assert [r.answer for r in replies] == [Answer.DELIVERED] * 3
    assert seen == [1, 2, 0]


def test_a_failed_tls_handshake_was_not_sent(engine):
    async def not_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    async def main() -> Reply:
        server = await asyncio.start_server(not_tls, "127.0.0.1", 0)
        async with server:
            client = client_for(server.sockets[0].getsockname()[1], engine, scheme="https")
            return await post_and_close(client)
    reply = asyncio.run(main())
    assert (reply.answer, reply.status, reply.sent) == (Answer.TRANSIENT, None, False)
    assert reply.detail.startswith("connection failed: ")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_with_the_trust_of_ssl_cert_file(engine, tmp_path: Path, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)

    async def main() -> tuple[list[Reply], Server]:
        async with Server(tls=tls) as server:
            client = client_for(server.port, engine, scheme="https")
            try:
                return [await client.post(BODY) for _ in range(2)], server
            finally:
                await client.aclose()
    untrusted, _ = asyncio.run(main())  # certifi's bundle does not know our certificate
    assert (untrusted[0].answer, untrusted[0].sent) == (Answer.TRANSIENT, False)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    replies, server = asyncio.run(main())
    assert [r.answer for r in replies] == [Answer.DELIVERED] * 2
    assert (server.accepts, len(server.requests)) == (1, 2)
    assert server.requests[0].header("Host") == [f"127.0.0.1:{server.port}"]
