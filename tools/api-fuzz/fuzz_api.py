"""Fuzzes the REST API against its own OpenAPI document with Schemathesis.

Starts `cloudbash serve --demo` on a fresh data directory, makes an order and
a cart item of an organiser so that every route has a real id to reach its
handler with, and runs Schemathesis over every operation but the live stream.
It fails on any server error, any status the document does not list, any
answer whose body or content type breaks the document, and any invalid input
the server accepts. The command rate limit is raised for the run: the
fuzzer sends thousands of commands as one caller (the 429 itself is
documented and tested in the API's own tests).

    python3 tools/api-fuzz/fuzz_api.py --binary target/debug/cloudbash
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
])


class Shop:
    """A `serve --demo` on a fresh data directory, and an organiser's token for it."""

    def __init__(self, binary: str):
        self.binary = binary
        self.data = Path(tempfile.mkdtemp(prefix="cloudbash-fuzz-"))
        self.log = open(self.data / "serve.log", "w")
        self.server = subprocess.Popen(
            [binary, "serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", str(self.data),
             "--commands-per-second", "1000000", "--command-burst", "1000000"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        first = self.server.stdout.readline().strip()
        if not first.startswith("listening on "):
            self.stop(show_log=True)
            raise SystemExit(f"serve did not start: {first!r}")
        self.base = first.removeprefix("listening on ")
        token = subprocess.run([binary, "token", "--data-dir", str(self.data), "--sub", str(uuid.uuid4()), "--admin"],
                               check=True, capture_output=True, text=True)
        self.token = token.stdout.strip()

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def stop(self, show_log: bool = False):
        self.server.terminate()
        self.server.wait(timeout=30)
        self.log.close()
        if show_log:
            errors = [line for line in (self.data / "serve.log").read_text().splitlines() if "ERROR" in line]
            print("\n".join(["the server's errors:"] + errors[-20:]), file=sys.stderr)
        shutil.rmtree(self.data, ignore_errors=True)


def real_ids(shop: Shop) -> dict:
    """Ids of things that exist, for the path parameters of the same names."""
    concert_id = shop.call("GET", "/concerts")["items"][0]["id"]
    concert = shop.call("GET", f"/concerts/{concert_id}")
    ticket_type_id = concert["ticketTypes"][0]["id"]
    line = {"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 1}
    shop.call("POST", "/cart/items", line)
    order_id = shop.call("POST", "/cart/checkout")["orderId"]
    code = shop.call("GET", f"/orders/{order_id}")["tickets"][0]["code"]
    item_id = shop.call("POST", "/cart/items", line)["id"]
    return {
        "venueId": concert["venue"]["id"],
        "concertId": concert_id,
        "ticketTypeId": ticket_type_id,
        "aggregateId": concert_id,
        "orderId": order_id,
        "itemId": item_id,
        "code": code,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="the cloudbash binary")
    parser.add_argument("--schemathesis", default="schemathesis", help="the Schemathesis command")
    parser.add_argument("--max-examples", default="30")
    args = parser.parse_args()

    shop = Shop(args.binary)
    failed = True
    try:
        config = Path(shop.data) / "schemathesis.toml"
        parameters = "\n".join(f'{name} = "{value}"' for name, value in real_ids(shop).items())
        config.write_text(f"[parameters]\n{parameters}\n")
        run = subprocess.run([
            args.schemathesis, "--config-file", str(config), "run", f"{shop.base}/openapi.json",
            "--url", shop.base, "-H", f"Authorization: Bearer {shop.token}", "--checks", CHECKS,
            "--phases", "examples,coverage,fuzzing", "--max-examples", args.max_examples,
            "--exclude-path", "/events/live", "--seed", "1",
        ])
        failed = run.returncode != 0
        return run.returncode
    finally:
        shop.stop(show_log=failed)


if __name__ == "__main__":
    sys.exit(main())
