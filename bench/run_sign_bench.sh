#!/usr/bin/env bash
# run_sign_bench.sh: mantle's SigV4 signer against botocore and `openssl speed`, in one run.
#
#   bench/run_sign_bench.sh path/to/bench_sign [--rounds N] [--seconds S] [--reps N] [--wall]
#
# Builds nothing. Runs bench_sign, bench/botocore_sign.py (with /usr/bin/python3, which sees
# Debian's python3-botocore) and `openssl speed -evp sha256 -bytes 16384 -seconds 2` one after the
# other, N rounds (default 3), keeps each figure's best, and prints the ratios the targets are
# stated in. Ratios are taken within one run because the machine is noisy: absolute numbers move
# with the load, ratios much less. Rates are per second of CPU time on every side (`openssl speed`
# divides by CPU user time; bench_sign and botocore_sign.py by their thread's CPU time), so time
# the machine gives to other processes does not count; --wall makes the two signers use wall time
# (openssl speed still uses CPU time). The 2-thread figures are always by wall time. Always exits
# 0 (benchmarks never fail CI); a missed target is a "TARGET MISSED" line.
set -u

usage() {
    echo "usage: $0 path/to/bench_sign [--rounds N] [--seconds S] [--reps N] [--wall]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
BENCH=$1
shift
ROUNDS=3 SECONDS_PER=1 REPS=3 WALL=()
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECONDS_PER=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --wall) WALL=(--wall); shift ;;
    *) usage ;;
    esac
done
[ -x "$BENCH" ] || { echo "run_sign_bench: $BENCH is not an executable" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# Every figure of every run, as "name value unit" lines; the best is picked at the end.
: >"$OUT/all"
: >"$OUT/signatures"

echo "== machine"
echo "nproc:     $(nproc)"
echo "cpu:       $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
echo "openssl:   $(openssl version)"
echo "botocore:  $($PY -c 'import botocore, sys; print(botocore.__version__, "(python", sys.version.split()[0] + ")")' 2>&1)"
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at start"
echo

for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round/$ROUNDS"
    "$BENCH" --seconds "$SECONDS_PER" --reps "$REPS" --threads 2 ${WALL[@]+"${WALL[@]}"} \
        >"$OUT/mantle.$round"
    $PY "$HERE/botocore_sign.py" --seconds "$SECONDS_PER" --reps "$REPS" ${WALL[@]+"${WALL[@]}"} \
        >"$OUT/botocore.$round"
    openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null |
        awk '/^sha256/ {v = $NF; sub(/k$/, "", v); printf "openssl_sha256_16k %.1f MB/s\n", v / 1000}' \
            >"$OUT/openssl.$round"
    for f in mantle botocore openssl; do
        grep -v '^#' "$OUT/$f.$round" | tee -a "$OUT/all" | sed 's/^/  /'
    done
done
# What each side signed ("# signature <request> <hex>"), to check they signed the same thing.
sed -n 's/^# signature /mantle /p' "$OUT/mantle.1" >>"$OUT/signatures"
sed -n 's/^# signature /botocore /p' "$OUT/botocore.1" >>"$OUT/signatures"
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at end"
echo

# Best value of each figure over the rounds.
awk '!/^#/ && NF == 3 { if (!($1 in best) || $2 > best[$1]) { best[$1] = $2; unit[$1] = $3 } }
     END { for (k in best) print k, best[k], unit[k] }' "$OUT/all" | sort >"$OUT/best"

echo "== signatures (same requests, same signing time)"
sigs_ok=1
for tag in post_2k get_empty presign get_token; do
    m=$(awk -v t="$tag" '$1 == "mantle" && $2 == t {print $3; exit}' "$OUT/signatures")
    b=$(awk -v t="$tag" '$1 == "botocore" && $2 == t {print $3; exit}' "$OUT/signatures")
    if [ -n "$m" ] && [ "$m" = "$b" ]; then
        printf '  %-10s identical  %s\n' "$tag" "$m"
    else
        printf '  %-10s SIGNATURE MISMATCH  mantle %s  botocore %s\n' "$tag" "${m:-?}" "${b:-?}"
        sigs_ok=0
    fi
done
echo

echo "== best of $ROUNDS rounds, and ratios"
awk -v sigs_ok="$sigs_ok" '
    { v[$1] = $2; u[$1] = $3 }
    # One ratio: name / other; target > 0 makes it a target ("what" names the comparison).
    function row(name, other, target, what,   r, status) {
        if (!(name in v) || !(other in v) || v[other] == 0) {
            printf "  %-32s (missing figure)\n", name
            if (target > 0) missed[++nmissed] = name " (not measured)"
            return
        }
        r = v[name] / v[other]
        status = ""
        if (target > 0) {
            status = (r >= target) ? "met" : "MISSED"
            if (r < target)
                missed[++nmissed] = sprintf("%s: %.2f %s, target >= %g", name, r, what, target)
        }
        printf "  %-32s %12s %-5s %-28s %12s  %8.2f  %s\n", name, v[name], u[name], other, v[other], r,
               (target > 0) ? sprintf("target >= %g: %s", target, status) : ""
    }
    END {
        printf "  %-32s %12s %-5s %-28s %12s  %8s\n", "mantle figure", "value", "unit", "compared with", "value", "ratio"
        row("sign_post_2k_cached", "botocore_sign_post_2k", 15, "x botocore")
        row("sign_post_2k_uncached", "botocore_sign_post_2k")
        row("sign_get_empty_cached", "botocore_sign_get_empty", 50, "x botocore")
        row("sign_get_empty_uncached", "botocore_sign_get_empty")
        row("sign_presign_cached", "botocore_sign_presign")
        row("sign_get_token_cached", "botocore_sign_get_token")
        row("sign_post_2k_cached_threads2", "sign_post_2k_cached_threads1")
        row("sign_post_2k_uncached_threads2", "sign_post_2k_uncached_threads1")
        row("payload_sha256_1mib", "openssl_sha256_16k", 0.9, "of openssl speed")
        row("payload_sha256_1mib", "botocore_hashlib_sha256_1mib")
        print ""
        if (!sigs_ok) print "SIGNATURE MISMATCH: mantle and botocore did not sign the same requests alike"
        for (i = 1; i <= nmissed; i++) print "TARGET MISSED: " missed[i]
        if (!nmissed) print "all targets met"
    }' "$OUT/best"
exit 0
