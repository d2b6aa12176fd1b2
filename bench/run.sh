#!/usr/bin/env bash
# Compares rootsync with the tools people use today on the same input: the
# system bundle /etc/ssl/certs/ca-certificates.crt (about 140 roots). For each
# operation it prints the median wall time (hyperfine), the CPU time and the
# median peak resident memory (GNU time), and the ratio to rootsync measured
# in the same run. Two comparisons are interleaved run by run (so that a
# change in the machine's load falls on both sides) and held against targets:
# a sync into an empty CA directory against openssl rehash over the same
# files (at most 0.5x), and a sync that finds the target in sync against one
# `rootsync list SOURCE TARGET` (at most 1.2x). strace counts the write calls
# and the flushes of the CA directory sync. Writes bench/out/results.md and
# bench/out/results.tsv.
#
# Usage (Debian 12, as root so that missing packages can be installed):
#     bench/run.sh
# Environment: RUNS (default 10) runs per fast command; WORK (default a new
# temporary folder) where stores are written; KEEP=1 keeps it; PAIRS_ONLY=1
# runs only the interleaved pairs, the write calls and the flushes;
# ROOTSYNC_BIN measures that rootsync binary instead of building one.
# Takes about 5-10 minutes on a 2-core machine. The figures are those of
# docs/benchmarks.md with WORK on a journaled ext4; on an ext4 without a
# journal the script says why the capath pair will vary.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

# Debian packages this script runs (command they provide).
packages=(
  hyperfine            # the timer
  time                 # /usr/bin/time -v: peak memory
  openssl              # openssl rehash
  ca-certificates      # update-ca-certificates and the input bundle
  libnss3-tools        # certutil
  openjdk-17-jdk-headless # keytool
  p11-kit p11-kit-modules # trust extract
  util-linux           # runuser (p11-kit as an unprivileged user)
  strace               # write calls and flushes of the CA directory sync
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: missing packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "run.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "run.sh: needs Go 1.26 (https://go.dev/dl/)" >&2; exit 1; }

RUNS=${RUNS:-10}
W=${WORK:-$(mktemp -d /tmp/rootsync-bench.XXXXXX)}
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
mkdir -p "$W" bench/out
# An ext4 without a journal hands out a new inode only after searching past
# every inode freed in the last minute or more (kernel commit 19883bd9), so
# the capath pair there follows what was deleted on that file system
# shortly before (0.3x-1.3x on one machine within an hour). Say so.
FSNOTE=
if [ "$(stat -f -c %T "$W")" = ext2/ext3 ]; then
  dev=$(basename "$(df --output=source "$W" | tail -n 1)")
  if ! ls /proc/fs/jbd2 2>/dev/null | grep -q "^$dev-"; then
    FSNOTE="WORK ($W) is on ext4 without a journal ($dev): new inodes there cost more after recent deletes, and the capath pair follows that; put WORK on a journaled file system or tmpfs to compare the tools."
    echo "run.sh: $FSNOTE" >&2
  fi
fi
if [ -n "${ROOTSYNC_BIN:-}" ]; then
  RS=$ROOTSYNC_BIN
  RSVER="binary $RS"
else
  RS=$W/rootsync
  go build -o "$RS" ./cmd/rootsync
  RSVER=$(git rev-parse --short HEAD)
fi
export ROOTSYNC_STATE_DIR=$W/state
export KSPW=changeit # keystore password, passed to keytool and rootsync by environment only

# Inputs: the bundle, one PEM file per certificate, and .crt copies for
# update-ca-certificates' local folder.
BUNDLE=$W/bundle.pem
cp /etc/ssl/certs/ca-certificates.crt "$BUNDLE"
mkdir -p "$W/pems" "$W/crts"
awk -v d="$W/pems" '/-----BEGIN CERTIFICATE-----/{n++; f=sprintf("%s/cert-%03d.pem", d, n)} f{print > f} /-----END CERTIFICATE-----/{close(f); f=""}' "$BUNDLE"
for f in "$W"/pems/*.pem; do cp "$f" "$W/crts/$(basename "$f" .pem).crt"; done
N=$(find "$W/pems" -name "*.pem" | wc -l)
JN=20 # certificates in the keytool -importcert loop (a JVM start each)
printf "%s\n" "$W"/pems/*.pem | awk -v n=$JN "NR<=n" >"$W/java-subset"

# certutil -B batch file and the per-certificate loops.
: >"$W/batch"
for f in "$W"/pems/*.pem; do printf -- '-A -n "%s" -t C,, -i %s\n' "$(basename "$f" .pem)" "$f" >>"$W/batch"; done
cat >"$W/certutil-loop.sh" <<EOF
for f in $W/pems/*.pem; do certutil -A -d sql:$W/nss-loop -n "\$(basename "\$f" .pem)" -t C,, -i "\$f" || exit 1; done
EOF
cat >"$W/keytool-loop.sh" <<EOF
while read -r f; do keytool -importcert -noprompt -keystore $W/kt-loop.p12 -storetype PKCS12 -storepass:env KSPW -alias "\$(basename "\$f" .pem)" -file "\$f" >/dev/null 2>&1 || exit 1; done < $W/java-subset
EOF

# update-ca-certificates in a sandbox: no packaged certificates, the roots as
# local .crt files, output into a fresh folder, no hooks.
mkdir -p "$W/uca-empty" "$W/uca-hooks"
: >"$W/uca.conf"
UCA="update-ca-certificates --certsconf $W/uca.conf --certsdir $W/uca-empty --localcertsdir $W/crts --etccertsdir $W/uca-out --hooksdir $W/uca-hooks"

# p11-kit reads a per-user module file that points the trust module at a
# temporary tree; root ignores per-user files, so trust runs as nobody.
P11=$W/p11
mkdir -p "$P11/home/.config/pkcs11/modules" "$P11/src/anchors" "$P11/out"
cp "$W"/pems/*.pem "$P11/src/anchors/"
printf 'module: p11-kit-trust.so\ntrust-policy: yes\nx-init-reserved: paths=%s/src\n' "$P11" >"$P11/home/.config/pkcs11/modules/p11-kit-trust.module"
chmod -R a+rwX "$P11"
chmod a+x "$W"
TRUST="trust extract --format=pem-directory-hash --filter=ca-anchors --purpose server-auth --overwrite $P11/out/d"
if [ "$(id -u)" -eq 0 ]; then
  TRUST="runuser -u nobody -- env HOME=$P11/home $TRUST"
fi

# The four-target job for rootsync run.
cat >"$W/config.yaml" <<EOF
state-dir: $W/state
jobs:
  four:
    include-expired: true
    origin: all
    sources: [pem:$BUNDLE]
    targets:
      - pem:$W/run/bundle.pem
      - capath:$W/run/capath
      - nss:$W/run/nss
      - store: p12:$W/run/trust.p12
        password-env: KSPW
EOF

RESULTS=$W/results.tsv
printf 'group\ttool\toperation\tmedian_s\tcpu_s\tpeak_kib\truns\n' >"$RESULTS"

# measure GROUP TOOL OPERATION RUNS PREPARE COMMAND
# Median wall time and CPU (user+system) from hyperfine, median peak RSS from
# GNU time over min(RUNS,3) runs, each after PREPARE.
measure() {
  [ -z "${PAIRS_ONLY:-}" ] || return 0
  local group=$1 tool=$2 op=$3 runs=$4 prep=$5 cmd=$6
  echo "== $group: $tool: $op" >&2
  hyperfine --style basic --runs "$runs" --prepare "$prep" --export-csv "$W/h.csv" "$cmd" >&2
  local med cpu
  med=$(awk -F, 'NR==2{printf "%.4f", $4}' "$W/h.csv")
  cpu=$(awk -F, 'NR==2{printf "%.4f", $5+$6}' "$W/h.csv")
  local mems=() m i
  local mruns=$((runs < 3 ? runs : 3))
  for ((i = 0; i < mruns; i++)); do
    sh -c "$prep" >/dev/null 2>&1
    /usr/bin/time -f '%M' -o "$W/t.out" sh -c "$cmd" >/dev/null 2>&1 || { echo "run.sh: failed: $cmd" >&2; exit 1; }
    mems+=("$(tail -n 1 "$W/t.out")")
  done
  m=$(printf '%s\n' "${mems[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$group" "$tool" "$op" "$med" "$cpu" "$m" "$runs" >>"$RESULTS"
}

SYNC="$RS sync --include-expired --origin all pem:$BUNDLE --to" # every root, public ones too, as the other tools write them

# --- CA directory ------------------------------------------------------------
# The previous round's folders are moved aside, not deleted, until the pair
# is over: on ext4 a new inode's search skips inodes deleted in the last
# seconds (minutes, until their inode table block is written back), so
# files created right after an rm -rf of the same number of files cost up to
# thirty times as much system time, and the sync creates twice as many
# inodes as rehash (150 files and 150 links; rehash's files are copied by
# its untimed prepare step). Each prepare step ends by flushing the work
# folder's file system (sync -f), so that a timed command's flushes (the
# sync's syncfs covers every file written there) do not pay for what the
# untimed steps or the other command of the pair left unwritten.
ASIDE="mkdir -p $W/aside && for d in $W/capath $W/rehash; do [ ! -e \$d ] || mv \$d \$(mktemp -u -d $W/aside/x.XXXXXXXX); done"
FLUSH="sync -f $W"
measure capath rootsync "sync $N roots into an empty CA directory" "$RUNS" "$ASIDE && $FLUSH" "$SYNC capath:$W/capath"
measure capath "openssl rehash" "rehash a directory holding the $N PEM files" "$RUNS" "$ASIDE && cp -r $W/pems $W/rehash && $FLUSH" "openssl rehash $W/rehash"
measure capath update-ca-certificates "first build from $N local .crt files (sandbox)" "$RUNS" "rm -rf $W/uca-out && mkdir -p $W/uca-out" "$UCA"
measure capath "p11-kit trust" "extract --format=pem-directory-hash ($N anchors)" "$RUNS" "rm -rf $P11/out/d" "$TRUST"

# --- NSS ---------------------------------------------------------------------
NEWDB='rm -rf DB && mkdir -p DB && certutil -N -d sql:DB --empty-password'
measure nss rootsync "sync $N roots into an empty NSS database" "$RUNS" "${NEWDB//DB/$W/nss}" "$SYNC nss:$W/nss"
measure nss "certutil -A loop" "$N x certutil -A -t C,," 3 "${NEWDB//DB/$W/nss-loop}" "sh $W/certutil-loop.sh"
measure nss "certutil -B" "one batch file of $N -A lines" 3 "${NEWDB//DB/$W/nss-batch}" "certutil -B -d sql:$W/nss-batch -i $W/batch"

# --- Java --------------------------------------------------------------------
measure java rootsync "sync $N roots into a new PKCS#12 truststore" "$RUNS" "rm -f $W/trust.p12" "$SYNC 'p12:$W/trust.p12?password-env=KSPW'"
measure java rootsync "sync $N roots into a new JKS" "$RUNS" "rm -f $W/trust.jks" "$SYNC 'jks:$W/trust.jks?password-env=KSPW'"
measure java-convert rootsync "convert the $N-root PKCS#12 into a new JKS" "$RUNS" "rm -f $W/conv.jks" "$RS sync --include-expired 'p12:$W/trust.p12?password-env=KSPW' --to 'jks:$W/conv.jks?password-env=KSPW'"
measure java "keytool -importcert loop" "$JN x keytool -importcert (a JVM each)" 2 "rm -f $W/kt-loop.p12" "sh $W/keytool-loop.sh"
measure java-convert "keytool -importkeystore" "convert the $N-root PKCS#12 into a new JKS" 3 "rm -f $W/kt.jks" "keytool -importkeystore -noprompt -srckeystore $W/trust.p12 -srcstoretype PKCS12 -srcstorepass:env KSPW -destkeystore $W/kt.jks -deststoretype JKS -deststorepass:env KSPW"

# --- no-op runs (already in sync) ---------------------------------------------
$SYNC "pem:$W/noop.pem" >/dev/null
measure noop rootsync "CA directory already in sync" "$RUNS" "true" "$SYNC capath:$W/capath"
measure noop rootsync "pem bundle already in sync" "$RUNS" "true" "$SYNC pem:$W/noop.pem"
measure noop rootsync "NSS database already in sync" "$RUNS" "true" "$SYNC nss:$W/nss"
measure noop rootsync "PKCS#12 already in sync" "$RUNS" "true" "$SYNC 'p12:$W/trust.p12?password-env=KSPW'"
measure noop rootsync "JKS already in sync" "$RUNS" "true" "$SYNC 'jks:$W/trust.jks?password-env=KSPW'"
[ -n "${PAIRS_ONLY:-}" ] || $UCA >/dev/null 2>&1
measure noop update-ca-certificates "rerun, nothing changed (sandbox)" 3 "true" "$UCA"
measure noop "openssl rehash" "rerun on the hashed directory" "$RUNS" "true" "openssl rehash $W/rehash"

# --- one job, four targets --------------------------------------------------------
measure four "rootsync run" "one job: pem, capath, nss, p12 targets, all new" "$RUNS" "rm -rf $W/run && mkdir $W/run" "$RS run --config $W/config.yaml"
measure four "rootsync run" "the same job, already in sync" "$RUNS" "true" "$RS run --config $W/config.yaml"

# --- interleaved pairs: the targets ------------------------------------------------
# pair NAME RUNS PREP_A CMD_A PREP_B CMD_B: RUNS rounds, each timing A and B
# once with hyperfine (no shell, so no shell start-up in either figure),
# alternating which goes first; prints the two medians and A/B.
PAIRS=$W/pairs.tsv
printf 'pair\ta_median_s\tb_median_s\tratio\n' >"$PAIRS"
pair() {
  local name=$1 runs=$2 prepa=$3 cmda=$4 prepb=$5 cmdb=$6 i
  echo "== pair: $name" >&2
  : >"$W/pa" && : >"$W/pb"
  for ((i = 0; i < runs; i++)); do
    local first=a
    ((i % 2)) && first=b
    for side in $first $([ $first = a ] && echo b || echo a); do
      if [ $side = a ]; then
        hyperfine -N --style none --runs 1 --prepare "$prepa" --export-csv "$W/h.csv" "$cmda" >/dev/null 2>&1 || { echo "run.sh: failed: $cmda" >&2; exit 1; }
        awk -F, 'NR==2{print $2}' "$W/h.csv" >>"$W/pa"
      else
        hyperfine -N --style none --runs 1 --prepare "$prepb" --export-csv "$W/h.csv" "$cmdb" >/dev/null 2>&1 || { echo "run.sh: failed: $cmdb" >&2; exit 1; }
        awk -F, 'NR==2{print $2}' "$W/h.csv" >>"$W/pb"
      fi
    done
  done
  local ma mb
  ma=$(sort -g "$W/pa" | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
  mb=$(sort -g "$W/pb" | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
  printf '%s\t%s\t%s\t%s\n' "$name" "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN{printf "%.2f", a/b}')" >>"$PAIRS"
}
SH="sh -c"
pair "capath: rootsync sync into an empty CA directory / openssl rehash of the same $N PEM files" "$RUNS" \
  "$SH '$ASIDE && $FLUSH'" "$SYNC capath:$W/capath" \
  "$SH '$ASIDE && cp -r $W/pems $W/rehash && $FLUSH'" "openssl rehash $W/rehash"
rm -rf "$W/aside"
pair "no-op: rootsync sync, CA directory already in sync / rootsync list SOURCE TARGET" "$RUNS" \
  "true" "$SYNC capath:$W/capath" "true" "$RS list pem:$BUNDLE capath:$W/capath"
pair "no-op: rootsync sync, pem bundle already in sync / rootsync list SOURCE TARGET" "$RUNS" \
  "true" "$SYNC pem:$W/noop.pem" "true" "$RS list pem:$BUNDLE pem:$W/noop.pem"

# Write calls of a sync into an empty CA directory, counted by strace.
rm -rf "$W/capath"
strace -f -qq -c -e trace=write,pwrite64,writev -o "$W/strace.txt" $SYNC "capath:$W/capath" >/dev/null
WRITES=$(awk '$NF=="total"{print $4} END{}' "$W/strace.txt")
[ -n "$WRITES" ] || WRITES=$(awk '$NF ~ /^(write|pwrite64|writev)$/{s+=$4} END{print s}' "$W/strace.txt")
FILES=$(find "$W/capath" -maxdepth 1 -type f -name '*.pem' | wc -l)
# Flushes of the same sync (fsync of a file or folder, syncfs of a file system).
rm -rf "$W/capath"
strace -f -qq -c -e trace=fsync,fdatasync,syncfs -o "$W/flush.txt" $SYNC "capath:$W/capath" >/dev/null
FLUSHES=$(awk '$NF ~ /^(fsync|fdatasync|syncfs)$/{s+=$4} END{print s+0}' "$W/flush.txt")

# --- report ------------------------------------------------------------------
cp "$RESULTS" bench/out/results.tsv
cp "$PAIRS" bench/out/pairs.tsv
{
  echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo); load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "Versions: $(openssl version); certutil from libnss3 $(dpkg-query -W -f='${Version}' libnss3); $(java -version 2>&1 | head -n 1); p11-kit $(dpkg-query -W -f='${Version}' p11-kit); ca-certificates $(dpkg-query -W -f='${Version}' ca-certificates); hyperfine $(hyperfine --version | cut -d' ' -f2); $(go version | cut -d' ' -f3); rootsync $RSVER"
  echo "Input: $N roots from /etc/ssl/certs/ca-certificates.crt; runs per command in the table."
  [ -z "$FSNOTE" ] || echo "Note: $FSNOTE"
  echo
  echo "| group | tool | operation | median wall | CPU (user+sys) | peak RSS | runs | wall / first row of group |"
  echo "|---|---|---|---:|---:|---:|---:|---:|"
  awk -F'\t' -v n="$N" -v jn="$JN" 'NR>1{
      if (!($1 in base)) base[$1]=$4
      row($1, $2, $3, $4, $5, $6/1024, $7)
      if ($2 == "keytool -importcert loop")
        row($1, $2, "extrapolated to " n " certificates (" jn " measured)", $4*n/jn, $5*n/jn, $6/1024, "-")
    }
    function row(g, t, o, w, c, m, r) {
      printf "| %s | %s | %s | %.3f s | %.3f s | %.1f MiB | %s | %.1fx |\n", g, t, o, w, c, m, r, w/base[g]
    }' "$RESULTS"
  echo
  echo "Interleaved pairs (medians of $RUNS rounds, hyperfine without a shell; target: capath at most 0.50x, no-op at most 1.20x):"
  echo
  echo "| pair | median A | median B | A / B | target |"
  echo "|---|---:|---:|---:|---|"
  awk -F'\t' 'NR>1{t = ($1 ~ /^capath/) ? 0.5 : 1.2
      printf "| %s | %.4f s | %.4f s | %.2fx | %s |\n", $1, $2, $3, $4, ($4 <= t ? "PASS" : "FAIL") }' "$PAIRS"
  echo
  echo "Write calls (strace -f -c -e trace=write,pwrite64,writev) of a sync into an empty CA directory: $WRITES for $FILES certificate files ($(awk -v w="$WRITES" -v f="$FILES" 'BEGIN{printf "%.2f", w/f}') per file)."
  echo "Flushes (strace -f -c -e trace=fsync,fdatasync,syncfs) of the same sync: $FLUSHES."
  echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} >bench/out/results.md
cat bench/out/results.md
