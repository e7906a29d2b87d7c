#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: formatting, lints, every test.
# Needs only the Rust toolchain named in rust-toolchain.toml; everything the
# tests use (SQLite) is built from the crate registry.
set -euo pipefail
cd "$(dirname "$0")/.."
# Build outside the clone so that repeated runs (and CI on the same machine) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloudbash/target}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
