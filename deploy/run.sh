#!/usr/bin/env bash
# Runs the FlowVision appliance: builds it, starts an embedded PostgreSQL when
# DATABASE_URL is not set, and runs the collector in the foreground until Ctrl-C or
# SIGTERM (which flush everything before exit).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$(fv_root)"

home=${FLOWVISION_HOME:-$PWD/.flowvision}
mkdir -p "$home"
fv_log "building (release)"
cargo build --release --locked -p flowvision-collector

embedded=""
if [[ -z ${DATABASE_URL:-} ]]; then
  fv_need_apt postgresql || exit 2
  DATABASE_URL=$(fv_embedded_pg "$home/pg" "${FLOWVISION_PG_PORT:-5433}")
  export DATABASE_URL
  embedded="$home/pg"
  fv_log "embedded PostgreSQL: $DATABASE_URL (data in $home/pg/data)"
fi
export STATE_DIR=${STATE_DIR:-$home/state}

target/release/flowvision-collector run &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
status=0
wait "$pid" || status=$?
# A signal interrupts the first wait; wait again for the flush to finish.
if kill -0 "$pid" 2>/dev/null; then wait "$pid" || status=$?; fi
[[ -n $embedded ]] && fv_embedded_pg_stop "$embedded"
exit "$status"
