# Upgrade through the proxy (WebSocket): a 101 answer to a request that carried Upgrade
# turns both connections into a tunnel.  A scripted WebSocket origin (handshake with
# Sec-WebSocket-Accept, then frames) echoes text, binary, ping (as pong) and close; 10,000
# small frames both ways and one 16 MiB frame come back byte-exact; bytes pipelined behind
# the request go through; an idle tunnel is closed after proxy_read_timeout; either side
# closing closes the other; the access log says 101.  Validated against Debian's nginx 1.22
# (SLUICE_BINARY=/usr/sbin/nginx passes).  A 101 to a request without Upgrade is relayed as
# nginx 1.22 relays it: a bodiless answer ("Connection: upgrade" included), the client's
# connection kept for the next request.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(sha1);
use IO::Select;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use POSIX ();
use Time::HiRes qw(sleep time);
use Sluice;
use Origin;

my $t = Sluice->new;
my $origin_port = $t->port(2);
my $events = $t->prefix . '/origin.events';
my $GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

# --- frames (RFC 6455 §5.2): clients mask, servers do not ---
sub frame {
    my ($op, $payload, $mask) = @_;
    my $len = length $payload;
    my $m = $mask ? 0x80 : 0;
    my $h = chr(0x80 | $op);
    $h .= $len < 126 ? chr($m | $len)
        : $len < 65536 ? chr($m | 126) . pack('n', $len)
        : chr($m | 127) . pack('Q>', $len);
    return $h . $payload unless $mask;
    my $key = pack('N', int(rand(2**32)));
    return $h . $key . ($payload ^ substr($key x (int($len / 4) + 1), 0, $len));
}

# One frame off the front of $$buf: (opcode, payload), or () when it is not all there.
sub take_frame {
    my ($buf) = @_;
    return () if length $$buf < 2;
    my ($b0, $b1) = unpack('CC', $$buf);
    my ($len, $off) = ($b1 & 0x7f, 2);
    if ($len == 126) { return () if length $$buf < 4; $len = unpack('n', substr($$buf, 2, 2)); $off = 4; }
    elsif ($len == 127) { return () if length $$buf < 10; $len = unpack('Q>', substr($$buf, 2, 8)); $off = 10; }
    my $key;
    if ($b1 & 0x80) { return () if length $$buf < $off + 4; $key = substr($$buf, $off, 4); $off += 4; }
    return () if length $$buf < $off + $len;
    my $payload = substr($$buf, $off, $len);
    substr($$buf, 0, $off + $len, '');
    $payload ^= substr($key x (int($len / 4) + 1), 0, $len) if defined $key;
    return ($b0 & 0x0f, $payload);
}

sub accept_key { encode_base64(sha1($_[0] . $GUID), '') }

# --- the origin: a child per connection; the path chooses what it does after the 101 ---
sub origin_note { open(my $fh, '>>', $events) or return; print $fh "@_\n"; close $fh; }

sub origin_conn {
    my ($c) = @_;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) { sysread($c, $buf, 65536, length $buf) or return; }
    my ($head) = $buf =~ /^(.*?\r\n\r\n)/s;
    substr($buf, 0, length $head, '');
    my ($path) = $head =~ m{^\S+ (\S+)};
    my ($name) = $path =~ m{/(\w+)$};
    my ($key) = $head =~ /\r\nSec-WebSocket-Key: (\S+)\r\n/i;
    origin_note("request $name", ($head =~ /\r\nUpgrade: websocket\r\n/i ? 'upgrade' : 'plain'),
         ($head =~ /\r\nConnection: upgrade\r\n/i ? 'conn-upgrade' : 'conn-other'));
    if ($name eq 'plain101') {
        Origin::write_all($c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        sleep 2;
        return;
    }
    Origin::write_all($c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Accept: " . accept_key($key // '') . "\r\nX-Origin: ws\r\n\r\n");
    if ($name eq 'bye') {
        Origin::write_all($c, frame(1, 'bye'));
        origin_note("closed $name");
        return;
    }
    if ($name eq 'hello') {
        Origin::write_all($c, frame(1, 'hello from origin'));
    }
    # echo until the peer closes: text and binary back, ping as pong, close answered
    while (1) {
        while (my ($op, $payload) = take_frame(\$buf)) {
            if ($op == 9) { Origin::write_all($c, frame(10, $payload)); }
            elsif ($op == 8) { Origin::write_all($c, frame(8, $payload)); origin_note("closed $name"); return; }
            else {
                origin_note("got $name $payload") if $name eq 'half';
                Origin::write_all($c, frame($op, $payload)) or return;
            }
        }
        my $n = sysread($c, $buf, 1 << 20, length $buf);
        if (!$n) { origin_note("eof $name"); return; }
    }
}

Origin::scripted(port => $origin_port, lifetime => 60, handler => \&origin_conn);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 128; }
http {
    access_log off;
    log_format ws '\$request_uri|\$status|\$upstream_status';
    server {
        listen 127.0.0.1:%%PORT_1%%;
        access_log logs/ws.log ws;
        location /ws/ {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
        }
        location /idle/ {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1s;
        }
        location = /ping { return 200 "pong\n"; }
        location /small/ {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_buffer_size 1k;
        }
    }
}
EOF
$t->start;
my $port = $t->port(1);

sub events_of { my $n = shift; open(my $fh, '<', $events) or return (); grep { /\b$n$/ || /\b$n / } <$fh>; }
sub origin_saw { my ($what) = @_; $t->wait_for(sub { -e $events && `cat $events` =~ /^\Q$what\E$/m }, 10) }

# Opens a tunnel: the handshake (and $extra bytes pipelined behind it); returns the socket,
# the response header and what came after it.
sub handshake {
    my ($path, %opt) = @_;
    my $s = $t->connect($port) or die "connect: $!";
    my $key = encode_base64(join('', map { chr(int rand 256) } 1 .. 16), '');
    my $req = "GET $path HTTP/1.1\r\nHost: ws.test\r\n"
        . ($opt{no_upgrade} ? '' : "Upgrade: websocket\r\nConnection: Upgrade\r\n")
        . "Sec-WebSocket-Key: $key\r\nSec-WebSocket-Version: 13\r\n\r\n" . ($opt{extra} // '');
    print $s $req;
    my $buf = '';
    my $sel = IO::Select->new($s);
    my $deadline = time + 10;
    while ($buf !~ /\r\n\r\n/ && time < $deadline) {
        last unless $sel->can_read($deadline - time);
        sysread($s, $buf, 65536, length $buf) or last;
    }
    my ($head) = $buf =~ /^(.*?\r\n\r\n)/s;
    $head //= $buf;
    substr($buf, 0, length $head, '');
    return ($s, $head, $buf, accept_key($key));
}

# Writes $out and reads until $want bytes came (or EOF, or the bound); what came.
sub pump {
    my ($s, $out, $want, $in) = @_;
    $in //= '';
    $s->blocking(0);
    my $sel = IO::Select->new($s);
    my $deadline = time + 60;
    while (length $in < $want && time < $deadline) {
        my ($r, $w) = IO::Select->select($sel, length $out ? $sel : undef, undef, 1);
        if ($w && @$w) {
            my $n = syswrite($s, $out, 1 << 16);
            substr($out, 0, $n, '') if $n;
        }
        if ($r && @$r) {
            my $n = sysread($s, $in, 1 << 20, length $in);
            last if defined $n && $n == 0;
        }
    }
    $s->blocking(1);
    return $in;
}

# --- the handshake ---
my ($s, $head, $rest, $accept) = handshake('/ws/hello');
like($head, qr{^HTTP/1\.1 101 Switching Protocols\r\n}, '101 passed to the client');
like($head, qr{\r\nUpgrade: websocket\r\n}, 'Upgrade kept in the 101');
like($head, qr{\r\nConnection: upgrade\r\n}, 'Connection: upgrade in the 101');
like($head, qr{\r\nSec-WebSocket-Accept: \Q$accept\E\r\n}, 'the origin\'s Sec-WebSocket-Accept passed');
like($head, qr{\r\nX-Origin: ws\r\n}, 'other upstream headers passed');
unlike($head, qr{Content-Length|Transfer-Encoding|Connection: close|Connection: keep-alive}i, 'no framing headers');
ok(origin_saw('request hello upgrade conn-upgrade'), 'Upgrade and Connection: upgrade sent upstream');

# --- frames: what the origin sent with its 101, text, binary, ping, close ---
my $in = pump($s, '', length(frame(1, 'hello from origin')), $rest);
is($in, frame(1, 'hello from origin'), 'origin frame sent right behind the 101');
is(pump($s, frame(1, 'héllo', 1), 8), frame(1, 'héllo'), 'text frame echoed');
my $bin = join('', map { chr } 0 .. 255);
is(pump($s, frame(2, $bin, 1), 260), frame(2, $bin), 'binary frame echoed');
is(pump($s, frame(9, 'p1', 1), 4), frame(10, 'p1'), 'ping answered with pong');
my ($data, $eof) = (pump($s, frame(8, pack('n', 1000), 1), 4), 0);
is($data, frame(8, pack('n', 1000)), 'close answered');
($data, $eof) = $t->read_all($s, 10);
ok($eof && $data eq '', 'the origin\'s close closes the client connection');
close $s;
ok(origin_saw('closed hello'), 'origin ended the session');

# --- bytes pipelined behind the request go through the tunnel ---
($s, $head, $rest) = handshake('/ws/pipelined', extra => frame(1, 'early', 1) . frame(9, 'x', 1));
like($head, qr{^HTTP/1\.1 101 }, 'pipelined: 101');
is(pump($s, '', 10, $rest), frame(1, 'early') . frame(10, 'x'), 'frames sent with the request echoed');
close $s;
ok(origin_saw('eof pipelined'), 'client close: the origin sees EOF');

# --- 10,000 small frames both ways, byte-exact; with a 1k proxy_buffer_size too ---
for my $loc ('/ws/many', '/small/many') {
    ($s, $head, $rest) = handshake($loc);
    like($head, qr{^HTTP/1\.1 101 }, "$loc: 101");
    my ($out, $want) = ('', '');
    for my $i (1 .. 10000) {
        my $p = sprintf('frame %05d %s', $i, 'x' x ($i % 50));
        $out .= frame($i % 2 ? 1 : 2, $p, 1);
        $want .= frame($i % 2 ? 1 : 2, $p);
    }
    my $got = pump($s, $out, length $want, $rest);
    ok($got eq $want, "$loc: 10,000 frames echoed byte-exact") or diag(length($got) . ' of ' . length($want) . ' bytes');
    close $s;
}

# --- one 16 MiB frame unchanged ---
($s, $head, $rest) = handshake('/ws/big');
my $big = join('', map { pack('N', $_) } 0 .. (4 << 20) - 1);
my $want = frame(2, $big);
my $got = pump($s, frame(2, $big, 1), length $want, $rest);
ok($got eq $want, '16 MiB frame echoed unchanged') or diag(length($got) . ' of ' . length($want) . ' bytes');
close $s;
undef $big; undef $want; undef $got;

# --- an idle tunnel is closed after proxy_read_timeout ---
($s, $head, $rest) = handshake('/idle/quiet');
like($head, qr{^HTTP/1\.1 101 }, 'idle: 101');
($data, $eof) = $t->read_all($s, 15);
ok($eof, 'idle tunnel closed by the proxy');
close $s;
ok(origin_saw('eof quiet'), 'idle: the upstream connection closed too');
like($t->error_log, qr{upstream timed out \(110: Connection timed out\) while proxying upgraded connection, client: 127\.0\.0\.1, server: , request: "GET /idle/quiet HTTP/1\.1", upstream: "http://127\.0\.0\.1:$origin_port/idle/quiet", host: "ws\.test"},
     'idle timeout logged as nginx');

# --- the client half-closing: what it sent still reaches the origin, then both close (no
# half-close is passed on) ---
($s, $head, $rest) = handshake('/ws/half');
like($head, qr{^HTTP/1\.1 101 }, 'half-close: 101');
print $s frame(1, 'last words', 1);
shutdown($s, 1);
($data, $eof) = $t->read_all($s, 10);
ok($eof, 'half-close: the client connection closed');
close $s;
ok(origin_saw('got half last words'), 'half-close: the client\'s last frame delivered');
ok(origin_saw('eof half'), 'half-close: the upstream connection closed');

# --- the origin closing: what it sent still arrives, then the client's connection closes ---
($s, $head, $rest) = handshake('/ws/bye');
($data, $eof) = $t->read_all($s, 10);
is($rest . $data, frame(1, 'bye'), 'origin close: its last frame delivered');
ok($eof, 'origin close: the client connection closed');
close $s;

# --- a 101 to a request without Upgrade: 502 (nginx: the 101 relayed), the connection kept ---
my $nginx = $t->binary =~ m{/nginx$};
($s, $head, $rest) = handshake('/ws/plain101', no_upgrade => 1);
print $s "GET /ping HTTP/1.1\r\nHost: ws.test\r\nConnection: close\r\n\r\n";
($data) = $t->read_all($s, 10);
like($head, qr{^HTTP/1\.1 101 Switching Protocols\r\n.*\r\nConnection: upgrade\r\n}s, '101 without Upgrade relayed');
like($rest . $data, qr{HTTP/1\.1 200 OK\r\n.*\r\n\r\npong\n$}s, 'the client connection serves the next request');
close $s;

# --- the access log: 101 for the tunnels, written when they end ---
my %log;
$t->wait_for(sub {
    %log = map { my @f = split /\|/; ($f[0] => "$f[1]|$f[2]") } split /\n/, ($t->read_file('logs/ws.log') // '');
    keys %log >= 10;
}, 10);
is($log{'/ws/hello'}, '101|101', 'access log: 101');
is($log{'/idle/quiet'}, '101|101', 'access log after the idle timeout: 101');
is($log{'/ws/big'}, '101|101', 'access log of the 16 MiB tunnel: 101');
is($log{'/ws/plain101'}, '101|101', 'access log of the 101 without Upgrade');

# --- a graceful stop waits for an open tunnel, which keeps working until it ends (as an
# nginx 1.22 worker does, checked by hand with master_process on; nginx with master_process
# off exits at once on QUIT, so this part is not run against it) ---
$t->check_fds;
$t->done_testing if $nginx;
exit 0 if $nginx;
($s, $head, $rest) = handshake('/ws/stopping');
like($head, qr{^HTTP/1\.1 101 }, 'stop: 101');
$t->signal('QUIT');
sleep 0.5;
is(pump($s, frame(1, 'still there', 1), 13, $rest), frame(1, 'still there'), 'stop: the tunnel still relays');
close $s;
ok(defined $t->wait_exit(10), 'stop: the process exits once the tunnel is closed');

$t->done_testing;
