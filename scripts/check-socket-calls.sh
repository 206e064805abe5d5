#!/usr/bin/env bash
# check-socket-calls.sh: nothing above the connection layer touches a socket.  A connection
# is its I/O table (src/event/sl_conn.h), which TLS and HTTP/2 replace, so src/http/ sends and
# receives through c->io and asks the connection layer (sl_conn_*) for everything else.
# Under src/http/ (every folder), outside comments and string literals, this reports:
#   - a call of a socket function (recv, send, writev, sendfile, setsockopt, shutdown,
#     getsockname, ..., close).  close() is reported whatever it closes: which descriptor it
#     is cannot be told from the text, so files close through sl_close_file() (sl_file.h);
#   - a call of the os layer's socket I/O (sl_os_*, sl_tcp_*), or an include of sl_os.h;
#   - a connection's descriptor (c->fd, pc->fd, ...connection->fd).
#
#   scripts/check-socket-calls.sh [ROOT]     check ROOT (default: the repository), exit 1 on a violation
#   scripts/check-socket-calls.sh --self-test
set -euo pipefail

self_test() {
    local tmp out rc=0
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    mkdir -p "$tmp"/src/http/upstream "$tmp"/src/event
    # what is allowed: the table, the connection layer, words in comments and strings,
    # members and functions that only end in a socket call's name
    cat >"$tmp/src/http/ok.c" <<'EOF'
#include "sl_conn.h"
#include "sl_file.h"
/* recv() and close(c->fd) are the table's now; a comment may say so */
// send(c->fd, ...) in a line comment
static void f(sl_connection_t *c, sl_file_t *file)
{
    ssize_t n = c->io->recv(c, buf, 1);
    c->io->shutdown(c);
    io.send(c, "close(fd)", 9);
    sl_log_error(SL_LOG_ALERT, c->log, errno, "close() \"%s\" failed: recv(", "x");
    sl_close_file(file->fd);
    sl_conn_local_sockaddr(c);
    my_close(file);
    char q = '(';
}
EOF
    # src/event is the connection layer: its calls are its own
    printf 'static void g(int fd) { recv(fd, 0, 0, 0); close(fd); }\n' >"$tmp/src/event/e.c"

    "$0" "$tmp" >/dev/null || { echo "self-test: clean tree reported violations" >&2; return 1; }

    cat >"$tmp/src/http/upstream/bad.c" <<'EOF'
#include "sl_os.h"
static void h(sl_connection_t *c, int fd)
{
    n = recv(c->fd, &ch, 1, MSG_PEEK);
    close(fd);
    if (shutdown (fd, SHUT_WR) == -1) { /* recv() */ }
    sl_os_send(r->connection->fd, line, 2, &err);
    x = getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) + writev(fd, iov, 1);
}
EOF
    out=$("$0" "$tmp" 2>&1) && rc=0 || rc=$?
    local f=src/http/upstream/bad.c
    local want=(
        "$f:1: includes sl_os.h (socket I/O is the connection layer's)"
        "$f:4: socket call recv() above the connection layer"
        "$f:4: connection descriptor c->fd above the connection layer"
        "$f:5: socket call close() above the connection layer"
        "$f:6: socket call shutdown() above the connection layer"
        "$f:7: os socket call sl_os_send() above the connection layer"
        "$f:7: connection descriptor connection->fd above the connection layer"
        "$f:8: socket call getsockopt() above the connection layer"
        "$f:8: socket call writev() above the connection layer"
    )
    local expected
    expected=$(printf '%s\n' "${want[@]}")
    if [ "$rc" -ne 1 ] || [ "$out" != "$expected" ]; then
        printf 'self-test: FAILED (exit %s), output:\n%s\nwanted:\n%s\n' "$rc" "$out" "$expected" >&2
        return 1
    fi
    echo "check-socket-calls self-test: ok"
}

if [ "${1:-}" = "--self-test" ]; then
    self_test
    exit
fi

ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"
[ -d src/http ] || exit 0

mapfile -t files < <(find src/http -type f \( -name '*.c' -o -name '*.h' \) | sort)
[ ${#files[@]} -gt 0 ] || exit 0
perl -e '
    use strict;
    use warnings;

    my $calls = join "|", qw(
        recv recvfrom recvmsg recvmmsg send sendto sendmsg sendmmsg readv writev
        sendfile splice getsockopt setsockopt shutdown getsockname getpeername
        socket socketpair bind listen accept accept4 connect close
    );
    my $bad = 0;

    for my $file (@ARGV) {
        open my $fh, "<", $file or die "$file: $!\n";
        my $text = do { local $/; <$fh> };
        close $fh;

        my @raw = split /\n/, $text, -1;
        for my $i (0 .. $#raw) {
            if ($raw[$i] =~ /^\s*#\s*include\s*["<](?:[^">]*\/)?sl_os\.h[">]/) {
                print "$file:", $i + 1, ": includes sl_os.h (socket I/O is the connection layer\x27s)\n";
                $bad = 1;
            }
        }

        # comments and literals become blanks, lines kept
        $text =~ s{(/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)}
                  {(my $m = $1) =~ s/[^\n]/ /g; $m}gse;
        my @lines = split /\n/, $text, -1;
        for my $i (0 .. $#lines) {
            my $l = $lines[$i];
            my $at = "$file:" . ($i + 1);

            while ($l =~ /(?<![\w.])(?<!->)\b($calls)\s*\(/g) {
                print "$at: socket call $1() above the connection layer\n";
                $bad = 1;
            }
            while ($l =~ /(?<![\w.])(?<!->)\b((?:sl_os|sl_tcp)_\w+)\s*\(/g) {
                print "$at: os socket call $1() above the connection layer\n";
                $bad = 1;
            }
            while ($l =~ /\b((?:c|pc|connection)->fd)\b/g) {
                print "$at: connection descriptor $1 above the connection layer\n";
                $bad = 1;
            }
        }
    }
    exit $bad;
' "${files[@]}"
