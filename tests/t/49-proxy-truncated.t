# A response that could not be completed never looks complete (issue 17): the upstream
# resets or closes its connection in the middle of a body, after the header went to the
# client.  Buffered and unbuffered, with Content-Length and chunked: the client gets what
# arrived, then the connection is closed at once (not kept open for the next request, no
# last chunk), and the error log says why.  Before, a buffered response cut by a reset kept
# the client's connection open with nothing more to come.  The same file passes against
# Debian's nginx 1.22 (SLUICE_BINARY=/usr/sbin/nginx).
use strict;
use warnings;
use Test::More;
use IO::Select;
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep);
use Sluice;
use Origin;

my $t = Sluice->new;
my $origin_port = $t->port(2);

# /KIND/HOW: KIND cl or chunked, HOW reset (RST) or close (FIN), after 50,000 of 100,000
# bytes; the origin waits a moment first, so the header and the bytes are out before.
Origin::scripted(port => $origin_port, handler => sub {
    my ($c) = @_;
    my ($kind, $how) = Origin::read_head($c) =~ m{^GET /\w+/(\w+)/(\w+) };
    if ($kind eq 'big') {
        # 1 MiB then the close, 1 MiB short: far more than the client's socket takes
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: 2097152\r\n\r\n"
                              . ('y' x 1048575) . 'z');
        close $c;
        return;
    }
    my $part = 'x' x 50000;
    Origin::write_all($c, $kind eq 'cl'
        ? "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n$part"
        : "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          . sprintf("%x\r\n", 100000) . $part);
    sleep 0.3;
    setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)) if $how eq 'reset';
    close $c;
});

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_1%% sndbuf=32k;
        location /b/ { proxy_pass http://127.0.0.1:$origin_port; }
        location /u/ { proxy_pass http://127.0.0.1:$origin_port; proxy_buffering off; }
    }
}
EOF
$t->start;
my $port = $t->port(1);

for my $loc ('b', 'u') {
    for my $kind ('cl', 'chunked') {
        for my $how ('reset', 'close') {
            my $name = "$loc/$kind/$how";
            my $s = $t->connect($port);
            # HTTP/1.1 and keepalive: only a closed connection can tell the client
            print $s "GET /$name HTTP/1.1\r\nHost: t\r\n\r\n";
            my ($data, $eof) = $t->read_all($s, 10);
            close $s;
            my ($head, $body) = split /\r\n\r\n/, $data, 2;
            like($head // '', qr{^HTTP/1\.1 200 OK\r\n}, "$name: the header went out");
            ok($eof, "$name: the connection is closed, not kept for another request");
            if ($kind eq 'cl') {
                ok(length($body // '') < 100000, "$name: fewer bytes than Content-Length ("
                   . length($body // '') . ')');
            } else {
                unlike($body // '', qr/\r\n0\r\n\r\n$/, "$name: no last chunk");
            }
        }
    }
}
# A slow client: most of what arrived is still in the pipe's buffers and temp file when the
# upstream closes.  It all goes out, up to the last byte read, before the connection closes.
for my $loc ('b', 'u') {
    my $s = $t->connect($port);
    print $s "GET /$loc/big/close HTTP/1.1\r\nHost: t\r\n\r\n";
    sleep 0.5;
    my ($data, $eof) = $t->read_all($s, 10);
    close $s;
    my (undef, $body) = split /\r\n\r\n/, $data // '', 2;
    is(length($body // ''), 1048576, "$loc/big: every byte that arrived reaches a slow client");
    like($body // '', qr/yz\z/, "$loc/big: up to the last one");
    ok($eof, "$loc/big: then the connection closes");
}

my $log = $t->error_log;
like($log, qr/\[error\] .*(?:recv\(\) failed \(104: Connection reset by peer\)|upstream prematurely closed connection)/,
     'the cut is logged at error');
like($log, qr/\[error\] .*upstream prematurely closed connection/, 'a close before the end: nginx\'s words');

$t->done_testing;
