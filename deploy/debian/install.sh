#!/usr/bin/env bash
# Installs FlowVision on a plain Debian machine from its package: the package and
# PostgreSQL from apt, the role and database `flowvision` on the local PostgreSQL (peer
# authentication over the Unix socket: no password), then the services, which apply the
# migrations at start. Run again to upgrade: the database and the configuration stay.
#
#   sudo deploy/debian/install.sh target/debian/flowvision_<version>_amd64.deb
set -euo pipefail
deb=${1:?usage: install.sh PATH/TO/flowvision_VERSION_amd64.deb}
[[ $(id -u) -eq 0 ]] || { echo "install.sh: run as root (sudo)" >&2; exit 2; }
[[ -f $deb ]] || { echo "install.sh: $deb not found" >&2; exit 2; }
log() { printf '[flowvision] %s\n' "$*" >&2; }
export DEBIAN_FRONTEND=noninteractive
systemd=false
[[ -d /run/systemd/system ]] && systemd=true

log "installing $deb and PostgreSQL"
# Offline machines keep going with what apt knows already.
apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed; installing from the package lists at hand"
apt-get install -y -qq --no-install-recommends "$(realpath "$deb")" postgresql >/dev/null

# The local cluster must run: systemd starts it; without systemd (a container), pg_ctlcluster.
if $systemd; then
  systemctl enable --now postgresql >/dev/null
else
  pg_lsclusters -h | while read -r ver name _ status _; do
    [[ $status == online ]] || pg_ctlcluster "$ver" "$name" start
  done
fi
for _ in $(seq 60); do runuser -u postgres -- psql -qAtc 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done

log "role and database flowvision"
runuser -u postgres -- psql -qAt -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE ROLE flowvision LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flowvision') \gexec
SELECT 'CREATE DATABASE flowvision OWNER flowvision' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'flowvision') \gexec
SQL

if $systemd; then
  systemctl daemon-reload
  systemctl enable flowvision-collector.service flowvision-web.service >/dev/null
  systemctl restart flowvision-collector.service flowvision-web.service
  log "running: systemctl status flowvision-collector flowvision-web; configuration in /etc/flowvision/flowvision.env"
else
  log "systemd is not running here: start /usr/bin/flowvision-collector run and /usr/bin/flowvision-web as the user flowvision with /etc/flowvision/flowvision.env (see the units in /lib/systemd/system)"
fi
