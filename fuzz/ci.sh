#!/usr/bin/env bash
# Bounded libFuzzer runs of every cargo-fuzz target, as part of ./test.sh. They need a nightly
# toolchain: where there is none (or cargo-fuzz cannot be installed) this says so and exits 0;
# the property tests in tests/fuzz_props.rs drive the same entry points on stable either way.
# A crash, hang or out-of-memory in any target fails the run (its input is left in
# fuzz/artifacts/<target>/). GITSIGN_FUZZ_SECONDS sets the time per target (default 10).
set -euo pipefail
cd "$(dirname "$0")"
secs=${GITSIGN_FUZZ_SECONDS:-10}

if ! command -v rustup >/dev/null || ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain here; skipping the libFuzzer runs (tests/fuzz_props.rs ran instead)"
  exit 0
fi
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz 0.13.2" ]; then
  if ! cargo install cargo-fuzz --version 0.13.2 --locked --quiet; then
    echo "fuzz: cannot install cargo-fuzz 0.13.2; skipping the libFuzzer runs (tests/fuzz_props.rs ran instead)"
    exit 0
  fi
fi

./seed.sh
flags=(-O -a -s none)   # release + debug assertions and overflow checks; no ASan (no unsafe code)
cargo +nightly fuzz build "${flags[@]}"
mkdir -p target/ci-logs
for t in $(cargo +nightly fuzz list); do
  log=target/ci-logs/$t.log
  if ! cargo +nightly fuzz run "${flags[@]}" "$t" "corpus/$t" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=16384 -print_final_stats=1 >"$log" 2>&1; then
    echo "fuzz: target $t FAILED; the end of its log ($log):"
    tail -n 60 "$log"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "fuzz: $t: ${runs:-?} executions in ${secs} s, no crash"
done
