#!/usr/bin/env bash
# bench/floor.sh: how much of a proxied request's CPU time is the kernel's, whoever proxies.
# The /ka row of bench/proxy.sh (64-byte responses, keepalive on both sides, one worker,
# PIN=1 placement) for sluice, nginx and bench/relay_floor.c, a relay that only copies bytes
# between each client and its own origin connection (no parsing, no timers, nothing): its
# CPU time per request is the floor, the TCP work on loopback that no proxy avoids.
# Prints requests/s and CPU time per request of the three, and each as a ratio to nginx.
#
#   bench/floor.sh [seconds] [connections]        (ROUNDS=n: medians of n alternating runs)
set -euo pipefail

. "$(dirname "$0")/lib.sh"

RELAY="$WORK/relay_floor"
cc -O2 -o "$RELAY" bench/relay_floor.c
OP=$(free_port); SP=$(free_port); NP=$(free_port); OP64=$(free_port); RP=$(free_port)
. "$(dirname "$0")/proxy-conf.sh"
proxy_conf "$OP" "$SP" "$NP" "$OP64"
CPU=0 start "$NGINX" "$WORK/origin" "$OP"
start_origin64 "$OP64"
CPU=1 start "$SLUICE" "$WORK/sluice" "$SP"
SLUICE_PID=$STARTED
CPU=1 start "$NGINX" "$WORK/nginx" "$NP"
NGINX_PID=$STARTED
RELAY_ORIGIN=$OP64
[ "${ORIGIN:-origin64}" = nginx ] && RELAY_ORIGIN=$OP
$(on_cpu 1) "$RELAY" "$RP" "$RELAY_ORIGIN" &
RELAY_PID=$!
PIDS+=("$RELAY_PID")
wait_port "$RP"

s="" n="" r=""
for _ in $(seq "$ROUNDS"); do
    s+="$(wrk_run "http://127.0.0.1:$SP/ka" "$SLUICE_PID")"$'\n'
    n+="$(wrk_run "http://127.0.0.1:$NP/ka" "$NGINX_PID")"$'\n'
    r+="$(wrk_run "http://127.0.0.1:$RP/small" "$RELAY_PID")"$'\n'   # /ka's upstream uri
done
[ "$ROUNDS" -gt 1 ] && echo "medians of $ROUNDS alternating runs of ${DURATION}s each"
FMT='%-12s %10s %6s %10s %6s\n'
printf "$FMT" "proxy" "req/s" "ratio" "us/req" "ratio"
read -r nr _ _ nc <<< "$(medians <<< "$n")"
for who in sluice nginx relay_floor; do
    case $who in
    sluice) read -r xr _ _ xc <<< "$(medians <<< "$s")" ;;
    nginx) xr=$nr xc=$nc ;;
    relay_floor) read -r xr _ _ xc <<< "$(medians <<< "$r")" ;;
    esac
    printf "$FMT" "$who" "$xr" "$(ratio "$xr" "$nr")" "$xc" "$(ratio "$xc" "$nc")"
done
