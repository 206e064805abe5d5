#!/usr/bin/env bash
# bench/proxy.sh: sluice and Debian's nginx as reverse proxies, side by side in one run, one
# worker each, the same config, in front of the same origin (an nginx on loopback serving
# a 64-byte response, a 1 MiB and a 64 MiB file).  wrk keeps client connections alive.
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

OP=$(free_port); SP=$(free_port); NP=$(free_port)
. "$(dirname "$0")/proxy-conf.sh"
proxy_conf "$OP" "$SP" "$NP"
CPU=0 start "$NGINX" "$WORK/origin" "$OP"
CPU=1 start "$SLUICE" "$WORK/sluice" "$SP"
SLUICE_PID=$STARTED
CPU=1 start "$NGINX" "$WORK/nginx" "$NP"
NGINX_PID=$STARTED

row() {  # path -> "req/s MB/s p99 cpu" for sluice, then for nginx: medians of ROUNDS runs
    local i s="" n=""
    for i in $(seq "$ROUNDS"); do
        s+="$(wrk_run "http://127.0.0.1:$SP$1" "$SLUICE_PID")"$'\n'
        n+="$(wrk_run "http://127.0.0.1:$NP$1" "$NGINX_PID")"$'\n'
    done
    echo "$(medians <<< "$s") $(medians <<< "$n")"
}

FMT='%-6s %11s %11s %5s %9s %9s %5s %8s %8s %5s %9s %9s %5s\n'
[ "$ROUNDS" -gt 1 ] && echo "medians of $ROUNDS alternating runs of ${DURATION}s each"
printf "$FMT" "test" "sluice r/s" "nginx r/s" "ratio" "s MB/s" "n MB/s" "ratio" \
    "s p99ms" "n p99ms" "ratio" "s us/req" "n us/req" "ratio"
for path in ${PATHS:-/small /ka /1m /64m}; do
    read -r sr st sp sc nr nt np nc <<< "$(row "$path")"
    printf "$FMT" "$path" "$sr" "$nr" "$(ratio "$sr" "$nr")" "$st" "$nt" "$(ratio "$st" "$nt")" \
        "$sp" "$np" "$(ratio "$sp" "$np")" "$sc" "$nc" "$(ratio "$sc" "$nc")"
done
