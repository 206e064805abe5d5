#!/usr/bin/env bash
# bench/tls.sh: TLS toward clients, sluice and Debian's nginx side by side, one worker
# each, the same config and the same OpenSSL, on loopback:
#   - full handshakes per second (openssl s_time -new), ECDSA P-256 and RSA 2048;
#   - resumed handshakes per second (s_time -reuse: a session id from the shared cache);
#   - a 1 MiB and a 64 MiB static response over TLS with keepalive (wrk): MiB/s and the
#     server's CPU time per GiB sent (user + system, /proc/PID/stat).
# Each figure with the ratio sluice/nginx (for CPU per GiB, lower is better).
#
#   bench/tls.sh [seconds] [connections]
#
# Needs wrk, nginx and openssl (scripts/deps.sh installs them) and a built build/sluice.
# With kernel TLS (the kernel offers the "tls" upper layer: /proc/sys/net/ipv4/
# tcp_available_ulp), the two responses again from a server with "ssl_conf_command Options
# KTLS", where both servers send files with SSL_sendfile(); without it those rows say so.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

make_certs() {  # dir
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$1/ec.key" -out "$1/ec.crt" -subj /CN=bench >/dev/null 2>&1
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
        -keyout "$1/rsa.key" -out "$1/rsa.crt" -subj /CN=bench >/dev/null 2>&1
}

write_config() {  # dir ec-port rsa-port ktls-port
    mkdir -p "$1/conf" "$1/logs" "$1/html"
    cp "$WORK/certs/"* "$1/conf/"
    ln -sf "$WORK/1m.bin" "$1/html/1m.bin"
    ln -sf "$WORK/64m.bin" "$1/html/64m.bin"
    cat > "$1/conf/bench.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log logs/error.log error;
pid logs/bench.pid;
events { worker_connections 1024; }
http {
    access_log off;
    ssl_session_cache shared:BENCH:10m;
    ssl_session_tickets off;
    server {
        listen 127.0.0.1:$2 ssl;
        ssl_certificate ec.crt;
        ssl_certificate_key ec.key;
        location / { root html; sendfile on; }
    }
    server {
        listen 127.0.0.1:$3 ssl;
        ssl_certificate rsa.crt;
        ssl_certificate_key rsa.key;
        location / { root html; sendfile on; }
    }
    server {
        listen 127.0.0.1:$4 ssl;
        ssl_certificate ec.crt;
        ssl_certificate_key ec.key;
        ssl_conf_command Options KTLS;
        location / { root html; sendfile on; }
    }
}
CONF
}

# Handshakes per second: "N connections in T real seconds" of s_time.  Resumption is timed
# on TLSv1.2 (a session id): s_time reads nothing after a TLSv1.3 handshake, so it never
# holds the ticket a TLSv1.3 resumption needs, and would time full handshakes.
handshakes() {  # port -new|-reuse [-tls1_2]
    openssl s_time -connect "127.0.0.1:$1" "$2" ${3:-} -time "$DURATION" 2>/dev/null |
        awk '/connections in .* real seconds/ { printf "%.0f", $1 / $4; exit }'
}

# MiB/s and the server's CPU milliseconds per GiB sent, over one wrk run.
transfer() {  # port path pid
    local before after
    before=$(cpu_ticks "$3")
    wrk -t1 -c"$CONNS" -d"${DURATION}s" "https://127.0.0.1:$1$2" > "$WORK/wrk.out"
    after=$(cpu_ticks "$3")
    awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
        function mib(v) { if (v ~ /GB$/) return v * 1024; if (v ~ /MB$/) return v + 0; if (v ~ /KB$/) return v / 1024; return v / 1048576 }
        / requests in / { total = mib($5) }
        /Transfer\/sec/ { rate = mib($2) }
        END { printf "%.0f %.0f", rate, total ? ticks / hz * 1000 / (total / 1024) : 0 }' "$WORK/wrk.out"
}

mkdir -p "$WORK/certs"
make_certs "$WORK/certs"
head -c $((1 << 20)) /dev/urandom > "$WORK/1m.bin"
head -c $((64 << 20)) /dev/urandom > "$WORK/64m.bin"
SE=$(free_port); SR=$(free_port); NE=$(free_port); NR=$(free_port)
SK=$(free_port); NK=$(free_port)
write_config "$WORK/sluice" "$SE" "$SR" "$SK"
write_config "$WORK/nginx" "$NE" "$NR" "$NK"
start "$SLUICE" "$WORK/sluice" "$SE"
SPID=$STARTED
start "$NGINX" "$WORK/nginx" "$NE"
NPID=$STARTED

row() { printf '%-34s %12s %12s %7s\n' "$@"; }
row "test (${DURATION}s, ${CONNS}c)" sluice nginx ratio
for k in "ECDSA P-256:$SE:$NE" "RSA 2048:$SR:$NR"; do
    IFS=: read -r name sp np <<< "$k"
    s=$(handshakes "$sp" -new); n=$(handshakes "$np" -new)
    row "full handshakes/s, $name" "$s" "$n" "$(ratio "$s" "$n")"
done
s=$(handshakes "$SE" -reuse -tls1_2); n=$(handshakes "$NE" -reuse -tls1_2)
row "resumed handshakes/s (TLSv1.2 id)" "$s" "$n" "$(ratio "$s" "$n")"
for path in /1m.bin /64m.bin; do
    read -r sm sc <<< "$(transfer "$SE" "$path" "$SPID")"
    read -r nm nc <<< "$(transfer "$NE" "$path" "$NPID")"
    row "$path MiB/s" "$sm" "$nm" "$(ratio "$sm" "$nm")"
    row "$path server CPU ms per GiB" "$sc" "$nc" "$(ratio "$sc" "$nc")"
done
if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null; then
    for path in /1m.bin /64m.bin; do
        read -r sm sc <<< "$(transfer "$SK" "$path" "$SPID")"
        read -r nm nc <<< "$(transfer "$NK" "$path" "$NPID")"
        row "kTLS $path MiB/s" "$sm" "$nm" "$(ratio "$sm" "$nm")"
        row "kTLS $path server CPU ms per GiB" "$sc" "$nc" "$(ratio "$sc" "$nc")"
    done
else
    echo "kTLS rows skipped: the kernel offers no \"tls\" upper layer (no tls module)"
fi
