#!/usr/bin/env bash
# Builds the Debian package flowvision_<version>_amd64.deb: the collector, the console
# and the simulator, the systemd units, /etc/flowvision/flowvision.env (a conffile),
# Chart.js, the base MIB modules, the scenarios and the docs.
#
#   deploy/debian/build-deb.sh [--out DIR] [--version VERSION]
#
# Binaries: a release build, or FLOWVISION_BIN_DIR. VERSION defaults to the workspace's.
# dpkg-deb, not cargo-deb: no tool to build first, and no nested cargo when the test
# suite packages the binaries it has just built.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
cd "$(fv_root)"

out=target/debian
version=$(awk -F'"' '/^\[workspace.package\]/ {w=1} w && /^version/ {print $2; exit}' Cargo.toml)
while (($#)); do
  case $1 in
    --out) out=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) fv_log "unknown argument: $1 (try --help)"; exit 2 ;;
  esac
done
# libtorch: linked by the console, shipped beside it (docs/models.md).
fv_libtorch || exit 2
if [[ -n ${FLOWVISION_BIN_DIR:-} ]]; then
  bin=$FLOWVISION_BIN_DIR
else
  fv_need_apt clang llvm libbpf-dev linux-libc-dev || exit 2
  cargo build --release --locked -p flowvision-collector -p flowvision-web -p flowvision-sim
  bin=target/release
fi
fv_web_assets || exit 2

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/flowvision" \
  "$root/usr/share/flowvision/assets/chart.js/dist" "$root/usr/share/flowvision/scenarios" \
  "$root/usr/share/doc/flowvision"
for b in flowvision-collector flowvision-web flowvision-sim; do
  [[ -x $bin/$b ]] || { fv_log "$bin/$b not found"; exit 2; }
  install -m 0755 "$bin/$b" "$root/usr/bin/"
done
install -m 0644 deploy/debian/flowvision-collector.service deploy/debian/flowvision-web.service "$root/lib/systemd/system/"
install -m 0640 deploy/debian/flowvision.env "$root/etc/flowvision/"
install -m 0644 web/node_modules/chart.js/dist/chart.umd.js "$root/usr/share/flowvision/assets/chart.js/dist/"
# The IETF/IANA base MIB modules the console loads (docs/mib.md), from the net-snmp package.
install -d "$root/usr/share/flowvision/assets/net-snmp/lib/mibs"
install -m 0644 web/node_modules/net-snmp/lib/mibs/* "$root/usr/share/flowvision/assets/net-snmp/lib/mibs/"
install -m 0644 collector/sim/scenarios/*.toml "$root/usr/share/flowvision/scenarios/"
# The insights' models, and the libtorch libraries the console links (its rpath looks in
# /usr/lib/flowvision/libtorch).
install -d "$root/usr/share/flowvision/models"
install -m 0644 web/insights/models/weights/*.json "$root/usr/share/flowvision/models/"
fv_libtorch_runtime "$root/usr/lib/flowvision/libtorch" || exit 2
install -m 0644 README.md docs/deploy.md "$root/usr/share/doc/flowvision/"
install -m 0755 deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm "$root/DEBIAN/"
echo /etc/flowvision/flowvision.env > "$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: flowvision
Version: $version
Architecture: amd64
Maintainer: FlowVision <flowvision@localhost>
Installed-Size: $size
Depends: libc6 (>= 2.36), libgcc-s1, libstdc++6, adduser, ca-certificates
Recommends: postgresql (>= 15), libwireshark-data
Section: net
Priority: optional
Description: NetFlow/IPFIX/sFlow collector with a web console
 FlowVision decodes NetFlow v5/v9, IPFIX and sFlow v5 exports (XDP/AF_XDP or UDP
 sockets), relays chosen flows, stores them in partitioned PostgreSQL and serves a web
 console: dashboards, flow search, role-based access scoped to devices.
CONTROL
mkdir -p "$out"
deb="$out/flowvision_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz -z1 --build "$root" "$deb" >/dev/null
fv_log "package: $deb"
echo "$deb"
