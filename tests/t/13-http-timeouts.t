# Timers and connection ends of the HTTP core: keepalive_timeout, client_header_timeout
# (with and without reset_timedout_connection), lingering close after an error, graceful
# stop with a keepalive connection, and error_log at the location level.
use strict;
use warnings;
use Test::More;
use Errno qw(ECONNRESET);
use Sluice;

my $t = Sluice->new;
$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    keepalive_timeout 1s;
    client_header_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / { return 200 "ok\n"; }
        location /big { root html; send_timeout 1s; }
        location /quiet { error_log logs/quiet.log info; client_max_body_size 1; return 200 "q\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        reset_timedout_connection on;
        location / { return 200 "ok\n"; }
    }
}
EOF
# a file bigger than what the socket buffers hold, so a client that does not read
# stops the server's writes
$t->write_file('html/big/file', 'z' x (32 * 1024 * 1024));
$t->start;
my ($p1, $p2) = ($t->port(1), $t->port(2));

# Reads one response (up to its Content-Length) without waiting for EOF.
sub read_response {
    my ($s) = @_;
    my $buf = '';
    my $deadline = time + 10;
    while (time < $deadline) {
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
        if ($buf =~ /\r\n\r\n/ && $buf =~ /Content-Length: (\d+)/) {
            my ($head, $body) = split /\r\n\r\n/, $buf, 2;
            last if length($body) >= $1;
        }
    }
    return $buf;
}

{
    my $s = $t->connect($p1);
    print $s "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    like(read_response($s), qr{Connection: keep-alive}, 'kept alive');
    my ($rest, $eof) = $t->read_all($s, 10);
    is($rest, '', 'nothing more is sent');
    ok($eof, 'keepalive_timeout closes the idle connection');
}
{
    my $s = $t->connect($p1);
    print $s "GET / HTTP/1.1\r\nHo";
    my ($got, $eof) = $t->read_all($s, 10);
    is($got, '', 'client_header_timeout mid-header: no response (nginx sends none)');
    ok($eof, 'and the connection is closed');
    like($t->error_log, qr{client timed out \(110: Connection timed out\) while reading client request headers}, 'timeout logged with its action');
}
{
    my $s = $t->connect($p2);
    print $s "GET / HTTP/1.1\r\nHo";
    my $deadline = time + 10;
    my ($n, $err);
    while (time < $deadline) {
        $n = sysread($s, my $buf, 100);
        $err = $! + 0;
        last if defined $n;
        last if $err && $err != Errno::EAGAIN() && $err != Errno::EINTR();
    }
    ok(!defined $n && $err == ECONNRESET, 'reset_timedout_connection: the client sees a reset');
}
{
    # an error with more bytes behind it: the response is read in full before the close
    my $s = $t->connect($p1);
    print $s "GET / HTTP/2.0\r\nHost: a\r\n\r\n" . ("x" x 20000);
    my ($all, $eof) = $t->read_all($s, 10);
    like($all, qr{^HTTP/1\.1 505 .*</html>\r\n$}s, 'lingering close: the whole 505 page arrives');
    ok($eof, 'then the connection closes');
}
{
    my $s = $t->connect($p1);
    print $s "POST /quiet HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    my ($all) = $t->read_all($s, 10);
    like($all, qr{^HTTP/1\.1 413 }, '413 in the location with its own error_log');
    like($t->read_file('logs/quiet.log') // '', qr{\[error\] .*client intended to send too large body: 5 bytes}, 'logged to the location\'s error_log');
    unlike($t->error_log, qr{too large body}, 'and not to the main one');
}
{
    my $s = $t->connect($p1);
    print $s "GET /big/file HTTP/1.1\r\nHost: a\r\n\r\n";
    ok($t->wait_for(sub { $t->error_log =~ /client timed out \(110: Connection timed out\) while sending response to client/ }, 15),
        'send_timeout: a client that stops reading is timed out, with nginx\'s words');
    my ($got, $eof) = $t->read_all($s, 15);
    ok(length($got) < 32 * 1024 * 1024, 'the response was cut');
    ok($eof, 'and the connection closed');
}
{
    # graceful stop with an idle keepalive connection: it is closed, the process exits 0
    my $s = $t->connect($p1);
    print $s "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    like(read_response($s), qr{keep-alive}, 'an idle keepalive connection');
    is($t->stop(fd_check => 0), 0, 'QUIT with an idle keepalive connection: exit 0');
    my ($rest, $eof) = $t->read_all($s, 10);
    ok($eof, 'the idle connection was closed');
}
$t->done_testing;
