# bench/lib.sh: what the side-by-side benchmarks share.  Sourced, not run.
#
# Sets DURATION, CONNS (from $1, $2), SLUICE, NGINX, WORK (a temp dir removed at exit) and
# stops every server started with start() at exit; start() leaves the server's pid in
# STARTED.

cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-50}
SLUICE=${SLUICE_BINARY:-$PWD/build/sluice}
NGINX=${NGINX_BINARY:-/usr/sbin/nginx}
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill -QUIT "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'
}

# PIN=1 (on a machine with 2+ CPUs): the server under test runs alone on CPU 1 and
# everything else (wrk, the origin) on CPU 0, so that the figures stop swinging with how
# the scheduler mixes the processes.  on_cpu is a prefix for commands: `$(on_cpu 0) wrk ...`.
on_cpu() {  # cpu
    if [ "${PIN:-0}" = 1 ] && [ "$(nproc)" -ge 2 ]; then echo "taskset -c $1"; fi
}

# Waits (bounded: tries x 50 ms) until something accepts on the loopback port.
wait_port() {  # port [tries]
    for _ in $(seq "${2:-100}"); do
        perl -MIO::Socket::INET -e "exit(IO::Socket::INET->new('127.0.0.1:$1') ? 0 : 1)" && return 0
        sleep 0.05
    done
    echo "server on port $1 did not start" >&2
    exit 1
}

# Starts a server on conf/bench.conf of a prefix and waits until it accepts.  CPU=n pins
# it (with PIN=1).
start() {  # binary dir port
    $(on_cpu "${CPU:-0}") "$1" -p "$2/" -c conf/bench.conf &
    STARTED=$!
    PIDS+=($!)
    wait_port "$3"
}

# CPU time a process has used so far, user + system, in clock ticks (/proc/PID/stat fields
# 14 and 15, counted after the ") " that ends the command name).
cpu_ticks() {  # pid
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
