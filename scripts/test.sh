#!/usr/bin/env bash
# Runs every rootsync check and test. Installs the Debian packages the tests
# use when one is missing (needs root for that; prints the apt-get command
# otherwise), then: build, gofmt, go vet, staticcheck, go vet for Windows and
# macOS (so platform code stays behind build tags),
# the unit and adapter tests, the end-to-end tests, and the public API used
# from another module (test/apimodule), printing the time each section took.
# Usage: scripts/test.sh                  everything
#        scripts/test.sh [go test args]   only go test with these arguments
set -euo pipefail
cd "$(dirname "$0")/.."

section() {
  local name=$1 t0=$SECONDS
  shift
  echo "== $name" >&2
  "$@"
  echo "== $name: $((SECONDS - t0)) s" >&2
}

install_packages() {
  local missing=() pkg
  while read -r pkg _; do
    case "$pkg" in '' | '#'*) continue ;; esac
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done <scripts/test-packages.txt
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing packages: ${missing[*]}" >&2
    echo "test.sh: run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

section "install test packages" install_packages

if (($#)); then
  exec go test "$@"
fi

gofmt_check() {
  local bad
  bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  [ -z "$bad" ] || { echo "gofmt needed:" >&2; echo "$bad" >&2; return 1; }
}


section "build" go build ./...
section "gofmt" gofmt_check
section "vet" go vet ./...
# staticcheck at a fixed version (the Go module proxy serves it; the first run
# builds it into the module cache).
staticcheck() { go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...; }
section "staticcheck" staticcheck
vet_other() { GOOS=windows go vet ./... && GOOS=darwin go vet ./...; }
section "vet (windows, darwin)" vet_other
e2e=$(go list ./test/... | grep -v '/test/ansible$')
# test/apimodule is a module of its own that imports only the public packages:
# a toy adapter run through stores/storetest, and broken toys it must fail.
# -mod=mod lets a dependency the public packages gained since its go.sum was
# written be fetched (run go mod tidy -e there to record it).
apimodule() { (cd test/apimodule && GOFLAGS=-mod=mod go vet ./... && GOFLAGS=-mod=mod go test -race ./...); }
section "unit and adapter tests (real programs included)" go test -race -timeout 30m $(go list ./... | grep -v '/test/')
section "end-to-end tests" go test -race -timeout 30m $e2e
# Ansible against four debootstrap hosts (the base is built once per machine
# and cached; see test/debroot).
section "fleet tests (ansible)" go test -timeout 20m ./test/ansible/
section "public API from another module" apimodule
# The Windows stores under Wine, without -race (it does not exist for
# windows builds run under Wine); see scripts/wine-test.sh.
section "windows tests (wine)" scripts/wine-test.sh
# Two of the six release binaries (scripts/release.sh builds all of them).
release_build() { local d; d=$(mktemp -d); PLATFORMS="windows/amd64 darwin/arm64" scripts/release.sh "$d"; rm -rf "$d"; }
section "release build (windows/amd64, darwin/arm64)" release_build
