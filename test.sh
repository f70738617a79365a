#!/usr/bin/env bash
# Run the whole test suite (offline): unit tests, vectors from ../shared, and end-to-end
# tests that drive real git against the local Sigstore stack (gitsign-sandbox), checked by
# independent peers (openssl, sigstore-python, npm oidc-provider driven by headless chromium).
set -euo pipefail
cd "$(dirname "$0")"

# Pinned independent peers (sigstore-python, python-tuf): a venv under target/, reinstalled only
# when tests/peers/requirements.txt changes.
venv=target/peers/venv
req_sum=$(sha256sum tests/peers/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/sigstore" ] || [ "$(cat "$venv/.gitsign-req-sum" 2>/dev/null)" != "$req_sum" ]; then
  mkdir -p target/peers
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/peers/requirements.txt
  echo "$req_sum" > "$venv/.gitsign-req-sum"
fi

# Pinned npm peers for tests/login.rs (oidc-provider, playwright-core; the browser is Debian's
# chromium): `npm ci` into tests/peers/node_modules, again only when package-lock.json changes.
lock_sum=$(sha256sum tests/peers/package-lock.json | cut -d' ' -f1)
if [ "$(cat tests/peers/node_modules/.gitsign-lock-sum 2>/dev/null)" != "$lock_sum" ]; then
  (cd tests/peers && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > tests/peers/node_modules/.gitsign-lock-sum
fi

# The end-to-end tests run the built binaries (gitsign, gitsign-sandbox), so build them first.
cargo build --workspace --bins
cargo test --workspace

# The benchmark harness still runs (a smoke run on the debug build: tiny counts, no timing
# assertion; real figures come from `python3 bench/run.py` on a release build).
python3 bench/run.py --smoke --bin-dir target/debug

# Every cargo-fuzz target for a bounded time when a nightly toolchain is present (a crash fails
# the run); without nightly, tests/fuzz_props.rs above covers the same entry points.
bash fuzz/ci.sh
