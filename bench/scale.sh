#!/usr/bin/env bash
# Scale runs: synthetic stores of 1,000, 10,000 and 100,000 certificates
# (bench/gencerts: one fixed ECDSA key, distinct subjects and serials). For
# list, diff, and sync into a new pem bundle, CA directory and NSS database
# (NSS up to NSS_MAX, 100,000 by default), it records wall time, CPU time
# and maximum resident memory (ru_maxrss, GNU time's %M; bench/measure), and
# the cost per certificate, so that growth that is not linear shows at a glance. It holds the figures against the memory and
# CPU targets and prints PASS or FAIL for each (a benchmark, not a test):
#   - a sync into an empty target: max RSS at most 3 x DER + 64 MiB,
#   - a sync that finds the target already in sync: at most 4 x DER + 64 MiB,
#   - CPU per certificate at 100,000 at most 1.25 x the figure at 10,000,
# where DER is the size of the certificates' DER encodings added up.
# Writes bench/out/scale.md and bench/out/scale.tsv.
#
# Usage: bench/scale.sh            (SIZES="1000 10000 100000" by default)
# RUNS (3) runs of each command, RUNS_100K at 100,000 (as many by default;
# the CPU figures are medians, so one run at 100,000 is at the mercy of
# whatever else the machine does at that moment).
# Needs Go 1.26 and certutil (libnss3-tools) for the empty NSS database. About 5 minutes on a quiet 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

for p in libnss3-tools; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    [ "$(id -u)" -eq 0 ] || { echo "scale.sh: run: sudo apt-get install -y $p" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null
  fi
done

SIZES=${SIZES:-1000 10000 100000}
NSS_MAX=${NSS_MAX:-100000}
W=${WORK:-$(mktemp -d /tmp/rootsync-scale.XXXXXX)}
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
mkdir -p "$W" bench/out
go build -o "$W/rootsync" ./cmd/rootsync
go build -o "$W/gencerts" ./bench/gencerts
go build -o "$W/measure" ./bench/measure
RS=$W/rootsync
export ROOTSYNC_STATE_DIR=$W/state

OUT=$W/scale.tsv
printf 'n\toperation\twall_s\tcpu_s\tpeak_kib\tder_bytes\n' >"$OUT"

# aside PATH: moves PATH out of the way instead of deleting it. A folder of
# 200,000 names deleted right before a timed run makes that run pay: ext4
# without a journal (as /tmp is on some machines) skips recently freed inodes
# when it creates new ones, which showed as seconds of system time. What is
# moved aside goes with $W when the script ends.
aside() {
  [ -e "$1" ] || return 0
  mkdir -p "$W/aside"
  mv "$1" "$(mktemp -u "$W/aside/$(basename "$1").XXXXXX")"
}
export -f aside
export W

# run N OPERATION RUNS PREPARE COMMAND...: RUNS runs (wall, CPU and maximum
# RSS measured together by bench/measure: GNU time's %M, but CPU times to the
# microsecond, not rounded to 10 ms), PREPARE run before each.
run() {
  local n=$1 op=$2 runs=$3 prep=$4
  shift 4
  local i
  : >"$W/runs"
  for ((i = 0; i < runs; i++)); do
    bash -c "$prep"
    "$W/measure" -o "$W/t.out" -- "$@" >/dev/null 2>"$W/err" || {
      local rc=$?
      # diff exits 3 when there are differences: that is its success here.
      [ "$op" = diff ] && [ "$rc" -eq 3 ] || { cat "$W/err" >&2; exit 1; }
    }
    tail -n 1 "$W/t.out" >>"$W/runs"
  done
  # The median wall time and the median CPU time (each of its own), and the
  # largest maximum RSS of the runs.
  local wall cpu peak
  wall=$(awk '{print $1}' "$W/runs" | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}')
  cpu=$(awk '{printf "%.4f\n", $2+$3}' "$W/runs" | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}')
  peak=$(awk '$4 > m {m = $4} END{print m}' "$W/runs")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$op" "$wall" "$cpu" "$peak" "$DER" >>"$OUT"
  echo "$n $op: $(tail -n 1 "$OUT" | cut -f3-)" >&2
}

for n in $SIZES; do
  B=$W/b$n.pem
  "$W/gencerts" -n "$n" -o "$B"
  # The DER of every certificate added up: each block's base64 less padding.
  DER=$(awk '/^-----BEGIN/{b=1; next} /^-----END/{b=0; next} b{gsub(/[ \r]/, ""); n+=length($0); p+=gsub(/=/, "")} END{print n*3/4 - p}' "$B")
  runs=${RUNS:-3}
  [ "$n" -ge 100000 ] && runs=${RUNS_100K:-$runs}
  run "$n" list $runs true "$RS" list "pem:$B"
  run "$n" diff $runs true "$RS" diff "pem:$B" --to "pem:$W/empty.pem"
  run "$n" "sync into a new pem bundle" $runs "rm -f $W/t.pem" "$RS" sync "pem:$B" --to "pem:$W/t.pem"
  run "$n" "sync, pem already in sync" $runs true "$RS" sync "pem:$B" --to "pem:$W/t.pem"
  run "$n" "sync into a new CA directory" $runs "aside $W/capath" "$RS" sync "pem:$B" --to "capath:$W/capath"
  run "$n" "sync, CA directory already in sync" $runs true "$RS" sync "pem:$B" --to "capath:$W/capath"
  if [ "$n" -le "$NSS_MAX" ]; then
    run "$n" "sync into a new NSS database" $runs "aside $W/nss && mkdir $W/nss && certutil -N -d sql:$W/nss --empty-password" "$RS" sync "pem:$B" --to "nss:$W/nss"
    run "$n" "sync, NSS already in sync" $runs true "$RS" sync "pem:$B" --to "nss:$W/nss"
  fi
  aside "$W/capath"; aside "$W/nss"; aside "$W/state"; rm -f "$W/t.pem"
done

cp "$OUT" bench/out/scale.tsv
{
  echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); rootsync $(git rev-parse --short HEAD)"
  echo
  echo "| operation | certificates | DER | wall | CPU (user+sys) | CPU per certificate | max RSS | RSS target | RSS |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  awk -F'\t' 'NR>1{
      lim = ""; res = ""
      if ($2 ~ /^sync into a new/) lim = 3*$6 + 64*1048576
      if ($2 ~ /already in sync$/) lim = 4*$6 + 64*1048576
      if (lim != "") { res = ($5*1024 <= lim) ? "PASS" : "FAIL"; lim = sprintf("%.0f MiB", lim/1048576) }
      printf "| %s | %d | %.1f MiB | %.2f s | %.3f s | %.1f µs | %.0f MiB | %s | %s |\n", $2, $1, $6/1048576, $3, $4, $4/$1*1e6, $5/1024, lim, res
    }' "$OUT" | sort -t'|' -k2,2 -k3,3n
  echo
  echo "CPU per certificate, 100,000 against 10,000 (target: at most 1.25x):"
  echo
  awk -F'\t' 'NR>1{c[$2 SUBSEP $1] = $4/$1; ops[$2] = 1}
    END{for (op in ops) if ((op SUBSEP 10000) in c && (op SUBSEP 100000) in c) {
        r = c[op SUBSEP 100000] / c[op SUBSEP 10000]
        printf "- %s: %.1f µs / %.1f µs = %.2fx %s\n", op, c[op SUBSEP 100000]*1e6, c[op SUBSEP 10000]*1e6, r, (r <= 1.25 ? "PASS" : "FAIL")
      }}' "$OUT" | sort
} >bench/out/scale.md
cat bench/out/scale.md
