#!/usr/bin/env python3
"""Tests for latency_proxy.py (standard library only).

    python3 tools/latency-proxy/test_latency_proxy.py

An in-process HTTP/1.1 server stands in for the emulator; the proxy runs as
a subprocess exactly as it would be started from a script, and the port is
taken from the one line it prints.
"""

from __future__ import annotations

import http.client
import http.server
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROXY = Path(__file__).with_name("latency_proxy.py")
DELAY_MS = 100
CONCURRENCY = 8
PUT_ITEM = "DynamoDB_20120810.PutItem"


class TableNamesTest(unittest.TestCase):
    """The per-table counts name the tables a request writes or reads."""

    def test_names_come_from_the_request_its_transaction_or_its_batch(self) -> None:
        sys.path.insert(0, str(PROXY.parent))
        import latency_proxy

        self.assertEqual(latency_proxy.table_names(b'{"TableName":"events"}'), "events")
        transaction = {"TransactItems": [{"Put": {"TableName": "log"}}, {"ConditionCheck": {"TableName": "events"}}]}
        self.assertEqual(latency_proxy.table_names(json.dumps(transaction).encode()), "events+log")
        self.assertEqual(latency_proxy.table_names(b'{"RequestItems":{"a":{},"b":{}}}'), "a+b")
        self.assertIsNone(latency_proxy.table_names(b"not json"))
        self.assertIsNone(latency_proxy.table_names(b"{}"))


# --- the stand-in upstream -----------------------------------------------------


class Upstream(http.server.ThreadingHTTPServer):
    """Echoes requests as JSON; counts requests and connections.

    POST /barrier holds each request until CONCURRENCY of them have arrived,
    so it only succeeds if the proxy forwards them concurrently. POST /chunked
    answers with a chunked body. Idle keep-alive connections are closed after
    a short timeout, which exercises the proxy's stale-connection retry.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), UpstreamHandler)
        self.lock = threading.Lock()
        self.requests = 0
        self.connections = 0
        self.barrier = threading.Barrier(CONCURRENCY)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, attribute: str) -> None:
        with self.lock:
            setattr(self, attribute, getattr(self, attribute) + 1)


CHUNKED_BODY = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"


class Overlaps(http.server.ThreadingHTTPServer):
    """Holds each request a moment and records which operations were upstream at the same time."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), OverlapHandler)
        self.lock = threading.Lock()
        self.upstream: list[str] = []
        self.overlaps: list[tuple[str, ...]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class OverlapHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        operation = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
        with self.server.lock:
            self.server.upstream.append(operation)
            self.server.overlaps.append(tuple(sorted(self.server.upstream)))
        time.sleep(0.02)
        with self.server.lock:
            self.server.upstream.remove(operation)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


class UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 0.5  # closes idle keep-alive connections

    def setup(self) -> None:
        super().setup()
        self.server.count("connections")

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        self.server.count("requests")
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/barrier":
            try:
                self.server.barrier.wait(timeout=10)
            except threading.BrokenBarrierError:
                return self.reply(500, b"barrier broken: requests were not concurrent")
        if self.path == "/chunked":
            return self.reply_chunked()
        echo = {"path": self.path, "target": self.headers.get("X-Amz-Target"),
                "expect": self.headers.get("Expect"), "body": body.decode()}
        self.reply(200, json.dumps(echo).encode())

    do_GET = do_POST

    def do_HEAD(self) -> None:
        self.server.count("requests")
        self.send_response(200)
        self.send_header("Content-Length", "100")  # describes the GET body; none follows
        self.end_headers()

    def reply(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def reply_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(CHUNKED_BODY)


# --- helpers -------------------------------------------------------------------


def start_proxy(upstream_url: str, stderr, *extra: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, str(PROXY), "--upstream", upstream_url, "--port", "0",
         "--delay-ms", str(DELAY_MS), *extra],
        stdout=subprocess.PIPE, stderr=stderr, text=True)
    line = process.stdout.readline()
    match = re.fullmatch(r"listening on http://127\.0\.0\.1:(\d+)\n", line)
    if not match:
        process.kill()
        raise RuntimeError(f"unexpected first line from the proxy: {line!r}")
    return process, int(match.group(1))


def stop_proxy(process: subprocess.Popen) -> int:
    process.terminate()
    try:
        return process.wait(timeout=10)
    finally:
        process.stdout.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recv_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


# --- tests ---------------------------------------------------------------------


class IsolateWritesTest(unittest.TestCase):
    """With --isolate-writes a write is never upstream beside another call; reads still overlap."""

    def test_writes_go_upstream_alone_and_reads_together(self) -> None:
        upstream = Overlaps()
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        with tempfile.TemporaryFile(mode="w+") as log:
            proxy, port = start_proxy(upstream.url, log, "--isolate-writes")
            try:
                operations = ["TransactWriteItems", "PutItem", "Query", "GetItem"] * 6

                def call(operation: str) -> int:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                    try:
                        conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": f"DynamoDB_20120810.{operation}"})
                        return conn.getresponse().status
                    finally:
                        conn.close()

                with ThreadPoolExecutor(len(operations)) as pool:
                    statuses = list(pool.map(call, operations))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                conn.request("GET", "/__proxy/stats")
                stats = json.loads(conn.getresponse().read())
                conn.close()
            finally:
                stop_proxy(proxy)
                upstream.shutdown()
                upstream.server_close()
        self.assertEqual(statuses, [200] * len(operations))
        writes = {"TransactWriteItems", "PutItem"}
        beside_a_write = [seen for seen in upstream.overlaps if len(seen) > 1 and writes & set(seen)]
        self.assertEqual(beside_a_write, [], "a write was upstream beside another call")
        self.assertTrue(any(len(seen) > 1 for seen in upstream.overlaps), "reads did not overlap")
        self.assertGreater(stats["total"]["maxInFlight"], 4, "the proxy still counts what clients offer at once")


class LatencyProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.upstream = Upstream()
        threading.Thread(target=cls.upstream.serve_forever, daemon=True).start()
        cls.proxy_log = tempfile.TemporaryFile(mode="w+")
        cls.proxy, cls.port = start_proxy(cls.upstream.url, cls.proxy_log)

    @classmethod
    def tearDownClass(cls) -> None:
        stop_proxy(cls.proxy)
        cls.upstream.shutdown()
        cls.upstream.server_close()
        cls.proxy_log.seek(0)
        log = cls.proxy_log.read()
        cls.proxy_log.close()
        if "Traceback" in log or "unexpected error" in log:
            raise AssertionError(f"the proxy logged an unexpected error:\n{log}")

    def setUp(self) -> None:
        self.upstream.barrier.reset()
        self.request("POST", "/__proxy/reset")

    def connection(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        self.addCleanup(conn.close)
        return conn

    def request(self, method: str, path: str, target: str | None = None, body: str = "",
                conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
        conn = conn or self.connection()
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        if target:
            headers["X-Amz-Target"] = target
        conn.request(method, path, body=body.encode(), headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    def stats(self) -> dict:
        status, body = self.request("GET", "/__proxy/stats")
        self.assertEqual(status, 200)
        return json.loads(body)

    def test_counts_calls_per_operation_on_one_kept_alive_connection(self) -> None:
        conn = self.connection()
        for target in ["DynamoDB_20120810.GetItem"] * 3 + ["DynamoDB_20120810.Query"] * 2:
            status, body = self.request("POST", "/", target, '{"TableName":"t"}', conn)
            self.assertEqual(status, 200)
            echo = json.loads(body)
            self.assertEqual((echo["target"], echo["body"]), (target, '{"TableName":"t"}'))
        stats = self.stats()
        self.assertEqual(stats["delayMs"], DELAY_MS)
        self.assertEqual(stats["operations"], {
            "GetItem": {"calls": 3, "inFlight": 0, "maxInFlight": 1},
            "Query": {"calls": 2, "inFlight": 0, "maxInFlight": 1},
        })
        self.assertEqual(stats["total"], {"calls": 5, "inFlight": 0, "maxInFlight": 1})

    def test_concurrent_calls_are_forwarded_concurrently_and_counted(self) -> None:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            results = list(pool.map(lambda _: self.request("POST", "/barrier", PUT_ITEM, "{}"),
                                    range(CONCURRENCY)))
        self.assertEqual([status for status, _ in results], [200] * CONCURRENCY, results)
        stats = self.stats()
        expected = {"calls": CONCURRENCY, "inFlight": 0, "maxInFlight": CONCURRENCY}
        self.assertEqual(stats["operations"], {"PutItem": expected})
        self.assertEqual(stats["total"], expected)

    def test_adds_at_least_the_configured_delay(self) -> None:
        conn = self.connection()
        for _ in range(3):
            started = time.perf_counter()
            status, _ = self.request("POST", "/", PUT_ITEM, "{}", conn)
            elapsed = time.perf_counter() - started
            self.assertEqual(status, 200)
            self.assertGreaterEqual(elapsed, DELAY_MS / 1000)

    def test_stats_endpoints_are_neither_delayed_nor_forwarded_nor_counted(self) -> None:
        before = self.upstream.requests
        started = time.perf_counter()
        self.stats()
        self.assertLess(time.perf_counter() - started, DELAY_MS / 1000)
        self.assertEqual(self.request("POST", "/__proxy/stats")[0], 405)
        self.assertEqual(self.request("GET", "/__proxy/other")[0], 404)
        self.assertEqual(self.upstream.requests, before)
        self.assertEqual(self.stats()["total"]["calls"], 0)

    def test_requests_without_target_count_as_method_and_path(self) -> None:
        status, body = self.request("GET", "/moto-api/?x=1")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["path"], "/moto-api/?x=1")
        self.assertEqual(list(self.stats()["operations"]), ["GET /moto-api/"])

    def test_reset_returns_the_old_counters_and_zeroes_them(self) -> None:
        self.request("POST", "/", PUT_ITEM, "{}")
        status, body = self.request("POST", "/__proxy/reset")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["operations"]["PutItem"]["calls"], 1)
        stats = self.stats()
        self.assertEqual(stats["operations"], {})
        self.assertEqual(stats["total"], {"calls": 0, "inFlight": 0, "maxInFlight": 0})

    def test_relays_a_chunked_response_byte_for_byte_and_keeps_the_connection(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as sock:
            for _ in range(2):
                sock.sendall(b"POST /chunked HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                response = recv_until(sock, b"0\r\nX-Trailer: yes\r\n\r\n")
                head, _, body = response.partition(b"\r\n\r\n")
                self.assertIn(b"Transfer-Encoding: chunked", head)
                self.assertEqual(body, CHUNKED_BODY)

    def test_head_response_has_no_body(self) -> None:
        conn = self.connection()
        conn.request("HEAD", "/")
        response = conn.getresponse()
        self.assertEqual((response.status, response.read()), (200, b""))
        self.assertEqual(self.request("POST", "/", PUT_ITEM, "{}", conn)[0], 200)

    def test_answers_expect_continue_itself(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         b"Expect: 100-continue\r\n\r\n")
            self.assertEqual(recv_until(sock, b"\r\n\r\n"), b"HTTP/1.1 100 Continue\r\n\r\n")
            sock.sendall(b"hello")
            response = recv_until(sock, b"}")
        echo = json.loads(response.partition(b"\r\n\r\n")[2])
        self.assertEqual((echo["body"], echo["expect"]), ("hello", None))

    def test_retries_on_a_fresh_connection_when_the_upstream_closed_an_idle_one(self) -> None:
        self.assertEqual(self.request("POST", "/", PUT_ITEM, "{}")[0], 200)
        time.sleep(UpstreamHandler.timeout + 0.3)  # the upstream closes its idle connections
        self.assertEqual(self.request("POST", "/", PUT_ITEM, "{}")[0], 200)

    def test_survives_clients_that_disconnect_at_any_point(self) -> None:
        partial_requests = [
            b"",
            b"POST / HTTP/1.1\r\nHost: x\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}",
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + PUT_ITEM.encode()
            + b"\r\nContent-Length: 2\r\n\r\n{}",  # complete: goes away during the delay
            b"GARBAGE\r\n\r\n",
        ]
        for data in partial_requests:
            with socket.create_connection(("127.0.0.1", self.port), timeout=20) as sock:
                sock.sendall(data)
        time.sleep(2 * DELAY_MS / 1000)
        self.assertEqual(self.request("POST", "/", PUT_ITEM, "{}")[0], 200)
        stats = self.stats()
        self.assertEqual(stats["total"]["inFlight"], 0)
        self.assertEqual(stats["operations"]["PutItem"]["calls"], 2)

    def test_unreachable_upstream_gives_bad_gateway(self) -> None:
        with tempfile.TemporaryFile(mode="w+") as log:
            process, port = start_proxy(f"http://127.0.0.1:{free_port()}", log)
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                conn.request("POST", "/", body=b"{}", headers={"X-Amz-Target": PUT_ITEM})
                response = conn.getresponse()
                self.assertEqual(response.status, 502)
                response.read()
                conn.close()
            finally:
                self.assertEqual(stop_proxy(process), 0)
            log.seek(0)
            self.assertIn("cannot connect", log.read())

    def test_shuts_down_cleanly_with_client_connections_open(self) -> None:
        with tempfile.TemporaryFile(mode="w+") as log:
            process, port = start_proxy(self.upstream.url, log)
            sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
            try:
                sockets[1].sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab")
                sockets[2].sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
                time.sleep(DELAY_MS / 2000)  # the last request is now in its delay
                self.assertEqual(stop_proxy(process), 0)
            finally:
                for sock in sockets:
                    sock.close()
            log.seek(0)
            self.assertEqual(log.read(), "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
