#!/usr/bin/env bash
# Install the speech synthesiser the voice tests and bench/voice make their audio with: Debian's
# `espeak-ng`.
#
# Idempotent and quick when it is already there. The voice tests speak a fixed set of sentences
# offline (no recordings are shipped, nothing is downloaded at run time). When not root and
# espeak-ng is missing, say so and exit 0: the voice tests then SKIP with that reason instead of
# failing the whole run.
set -euo pipefail

if path=$(command -v espeak-ng 2>/dev/null); then
  echo "espeak-ng: $path ($(espeak-ng --version 2>/dev/null | head -n1 || echo 'version unknown'))"
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  echo "espeak-ng: not installed and not root; the voice tests will be skipped" \
    "(install it with: sudo apt-get install -y --no-install-recommends espeak-ng)" >&2
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "espeak-ng: not installed and no apt-get here; the voice tests will be skipped" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Other installs may hold the dpkg lock for a while; wait for it rather than fail.
APT=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
# The package lists of a fresh machine may be empty or stale: refresh them once.
"${APT[@]}" update -qq
"${APT[@]}" install -y -qq --no-install-recommends espeak-ng >/dev/null
path=$(command -v espeak-ng)
echo "espeak-ng: installed $path ($(espeak-ng --version 2>/dev/null | head -n1 || echo 'version unknown'))"
