#!/usr/bin/env bash
# Runs the FlowVision appliance in the foreground: builds it, starts an embedded
# PostgreSQL when DATABASE_URL is not set, then the collector and the web console.
# Ctrl-C or SIGTERM stops both (the collector flushes everything first).
#
#   deploy/run.sh           the appliance
#   deploy/run.sh --demo    the same, fed with simulated traffic (labelled anomalies
#                           included) so the console shows live charts within a minute
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$(fv_root)"

demo=false
for arg in "$@"; do
  case $arg in
    --demo) demo=true ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) fv_log "unknown argument: $arg (try --help)"; exit 2 ;;
  esac
done

home=${FLOWVISION_HOME:-$PWD/.flowvision}
mkdir -p "$home"
fv_web_assets || exit 2
# clang & co. compile the XDP program (xdp/flowvision.bpf.c) during the build.
fv_need_apt clang llvm libbpf-dev linux-libc-dev || exit 2
fv_log "building (release)"
cargo build --release --locked -p flowvision-collector -p flowvision-web -p flowvision-sim

embedded=""
if [[ -z ${DATABASE_URL:-} ]]; then
  fv_need_apt postgresql || exit 2
  DATABASE_URL=$(fv_embedded_pg "$home/pg" "${FLOWVISION_PG_PORT:-5433}")
  export DATABASE_URL
  embedded="$home/pg"
  fv_log "embedded PostgreSQL: $DATABASE_URL (data in $home/pg/data)"
fi
export STATE_DIR=${STATE_DIR:-$home/state}

pids=()
stop_all() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; }
trap stop_all TERM INT

target/release/flowvision-collector run &
pids+=($!)
target/release/flowvision-web &
pids+=($!)
listen=${WEB_LISTEN:-0.0.0.0:8000}
scheme=http; [[ -n ${WEB_TLS_CERT:-} ]] && scheme=https
fv_log "console: $scheme://${listen/0.0.0.0/localhost}/ (the first start prints the admin's one-time password above, or use FLOWVISION_ADMIN_USER/FLOWVISION_ADMIN_PASSWORD)"

if $demo; then
  sleep 2
  fv_log "demo: sending simulated NetFlow/IPFIX/sFlow from 12 exporters to port ${NETFLOW_PORT:-2055}"
  target/release/flowvision-sim --scenario collector/sim/scenarios/day.toml --exporters 12 \
    --rate "${DEMO_RATE:-2000}" --duration "${DEMO_DURATION:-24h}" --speedup 60 \
    --target "127.0.0.1:${NETFLOW_PORT:-2055}" -q &
  pids+=($!)
fi

status=0
# The first process to exit (or a signal) stops the others.
wait -n "${pids[@]}" || status=$?
stop_all
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
[[ -n $embedded ]] && fv_embedded_pg_stop "$embedded"
exit "$status"
