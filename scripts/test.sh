#!/usr/bin/env bash
# Runs every rootsync test. Installs the Debian packages the tests use when one
# is missing (needs root for that; prints the apt-get command otherwise).
# Usage: scripts/test.sh [go test flags...]   (default: -race ./...)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg _; do
  case "$pkg" in ''|'#'*) continue ;; esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < scripts/test-packages.txt

if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing packages: ${missing[*]}" >&2
    echo "test.sh: run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if (($#)); then
  exec go test "$@"
fi
exec go test -race -timeout 40m ./...
