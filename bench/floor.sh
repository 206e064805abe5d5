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
. "$(dirname "$0")/proxy-conf.sh"
proxy_setup
start_proxies
RP=$(free_port)
RELAY_ORIGIN=$OP64
[ "${ORIGIN:-origin64}" = nginx ] && RELAY_ORIGIN=$OP
$(on_cpu 1) "$RELAY" "$RP" "$RELAY_ORIGIN" &
RELAY_PID=$!
PIDS+=("$RELAY_PID")
wait_port "$RP"

# Each round pairs nginx with sluice, then with the relay (alternate() rotates who goes
# first); the ratios are the medians of the rounds' ratios to nginx (see pair_ratios).
run_s() { wrk_run "http://127.0.0.1:$SP/ka" "$SLUICE_PID"; }
run_n() { wrk_run "http://127.0.0.1:$NP/ka" "$NGINX_PID"; }
run_r() { wrk_run "http://127.0.0.1:$RP/small" "$RELAY_PID"; } # /ka's upstream uri
sn=$(alternate run_s run_n)
rn=$(alternate run_r run_n)
[ "$ROUNDS" -gt 1 ] && echo "medians of $ROUNDS alternating runs of ${DURATION}s each; ratios: the median of each round's ratio to nginx"
FMT='%-12s %10s %6s %10s %6s\n'
printf "$FMT" "proxy" "req/s" "ratio" "us/req" "ratio"
read -r sr _ _ sc nr _ _ nc <<< "$(medians <<< "$sn")"
read -r rr _ _ rc _ <<< "$(medians <<< "$rn")"
read -r sq _ _ sp <<< "$(pair_ratios <<< "$sn")"
read -r rq _ _ rp <<< "$(pair_ratios <<< "$rn")"
printf "$FMT" sluice "$sr" "$sq" "$sc" "$sp"
printf "$FMT" nginx "$nr" 1.00 "$nc" 1.00
printf "$FMT" relay_floor "$rr" "$rq" "$rc" "$rp"
