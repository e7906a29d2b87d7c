#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: formatting, lints, the dependency tree's licenses and sources,
# every test.
# Needs the Rust toolchain, Python 3, Node.js and PostgreSQL 15's server
# package; scripts/services.sh installs and starts the local stand-ins for the
# cloud services (DynamoDB, DynamoDB Streams, SQS, Kinesis) and a throwaway
# PostgreSQL for the tests, pinned in tools/emulators/ (with Schemathesis, the
# OpenAPI fuzzer run last).
set -euo pipefail
cd "$(dirname "$0")/.."
# Build outside the clone so that repeated runs (and CI on the same machine) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloudbash/target}"
# Incremental caches only pay off while editing; here they would only fill the disk.
export CARGO_INCREMENTAL=0
cargo fmt --all -- --check
python3 tools/latency-proxy/test_latency_proxy.py
cargo clippy --workspace --all-targets --locked -- -D warnings
# The dependency tree's licenses, duplicate crates and sources, as deny.toml says. Advisories are checked where the
# advisory database (a git repository) can be fetched: `cargo deny check advisories`.
CARGO_DENY_VERSION=0.20.2
if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
  # Built in a directory of its own, not among the workspace's builds.
  env -u CARGO_TARGET_DIR cargo install cargo-deny --locked --version "$CARGO_DENY_VERSION"
fi
cargo deny --locked check --hide-inclusion-graph licenses bans sources
. scripts/services.sh
python3 tools/emulators/test_moto_server.py
cfn-lint deploy/template.yaml
bash scripts/setup-browser.sh
cargo test --workspace --locked
# The served OpenAPI document against the server, fuzzed (the binary the tests just built).
python3 tools/api-fuzz/fuzz_api.py --binary "$CARGO_TARGET_DIR/debug/cloudbash"
