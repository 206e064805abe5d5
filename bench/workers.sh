#!/usr/bin/env bash
# bench/workers.sh: sluice and Debian's nginx side by side with `master_process on;
# worker_processes 2`, same config, on loopback.  Prints requests/s (keepalive, and a new
# connection per request) with the ratio, then how the connections spread over the two
# workers for a shared listening socket (EPOLLEXCLUSIVE in both) and for `reuseport`.
#
#   bench/workers.sh [seconds] [connections]
#
# Needs wrk and nginx (scripts/deps.sh installs both) and a built build/sluice.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"

write_config() {  # dir port reuseport-port
    mkdir -p "$1/conf" "$1/logs"
    cat > "$1/conf/bench.conf" <<CONF
daemon off;
master_process on;
worker_processes 2;
$USER_LINE
error_log logs/error.log error;
pid logs/bench.pid;
events { worker_connections 1024; }
http {
    access_log off;
    log_format pids '\$pid';
    server {
        listen 127.0.0.1:$2;
        listen 127.0.0.1:$3 reuseport;
        location = /return { return 200 "hello world\n"; }
        location = /spread-shared { access_log logs/shared.log pids; return 200 "x\n"; }
        location = /spread-reuseport { access_log logs/reuseport.log pids; return 200 "x\n"; }
    }
}
CONF
}

rps() {  # url [wrk args...]
    local url=$1; shift
    wrk -t1 -c"$CONNS" -d"${DURATION}s" "$@" "$url" | awk '/Requests\/sec/ { print $2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# "62% / 38%": the share of the log's lines each worker pid wrote, largest first.
spread() {  # log
    sort "$1" | uniq -c | sort -rn | awk '{ n[NR] = $1; t += $1 } END {
        for (i = 1; i <= NR; i++) printf "%s%d%%", (i > 1 ? " / " : ""), 100 * n[i] / t }'
}

SP=$(free_port); SR=$(free_port); NP=$(free_port); NR=$(free_port)
write_config "$WORK/sluice" "$SP" "$SR"
write_config "$WORK/nginx" "$NP" "$NR"
start "$SLUICE" "$WORK/sluice" "$SP"
start "$NGINX" "$WORK/nginx" "$NP"
sleep 0.5   # both masters have forked their workers

printf '%-34s %14s %14s %8s\n' "worker_processes 2 (${DURATION}s, ${CONNS}c)" "sluice req/s" "nginx req/s" "ratio"
s=$(rps "http://127.0.0.1:$SP/return"); n=$(rps "http://127.0.0.1:$NP/return")
printf '%-34s %14s %14s %8s\n' "/return keepalive" "$s" "$n" "$(ratio "$s" "$n")"
s=$(rps "http://127.0.0.1:$SP/return" -H "Connection: close")
n=$(rps "http://127.0.0.1:$NP/return" -H "Connection: close")
printf '%-34s %14s %14s %8s\n' "/return new connection each" "$s" "$n" "$(ratio "$s" "$n")"

# the spread: a new connection per request, so each log line is one accepted connection
for server in sluice nginx; do
    if [ $server = sluice ]; then p=$SP; r=$SR; else p=$NP; r=$NR; fi
    wrk -t1 -c"$CONNS" -d2s -H "Connection: close" "http://127.0.0.1:$p/spread-shared" > /dev/null
    wrk -t1 -c"$CONNS" -d2s -H "Connection: close" "http://127.0.0.1:$r/spread-reuseport" > /dev/null
done

sleep 0.3
printf '%-34s %14s %14s\n' "connections per worker" "sluice" "nginx"
printf '%-34s %14s %14s\n' "shared socket (EPOLLEXCLUSIVE)" \
    "$(spread "$WORK/sluice/logs/shared.log")" "$(spread "$WORK/nginx/logs/shared.log")"
printf '%-34s %14s %14s\n' "listen ... reuseport" \
    "$(spread "$WORK/sluice/logs/reuseport.log")" "$(spread "$WORK/nginx/logs/reuseport.log")"
