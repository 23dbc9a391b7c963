#!/usr/bin/env bash
# Runs target $2 (`resolve`, the default, or `bundle`) for $1 seconds (default 300):
# one process, no sanitizer, 512 MB RSS limit, 10 s per-input timeout, seeds from
# examples/seed_corpus.rs; log in logs/<target>.log.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
target=${2:-resolve}
mkdir -p logs "corpus/$target"
RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" -j 1 -- \
  -max_total_time="$secs" -rss_limit_mb=512 -timeout=10 -max_len=65536 -print_final_stats=1 \
  > "logs/$target.log" 2>&1
echo "exit $?" >> "logs/$target.log"
