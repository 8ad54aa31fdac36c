"""A stand-in Freshdesk that answers every POST 200 ``{"id":1}``: the delivery and memory benches' sink.

A process of its own (so its CPU is not the consumer's, and it needs no root, unlike nginx on a low
port): one asyncio loop, a bare ``asyncio.Protocol`` speaking HTTP/1.1 keep-alive. It parses the
request line, the headers' Content-Length and the body, and answers a canned response with
``X-RateLimit-Total/Remaining/Used-CurrentRequest`` (a huge Total, so a budget never paces), like
the peer bench's nginx sink. ``--delay-ms`` holds every answer that long (the slow sink).

It counts POSTs to ``/api/v2/contact-activities`` and serves its own controls on the same port:

- ``GET /_sink/arm?n=N&pid=P``: counts start afresh; at the first and the N-th POST it notes the
  time and the CPU seconds (utime+stime, ``/proc/P/stat``) of process P, the consumer, so the
  figures are taken the moment the sink answers, not when the harness next looks.
- ``GET /_sink/stats``: ``{"count", "first_at", "first_cpu", "nth_at", "nth_cpu", "n"}``.

    python -m bench.sink --port 38080 [--delay-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from urllib.parse import parse_qs, urlsplit

CLK = os.sysconf("SC_CLK_TCK")
POST_PATH = b"/api/v2/contact-activities"
_BODY = b'{"id":1}'
OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n"
      b"X-RateLimit-Total: 1000000\r\nX-RateLimit-Remaining: 999999\r\n"
      b"X-RateLimit-Used-CurrentRequest: 1\r\n\r\n" + _BODY)
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid``, all its threads, in seconds (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK  # fields 14 and 15 of stat(5)
    except (OSError, IndexError, ValueError):
        return None


class Counter:
    def __init__(self) -> None:
        self.arm(0, None)

    def arm(self, n: int, pid: int | None) -> None:
        self.n, self.pid, self.count = n, pid, 0
        self.first_at = self.first_cpu = self.nth_at = self.nth_cpu = None

    def post(self) -> None:
        self.count += 1
        if self.count == 1:
            self.first_at = time.time()
            self.first_cpu = cpu_seconds(self.pid) if self.pid else None
        if self.count == self.n:
            self.nth_at = time.time()
            self.nth_cpu = cpu_seconds(self.pid) if self.pid else None

    def stats(self) -> dict[str, object]:
        return {"count": self.count, "n": self.n, "first_at": self.first_at,
                "first_cpu": self.first_cpu, "nth_at": self.nth_at, "nth_cpu": self.nth_cpu}


class SinkProtocol(asyncio.Protocol):
    def __init__(self, counter: Counter, delay: float) -> None:
        self.counter, self.delay = counter, delay
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length:]
            self.answer(head.split(b"\r\n", 1)[0])

    def answer(self, request_line: bytes) -> None:
        method, target, _ = [*request_line.split(b" "), b"", b""][:3]
        if method == b"POST" and target == POST_PATH:
            self.counter.post()
            response = OK
        elif method == b"GET" and target.startswith(b"/_sink/"):
            response = self.control(target.decode())
        else:
            response = NOT_FOUND
        if self.delay and response is OK:
            self.loop.call_later(self.delay, self.write, response)
        else:
            self.write(response)

    def control(self, target: str) -> bytes:
        url = urlsplit(target)
        if url.path == "/_sink/arm":
            query = parse_qs(url.query)
            self.counter.arm(int(query.get("n", ["0"])[0]),
                             int(query["pid"][0]) if "pid" in query else None)
        elif url.path != "/_sink/stats":
            return NOT_FOUND
        body = json.dumps(self.counter.stats()).encode()
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body)

    def write(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(host: str, port: int, delay: float) -> None:
    counter = Counter()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkProtocol(counter, delay), host, port,
                                      backlog=4096)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"sink listening on http://{host}:{server.sockets[0].getsockname()[1]}", flush=True)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="hold every answer this long")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.delay_ms / 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
