#!/usr/bin/env bash
# Builds the images flowvision/collector, flowvision/web and flowvision/postgres with
# the Docker engine DOCKER_HOST names (the default engine when unset).
#
#   deploy/docker/build.sh [--base IMAGE] [--tag TAG]
#
# --base (BASE_IMAGE) [debian:bookworm-slim]: the image they are built on. When it is
#   neither present nor pullable (no registry reachable), a Debian base is made with
#   debootstrap from the mirror apt is configured with, imported as
#   flowvision/base:bookworm and used instead; its root file system is cached in
#   FLOWVISION_DOCKER_CACHE [~/.cache/flowvision/docker] between runs.
# FLOWVISION_BIN_DIR: binaries built beforehand; otherwise a release build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
cd "$(fv_root)"

base=${BASE_IMAGE:-debian:bookworm-slim}
tag=${FLOWVISION_TAG:-latest}
while (($#)); do
  case $1 in
    --base) base=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) fv_log "unknown argument: $1 (try --help)"; exit 2 ;;
  esac
done

command -v docker >/dev/null || { fv_need_apt docker.io || exit 2; }
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
  || { fv_log "no Docker engine answers at ${DOCKER_HOST:-the default socket}"; exit 2; }

# The base image: present, pulled, or made with debootstrap.
if ! docker image inspect "$base" >/dev/null 2>&1 && ! docker pull -q "$base" >/dev/null 2>&1; then
  fallback=flowvision/base:bookworm
  if ! docker image inspect "$fallback" >/dev/null 2>&1; then
    cache=${FLOWVISION_DOCKER_CACHE:-$HOME/.cache/flowvision/docker}
    tarball=$cache/base-bookworm.tar
    if [[ ! -s $tarball ]]; then
      fv_need_apt debootstrap || exit 2
      [[ $(id -u) -eq 0 ]] || { fv_log "debootstrap needs root: sudo $0"; exit 2; }
      # The mirror apt already uses (this machine may reach no other).
      mirror=$(grep -rhoE '^(deb|URIs:) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | grep -oE 'https?://[^ ]+' | head -1 || true)
      mirror=${mirror:-http://deb.debian.org/debian}
      mkdir -p "$cache"
      fv_log "$base cannot be pulled: making a Debian bookworm base with debootstrap from $mirror"
      root=$(mktemp -d)
      debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache.debootstrap.log" 2>&1 \
        || { tail -20 "$cache.debootstrap.log" >&2; rm -rf "$root"; exit 1; }
      # apt inside the images uses the same mirror.
      echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"
      rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
      # mktemp made the folder 0700: it becomes the image's /, which every user must
      # traverse.
      chmod 755 "$root"
      tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
      rm -rf "$root"
    fi
    docker import "$tarball" "$fallback" >/dev/null
  fi
  base=$fallback
fi

# The build context: the binaries, Chart.js, the base MIB modules and the images'
# scripts, nothing else.
# libtorch: linked by the console, shipped beside it (docs/models.md).
fv_libtorch || exit 2
if [[ -n ${FLOWVISION_BIN_DIR:-} ]]; then
  bin=$FLOWVISION_BIN_DIR
else
  fv_need_apt clang llvm libbpf-dev linux-libc-dev || exit 2
  fv_log "building (release)"
  cargo build --release --locked -p flowvision-collector -p flowvision-web -p flowvision-sim
  bin=target/release
fi
fv_web_assets || exit 2
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/bin" "$ctx/assets/chart.js/dist" "$ctx/docker"
for b in flowvision-collector flowvision-web flowvision-sim; do
  [[ -x $bin/$b ]] || { fv_log "$bin/$b not found"; exit 2; }
  cp "$bin/$b" "$ctx/bin/"
done
cp web/node_modules/chart.js/dist/chart.umd.js "$ctx/assets/chart.js/dist/"
cp web/node_modules/chart.js/LICENSE.md "$ctx/assets/chart.js/" 2>/dev/null || true
# The IETF/IANA base MIB modules the console loads (docs/mib.md), from the net-snmp package.
mkdir -p "$ctx/assets/net-snmp/lib"
cp -r web/node_modules/net-snmp/lib/mibs "$ctx/assets/net-snmp/lib/"
cp web/node_modules/net-snmp/LICENSE* "$ctx/assets/net-snmp/" 2>/dev/null || true
cp deploy/docker/healthcheck deploy/docker/postgres-entrypoint "$ctx/docker/"
# The insights' models and the libtorch libraries the console links.
mkdir -p "$ctx/models"
cp web/insights/models/weights/*.json "$ctx/models/"
fv_libtorch_runtime "$ctx/libtorch" || exit 2

for image in postgres collector web; do
  fv_log "building flowvision/$image:$tag on $base"
  docker build -q --network host --build-arg "BASE=$base" -f "deploy/docker/$image.Dockerfile" \
    -t "flowvision/$image:$tag" "$ctx" >/dev/null
done
fv_log "images: flowvision/postgres:$tag flowvision/collector:$tag flowvision/web:$tag"
