# A client that sends its request, then close_notify, and goes away without reading: the
# write that fails afterwards is routine (the socket's EPIPE or ECONNRESET, at info), never
# [crit], though OpenSSL reports such a failure after the peer's close_notify as a clean
# close (SSL_ERROR_ZERO_RETURN).  Ten such clients, each on a response too big for the
# socket buffers, so the write meets the closed socket.
use strict;
use warnings;
use Test::More;
use IO::Socket::SSL;
use Sluice;

my $t = Sluice->new;
my $conf = $t->prefix . '/conf';
system("cd $conf && openssl req -x509 -newkey rsa:2048 -nodes -keyout s.key -out s.crt "
       . "-days 2 -subj /CN=localhost >/dev/null 2>&1") == 0 or die "openssl failed\n";
$t->write_file('html/big', 'x' x (4 * 1024 * 1024));

$t->write_config(<<'EOF2');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_1%% ssl;
        ssl_certificate s.crt;
        ssl_certificate_key s.key;
        root html;
    }
}
EOF2
$t->start;

for my $i (1 .. 10) {
    my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1:' . $t->port(1),
                                 SSL_verify_mode => SSL_VERIFY_NONE)
        or die "connect: $SSL_ERROR\n";
    print $s "GET /big HTTP/1.0\r\nHost: localhost\r\n\r\n";
    $s->close;    # close_notify, then the socket closed with the answer unread
}
# one more request, answered in full: the server went on serving
my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1:' . $t->port(1),
                             SSL_verify_mode => SSL_VERIFY_NONE) or die "connect\n";
print $s "GET /big HTTP/1.0\r\nHost: localhost\r\n\r\n";
my $all = do { local $/; <$s> };
my ($head, $body) = split /\r\n\r\n/, $all // '', 2;
like($head // '', qr/^HTTP\/1\.1 200 /, 'the server still answers');
is(length($body // ''), 4 * 1024 * 1024, 'in full');
$t->stop;

my $log = $t->error_log;
unlike($log, qr/\[crit\]/, 'no [crit] for a client gone after close_notify');
like($log, qr/\[info\] .*SSL_write\(\) failed \((?:32|104): /, 'the failed write logged at info with its errno');
$t->done_testing;
