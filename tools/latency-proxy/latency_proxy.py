#!/usr/bin/env python3
"""Latency-injecting HTTP/1.1 reverse proxy for the local AWS emulators.

Why this exists
---------------
Against moto on localhost a DynamoDB call costs well under a millisecond of
network time, so code that issues its writes one after another looks about as
fast as code that issues them concurrently. In the cloud every call costs a
round trip of several to tens of milliseconds, and a serialised design pays
that cost once per call. This proxy sits between a service and the emulator,
holds every request for a fixed delay (default 50 ms) before forwarding it,
and counts per DynamoDB operation how many calls were made and how many were
in flight at the same time. A design that serialises its writes then shows at
once as ``maxInFlight`` ~ 1 for ``PutItem`` / ``TransactWriteItems``, however
slow or fast the emulator is, and the delay makes every sequential round trip
visible in end-to-end timings.

Usage
-----
    python3 tools/latency-proxy/latency_proxy.py \\
        --upstream "$AWS_ENDPOINT_URL_DYNAMODB" [--port 0] [--delay-ms 50]

On start it prints exactly one line to stdout, ``listening on
http://127.0.0.1:<port>``, and serves until SIGINT / SIGTERM. Point the client
at that URL instead of the emulator (for example
``AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:<port>``).

Statistics, answered by the proxy itself (never forwarded, never delayed)::

    GET  /__proxy/stats  -> {"delayMs": 50,
                             "operations": {"PutItem": {"calls": 120, "inFlight": 0, "maxInFlight": 9}},
                             "total": {"calls": 120, "inFlight": 0, "maxInFlight": 9}}
    POST /__proxy/reset  -> zeroes the counters; the response holds the
                            counters as they were just before the reset.

Behaviour
---------
* Operation name: the part of ``X-Amz-Target`` after its last dot
  (``DynamoDB_20120810.PutItem`` -> ``PutItem``); without that header,
  ``<METHOD> <path>`` with the query string dropped (``GET /moto-api/``).
* A call is in flight from the moment its request has been read completely
  until its response has been relayed completely (or has failed), so the
  injected delay is part of it. A reset keeps calls that are still in flight
  as the new ``inFlight`` and ``maxInFlight``.
* Bytes are relayed unchanged in both directions, the ``Host`` header included
  (the client's SigV4 signature stays as signed). The one exception: the proxy
  reads every request body before forwarding it, so it answers ``Expect:
  100-continue`` itself and drops that header upstream.
* Message bodies may be framed by ``Content-Length`` or ``Transfer-Encoding:
  chunked`` (chunks, extensions and trailers are relayed as they are);
  responses may also run until the upstream closes the connection.
* Client connections are kept alive as HTTP/1.1 allows; each one is served by
  its own task, so any number of clients run concurrently. Upstream
  connections are pooled. A request that fails on a reused upstream connection
  before any response byte arrived (the upstream closed the idle connection)
  is sent once more on a fresh connection.
* If the upstream cannot be reached or breaks off before its response head,
  the client gets ``502 Bad Gateway``. Client disconnects, at any point, end
  only that client's connection.
* Not supported: HTTPS upstreams, protocol upgrades, HTTP/2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

LISTEN_HOST = "127.0.0.1"
STATS_PATH = "/__proxy/stats"
RESET_PATH = "/__proxy/reset"
LOCAL_PREFIX = "/__proxy/"
MAX_HEAD_BYTES = 1 << 20  # request / status line plus headers
COPY_CHUNK = 1 << 16
MAX_IDLE_UPSTREAM = 64

# Body framing: a byte count (int), or one of these.
CHUNKED = "chunked"
UNTIL_CLOSE = "until-close"
Framing = int | str
Emit = Callable[[bytes], Awaitable[None]]

log = logging.getLogger("latency-proxy")


class ProtocolError(Exception):
    """A peer sent something that is not valid HTTP/1.x."""


class UpstreamError(Exception):
    """The upstream could not be reached or broke off before its response head."""


# --- statistics ----------------------------------------------------------------


@dataclass
class Counter:
    """Calls of one operation (or of all): how many, and how many at once."""

    calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    def enter(self) -> None:
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        self.in_flight -= 1

    def restart(self) -> None:
        """Zeroes the counts; calls still in flight stay counted as in flight."""
        self.calls = 0
        self.max_in_flight = self.in_flight

    def to_json(self) -> dict[str, int]:
        return {"calls": self.calls, "inFlight": self.in_flight, "maxInFlight": self.max_in_flight}


class Stats:
    """Counters per operation and in total. All access is from the event loop."""

    def __init__(self, delay_ms: float) -> None:
        self.delay_ms = delay_ms
        self.total = Counter()
        self.operations: dict[str, Counter] = {}
        self.tables: dict[str, Counter] = {}

    @contextlib.contextmanager
    def track(self, operation: str, tables: str | None = None) -> Iterator[None]:
        """Counts one call of `operation` (on `tables`, if known) as in flight while the block runs."""
        counters = [self.total, self.operations.setdefault(operation, Counter())]
        if tables:
            counters.append(self.tables.setdefault(f"{operation} {tables}", Counter()))
        for counter in counters:
            counter.enter()
        try:
            yield
        finally:
            for counter in counters:
                counter.leave()

    def snapshot(self) -> dict:
        return {
            "delayMs": self.delay_ms,
            "operations": {name: c.to_json() for name, c in sorted(self.operations.items())},
            "tables": {name: c.to_json() for name, c in sorted(self.tables.items())},
            "total": self.total.to_json(),
        }

    def reset(self) -> dict:
        """Zeroes the counters and returns them as they were before."""
        before = self.snapshot()
        for counters in (self.operations, self.tables):
            for name, counter in list(counters.items()):
                if counter.in_flight:
                    counter.restart()  # still referenced by a running `track`
                else:
                    del counters[name]
        self.total.restart()
        return before


def table_names(body: bytes) -> str | None:
    """The DynamoDB tables a JSON request names (`TableName`, or the tables of
    a transaction's or batch's items), sorted and joined by `+`; else None."""
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(request, dict):
        return None
    names: set[str] = set()
    if isinstance(request.get("TableName"), str):
        names.add(request["TableName"])
    for item in request.get("TransactItems") or []:
        for action in (item or {}).values():
            if isinstance(action, dict) and isinstance(action.get("TableName"), str):
                names.add(action["TableName"])
    requested = request.get("RequestItems")
    if isinstance(requested, dict):
        names.update(name for name in requested if isinstance(name, str))
    return "+".join(sorted(names)) or None


def operation_name(method: str, target: str, headers: dict[str, str]) -> str:
    """`PutItem` for `X-Amz-Target: DynamoDB_20120810.PutItem`, else `<METHOD> <path>`."""
    amz_target = headers.get("x-amz-target", "").strip()
    if amz_target:
        return amz_target.rsplit(".", 1)[-1]
    return f"{method} {target.split('?', 1)[0]}"


# --- HTTP/1.x messages ---------------------------------------------------------


@dataclass
class Head:
    """The start line and header lines of a message, kept as received."""

    start_line: bytes
    header_lines: list[bytes]
    headers: dict[str, str]  # lower-cased name -> value; repeated names joined by ", "

    def tokens(self, name: str) -> set[str]:
        """The comma-separated, lower-cased tokens of a header (`Connection`, ...)."""
        value = self.headers.get(name, "")
        return {token.strip().lower() for token in value.split(",") if token.strip()}

    def to_bytes(self, drop: frozenset[str] = frozenset()) -> bytes:
        """The head as it goes on the wire, without the headers named in `drop`."""
        lines = [self.start_line]
        lines += [line for line in self.header_lines if header_name(line) not in drop]
        return b"\r\n".join(lines) + b"\r\n\r\n"


def header_name(line: bytes) -> str:
    return line.split(b":", 1)[0].decode("latin-1").strip().lower()


def parse_head(data: bytes) -> Head:
    """Parses `data`, a message head ending in an empty line."""
    start_line, *header_lines = data[: -len(b"\r\n\r\n")].split(b"\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip()
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return Head(start_line, header_lines, headers)


async def read_head(reader: asyncio.StreamReader) -> Head | None:
    """Reads one message head; None if the peer closed the connection first."""
    try:
        data = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as error:
        raise ProtocolError("message head too large") from error
    return parse_head(data)


def keeps_alive(head: Head, version: str) -> bool:
    """Whether the sender of this message keeps the connection open afterwards."""
    tokens = head.tokens("connection")
    if "close" in tokens:
        return False
    return version == "HTTP/1.1" or "keep-alive" in tokens


def content_length(head: Head) -> int | None:
    if "content-length" not in head.headers:
        return None
    values = {value.strip() for value in head.headers["content-length"].split(",")}
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise ProtocolError(f"invalid Content-Length {head.headers['content-length']!r}")
    return int(values.pop())


def request_framing(head: Head) -> Framing:
    if CHUNKED in head.tokens("transfer-encoding"):
        return CHUNKED
    return content_length(head) or 0


def response_framing(head: Head, status: int, request_method: str) -> Framing:
    if request_method == "HEAD" or 100 <= status < 200 or status in (204, 304):
        return 0
    if CHUNKED in head.tokens("transfer-encoding"):
        return CHUNKED
    length = content_length(head)
    return UNTIL_CLOSE if length is None else length


async def copy_body(reader: asyncio.StreamReader, framing: Framing, emit: Emit) -> None:
    """Passes a message body, framing included, from `reader` to `emit`."""
    if framing == CHUNKED:
        await copy_chunked(reader, emit)
    elif framing == UNTIL_CLOSE:
        while data := await reader.read(COPY_CHUNK):
            await emit(data)
    else:
        await copy_exactly(reader, int(framing), emit)


async def copy_exactly(reader: asyncio.StreamReader, count: int, emit: Emit) -> None:
    while count:
        data = await reader.read(min(count, COPY_CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", count)
        count -= len(data)
        await emit(data)


async def copy_chunked(reader: asyncio.StreamReader, emit: Emit) -> None:
    """Copies chunks (size line, data, CRLF) up to the last chunk and its trailers."""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        await emit(size_line)
        size = chunk_size(size_line)
        if size == 0:
            break
        await copy_exactly(reader, size + 2, emit)  # chunk data and its CRLF
    while True:  # trailer section, ended by an empty line
        line = await reader.readuntil(b"\r\n")
        await emit(line)
        if line == b"\r\n":
            return


def chunk_size(size_line: bytes) -> int:
    digits = size_line.split(b";", 1)[0].strip()
    try:
        return int(digits, 16)
    except ValueError:
        raise ProtocolError(f"invalid chunk size line {size_line[:40]!r}") from None


def writer_emit(writer: asyncio.StreamWriter) -> Emit:
    async def emit(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    return emit


async def send_simple(writer: asyncio.StreamWriter, status: int, body: str, *,
                      content_type: str = "text/plain; charset=utf-8", close: bool = False) -> None:
    """Sends a small response that the proxy makes up itself."""
    payload = body.encode()
    head = (f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(payload)}\r\n"
            + ("Connection: close\r\n" if close else "")
            + "\r\n")
    await writer_emit(writer)(head.encode("latin-1") + payload)


@dataclass
class Request:
    head: Head
    method: str
    target: str
    version: str
    body: bytes  # as received, chunked framing included

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        return keeps_alive(self.head, self.version)

    def upstream_bytes(self) -> bytes:
        return self.head.to_bytes(drop=frozenset({"expect"})) + self.body


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    """Reads a whole request from a client; None once the client has gone."""
    head = await read_head(reader)
    if head is None:
        return None
    parts = head.start_line.decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ProtocolError(f"malformed request line {head.start_line[:80]!r}")
    method, target, version = parts
    framing = request_framing(head)
    if framing != 0 and "100-continue" in head.tokens("expect"):
        await send_interim_continue(writer)
    body = bytearray()

    async def collect(data: bytes) -> None:
        body.extend(data)

    await copy_body(reader, framing, collect)
    return Request(head, method, target, version, bytes(body))


async def send_interim_continue(writer: asyncio.StreamWriter) -> None:
    await writer_emit(writer)(b"HTTP/1.1 100 Continue\r\n\r\n")


@dataclass
class Response:
    head: Head
    version: str
    framing: Framing


async def read_response_head(reader: asyncio.StreamReader, request_method: str) -> Response | None:
    """Reads the final response head, skipping interim 1xx responses."""
    while True:
        head = await read_head(reader)
        if head is None:
            return None
        parts = head.start_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"malformed status line {head.start_line[:80]!r}")
        status = int(parts[1])
        if status == 101:
            raise ProtocolError("protocol upgrades are not supported")
        if status >= 200:
            return Response(head, parts[0], response_framing(head, status, request_method))


# --- upstream connections ------------------------------------------------------


@dataclass
class UpstreamConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class UpstreamPool:
    """Idle keep-alive connections to the upstream, reused last-in first-out."""

    def __init__(self, host: str, port: int, max_idle: int = MAX_IDLE_UPSTREAM) -> None:
        self.host, self.port, self.max_idle = host, port, max_idle
        self.idle: list[UpstreamConnection] = []

    async def acquire(self, fresh: bool = False) -> UpstreamConnection:
        """An idle connection if there is a live one (unless `fresh`), else a new one."""
        while self.idle and not fresh:
            conn = self.idle.pop()
            if conn.usable():
                conn.reused = True
                return conn
            conn.close()
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD_BYTES)
        except OSError as error:
            raise UpstreamError(f"cannot connect to {self.host}:{self.port}: {error}") from error
        return UpstreamConnection(reader, writer)

    def release(self, conn: UpstreamConnection) -> None:
        if conn.usable() and len(self.idle) < self.max_idle:
            self.idle.append(conn)
        else:
            conn.close()

    def close_all(self) -> None:
        while self.idle:
            self.idle.pop().close()


# --- the proxy -----------------------------------------------------------------


# DynamoDB operations that write: with ``--isolate-writes`` each is forwarded
# alone, never beside another call.
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


class Isolation:
    """Forwards one write at a time with nothing else upstream, and reads together between writes.

    moto applies a ``TransactWriteItems`` item by item to its live tables and, when the transaction is
    cancelled, puts back what it saved before: a write that ran beside it upstream is lost, and a read beside
    it can see items that are then taken back (measured with moto 5.2.5: eight threads of conflicting
    two-item transactions lost acknowledged items). DynamoDB isolates every write; this gives the emulator the
    same isolation from outside. A waiting write holds back later reads, so writes are never
    starved. The proxy's counters still see every call from the moment it arrives, so the concurrency a client
    offers stays measurable.
    """

    def __init__(self) -> None:
        self.changed = asyncio.Condition()
        self.readers = 0
        self.writing = False
        self.writers_waiting = 0

    @contextlib.asynccontextmanager
    async def hold(self, write: bool):
        async with self.changed:
            if write:
                self.writers_waiting += 1
                await self.changed.wait_for(lambda: not self.writing and self.readers == 0)
                self.writers_waiting -= 1
                self.writing = True
            else:
                await self.changed.wait_for(lambda: not self.writing and self.writers_waiting == 0)
                self.readers += 1
        try:
            yield
        finally:
            async with self.changed:
                if write:
                    self.writing = False
                else:
                    self.readers -= 1
                self.changed.notify_all()


class Proxy:
    def __init__(self, pool: UpstreamPool, stats: Stats, delay_s: float, isolation: Isolation | None = None) -> None:
        self.pool, self.stats, self.delay_s, self.isolation = pool, stats, delay_s, isolation

    async def handle_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serves one client connection, request after request, until it ends."""
        try:
            while await self.serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away, or the upstream broke off mid-response
        except (ProtocolError, asyncio.LimitOverrunError) as error:
            log.warning("closing client connection: %s", error)
        except Exception:
            log.exception("unexpected error; closing client connection")
        except asyncio.CancelledError:
            # The proxy is shutting down. End the task normally: asyncio (3.11)
            # reports a cancelled connection task as an error otherwise.
            pass
        finally:
            writer.close()

    async def serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serves one request; whether the client connection stays open."""
        try:
            request = await read_request(reader, writer)
        except ProtocolError as error:
            await send_simple(writer, 400, f"{error}\n", close=True)
            return False
        if request is None:
            return False
        if request.path.startswith(LOCAL_PREFIX):
            return await self.serve_local(request, writer)
        operation = operation_name(request.method, request.target, request.head.headers)
        with self.stats.track(operation, table_names(request.body)):
            if self.delay_s > 0:
                await asyncio.sleep(self.delay_s)
            if self.isolation is None:
                return await self.forward(request, writer)
            async with self.isolation.hold(operation in WRITE_OPERATIONS):
                return await self.forward(request, writer)

    async def serve_local(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        """Answers the proxy's own endpoints, /__proxy/stats and /__proxy/reset."""
        routes = {("GET", STATS_PATH): self.stats.snapshot, ("POST", RESET_PATH): self.stats.reset}
        action = routes.get((request.method, request.path))
        keep_alive = request.keep_alive
        if action is not None:
            await send_simple(writer, 200, json.dumps(action(), separators=(",", ":")) + "\n",
                              content_type="application/json", close=not keep_alive)
        elif request.path in (STATS_PATH, RESET_PATH):
            await send_simple(writer, 405, "use GET /__proxy/stats or POST /__proxy/reset\n",
                              close=not keep_alive)
        else:
            await send_simple(writer, 404, "unknown proxy endpoint\n", close=not keep_alive)
        return keep_alive

    async def forward(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        """Relays a request upstream and its response back; whether to keep the client."""
        try:
            conn, response = await self.exchange(request)
        except UpstreamError as error:
            log.warning("%s %s: %s", request.method, request.target, error)
            await send_simple(writer, 502, f"upstream failed: {error}\n", close=True)
            return False
        keep_alive = (response.framing != UNTIL_CLOSE and request.keep_alive
                      and keeps_alive(response.head, response.version))
        relayed = False
        try:
            emit = writer_emit(writer)
            await emit(response.head.to_bytes())
            await copy_body(conn.reader, response.framing, emit)
            relayed = True
        finally:
            if relayed and keep_alive:
                self.pool.release(conn)
            else:
                conn.close()
        return keep_alive

    async def exchange(self, request: Request) -> tuple[UpstreamConnection, Response]:
        """Sends the request upstream and reads the response head.

        A reused connection may turn out to have been closed by the upstream
        while idle; the request then goes once more on a fresh connection.
        """
        data = request.upstream_bytes()
        fresh = False
        while True:
            conn = await self.pool.acquire(fresh)
            try:
                conn.writer.write(data)
                await conn.writer.drain()
                response = await read_response_head(conn.reader, request.method)
            except ConnectionError as error:
                conn.close()
                if conn.reused:
                    fresh = True
                    continue
                raise UpstreamError(f"connection failed: {error}") from error
            except ProtocolError as error:
                conn.close()
                raise UpstreamError(f"invalid response: {error}") from error
            if response is None:
                conn.close()
                if conn.reused:
                    fresh = True
                    continue
                raise UpstreamError("connection closed before a response")
            return conn, response


# --- command line --------------------------------------------------------------


def upstream_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected http://host[:port], got {url!r}")
    if parts.path not in ("", "/") or parts.query:
        raise argparse.ArgumentTypeError(f"the upstream URL may not have a path: {url!r}")
    return parts.hostname, parts.port or 80


def milliseconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("the delay cannot be negative")
    return int(value) if value.is_integer() else value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="HTTP/1.1 reverse proxy that delays every request and counts "
                    "concurrent calls per DynamoDB operation (stats: GET /__proxy/stats).")
    parser.add_argument("--upstream", required=True, type=upstream_address, metavar="URL",
                        help="where to forward requests, e.g. $AWS_ENDPOINT_URL_DYNAMODB")
    parser.add_argument("--port", type=int, default=0,
                        help="port to listen on at 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--delay-ms", type=milliseconds, default=50,
                        help="delay added before forwarding each request (default 50)")
    parser.add_argument("--isolate-writes", action="store_true",
                        help="forward each DynamoDB write alone, as DynamoDB isolates it (after the delay)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    host, port = args.upstream
    pool = UpstreamPool(host, port)
    proxy = Proxy(pool, Stats(args.delay_ms), args.delay_ms / 1000, Isolation() if args.isolate_writes else None)
    server = await asyncio.start_server(proxy.handle_client, LISTEN_HOST, args.port, limit=MAX_HEAD_BYTES)
    print(f"listening on http://{LISTEN_HOST}:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()  # open client connections are cancelled as the loop ends
    pool.close_all()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="latency-proxy: %(message)s")
    try:
        asyncio.run(serve(args))
    except OSError as error:
        print(f"latency-proxy: cannot listen on {LISTEN_HOST}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
