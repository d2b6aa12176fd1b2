#!/usr/bin/env bash
# Runs rootsync's Windows tests under Wine: builds the test binaries for
# windows/amd64 and runs them with `go test -exec wine` in a Wine prefix made
# for this run (and removed after it), against Wine's real crypt32.
#
# Needs the Debian packages wine64, wine and binutils-mingw-w64-x86-64
# (scripts/test-packages.txt). Go >= 1.22 programs need
# bcryptprimitives.dll!ProcessPrng, which Wine 8 lacks: the forwarding DLL is
# assembled here from scripts/wine/bcryptprimitives.{def,s}.
#
# -race does not exist for windows/amd64 under Wine (the race detector's
# runtime is not built for it), so these tests run without it.
#
# The JSON output is checked by scripts/wine/checkjson: each named test must
# have run and passed, so a wrong build tag cannot pass as "no tests to run".
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in wine wineboot wineserver x86_64-w64-mingw32-as x86_64-w64-mingw32-dlltool x86_64-w64-mingw32-ld; do
  command -v "$tool" >/dev/null || { echo "wine-test.sh: $tool is missing (apt-get install wine64 wine binutils-mingw-w64-x86-64)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/rootsync-wine.XXXXXX)
export WINEPREFIX=$work/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

t0=$SECONDS
# A persistent wineserver makes each wine call of the run ~0.3 s cheaper.
mkdir -p "$WINEPREFIX"
wineserver -p
# wineboot prints a harmless rundll32 error when 32-bit Wine is missing.
wineboot -i >"$work/wineboot.log" 2>&1 || { cat "$work/wineboot.log" >&2; exit 1; }
x86_64-w64-mingw32-as -o "$work/prng.o" scripts/wine/bcryptprimitives.s
x86_64-w64-mingw32-dlltool --def scripts/wine/bcryptprimitives.def --output-exp "$work/prng.exp"
x86_64-w64-mingw32-ld -shared --subsystem windows -e DllMain -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  "$work/prng.exp" "$work/prng.o"
echo "wine-test.sh: Wine prefix ready in $((SECONDS - t0)) s" >&2

want=(
  TestConformance
  TestConformance/MissingStore
  TestConformance/AddRemoveRoundTrip
  TestConformance/EmptyPlanChangesNothing
  TestConformance/IdempotentApply
  TestConformance/ForeignEntriesPreserved
  TestConformance/DistrustOrLossless
  TestConformance/BackupApplyRestore
  TestPropertiesReadBack
  TestTLSClientTrustsRoot
  TestInheritedEntry
  TestIiscaStory
  TestFromNSSDatabase
  TestEKURoundTrip
  TestParseLocation
  TestDiscover
)
# The hook timeout's Job Object and the NSS adapter's SQLite URI for Windows
# paths, from their packages (whose other tests use t.TempDir, whose clean-up
# fails under Wine 8, or Linux programs).
want+=(TestHookTimeoutEndsTree TestDSNWindowsPath)
# The state folder's ACL check judges constructed security descriptors, and
# (Wine runs programs elevated) real folders and files whose ACL it changes.
# The Java truststores discover finds under the Program Files folders.
want+=(TestCacertsWindows)
want+=(TestStateDirACL TestJudgeACL TestJudgeACL/everyone_may_add_a_file TestJudgeACL/system_and_administrators TestJudgeNullDACL TestJudgeSelf TestProtectedStateDirSDDL)
{
  GOOS=windows GOARCH=amd64 go test -exec wine -json -count=1 -timeout 5m ./stores/windows/ 2>&1
  GOOS=windows GOARCH=amd64 go test -exec wine -json -count=1 -timeout 5m -run '^(TestHookTimeoutEndsTree|TestHookHelper)$' ./internal/job/ 2>&1
  GOOS=windows GOARCH=amd64 go test -exec wine -json -count=1 -timeout 5m -run '^TestDSNWindowsPath$' ./stores/nss/ 2>&1
  GOOS=windows GOARCH=amd64 go test -exec wine -json -count=1 -timeout 5m ./internal/securefs/ 2>&1
  GOOS=windows GOARCH=amd64 go test -exec wine -json -count=1 -timeout 5m -run '^TestCacertsWindows$' ./stores/javastore/ 2>&1
} | go run ./scripts/wine/checkjson "${want[@]}"
