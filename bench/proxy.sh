#!/usr/bin/env bash
# bench/proxy.sh: sluice and Debian's nginx as reverse proxies, side by side in one run, one
# worker each, the same config, in front of the same origin (an nginx on loopback serving
# a 64-byte response and a 1 MiB file).  wrk keeps client connections alive.  Prints
# requests/s, MB/s and the ratios.
#
#   bench/proxy.sh [seconds] [connections]
set -euo pipefail

. "$(dirname "$0")/lib.sh"

OP=$(free_port); SP=$(free_port); NP=$(free_port)
mkdir -p "$WORK"/{origin,sluice,nginx}/{conf,logs,html}
head -c 1048576 /dev/urandom > "$WORK/origin/html/1m"
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
http { access_log off; server { listen 127.0.0.1:$port;
    location / { proxy_pass http://127.0.0.1:$OP; proxy_temp_path proxy_temp; } } }
CONF
done
start "$NGINX" "$WORK/origin" "$OP"
start "$SLUICE" "$WORK/sluice" "$SP"
start "$NGINX" "$WORK/nginx" "$NP"

run() {  # url -> "req/s MB/s"
    wrk -t1 -c"$CONNS" -d"${DURATION}s" "$1" | awk '
        /Requests\/sec/ { r = $2 }
        /Transfer\/sec/ { v = $2; if (v ~ /GB/) v *= 1024; else if (v ~ /KB/) v /= 1024; else v += 0; t = v }
        END { printf "%s %.1f", r, t }'
}

printf '%-14s %14s %14s %7s %10s %10s %7s\n' "test" "sluice req/s" "nginx req/s" "ratio" "sluice MB/s" "nginx MB/s" "ratio"
for path in /small /1m; do
    read -r sr st <<< "$(run "http://127.0.0.1:$SP$path")"
    read -r nr nt <<< "$(run "http://127.0.0.1:$NP$path")"
    printf '%-14s %14s %14s %7s %10s %10s %7s\n' "$path" "$sr" "$nr" \
        "$(awk -v a="$sr" -v b="$nr" 'BEGIN { printf "%.2f", a / b }')" "$st" "$nt" \
        "$(awk -v a="$st" -v b="$nt" 'BEGIN { printf "%.2f", a / b }')"
done
