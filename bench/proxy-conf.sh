# bench/proxy-conf.sh: the configs bench/proxy.sh and bench/instructions.sh run: an origin
# (Debian's nginx) serving a 64-byte response, a 1 MiB and a 64 MiB file, and the same
# reverse-proxy config for sluice and nginx in front of it.  Sourced after lib.sh.
#
# proxy_conf ORIGIN_PORT SLUICE_PORT NGINX_PORT [ORIGIN64_PORT] writes
# $WORK/{origin,sluice,nginx}/conf/bench.conf.  With ORIGIN64_PORT (bench/origin64.c, see
# start_origin64 in lib.sh) the 64-byte rows, /small and /ka, go to it; without it, or with
# ORIGIN=nginx, to the nginx origin's /small.
# ACCESS_LOG=1: both proxies write the "combined" access log (to a file), as a site would.

proxy_conf() {  # origin-port sluice-port nginx-port [origin64-port]
    local who port log="access_log off;" small=$1
    [ -n "${4:-}" ] && [ "${ORIGIN:-origin64}" != nginx ] && small=$4
    [ "${ACCESS_LOG:-0}" = 1 ] && log="access_log logs/access.log combined;"
    mkdir -p "$WORK"/{origin,sluice,nginx}/{conf,logs,html}
    head -c 1048576 /dev/urandom > "$WORK/origin/html/1m"
    head -c 67108864 /dev/urandom > "$WORK/origin/html/64m"
    cat > "$WORK/origin/conf/bench.conf" <<CONF
daemon off; master_process off; worker_processes 1; error_log logs/error.log error; pid logs/o.pid;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$1;
    location = /small { return 200 "0123456789012345678901234567890123456789012345678901234567890\n"; }
    location / { root html; sendfile on; } } }
CONF
    for who in sluice nginx; do
        port=$2; [ $who = nginx ] && port=$3
        cat > "$WORK/$who/conf/bench.conf" <<CONF
daemon off; master_process off; worker_processes 1; error_log logs/error.log error; pid logs/p.pid;
events { worker_connections 1024; }
http { $log
  upstream origin_ka { server 127.0.0.1:$small; keepalive 32; }
  server { listen 127.0.0.1:$port;
    location = /ka { proxy_pass http://origin_ka/small; proxy_http_version 1.1;
                     proxy_set_header Connection ""; }
    location = /small { proxy_pass http://127.0.0.1:$small; }
    location / { proxy_pass http://127.0.0.1:$1; proxy_temp_path proxy_temp; } } }
CONF
    done
}

# What proxy.sh, floor.sh and instructions.sh set up alike: free ports OP (nginx origin), SP
# (sluice), NP (nginx), OP64 (origin64), the configs, and both origins running (on CPU 0
# with PIN=1).
proxy_setup() {
    OP=$(free_port); SP=$(free_port); NP=$(free_port); OP64=$(free_port)
    proxy_conf "$OP" "$SP" "$NP" "$OP64"
    CPU=0 start "$NGINX" "$WORK/origin" "$OP"
    start_origin64 "$OP64"
}

# sluice and nginx as the proxies under test (on CPU 1 with PIN=1): SLUICE_PID, NGINX_PID.
start_proxies() {
    CPU=1 start "$SLUICE" "$WORK/sluice" "$SP"
    SLUICE_PID=$STARTED
    CPU=1 start "$NGINX" "$WORK/nginx" "$NP"
    NGINX_PID=$STARTED
}
