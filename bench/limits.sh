#!/usr/bin/env bash
# bench/limits.sh: the cost of limit_req, auth_basic and auth_request, sluice beside Debian's
# nginx, one worker each, the same config, on loopback, in front of bench/origin64.c through
# an upstream group with "keepalive 32" (proxy.sh's /ka request).  Rows: /ka alone; /ka
# behind a limit_req zone keyed by the client address whose rate never refuses (each request
# still looks up and updates its bucket under the zone's lock); /ka behind auth_basic with a
# {SHA} password and with an $apr1$ one (1,000 MD5 rounds per check, what `htpasswd -m`
# writes), the password file read on every request as both servers do; /ka behind
# auth_request to a location answering 204 itself (the subrequest's own cost), and to the
# origin (what an SSO check such as oauth2-proxy costs: a second upstream request).  wrk
# sends the same Authorization header on every row.  Prints requests/s, the server's CPU
# time per request (user + system over the run, from /proc/PID/stat) and sluice/nginx
# ratios; the "check" columns are each row's CPU per request minus /ka's: the cost of the
# check itself.
#
#   bench/limits.sh [seconds] [connections]
#
# PIN=1: the servers alone on CPU 1, wrk and the origin on CPU 0.  ROUNDS=n: each row n
# times, sluice and nginx alternating, medians printed.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

# user "bench", password "secret"
AUTH="Authorization: Basic $(printf 'bench:secret' | base64)"

limits_conf() {  # dir port origin64-port
    mkdir -p "$1/conf" "$1/logs"
    printf 'bench:{SHA}%s\n' "$(printf secret | openssl dgst -sha1 -binary | base64)" > "$1/conf/sha"
    printf 'bench:%s\n' "$(openssl passwd -apr1 -salt benchslt secret)" > "$1/conf/apr1"
    cat > "$1/conf/bench.conf" <<CONF
daemon off; master_process off; worker_processes 1; error_log logs/error.log error; pid logs/p.pid;
events { worker_connections 1024; }
http { access_log off;
  upstream origin_ka { server 127.0.0.1:$3; keepalive 32; }
  limit_req_zone \$binary_remote_addr zone=bench:1m rate=100000000r/s;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  server { listen 127.0.0.1:$2;
    location = /ka { proxy_pass http://origin_ka/small; }
    location = /ka-req { limit_req zone=bench burst=100000; proxy_pass http://origin_ka/small; }
    location = /ka-sha { auth_basic b; auth_basic_user_file sha; proxy_pass http://origin_ka/small; }
    location = /ka-apr1 { auth_basic b; auth_basic_user_file apr1; proxy_pass http://origin_ka/small; }
    location = /ka-areq { auth_request /allow; proxy_pass http://origin_ka/small; }
    location = /ka-areq-up { auth_request /allow-up; proxy_pass http://origin_ka/small; }
    location = /allow { internal; return 204; }
    location = /allow-up { internal; proxy_pass http://origin_ka/small;
      proxy_pass_request_body off; proxy_set_header Content-Length ""; }
  } }
CONF
}

# Both servers must answer every row with 200 and the same body, or the figures compare
# different work.
check_row() {  # path
    local a b
    a=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "$AUTH" "http://127.0.0.1:$SP$1")
    b=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "$AUTH" "http://127.0.0.1:$NP$1")
    if [ "$a" != "$b" ] || [ "${a%% *}" != 200 ]; then
        echo "$1: sluice answers \"$a\", nginx \"$b\"" >&2
        exit 1
    fi
}

# wrk_run with the Authorization header: "req/s cpu-us-per-request".
auth_run() {  # url pid
    local before after
    before=$(cpu_ticks "$2")
    $(on_cpu 0) wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "$AUTH" "$1" > "$WORK/wrk.out"
    after=$(cpu_ticks "$2")
    awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
        / requests in / { n = $1 }
        /Requests\/sec/ { r = $2 }
        END { printf "%s %.2f", r, n ? ticks / hz * 1e6 / n : 0 }' "$WORK/wrk.out"
}

SP=$(free_port); NP=$(free_port); OP64=$(free_port)
limits_conf "$WORK/sluice" "$SP" "$OP64"
limits_conf "$WORK/nginx" "$NP" "$OP64"
start_origin64 "$OP64"
CPU=1 start "$SLUICE" "$WORK/sluice" "$SP"
SLUICE_PID=$STARTED
CPU=1 start "$NGINX" "$WORK/nginx" "$NP"
NGINX_PID=$STARTED

row() {  # path -> medians of sluice's "req/s us", nginx's, then the pair ratios
    local rounds p=$1
    run_s() { auth_run "http://127.0.0.1:$SP$p" "$SLUICE_PID"; }
    run_n() { auth_run "http://127.0.0.1:$NP$p" "$NGINX_PID"; }
    rounds=$(alternate run_s run_n)
    echo "$(medians <<< "$rounds") $(pair_ratios <<< "$rounds")"
}

FMT='%-11s %11s %11s %5s %9s %9s %5s %9s %9s\n'
[ "$ROUNDS" -gt 1 ] && echo "medians of $ROUNDS alternating runs of ${DURATION}s each; ratios: the median of each round's ratio"
printf "$FMT" "test" "sluice r/s" "nginx r/s" "ratio" "s us/req" "n us/req" "ratio" \
    "s check" "n check"
base_s=0; base_n=0
for path in /ka /ka-req /ka-sha /ka-apr1 /ka-areq /ka-areq-up; do
    check_row "$path"
    read -r sr sc nr nc rr rc <<< "$(row "$path")"
    if [ "$path" = /ka ]; then base_s=$sc; base_n=$nc; fi
    printf "$FMT" "$path" "$sr" "$nr" "$rr" "$sc" "$nc" "$rc" \
        "$(awk -v a="$sc" -v b="$base_s" 'BEGIN { printf "%.2f", a - b }')" \
        "$(awk -v a="$nc" -v b="$base_n" 'BEGIN { printf "%.2f", a - b }')"
done
