#!/usr/bin/env bash
# Runs the `resolve` target for $1 seconds (default 300): one process, no sanitizer,
# 512 MB RSS limit, 10 s per-input timeout, seeds from examples/seed_corpus.rs.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
mkdir -p logs corpus/resolve
RUSTC_BOOTSTRAP=1 cargo fuzz run -s none resolve -j 1 -- \
  -max_total_time="$secs" -rss_limit_mb=512 -timeout=10 -max_len=65536 -print_final_stats=1 \
  > logs/resolve.log 2>&1
echo "exit $?" >> logs/resolve.log
