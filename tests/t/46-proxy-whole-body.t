# Buffered responses whose whole body arrives with the header (the common small answer):
# sluice sends them without an event pipe, in one pass of the body filters.  Checked through
# a keepalive upstream that writes each answer in one piece:
# - bodies of 5 bytes, 0 bytes (Content-Length: 0, a 204) and ~3 KB arrive whole, with their
#   $upstream_response_length, $upstream_bytes_received and $body_bytes_sent, and all of them
#   share one upstream connection;
# - HTTP/1.1 clients keep their connection; two pipelined requests are both answered;
# - limit_rate still paces such a body (writer after the last buffer), and the body arrives;
# - bytes past Content-Length in the same packet: the pipe's rule still holds (a warning, the
#   body cut to its length, the upstream connection not reused);
# - a chunked answer that came whole still goes through the pipe.
#
# Validated against Debian's nginx 1.22.1: same bytes, log lines and upstream connection
# counts.  To rerun: SLUICE_BINARY=/usr/sbin/nginx prove -v -I tests/t/lib tests/t/46-proxy-whole-body.t
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $events = $t->prefix . '/origin.events';
my $big = join('', map { sprintf "%07d\n", $_ } 1 .. 375);    # 3000 bytes
my %script = (
    '/small' => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-O: s\r\n\r\nhello",
    '/empty' => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    '/nc'    => "HTTP/1.1 204 No Content\r\nX-O: n\r\n\r\n",
    '/big'   => "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n$big",
    '/extra' => "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef",
    '/chunk' => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
);
sub event {
    open(my $fh, '>>', $events) or return;
    print $fh "@_\n";
    close $fh;
}

# Keepalive: each request on the connection gets its scripted answer in one write.
my $origin_pid = Origin::scripted(port => $origin_port, lifetime => 30, handler => sub {
    my ($c, $n) = @_;
    my $buf = '';
    while (1) {
        while ($buf !~ /\r\n\r\n/) { sysread($c, $buf, 65536, length $buf) or return; }
        $buf =~ s/^(.*?)\r\n\r\n//s;
        my ($path) = $1 =~ m{^\S+ (\S+)};
        event("req $n $path");
        syswrite($c, $script{$path} // "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
});
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format w '\$uri|\$status|\$upstream_response_length|\$upstream_bytes_received|\$body_bytes_sent';
    access_log logs/w.log w;
    upstream o { server 127.0.0.1:$origin_port; keepalive 4; }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location / { proxy_pass http://o; }
        location /slow/ { limit_rate 1k; proxy_pass http://o/; }
    }
}
EOF
$t->start;

# upstream connections that carried a request (the start-up probe carried none)
sub accepts {
    my %conn = map { /^req (\d+) / ? ($1 => 1) : () } split /\n/, ($t->read_file('origin.events') // '');
    return scalar keys %conn;
}
sub get {
    my $r = $t->http($port, "GET $_[0] HTTP/1.0\r\nHost: x\r\n\r\n") // '';
    $r =~ s/^(Date|Server): [^\r]*\r\n//mg;
    return $r;
}

is(get('/small'), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
   . "Connection: close\r\nX-O: s\r\n\r\nhello", 'a 5-byte body');
is(get('/empty'), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
   . "Connection: close\r\n\r\n", 'Content-Length: 0');
is(get('/nc'), "HTTP/1.1 204 No Content\r\nConnection: close\r\nX-O: n\r\n\r\n", 'a 204');
my ($st, $h, $body) = Origin::parse_response(get('/big'));
ok($st eq '200' && $body eq $big, 'a 3000-byte body in the header buffer');
is(accepts(), 1, 'all four on one upstream connection');

# --- an HTTP/1.1 client keeps its connection; pipelined requests are both answered ---
{
    my $s = $t->connect($port);
    print $s "GET /small HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    my ($raw, $eof) = $t->read_all($s);
    close $s;
    my @parts = split /(?=HTTP\/1\.1 )/, $raw;
    is(scalar @parts, 2, 'pipelined: two responses');
    like($parts[0] // '', qr/\r\nConnection: keep-alive\r\n.*\r\n\r\nhello\z/s,
         'pipelined: the first, the connection kept');
    ok(($parts[1] // '') =~ /\r\n\r\n\Q$big\E\z/, 'pipelined: the second, whole');
    ok($eof, 'pipelined: closed after the second (Connection: close)');
}

# --- limit_rate paces a body that came whole ---
{
    my $t0 = time;
    my ($st, undef, $body) = Origin::parse_response(get('/slow/big'));
    my $took = time - $t0;
    ok($st eq '200' && $body eq $big, 'limit_rate 1k: the whole body');
    cmp_ok($took, '>', 1, 'limit_rate 1k: 3000 bytes take more than a second');
}
is(accepts(), 1, 'still one upstream connection');

# --- bytes after the body: cut, warned about, the connection not kept ---
is(get('/extra'), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
   . "Connection: close\r\n\r\nabc", 'bytes past Content-Length: the body cut to its length');
like($t->error_log, qr/upstream sent more data than specified in "Content-Length" header/,
     'bytes past Content-Length: warned about');
is(get('/small'), get('/small'), 'answers after it');
is(accepts(), 2, 'bytes past Content-Length: that connection was not kept');

# --- a chunked answer that came whole ---
is(get('/chunk'), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabcde",
   'a chunked answer, decoded');
is(accepts(), 2, 'and its connection kept');

Origin::stop_scripted($origin_pid);    # the kept connection closes: no descriptor left
$t->stop;
my @log = split /\n/, $t->read_file('logs/w.log');
my $hs = length("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-O: s\r\n\r\n");
is_deeply([@log[0 .. 3]], [
    "/small|200|5|" . ($hs + 5) . "|5",
    "/empty|200|0|" . length($script{'/empty'}) . "|0",
    "/nc|204|0|" . length($script{'/nc'}) . "|0",
    "/big|200|3000|" . length($script{'/big'}) . "|3000",
], 'access log: the upstream and client byte counts');
$t->done_testing;
