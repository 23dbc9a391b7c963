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

# fv_as_db_user CMD... : PostgreSQL refuses to run as root; as root, run its tools as
# the 'postgres' system user that Debian's package creates.
fv_as_db_user() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# fv_embedded_pg DIR PORT : initializes (once) and starts a private PostgreSQL cluster
# in DIR listening on 127.0.0.1:PORT and a socket in DIR/run; prints its URL.
fv_embedded_pg() {
  local dir=$1 port=$2 bin
  bin=$(fv_pg_bindir) || { fv_log "PostgreSQL server binaries not found"; return 1; }
  mkdir -p "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
  if [[ ! -f $dir/data/PG_VERSION ]]; then
    fv_log "creating the embedded PostgreSQL cluster in $dir/data"
    fv_as_db_user "$bin/initdb" -D "$dir/data" -U flowvision --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; return 1; }
  fi
  fv_as_db_user mkdir -p "$dir/run"
  if ! fv_as_db_user "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    fv_as_db_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/run -c max_wal_size=4GB -c synchronous_commit=off -c shared_buffers=1GB" \
      start >/dev/null || { tail -20 "$dir/postgres.log" >&2; return 1; }
  fi
  "$bin/psql" -h 127.0.0.1 -p "$port" -U flowvision -d postgres -qtAc \
    "SELECT 1 FROM pg_database WHERE datname='flowvision'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$port" -U flowvision flowvision
  echo "postgresql://flowvision@127.0.0.1:$port/flowvision"
}

fv_embedded_pg_stop() {
  local dir=$1 bin
  bin=$(fv_pg_bindir) || return 0
  fv_as_db_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# fv_web_assets : installs the console's browser assets (Chart.js) and the base MIB
# modules (the `net-snmp` package's lib/mibs: SNMPv2-SMI/TC/CONF/MIB, IF-MIB,
# IANAifType-MIB, RFC1155-SMI, RFC-1212, RFC-1215, RFC1213-MIB; docs/mib.md) from the
# npm registry into web/node_modules, exactly as pinned by web/package-lock.json (never
# copied into the repository). Skipped when the installed tree matches the lock file.
fv_web_assets() {
  local web
  web="$(fv_root)/web"
  if [[ -f $web/node_modules/chart.js/dist/chart.umd.js && -f $web/node_modules/net-snmp/lib/mibs/IF-MIB.mib \
        && -f $web/node_modules/.package-lock.json \
        && ! $web/package-lock.json -nt $web/node_modules/.package-lock.json ]]; then
    return 0
  fi
  command -v npm >/dev/null || fv_need_apt nodejs npm || return 1
  fv_log "installing the console's browser assets (npm ci in web/)"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { fv_log "npm ci failed in $web"; return 1; }
}

# fv_python_tools REQ... : installs pinned Python packages with pip (python3 -m pip)
# unless exactly these versions are installed already.
fv_python_tools() {
  command -v python3 >/dev/null || fv_need_apt python3 || return 1
  python3 -m pip --version >/dev/null 2>&1 || fv_need_apt python3-pip || return 1
  local req missing=()
  for req in "$@"; do
    [[ $(python3 -m pip show "${req%%==*}" 2>/dev/null | awk '/^Version:/ {print $2}') == "${req##*==}" ]] || missing+=("$req")
  done
  ((${#missing[@]} == 0)) && return 0
  fv_log "installing ${missing[*]} (pip)"
  python3 -m pip install --quiet "${missing[@]}" || { fv_log "pip install ${missing[*]} failed"; return 1; }
}

# fv_libtorch : installs libtorch 2.13.0 (CPU) for the insights models (tch, docs/models.md)
# unless present, and exports LIBTORCH. It comes from PyPI's `torch==2.13.0` wheel: only
# libtorch_cpu, libc10, libgomp and the headers are kept, plus the two CUDA runtime
# libraries libtorch_cpu is linked against (libcudart, libcupti; never called on a CPU)
# from their own wheels; about 500 MB in ${FLOWVISION_LIBTORCH:-~/.cache/flowvision/libtorch-2.13.0}.
FV_TORCH_VERSION=2.13.0
FV_CUDART_VERSION=13.0.96
FV_CUPTI_VERSION=13.0.85
fv_libtorch() {
  local dir="${FLOWVISION_LIBTORCH:-${XDG_CACHE_HOME:-$HOME/.cache}/flowvision/libtorch-$FV_TORCH_VERSION}"
  if [[ -f $dir/.complete ]]; then
    export LIBTORCH="$dir"
    return 0
  fi
  command -v python3 >/dev/null || fv_need_apt python3 || return 1
  python3 -m pip --version >/dev/null 2>&1 || fv_need_apt python3-pip || return 1
  command -v unzip >/dev/null || fv_need_apt unzip || return 1
  fv_log "installing libtorch $FV_TORCH_VERSION (CPU) into $dir from the torch wheel (about 530 MB to download)"
  local tmp
  tmp=$(mktemp -d)
  if ! python3 -m pip download --quiet --no-deps -d "$tmp" "torch==$FV_TORCH_VERSION" \
      "nvidia-cuda-runtime==$FV_CUDART_VERSION" "nvidia-cuda-cupti==$FV_CUPTI_VERSION"; then
    fv_log "downloading the torch wheel failed; run: python3 -m pip download --no-deps torch==$FV_TORCH_VERSION"
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$dir"
  mkdir -p "$dir/lib" "$tmp/x"
  (cd "$tmp/x" \
    && unzip -q "$tmp"/torch-*.whl 'torch/lib/libc10.so' 'torch/lib/libtorch_cpu.so' 'torch/lib/libgomp.so.1' 'torch/include/*' \
    && unzip -q -o "$tmp"/nvidia_cuda_runtime-*.whl '*/libcudart.so.13' \
    && unzip -q -o "$tmp"/nvidia_cuda_cupti-*.whl '*/libcupti.so.13') \
    || { fv_log "unpacking the torch wheels failed"; rm -rf "$tmp" "$dir"; return 1; }
  mv "$tmp/x/torch/include" "$dir/include"
  mv "$tmp"/x/torch/lib/* "$dir/lib/"
  find "$tmp/x" \( -name 'libcudart.so.13' -o -name 'libcupti.so.13' \) -exec mv {} "$dir/lib/" \;
  # torch-sys links -ltorch as well; libtorch.so itself would pull in libtorch_cuda, so an
  # empty stand-in library takes its name (every symbol lives in libtorch_cpu).
  printf '' | cc -shared -o "$dir/lib/libtorch.so" -x c - || { fv_log "cc failed"; rm -rf "$tmp" "$dir"; return 1; }
  ln -s libgomp.so.1 "$dir/lib/libgomp.so"
  echo "$FV_TORCH_VERSION" >"$dir/build-version"
  touch "$dir/.complete"
  rm -rf "$tmp"
  export LIBTORCH="$dir"
}

# fv_libtorch_runtime DEST : copies what an installed console needs of libtorch at run time
# (its binary's rpath includes ../lib/flowvision/libtorch): the shared libraries only.
fv_libtorch_runtime() {
  local dest=$1 f
  fv_libtorch || return 1
  mkdir -p "$dest"
  for f in libtorch_cpu.so libc10.so libgomp.so.1 libcudart.so.13 libcupti.so.13; do
    cp "$LIBTORCH/lib/$f" "$dest/" || return 1
  done
}
