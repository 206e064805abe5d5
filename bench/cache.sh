#!/usr/bin/env bash
# bench/cache.sh: the proxy cache, sluice beside Debian's nginx in one run, one worker each,
# the same config (proxy_cache_path on the same disk, sendfile on), on loopback:
#   - HIT: a cached 1 KiB and 1 MiB object served again and again (wrk, keepalive):
#     requests/s and the proxy's CPU time per request (user + system of its one process
#     over the run, /proc/PID/stat, divided by the requests wrk completed);
#   - MISS with proxy_cache_lock on: 50 clients ask for one uncached key at once (curl
#     --parallel) of an origin that answers after SLOW seconds (1 by default): how many
#     requests reached the origin (1 is right: the others wait for the lock and get the
#     stored file) and how long the 50 took.  Bounded: each client gives up after 15 s.
# Each figure with the ratio sluice/nginx (above 1 is better for req/s, below 1 for CPU).
#
#   bench/cache.sh [seconds] [connections]
#
# PIN=1: the proxies alone on CPU 1, wrk and the origins on CPU 0.  ROUNDS=n: each HIT row
# n times, sluice and nginx alternating, medians and the median of the rounds' ratios.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

SLOW=${SLOW:-1}

# The origin of the HIT rows: nginx serving a 1 KiB and a 1 MiB file.
origin_conf() {  # dir port
    mkdir -p "$1/conf" "$1/logs" "$1/html"
    head -c 1024 /dev/urandom > "$1/html/1k"
    head -c 1048576 /dev/urandom > "$1/html/1m"
    cat > "$1/conf/bench.conf" <<CONF
daemon off; master_process off; worker_processes 1; error_log logs/error.log error; pid logs/o.pid;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$2; location / { root html; } } }
CONF
}

# The slow origin of the MISS row: one connection at a time, each request answered after
# SLOW seconds and its request line appended to a log (the count of upstream requests).
# Exits by itself after 10 minutes whatever happens.
start_slow_origin() {  # port log
    $(on_cpu 0) perl -MIO::Socket::INET -e '
        my ($port, $log, $slow) = @ARGV;
        my $l = IO::Socket::INET->new(Listen => 128, LocalAddr => "127.0.0.1:$port",
                                      ReuseAddr => 1) or die "listen: $!";
        alarm 600;
        my $body = "x" x 1024;
        while (my $c = $l->accept) {
            my $line = <$c>;
            while (my $h = <$c>) { last if $h =~ /^\r?\n$/ }
            open my $f, ">>", $log; print $f $line; close $f;
            select(undef, undef, undef, $slow);
            print $c "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n$body";
            close $c;
        }' "$1" "$2" "$SLOW" &
    PIDS+=($!)
    wait_port "$1"
}

proxy_conf() {  # dir port origin-port slow-port
    mkdir -p "$1/conf" "$1/logs" "$1/cache"
    cat > "$1/conf/bench.conf" <<CONF
daemon off; master_process off; worker_processes 1; error_log logs/error.log error; pid logs/p.pid;
events { worker_connections 1024; }
http { access_log off; sendfile on;
  proxy_cache_path cache levels=1:2 keys_zone=bench:10m;
  proxy_cache bench;
  proxy_cache_valid 200 1h;
  server { listen 127.0.0.1:$2;
    location / { proxy_pass http://127.0.0.1:$3; }
    location /slow { proxy_pass http://127.0.0.1:$4; proxy_cache_lock on; }
  } }
CONF
}

SP=$(free_port); NP=$(free_port); OP=$(free_port); SLOWP=$(free_port)
origin_conf "$WORK/origin" "$OP"
proxy_conf "$WORK/sluice" "$SP" "$OP" "$SLOWP"
proxy_conf "$WORK/nginx" "$NP" "$OP" "$SLOWP"
CPU=0 start "$NGINX" "$WORK/origin" "$OP"
start_slow_origin "$SLOWP" "$WORK/slow.log"
CPU=1 start "$SLUICE" "$WORK/sluice" "$SP"
SLUICE_PID=$STARTED
CPU=1 start "$NGINX" "$WORK/nginx" "$NP"
NGINX_PID=$STARTED

# Both must answer a HIT with 200 and the origin's bytes, or the figures compare different
# work.  The first request stores the object; the second must be a HIT.
warm() {  # path
    local port a
    for port in "$SP" "$NP"; do
        curl -s -m 10 -o /dev/null "http://127.0.0.1:$port$1"
        a=$(curl -s -m 10 -o "$WORK/got" -w '%{http_code}' "http://127.0.0.1:$port$1")
        if [ "$a" != 200 ] || ! cmp -s "$WORK/got" "$WORK/origin/html${1}"; then
            echo "$1 on port $port: status $a or a body unlike the origin's" >&2
            exit 1
        fi
    done
}

hit_row() {  # path -> medians of sluice's "req/s us", nginx's, then the pair ratios
    local rounds p=$1
    run_s() { wrk_run "http://127.0.0.1:$SP$p" "$SLUICE_PID" | awk '{ print $1, $4 }'; }
    run_n() { wrk_run "http://127.0.0.1:$NP$p" "$NGINX_PID" | awk '{ print $1, $4 }'; }
    rounds=$(alternate run_s run_n)
    echo "$(medians <<< "$rounds") $(pair_ratios <<< "$rounds")"
}

# 50 clients on one new key at once: "upstream-requests seconds failed-clients".
miss_run() {  # port tag
    local url="http://127.0.0.1:$1/slow/$2" t0 t1 codes
    t0=$(date +%s.%N)
    codes=$(curl -s -m 15 --parallel --parallel-immediate --parallel-max 50 -w '%{http_code}\n' \
        $(for _ in $(seq 50); do echo "-o /dev/null $url"; done) 2>/dev/null || true)
    t1=$(date +%s.%N)
    echo "$(grep -c " /slow/$2 " "$WORK/slow.log" || true)" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" \
        "$(grep -vc '^200$' <<< "$codes" || true)"
}

FMT='%-5s %11s %11s %5s %9s %9s %5s\n'
[ "$ROUNDS" -gt 1 ] && echo "medians of $ROUNDS alternating runs of ${DURATION}s each; ratios: the median of each round's ratio"
printf "$FMT" "HIT" "sluice r/s" "nginx r/s" "ratio" "s us/req" "n us/req" "ratio"
for path in /1k /1m; do
    warm "$path"
    read -r sr sc nr nc rr rc <<< "$(hit_row "$path")"
    printf "$FMT" "$path" "$sr" "$nr" "$rr" "$sc" "$nc" "$rc"
done

touch "$WORK/slow.log"
read -r su st sf <<< "$(miss_run "$SP" s)"
read -r nu nt nf <<< "$(miss_run "$NP" n)"
echo
echo "MISS, 50 clients on one key, proxy_cache_lock on, origin answering after ${SLOW}s:"
printf '%-7s %17s %9s %15s\n' "" "upstream requests" "seconds" "failed clients"
printf '%-7s %17s %9s %15s\n' sluice "$su" "$st" "$sf"
printf '%-7s %17s %9s %15s\n' nginx "$nu" "$nt" "$nf"
printf '%-7s %17s %9s\n' ratio "$(ratio "$su" "$nu")" "$(ratio "$st" "$nt")"
