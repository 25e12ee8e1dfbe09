#!/usr/bin/env bash
# Install the Prometheus server the observability tests scrape the platform with: Debian's
# `prometheus` (it brings `promtool`).
#
# Idempotent and quick when it is already there. When not root and prometheus is missing, say
# so and exit 0: the tests that need it then SKIP with that reason instead of failing the run.
# The package's own service is kept from starting: the tests start their own server on free
# ports, and a stray one on :9090 would only be in the way.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1; then
  echo "prometheus: $(command -v prometheus) ($(prometheus --version 2>&1 | head -1))"
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  echo "prometheus: not installed and not root; the Prometheus tests will be skipped" \
    "(install it with: sudo apt-get install -y --no-install-recommends prometheus)" >&2
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "prometheus: not installed and no apt-get here; the Prometheus tests will be skipped" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Keep the package's init script from starting a server (the standard policy-rc.d "deny").
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
# Other installs may hold the dpkg lock for a while; wait for it rather than fail.
APT=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
# The package lists of a fresh machine may be empty or stale: refresh them once.
"${APT[@]}" update -qq
"${APT[@]}" install -y -qq --no-install-recommends prometheus >/dev/null
echo "prometheus: installed $(command -v prometheus) ($(prometheus --version 2>&1 | head -1))"
