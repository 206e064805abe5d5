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

# Starts bench/origin64.c (built into WORK) on a port, on CPU 0 with PIN=1: the origin of
# the 64-byte rows.  ORIGIN=nginx: no origin64 (proxy_conf then points those rows at the
# nginx origin, as before this origin existed).
start_origin64() {  # port
    [ "${ORIGIN:-origin64}" = nginx ] && return 0
    cc -O2 -o "$WORK/origin64" bench/origin64.c
    $(on_cpu 0) "$WORK/origin64" "$1" &
    PIDS+=($!)
    wait_port "$1"
}

# CPU time a process has used so far, user + system, in clock ticks (/proc/PID/stat fields
# 14 and 15, counted after the ") " that ends the command name).
cpu_ticks() {  # pid
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# One wrk run (CONNS connections, DURATION seconds, wrk on CPU 0 with PIN=1) while the CPU
# time of pid is measured: "req/s MB/s p99-ms cpu-us-per-request".
wrk_run() {  # url pid
    local before after
    before=$(cpu_ticks "$2")
    $(on_cpu 0) wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$1" > "$WORK/wrk.out"
    after=$(cpu_ticks "$2")
    awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        / requests in / { n = $1 }
        /Requests\/sec/ { r = $2 }
        /^ +99%/ { p = ms($2) }
        /Transfer\/sec/ { v = $2; if (v ~ /GB/) v *= 1024; else if (v ~ /KB/) v /= 1024; else v += 0; t = v }
        END { printf "%s %.1f %.2f %.1f", r, t, p, n ? ticks / hz * 1e6 / n : 0 }' "$WORK/wrk.out"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }

# The median of each column of the lines on stdin, on one line.  Runs of a few seconds
# swing by 10-20% on a shared VM: ROUNDS runs, alternating the servers compared so that a
# change in the machine's load falls on all of them, and their medians.
medians() {
    local lines k
    lines=$(grep . || true)
    for k in $(seq "$(head -1 <<< "$lines" | wc -w)"); do
        awk -v k="$k" '{ print $k }' <<< "$lines" | sort -g | awk '{ v[NR] = $1 } END { printf "%s ", v[int((NR + 1) / 2)] }'
    done
}
# Lines of "a1 .. ak b1 .. bk" on stdin (one round: the same k figures for two servers run
# one right after the other) -> the median over the rounds of a1/b1, ..., ak/bk.  The
# machine's speed drifts by up to half within a minute here; the two runs of one round see
# nearly the same machine, so the median of the rounds' ratios moves less than the ratio
# of the medians.
pair_ratios() {
    local lines k half
    lines=$(grep . || true)
    half=$(($(head -1 <<< "$lines" | wc -w) / 2))
    for k in $(seq "$half"); do
        awk -v a="$k" -v b=$((k + half)) '{ print ($b ? $a / $b : 0) }' <<< "$lines" | sort -g |
            awk '{ v[NR] = $1 } END { printf "%.2f ", v[int((NR + 1) / 2)] }'
    done
}

# Runs `a` and `b` (commands printing one line of figures each) ROUNDS times, a first in
# odd rounds and b first in even ones, so that neither always gets the warmer machine.
# Prints a round per line: a's figures then b's.
alternate() {  # command-a command-b
    local i x y
    for i in $(seq "$ROUNDS"); do
        if [ $((i % 2)) = 1 ]; then
            x=$($1); y=$($2)
        else
            y=$($2); x=$($1)
        fi
        echo "$x $y"
    done
}
ROUNDS=${ROUNDS:-1}
