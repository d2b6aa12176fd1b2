#!/usr/bin/env bash
# Builds the release binaries of rootsync for linux, windows and darwin, each
# for amd64 and arm64, into OUTDIR (default: dist/), with a SHA256SUMS file.
# Static builds (CGO_ENABLED=0), reproducible paths (-trimpath), the version
# stamped in as packaging/build-deb.sh does.
#
# Usage: scripts/release.sh [OUTDIR]
#        PLATFORMS="windows/amd64 darwin/arm64" scripts/release.sh OUTDIR
# Environment: VERSION (default: from git describe, else 0.0-gitDATE.REV),
# PLATFORMS (default: all six).
#
# The darwin binaries are built, not tested here: the file-based store kinds
# work there, the system kind says it is not supported yet.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist}
platforms=${PLATFORMS:-linux/amd64 linux/arm64 windows/amd64 windows/arm64 darwin/amd64 darwin/arm64}
if [ -z "${VERSION:-}" ]; then
  if VERSION=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
    VERSION=${VERSION#v}
  else
    VERSION="0.0-git$(git log -1 --format=%cd --date=format:%Y%m%d).$(git rev-parse --short=12 HEAD)"
  fi
fi

mkdir -p "$out"
names=()
for p in $platforms; do
  goos=${p%/*} goarch=${p#*/}
  case $goos/$goarch in
  linux/amd64 | linux/arm64 | windows/amd64 | windows/arm64 | darwin/amd64 | darwin/arm64) ;;
  *) echo "release.sh: $p is not a release platform" >&2; exit 2 ;;
  esac
  name=rootsync-$VERSION-$goos-$goarch
  [ "$goos" = windows ] && name=$name.exe
  CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -buildvcs=auto \
    -ldflags "-s -w -X github.com/rootsync/rootsync/internal/cli.Version=$VERSION" \
    -o "$out/$name" ./cmd/rootsync
  names+=("$name")
  echo "release.sh: $out/$name" >&2
done
(cd "$out" && sha256sum "${names[@]}" >SHA256SUMS)
