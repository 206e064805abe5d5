#!/usr/bin/env bash
# bench/proxy.sh: sluice and Debian's nginx as reverse proxies, side by side in one run, one
# worker each, the same config, in front of the same origins on loopback: bench/origin64.c
# for the 64-byte response (ORIGIN=nginx: the nginx origin's, as before), an nginx serving
# a 1 MiB and a 64 MiB file.  wrk keeps client connections alive.
# Rows: /small (64 bytes, a new upstream connection per request, nginx's default), /ka (the
# same through an upstream group with "keepalive 32"), /1m, /64m.  Prints requests/s, MB/s,
# the 99th percentile latency, the proxy's CPU time per request (user + system of its one
# process over the wrk run, from /proc/PID/stat, divided by the requests wrk completed) and
# the ratios sluice/nginx (above 1 is better for req/s and MB/s, below 1 for latency, CPU).
#
#   bench/proxy.sh [seconds] [connections]
#
# PIN=1: the proxy alone on CPU 1, wrk and the origin on CPU 0.  ROUNDS=n: each row n times,
# sluice and nginx alternating, medians printed.  PATHS="/ka": only those rows.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/proxy-conf.sh"
proxy_setup
start_proxies

row() {  # path -> medians of sluice's "req/s MB/s p99 cpu", nginx's, then the pair ratios
    local rounds p=$1
    run_s() { wrk_run "http://127.0.0.1:$SP$p" "$SLUICE_PID"; }
    run_n() { wrk_run "http://127.0.0.1:$NP$p" "$NGINX_PID"; }
    rounds=$(alternate run_s run_n)
    echo "$(medians <<< "$rounds") $(pair_ratios <<< "$rounds")"
}

FMT='%-6s %11s %11s %5s %9s %9s %5s %8s %8s %5s %9s %9s %5s\n'
[ "$ROUNDS" -gt 1 ] && echo "medians of $ROUNDS alternating runs of ${DURATION}s each; ratios: the median of each round's ratio"
printf "$FMT" "test" "sluice r/s" "nginx r/s" "ratio" "s MB/s" "n MB/s" "ratio" \
    "s p99ms" "n p99ms" "ratio" "s us/req" "n us/req" "ratio"
for path in ${PATHS:-/small /ka /1m /64m}; do
    read -r sr st sp sc nr nt np nc rr rt rp rc <<< "$(row "$path")"
    printf "$FMT" "$path" "$sr" "$nr" "$rr" "$st" "$nt" "$rt" "$sp" "$np" "$rp" "$sc" "$nc" "$rc"
done
