#!/usr/bin/env bash
# bench/instructions.sh: user-space instructions per proxied request, sluice and Debian's
# nginx, same config (bench/proxy-conf.sh), same origin.  Each proxy runs under valgrind's
# cachegrind twice: idle for as long as a load run, then under wrk for `seconds`; the
# difference of the two instruction counts divided by the requests wrk completed is what
# one request costs in the proxy's own code and libc, without the kernel.  Unlike the
# timings of bench/proxy.sh the figure hardly moves from run to run (under 1%), so it
# shows what a change to sluice's code did even on a noisy machine.  The kernel's share
# (the TCP work, most of the CPU time on loopback) is the same for both and not counted.
#
#   bench/instructions.sh [seconds] [connections]
#
# PATHS="/ka /small": the rows; ACCESS_LOG=1: both proxies write the combined access log.
#
# Needs valgrind, wrk and nginx (scripts/deps.sh installs them) and a built build/sluice.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/proxy-conf.sh"
proxy_setup

# One run under cachegrind: "requests instructions".  url empty: idle for DURATION.
counted() {  # binary dir port url
    local out="$WORK/cg.out" n=0 pid
    rm -f "$out"
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" \
        "$1" -p "$2/" -c conf/bench.conf 2> "$WORK/valgrind.log" &
    pid=$!
    wait_port "$3" 200 # valgrind starts slowly
    if [ -n "$4" ]; then
        n=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "$4" | awk '/ requests in / { print $1 }')
    else
        sleep "$DURATION"
    fi
    kill -QUIT "$pid"
    wait "$pid" || true
    echo "$n $(awk '/^summary:/ { print $2 }' "$out")"
}

per_request() {  # binary dir port path
    local n0 i0 n1 i1
    read -r n0 i0 <<< "$(counted "$1" "$2" "$3" "")"
    read -r n1 i1 <<< "$(counted "$1" "$2" "$3" "http://127.0.0.1:$3$4")"
    awk -v a="$i0" -v b="$i1" -v n="$n1" 'BEGIN { printf "%d %d", n, n ? (b - a) / n : 0 }'
}

command -v valgrind > /dev/null || { echo "valgrind is missing (scripts/deps.sh)" >&2; exit 1; }
FMT='%-6s %10s %12s %10s %12s %6s\n'
printf "$FMT" "test" "s requests" "s instr/req" "n requests" "n instr/req" "ratio"
for path in ${PATHS:-/ka /small}; do
    read -r sn si <<< "$(per_request "$SLUICE" "$WORK/sluice" "$SP" "$path")"
    read -r nn ni <<< "$(per_request "$NGINX" "$WORK/nginx" "$NP" "$path")"
    printf "$FMT" "$path" "$sn" "$si" "$nn" "$ni" "$(awk -v a="$si" -v b="$ni" 'BEGIN { printf "%.2f", b ? a / b : 0 }')"
done
