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
#   bench/proxy.sh [seconds] [connections]      (PIN=1: the proxy alone on CPU 1)
set -euo pipefail

. "$(dirname "$0")/lib.sh"

OP=$(free_port); SP=$(free_port); NP=$(free_port)
mkdir -p "$WORK"/{origin,sluice,nginx}/{conf,logs,html}
head -c 1048576 /dev/urandom > "$WORK/origin/html/1m"
head -c 67108864 /dev/urandom > "$WORK/origin/html/64m"
cat > "$WORK/origin/conf/bench.conf" <<CONF
daemon off; master_process off; worker_processes 1; error_log logs/error.log error; pid logs/o.pid;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$OP;
    location = /small { return 200 "0123456789012345678901234567890123456789012345678901234567890\n"; }
    location / { root html; sendfile on; } } }
CONF
for who in sluice nginx; do
    port=$SP; [ $who = nginx ] && port=$NP
    cat > "$WORK/$who/conf/bench.conf" <<CONF
daemon off; master_process off; worker_processes 1; error_log logs/error.log error; pid logs/p.pid;
events { worker_connections 1024; }
http { access_log off;
  upstream origin_ka { server 127.0.0.1:$OP; keepalive 32; }
  server { listen 127.0.0.1:$port;
    location = /ka { proxy_pass http://origin_ka/small; proxy_http_version 1.1;
                     proxy_set_header Connection ""; }
    location / { proxy_pass http://127.0.0.1:$OP; proxy_temp_path proxy_temp; } } }
CONF
done
CPU=0 start "$NGINX" "$WORK/origin" "$OP"
CPU=1 start "$SLUICE" "$WORK/sluice" "$SP"
SLUICE_PID=$STARTED
CPU=1 start "$NGINX" "$WORK/nginx" "$NP"
NGINX_PID=$STARTED
HZ=$(getconf CLK_TCK)

run() {  # url pid -> "req/s MB/s p99-ms cpu-us-per-request"
    local before after
    before=$(cpu_ticks "$2")
    $(on_cpu 0) wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$1" > "$WORK/wrk.out"
    after=$(cpu_ticks "$2")
    awk -v ticks=$((after - before)) -v hz="$HZ" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        / requests in / { n = $1 }
        /Requests\/sec/ { r = $2 }
        /^ +99%/ { p = ms($2) }
        /Transfer\/sec/ { v = $2; if (v ~ /GB/) v *= 1024; else if (v ~ /KB/) v /= 1024; else v += 0; t = v }
        END { printf "%s %.1f %.2f %.1f", r, t, p, n ? ticks / hz * 1e6 / n : 0 }' "$WORK/wrk.out"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }

FMT='%-6s %11s %11s %5s %9s %9s %5s %8s %8s %5s %9s %9s %5s\n'
printf "$FMT" "test" "sluice r/s" "nginx r/s" "ratio" "s MB/s" "n MB/s" "ratio" \
    "s p99ms" "n p99ms" "ratio" "s us/req" "n us/req" "ratio"
for path in /small /ka /1m /64m; do
    read -r sr st sp sc <<< "$(run "http://127.0.0.1:$SP$path" "$SLUICE_PID")"
    read -r nr nt np nc <<< "$(run "http://127.0.0.1:$NP$path" "$NGINX_PID")"
    printf "$FMT" "$path" "$sr" "$nr" "$(ratio "$sr" "$nr")" "$st" "$nt" "$(ratio "$st" "$nt")" \
        "$sp" "$np" "$(ratio "$sp" "$np")" "$sc" "$nc" "$(ratio "$sc" "$nc")"
done
