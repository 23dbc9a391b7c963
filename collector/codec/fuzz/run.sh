#!/usr/bin/env bash
# Runs one fuzz target for $2 seconds (default 360) the way the README's table was made:
# one process, no sanitizer, 512 MB RSS limit, 5 s per-input timeout.
set -uo pipefail
cd "$(dirname "$0")"
t=$1
secs=${2:-360}
mkdir -p logs corpus/"$t"
RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$t" -j 1 -- \
  -max_total_time="$secs" -rss_limit_mb=512 -timeout=5 -print_final_stats=1 \
  > logs/"$t".log 2>&1
echo "exit $?" >> logs/"$t".log
