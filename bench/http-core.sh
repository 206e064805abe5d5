#!/usr/bin/env bash
# bench/http-core.sh: sluice and Debian's nginx side by side, one worker each, same config,
# on loopback: `return 200` and a small static file.  Prints requests/s and the ratio.
#
#   bench/http-core.sh [seconds] [connections]
#
# Needs wrk and nginx (scripts/deps.sh installs both) and a built build/sluice.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

# The same config for both; only the server's name in paths differs.
write_config() {  # dir port
    mkdir -p "$1/conf" "$1/logs" "$1/html"
    head -c 1024 /dev/urandom | base64 > "$1/html/small.txt"
    cat > "$1/conf/bench.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log logs/error.log error;
pid logs/bench.pid;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$2;
        location = /return { return 200 "hello world\n"; }
        location / { root html; sendfile on; }
    }
}
CONF
}


# Both servers must give the same status and body, or the figures compare different work.
check_same() {  # path
    local a b
    a=$(fetch "$SP" "$1"); b=$(fetch "$NP" "$1")
    if [ "$a" != "$b" ]; then
        echo "sluice and nginx answer $1 differently:" >&2
        echo "sluice: $a" >&2; echo "nginx:  $b" >&2
        exit 1
    fi
}

fetch() {  # port path -> "status body-md5"
    perl -MIO::Socket::INET -MDigest::MD5=md5_hex -e '
        my $s = IO::Socket::INET->new("127.0.0.1:$ARGV[0]") or die;
        print $s "GET $ARGV[1] HTTP/1.0\r\n\r\n"; local $/; my $r = <$s>;
        my ($h, $b) = split /\r\n\r\n/, $r, 2; my ($st) = $h =~ m{^HTTP/1\.\d (\d+)};
        print "$st ", md5_hex($b // ""), "\n";' "$1" "$2"
}

rps() {  # url
    wrk -t1 -c"$CONNS" -d"${DURATION}s" "$1" | awk '/Requests\/sec/ { print $2 }'
}

SP=$(free_port); NP=$(free_port)
write_config "$WORK/sluice" "$SP"
write_config "$WORK/nginx" "$NP"
cp "$WORK/sluice/html/small.txt" "$WORK/nginx/html/small.txt"
start "$SLUICE" "$WORK/sluice" "$SP"
start "$NGINX" "$WORK/nginx" "$NP"

printf '%-22s %14s %14s %8s\n' "test (${DURATION}s, ${CONNS}c)" "sluice req/s" "nginx req/s" "ratio"
for path in /return /small.txt; do
    check_same "$path"
    s=$(rps "http://127.0.0.1:$SP$path")
    n=$(rps "http://127.0.0.1:$NP$path")
    printf '%-22s %14s %14s %8s\n' "$path" "$s" "$n" "$(awk -v a="$s" -v b="$n" 'BEGIN { printf "%.2f", a / b }')"
done
