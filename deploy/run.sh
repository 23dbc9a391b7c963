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
fv_need_apt clang llvm libbpf-dev linux-libc-dev libwireshark-data || exit 2
# FLOWVISION_BIN_DIR: binaries built beforehand (the test suite runs this script with
# the binaries it has just built); otherwise a release build of the three binaries.
if [[ -n ${FLOWVISION_BIN_DIR:-} ]]; then
  bin=$FLOWVISION_BIN_DIR
else
  fv_log "building (release)"
  fv_libtorch || exit 2
  cargo build --release --locked -p flowvision-collector -p flowvision-web -p flowvision-sim
  bin=target/release
fi
for b in flowvision-collector flowvision-web flowvision-sim; do
  [[ -x $bin/$b ]] || { fv_log "$bin/$b not found"; exit 2; }
done

embedded=""
if [[ -z ${DATABASE_URL:-} ]]; then
  fv_need_apt postgresql || exit 2
  DATABASE_URL=$(fv_embedded_pg "$home/pg" "${FLOWVISION_PG_PORT:-5433}")
  export DATABASE_URL
  embedded="$home/pg"
  fv_log "embedded PostgreSQL: $DATABASE_URL (data in $home/pg/data)"
fi
export STATE_DIR=${STATE_DIR:-$home/state}

# Which process is which, for the one line that says why the appliance stopped.
declare -A role=()
pids=()
# A signal (Ctrl-C, SIGTERM to the script or to its whole process group) is an ordered
# stop: whatever exits after it is not a failure.
stopping=false
stop_all() {
  stopping=true
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
}
trap stop_all TERM INT

"$bin/flowvision-collector" run &
pids+=($!); role[$!]=collector
"$bin/flowvision-web" &
pids+=($!); role[$!]=console
listen=${WEB_LISTEN:-0.0.0.0:8000}
scheme=http; [[ -n ${WEB_TLS_CERT:-} ]] && scheme=https
fv_log "console: $scheme://${listen/0.0.0.0/localhost}/ (the first start prints the admin's one-time password above, or use FLOWVISION_ADMIN_USER/FLOWVISION_ADMIN_PASSWORD)"

demo_pid=""
if $demo; then
  sleep 2
fi
if $demo && ! $stopping; then
  fv_log "demo: simulated NetFlow v5/v9, IPFIX and sFlow from 12 exporters (collector/sim/scenarios/demo.toml, labelled anomalies in the first 20 minutes) to port ${NETFLOW_PORT:-2055}; labels in $home/demo-labels.jsonl"
  "$bin/flowvision-sim" --scenario collector/sim/scenarios/demo.toml \
    --rate "${DEMO_RATE:-2000}" --duration "${DEMO_DURATION:-24h}" \
    --target "127.0.0.1:${NETFLOW_PORT:-2055}" --labels "$home/demo-labels.jsonl" -q &
  demo_pid=$!
fi

# The collector and the console are the appliance: when either exits, everything stops
# with one line saying which and how. The demo's traffic is a helper: when it ends or
# fails, one line says so and the appliance keeps running.
status=0
while true; do
  live=("${pids[@]}")
  [[ -n $demo_pid ]] && live+=("$demo_pid")
  finished=""
  set +e
  wait -n -p finished "${live[@]}"
  code=$?
  set -e
  if [[ -z ${finished:-} ]] || $stopping; then
    # A signal (Ctrl-C, SIGTERM) interrupted the wait, or a process exited because of
    # it: stop_all has run.
    status=0
    break
  fi
  if [[ $finished == "$demo_pid" ]]; then
    demo_pid=""
    if ((code == 0)); then
      fv_log "demo: the simulated traffic has ended; the appliance keeps running"
    else
      fv_log "demo: the traffic simulator failed (exit $code, its error is above); the appliance keeps running"
    fi
    continue
  fi
  fv_log "the ${role[$finished]:-process $finished} exited (status $code); stopping the appliance"
  status=$code
  ((status == 0)) && status=1
  break
done
stop_all
if [[ -n $demo_pid ]]; then kill -TERM "$demo_pid" 2>/dev/null || true; fi
for p in "${pids[@]}" $demo_pid; do wait "$p" 2>/dev/null || true; done
[[ -n $embedded ]] && fv_embedded_pg_stop "$embedded"
exit "$status"
