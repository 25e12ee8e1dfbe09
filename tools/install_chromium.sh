#!/usr/bin/env bash
# Install the headless browser the browser tests drive: Debian's `chromium`.
#
# Idempotent and quick when it is already there. Playwright's own browser download cannot be
# used (no outside downloads beyond the package registries), so the tests drive the system
# chromium over the DevTools protocol. When not root and chromium is missing, say so and exit 0:
# the browser tests then SKIP with that reason instead of failing the whole run.
set -euo pipefail

find_chromium() {
  for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

if path=$(find_chromium); then
  echo "chromium: $path ($("$path" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  echo "chromium: not installed and not root; the browser tests will be skipped" \
    "(install it with: sudo apt-get install -y --no-install-recommends chromium)" >&2
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: not installed and no apt-get here; the browser tests will be skipped" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Other installs may hold the dpkg lock for a while; wait for it rather than fail.
APT=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
# The package lists of a fresh machine may be empty or stale: refresh them once.
"${APT[@]}" update -qq
"${APT[@]}" install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
path=$(find_chromium)
echo "chromium: installed $path ($("$path" --version 2>/dev/null || echo 'version unknown'))"
