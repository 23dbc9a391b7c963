# Shared helpers of deploy/run.sh and deploy/test.sh. Sourced, not executed.
# shellcheck shell=bash

fv_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

fv_log() { printf '[flowvision] %s\n' "$*" >&2; }

# fv_need_apt PKG... : installs missing Debian packages when root; otherwise prints the
# one command that would and fails.
fv_need_apt() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -eq 0 ]]; then
    fv_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    fv_log "missing Debian packages; run:"
    echo "sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    return 1
  fi
}

# PostgreSQL server binaries (initdb, postgres) from Debian's packages.
fv_pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/postgres ]] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null && dirname "$(command -v initdb)" && return 0
  return 1
}
