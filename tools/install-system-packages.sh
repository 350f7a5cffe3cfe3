#!/usr/bin/env bash
# The Debian packages the test suite and make check-service run for real: promtool
# (prometheus), PostgreSQL and its pgaudit extension, wget and curl, which run the
# health checks of services whose spec names them (platform_spec/health_checks.py),
# Graphviz, which draws the architecture picture (make diagram, and the adoption test), and
# Alertmanager with amtool, which check and run the rendered alerting configuration.
# Installs what is missing, as root; otherwise says what to install.
# policy-rc.d keeps the packages from starting their own daemons.
set -euo pipefail

# Two runs on one machine (two clones, CI beside a developer) check and install one after the
# other: dpkg takes one process at a time, and the policy-rc.d below is the machine's. The
# second finds what the first installed.
if [ "$(id -u)" = 0 ] && [ -d /run/lock ] && command -v flock >/dev/null; then
  exec 9>/run/lock/davidshaevel-platform-packages.lock
  flock 9
fi

wanted=()
command -v promtool >/dev/null || wanted+=(prometheus)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || wanted+=(postgresql)
command -v psql >/dev/null || wanted+=(postgresql-client)
command -v wget >/dev/null || wanted+=(wget)
command -v curl >/dev/null || wanted+=(curl)
command -v dot >/dev/null || wanted+=(graphviz)
command -v amtool >/dev/null || wanted+=(prometheus-alertmanager)

install() {
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: $* (apt-get install them as root)" >&2
    exit 1
  fi
  local created=
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created=1; }
  local status=0
  { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } || status=$?
  [ -z "$created" ] || rm -f /usr/sbin/policy-rc.d
  return "$status"
}

if [ "${#wanted[@]}" -gt 0 ]; then
  echo "Installing Debian packages the suite runs: ${wanted[*]}..."
  install "${wanted[@]}"
fi
major=$(ls /usr/lib/postgresql | sort -n | tail -1)
[ -e "/usr/lib/postgresql/${major}/lib/pgaudit.so" ] || install "postgresql-${major}-pgaudit"
