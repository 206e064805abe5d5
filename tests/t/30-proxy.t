# proxy_pass through real sockets against a scripted origin on loopback: the request
# sent upstream (uri rules, headers, body from memory and from a temp file), response
# framings (Content-Length, chunked, close-delimited), truncation seen by the client,
# strict response header checks (502), timeouts (504), refused connections (502), and the
# unbuffered path streaming each piece as it comes.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX ();
use Sluice;
use Origin;

my $t = Sluice->new;
my $origin_port = $t->port(2);
my $dead_port = $t->port(3);
my $signal = $t->prefix . '/drip-go';

# --- the scripted origin: one child per connection, behaviour chosen by the path ---
our $BIG = join('', map { sprintf("%07d\n", $_) } 1 .. 250000);
my %script = (
    '/cl'        => sub { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Origin: yes\r\n\r\nhello" },
    '/chunked'   => sub { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n" },
    '/close'     => sub { "HTTP/1.0 200 OK\r\n\r\nuntil close" },
    '/short'     => sub { "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello" },
    '/nolast'    => sub { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" },
    '/extra'     => sub { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokSMUGGLED" },
    '/extra0'    => sub { "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nSMUGGLED" },
    '/chunkjunk' => sub { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nSMUGGLED" },
    '/garbage'   => sub { "garbage\r\n\r\n" },
    '/clte'      => sub { "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
    '/twocl'     => sub { "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc" },
    '/badname'   => sub { "HTTP/1.1 200 OK\r\nX-Ok: 1\r\nX-Bad\x01: 2\r\nContent-Length: 1\r\n\r\nx" },
    '/te'        => sub { "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nx" },
    '/bigheader' => sub { "HTTP/1.1 200 OK\r\nX-Big: " . ('b' x 10000) . "\r\nContent-Length: 1\r\n\r\nx" },
    '/interim'   => sub { "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" },
    # what an interim response says of framing is not the final response's
    '/interim-framed' => sub { "HTTP/1.1 103 Early Hints\r\nContent-Length: 9\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc" },
    '/status'    => sub { "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope" },
    '/head'      => sub { "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" },
    '/huge'      => sub { "HTTP/1.1 200 OK\r\nContent-Length: " . length(huge()) . "\r\n\r\n" . huge() },
    '/xaccel'    => sub { "HTTP/1.1 200 OK\r\nX-Pad: x\r\nX-Secret: s\r\nX-Keep: k\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nServer: origin/1\r\nX-Accel-Limit-Rate: 100000\r\nContent-Length: 2\r\n\r\nok" },
    # made before the origin starts, so that a loaded machine does not hit proxy_read_timeout
    '/big'       => sub { "HTTP/1.1 200 OK\r\nContent-Length: " . length($BIG) . "\r\n\r\n$BIG" },
);

# 24 MB that no loopback socket buffer holds, different in every 8 bytes
my $huge;
sub huge { $huge //= join('', map { sprintf("%07d\n", $_) } 1 .. 3_000_000); $huge }

Origin::scripted(port => $origin_port, lifetime => 30, handler => sub {
    my ($c) = @_;
    my $req = Origin::read_head($c);
    my $hello_signal = $signal . '-hello';
    if ($req =~ m{^\S+ /noread}) { sleep 20; POSIX::_exit(0); }
    if ($req =~ /Content-Length: (\d+)/i) {
        my ($head, $body) = split /\r\n\r\n/, $req, 2;
        while (length($body) < $1) { sysread($c, $body, 65536, length $body) or last; }
        $req = "$head\r\n\r\n$body";
    } elsif ($req =~ /Transfer-Encoding: chunked/i) {
        my ($head, $body) = split /\r\n\r\n/, $req, 2;
        while ($body !~ /(^|\r\n)0\r\n\r\n$/) {
            if ($body =~ /hello/ && !-e $hello_signal) { open(my $fh, '>', $hello_signal); close $fh; }
            sysread($c, $body, 65536, length $body) or last;
        }
        $req = "$head\r\n\r\n$body";
    }
    my ($path) = $req =~ m{^\S+ (\S+)};
    (my $p = $path) =~ s/\?.*//;
    if ($p eq '/peer') {
        my $peer = $c->peerhost;
        print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($peer) . "\r\n\r\n$peer";
    } elsif ($p =~ m{^/echo}) {
        print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($req) . "\r\n\r\n$req";
    } elsif ($p =~ m{^/split-chunked([12])$}) {
        # a chunked body cut inside its size lines, data and CRLFs; the connection stays
        # open, so only the framing can say where the body ends
        my @parts = $1 == 1
            ? ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5", "\r", "\nhel", "lo\r\n1",
               "0;a", "=b\r\n0123456789abcdef\r", "\n0\r", "\n\r\n")
            : ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5", "\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
        for my $part (@parts) {
            syswrite($c, $part);
            select(undef, undef, undef, 0.03);
        }
        sleep 5;
    } elsif ($p eq '/stall') {
        # the header and 7 of the 100 body bytes, then nothing
        syswrite($c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n1234567");
        sleep 5;
    } elsif ($p eq '/slow') {
        sleep 20;
    } elsif ($p eq '/drip' || $p eq '/xdrip') {
        my $xa = $p eq '/xdrip' ? "X-Accel-Buffering: no\r\n" : '';
        syswrite($c, "HTTP/1.1 200 OK\r\n${xa}Transfer-Encoding: chunked\r\n\r\n6\r\npiece1\r\n");
        for (1 .. 200) { last if -e $signal; select(undef, undef, undef, 0.05); }
        syswrite($c, "6\r\npiece2\r\n0\r\n\r\n");
    } elsif ($script{$p}) {
        my $out = $script{$p}->();
        while (length $out) { my $n = syswrite($c, $out) or last; substr($out, 0, $n, ''); }
    }
});
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 128; }
http {
    access_log off;
    client_body_buffer_size 1k;
    client_body_temp_path %%PREFIX%%/client_temp;
    log_format up '\$upstream_addr|\$upstream_status|\$upstream_response_length|\$upstream_http_x_origin|\$proxy_host|\$proxy_port|\$proxy_add_x_forwarded_for|\$upstream_bytes_received';
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /hide/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_hide_header X-Secret; proxy_pass_header Date; proxy_pass_header Server; }
        location /method { proxy_pass http://127.0.0.1:$origin_port/echo; proxy_method PUT; }
        location /setbody { proxy_pass http://127.0.0.1:$origin_port/echo; proxy_set_body "b=\$arg_x"; }
        location /bind/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_bind 127.0.0.2; proxy_socket_keepalive on; }
        location /ica/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_ignore_client_abort on; proxy_buffers 4 4k; proxy_max_temp_file_size 0; access_log logs/ica.log up; }
        location /abort/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_buffers 4 4k; proxy_max_temp_file_size 0; access_log logs/abort.log up; }
        location /noread { proxy_pass http://127.0.0.1:$origin_port; proxy_send_timeout 1s; client_max_body_size 0; }
        location /bodylimits { proxy_pass http://127.0.0.1:$origin_port/echo; client_body_timeout 1s; client_max_body_size 100; }
        location /streamed/ { proxy_pass http://127.0.0.1:$origin_port/echo/; proxy_request_buffering off; proxy_http_version 1.1; }
        location /logged/ { proxy_pass http://127.0.0.1:$origin_port/; access_log logs/up.log up; }
        location /xff { proxy_pass http://127.0.0.1:$origin_port/echo; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; }
        location / { proxy_pass http://127.0.0.1:$origin_port; proxy_read_timeout 1s; }
        location /prefix/ { proxy_pass http://127.0.0.1:$origin_port/echo/; }
        location /set { proxy_pass http://127.0.0.1:$origin_port/echo; proxy_set_header X-Set "v \$request_method"; proxy_set_header User-Agent ""; }
        location /v11 { proxy_pass http://127.0.0.1:$origin_port/echo; proxy_http_version 1.1; }
        location /nohdr { proxy_pass http://127.0.0.1:$origin_port/echo; proxy_pass_request_headers off; }
        location /dead { proxy_pass http://127.0.0.1:$dead_port; }
        location /drip { proxy_pass http://127.0.0.1:$origin_port; proxy_buffering off; }
        location /unbuffered/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_buffering off; }
        location /spill/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_buffers 4 4k; proxy_busy_buffers_size 8k; proxy_temp_path %%PREFIX%%/proxy_temp; }
        location /nospill/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_buffers 4 4k; proxy_busy_buffers_size 8k; proxy_max_temp_file_size 0; proxy_temp_path %%PREFIX%%/proxy_temp; }
        location /small/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_buffer_size 1k; }
    }
}
EOF
$t->temp_paths($t->prefix . '/client_temp', $t->prefix . '/proxy_temp');
$t->start;
my $port = $t->port(1);

sub req { my ($raw) = @_; return scalar $t->http($port, $raw); }
sub get { my ($path, @h) = @_; return req("GET $path HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n" . join('', map { "$_\r\n" } @h) . "\r\n"); }
sub status_of { $_[0] =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 'none' }
sub body_of { my (undef, $b) = split /\r\n\r\n/, $_[0], 2; $b }

# --- framings ---
my $r = get('/cl');
is(status_of($r), 200, 'Content-Length response');
is(body_of($r), 'hello', 'body');
like($r, qr{\r\nContent-Length: 5\r\n}, 'length passed on');
like($r, qr{\r\nX-Origin: yes\r\n}, 'upstream header passed');
like($r, qr{\r\nServer: sluice}, 'Server is sluice\'s own');
is(body_of(get('/chunked')), "5\r\nhello\r\n0\r\n\r\n", 'chunked upstream: decoded and re-chunked for the client');
is(body_of(req("GET /chunked HTTP/1.0\r\n\r\n")), 'hello', 'chunked upstream to an HTTP/1.0 client: close-delimited');
is(body_of(get('/close')), "b\r\nuntil close\r\n0\r\n\r\n", 'close-delimited upstream');
is(body_of(get('/extra')), 'ok', 'bytes beyond Content-Length are not forwarded');
# each cut is warned of, buffered or not, as nginx does
for my $case ('/extra', '/unbuffered/extra', '/extra0', '/unbuffered/extra0', '/chunkjunk', '/unbuffered/chunkjunk') {
    my $r = get($case);
    unlike($r, qr/SMUGGLED/, "$case: the bytes past the body are not forwarded");
    my $what = $case =~ /chunk/ ? 'upstream sent data after final chunk'
             : 'upstream sent more data than specified in "Content-Length" header';
    like($t->error_log, qr{\[warn\] .*\Q$what\E while [^,]*, client: 127\.0\.0\.1, server: , request: "GET \Q$case\E HTTP/1\.1"},
         "$case: warned as nginx");
}
is(status_of(get('/status')), 404, 'upstream status passed on');
is(body_of(get('/interim')), 'ok', '1xx interim response skipped');
{
    my $r = get('/interim-framed');
    like($r, qr{^HTTP/1\.1 200 }, '1xx with a Content-Length, then 200: the 200 counts');
    is(body_of($r), 'abc', '... framed by its own Content-Length');
}
$r = req("HEAD /head HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
is(status_of($r), 200, 'HEAD');
is(body_of($r), '', 'HEAD: no body waited for');

# --- truncation is visible ---
$r = get('/short');
like($r, qr{Content-Length: 10\r\n.*\r\n\r\nhello$}s, 'short body: the client gets fewer bytes than announced');
$r = get('/nolast');
like($r, qr{\r\n\r\n5\r\nhello\r\n$}, 'chunked without the last chunk: no terminating chunk to the client');
like($t->error_log, qr{upstream prematurely closed connection}, 'truncation logged');

# --- a chunked body in pieces, from an upstream that keeps its connection ---
sub dechunk {
    my ($body) = @_;
    my $out = '';
    while ($body =~ s/^([0-9a-f]+)[^\r]*\r\n//i) {
        my $n = hex $1;
        last if $n == 0;
        $out .= substr($body, 0, $n, '');
        $body =~ s/^\r\n// or return "bad framing: $out";
    }
    return $out;
}
for my $case (map { my $loc = $_; map { "$loc/split-chunked$_" } 1, 2 } '', '/unbuffered', '/spill', '/small') {
    my $s = $t->connect($port);
    print $s "GET $case HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    my ($all) = $t->read_all($s, 10);
    is(dechunk(body_of($all) // ''), 'hello0123456789abcdef', "chunked body cut anywhere ($case): decoded whole");
    like($all, qr{\r\n0\r\n\r\n$}, "chunked body cut anywhere ($case): ends with the last chunk");
}
unlike($t->error_log, qr{/split-chunked.*\n|upstream sent invalid chunked response}, 'chunked bodies in pieces: no timeout, no error');

# --- strict upstream headers: 502 ---
for my $case (qw(/garbage /clte /twocl /te /badname)) {
    is(status_of(get($case)), 502, "502 for $case");
}
like($t->error_log, qr{\[error\] .*upstream sent invalid header: "X-Bad\\x01\.\.\." while reading response header from upstream},
     'invalid header logged as nginx: the line up to the byte refused, and that byte');
is(status_of(get('/small/bigheader')), 502, 'header bigger than proxy_buffer_size: 502');
like($t->error_log, qr{upstream sent too big header}, 'too big header logged');
like($t->error_log, qr{upstream sent no valid HTTP/1\.0 header}, 'no status line logged');

# --- failures ---
$r = get('/dead');
is(status_of($r), 502, 'connection refused: 502');
like($t->error_log, qr{connect\(\) failed \(111: Connection refused\) while connecting to upstream, client: 127\.0\.0\.1, server: , request: "GET /dead HTTP/1\.1", upstream: "http://127\.0\.0\.1:$dead_port/dead", host: "front\.test"}, 'refused logged as nginx, word for word');
is(status_of(get('/slow')), 504, 'no answer within proxy_read_timeout: 504');
like($t->error_log, qr{upstream timed out \(110: Connection timed out\) while reading response header from upstream}, 'timeout logged as nginx');
{
    # a buffered body that stops coming: at proxy_read_timeout the held header still goes
    # out, then the connection closes (the client sees the truncation)
    my $s = $t->connect($port);
    print $s "GET /stall HTTP/1.1\r\nHost: a\r\n\r\n";
    my ($all) = $t->read_all($s, 10);
    like($all, qr{^HTTP/1\.1 200 OK\r\n.*Content-Length: 100\r\n}s, 'stalled body: the header reaches the client');
    like($t->error_log, qr{upstream timed out \(110: Connection timed out\) while reading upstream}, 'stalled body: timeout logged as nginx');
}

# --- the request upstream ---
$r = body_of(get('/prefix/a/b?x=1', 'X-Client: c', 'Connection: close, X-Hop', 'X-Hop: h', 'Keep-Alive: 5'));
like($r, qr{^GET /echo/a/b\?x=1 HTTP/1\.0\r\n}, 'location prefix replaced by the proxy_pass uri, args kept');
like($r, qr{\r\nHost: 127\.0\.0\.1:$origin_port\r\n}, 'Host: $proxy_host');
like($r, qr{\r\nConnection: close\r\n}, 'Connection: close');
like($r, qr{\r\nX-Client: c\r\n}, 'client header passed');
unlike($r, qr{X-Hop|Keep-Alive}, 'hop-by-hop headers (and those named in Connection) removed');
$r = body_of(get('/echo/plain/%41x?y', 'User-Agent: ua'));
like($r, qr{^GET /echo/plain/%41x\?y HTTP/1\.0\r\n}, 'without a uri in proxy_pass the client uri goes as it came');
$r = body_of(get('/set', 'User-Agent: ua', 'X-Set: client'));
like($r, qr{\r\nX-Set: v GET\r\n}, 'proxy_set_header with variables');
unlike($r, qr{X-Set: client|User-Agent}, 'set headers replace the client\'s; an empty value drops it');
# the names are compared whatever their case (through the lowercased copy)
$r = body_of(get('/set', 'user-AGENT: ua', 'x-SET: client', 'kEEP-aLIVE: 5', 'X-Stay: s'));
unlike($r, qr{client|(?i:user-agent|keep-alive)}, 'set and hop-by-hop names in other cases dropped too');
like($r, qr{\r\nX-Set: v GET\r\n.*\r\nX-Stay: s\r\n}s, 'and the others passed');
like(body_of(get('/v11')), qr{^GET /echo HTTP/1\.1\r\n}, 'proxy_http_version 1.1');
unlike(body_of(get('/nohdr', 'X-Client: c')), qr{X-Client}, 'proxy_pass_request_headers off');

# --- hidden and passed headers, X-Accel ---
$r = get('/xaccel');
unlike($r, qr{X-Pad|X-Accel|Thu, 01 Jan 2026|origin/1}, 'X-Pad, X-Accel-*, Date and Server of the upstream hidden by default');
like($r, qr{\r\nX-Secret: s\r\n}, 'other headers passed');
$r = get('/hide/xaccel');
unlike($r, qr{X-Secret}, 'proxy_hide_header');
like($r, qr{\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n}, 'proxy_pass_header Date: the upstream\'s date');
like($r, qr{\r\nServer: origin/1\r\n}, 'proxy_pass_header Server');
is(() = $r =~ /\r\nDate: /g, 1, 'only one Date');
{
    unlink $signal;
    my $s = $t->connect($port);
    print $s "GET /xdrip HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    my $got = '';
    for (1 .. 100) { last if $got =~ /piece1/; sysread($s, $got, 4096, length $got); }
    like($got, qr{piece1}, 'X-Accel-Buffering: no streams a buffered location');
    open(my $fh, '>', $signal); close $fh;
    my ($rest) = $t->read_all($s, 10);
    like($got . $rest, qr{piece2\r\n0\r\n\r\n$}, 'then the rest');
}

# --- variables ---
get('/logged/cl', 'X-Forwarded-For: 1.2.3.4');
get('/logged/status');
ok($t->wait_for(sub { ($t->read_file('logs/up.log') // '') =~ tr/\n// >= 2 }, 5), 'two log lines');
my @lines = split /\n/, $t->read_file('logs/up.log');
is($lines[0], "127.0.0.1:$origin_port|200|5|yes|127.0.0.1:$origin_port|$origin_port|1.2.3.4, 127.0.0.1|" . (length("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Origin: yes\r\n\r\n") + 5),
    '$upstream_addr, _status, _response_length, _http_NAME, $proxy_host, $proxy_port, $proxy_add_x_forwarded_for, _bytes_received');
like($lines[1], qr{^127\.0\.0\.1:$origin_port\|404\|4\|-\|}, 'upstream 404 logged with its length; absent header is "-"');
like(body_of(get('/xff', 'X-Forwarded-For: 9.9.9.9')), qr{\r\nX-Forwarded-For: 9\.9\.9\.9, 127\.0\.0\.1\r\n}, 'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for');

like(body_of(get('/method')), qr{^PUT /echo HTTP/1\.0\r\n}, 'proxy_method');
$r = body_of(req("POST /setbody?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 4\r\n\r\norig"));
like($r, qr{\r\nContent-Length: 3\r\n}, 'proxy_set_body: its own length');
like($r, qr{\r\n\r\nb=1$}, 'proxy_set_body with variables replaces the client body');
is(body_of(get('/bind/peer')), '127.0.0.2', 'proxy_bind: the upstream sees the local address');
is(body_of(get('/peer')), '127.0.0.1', 'without proxy_bind: the default address');

# --- request bodies ---
$r = req("POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello");
like(body_of($r), qr{\r\nContent-Length: 5\r\n(?:.*\r\n)?\r\nhello$}s, 'small body forwarded with its length');
my $big = join('', map { chr(65 + $_ % 26) } 1 .. 5000);
$r = req("POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $big, $big));
like(body_of($r), qr{\r\nContent-Length: 5000\r\n(?:.*\r\n)?\r\n\Q$big\E$}s, 'chunked body over client_body_buffer_size: spilled to a temp file, sent with a length');
like($t->error_log, qr{\[warn\] .*a client request body is buffered to a temporary file (?:in )?\S+/client_temp\S*, client: 127\.0\.0\.1, },
     'the spill is logged at warn, as nginx');
unlike(body_of($r), qr{Transfer-Encoding}i, 'one framing upstream: no Transfer-Encoding');
$r = req("POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\nbodyyy");
like($r, qr{^HTTP/1\.1 100 Continue\r\n\r\nHTTP/1\.1 200 }, '100 Continue when the body is read');

# --- proxy_send_timeout: an upstream that does not read the request ---
{
    my $body = 'q' x (16 * 1024 * 1024);
    my $s = $t->connect($port);
    print $s "POST /noread HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: " . length($body) . "\r\n\r\n";
    print $s $body;
    my ($all) = $t->read_all($s, 30);
    is(status_of($all), 504, 'proxy_send_timeout: 504');
    like($t->error_log, qr{upstream timed out \(110: Connection timed out\) while sending request to upstream}, 'logged as nginx');
}

# --- body limits while reading ---
$r = req("POST /bodylimits HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" . ("40\r\n" . ('z' x 64) . "\r\n") x 3 . "0\r\n\r\n");
is(status_of($r), 413, 'a chunked body over client_max_body_size: 413 while reading');
like($t->error_log, qr{client intended to send too large chunked body}, 'logged as nginx');
{
    my $s = $t->connect($port);
    print $s "POST /bodylimits HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\n\r\nonly part";
    my ($all, $eof) = $t->read_all($s, 15);
    is($all, '', 'client_body_timeout: closed without a response (nginx logs 408 and sends nothing)');
    ok($eof, 'the connection closes');
    like($t->error_log, qr{client timed out \(110: Connection timed out\)}, 'timeout logged');
}

# --- proxy_request_buffering off ---
{
    my $body = join('', map { chr(97 + $_ % 26) } 1 .. 50000);
    $r = body_of(req("POST /streamed/cl HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 50000\r\n\r\n$body"));
    like($r, qr{^POST /echo/cl HTTP/1\.1\r\n}, 'streamed: request line');
    like($r, qr{\r\nContent-Length: 50000\r\n}, 'streamed: a known length is kept');
    ok($r =~ /\r\n\r\n(.*)$/s && $1 eq $body, 'streamed: 50000 body bytes identical');
    unlink "$signal-hello";
    my $s = $t->connect($port);
    print $s "POST /streamed/ch HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    ok($t->wait_for(sub { -e "$signal-hello" }, 10), 'streamed: the upstream has the first chunk before the client sends the rest');
    print $s "3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n";
    my ($all) = $t->read_all($s, 10);
    like($all, qr{\r\nTransfer-Encoding: chunked\r\n}, 'streamed: an unknown length goes chunked to an HTTP/1.1 upstream');
    like($all, qr{\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n$}, 'streamed: re-framed cleanly (no extension, no trailer)');
    unlike(body_of($all), qr{Content-Length}i, 'one framing only: no Content-Length with the chunked body');
    # a body that came whole with the header is read as with buffering on (nginx)
    $r = body_of(req("POST /streamed/whole HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwhol\r\n1;x=y\r\ne\r\n0\r\n\r\n"));
    like($r, qr{\r\nContent-Length: 5\r\n\r\nwhole$}, 'streamed: a chunked body whole with the header goes with a Content-Length');
    unlike($r, qr{Transfer-Encoding}i, 'streamed: and without chunked framing');
}

# --- streaming (unbuffered) and a large body ---
{
    unlink $signal;
    my $s = $t->connect($port);
    print $s "GET /drip HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    my $got = '';
    for (1 .. 100) { last if $got =~ /piece1/; sysread($s, $got, 4096, length $got); }
    like($got, qr{piece1}, 'the first piece reaches the client before the origin sends the next');
    open(my $fh, '>', $signal); close $fh;
    my ($rest) = $t->read_all($s, 10);
    like($got . $rest, qr{piece2\r\n0\r\n\r\n$}, 'then the rest');
}
{
    my $expect = join('', map { sprintf("%07d\n", $_) } 1 .. 250000);
    $r = get('/big');
    is(length(body_of($r)), length($expect), '2 MB body: length');
    ok(body_of($r) eq $expect, '2 MB body: bytes identical');
}
for my $mode (qw(/unbuffered /spill /nospill)) {
    # a slow client: reads 64k at a time with pauses
    my $expect = join('', map { sprintf("%07d\n", $_) } 1 .. 250000);
    my $s = $t->connect($port);
    print $s "GET $mode/big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    my ($got, $saw_temp) = ('', 0);
    while (1) {
        my $n = sysread($s, $got, 65536, length $got);
        last unless $n;
        $saw_temp ||= grep { /proxy_temp/ } values %{ $t->fds };
        select(undef, undef, undef, 0.002);
    }
    is(length(body_of($got)), length($expect), "$mode: 2 MB to a slow client, length");
    ok(body_of($got) eq $expect, "$mode: bytes identical");
    # without spilling there is never a temp file, whatever the client does
    ok(!$saw_temp, "$mode: no temp file") if $mode ne '/spill';
}
{
    # 24 MB to a client that reads nothing at first: the pipe spills to a temp file, the
    # upstream is released, and every byte still arrives
    my $s = $t->connect($port);
    print $s "GET /spill/huge HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    ok($t->wait_for(sub { grep { /proxy_temp/ } values %{ $t->fds } }, 20), 'a slow client: the response spills to a temp file');
    # the descriptor shows a moment before the line is written
    my $warn = qr{\[warn\] .*an upstream response is buffered to a temporary file (?:in )?\S+ while reading upstream, };
    $t->wait_for(sub { $t->error_log =~ $warn }, 5);
    like($t->error_log, $warn, 'the spill is logged at warn, as nginx');
    my ($got) = $t->read_all($s, 60);
    my $body = body_of($got);
    is(length($body), length(huge()), '24 MB: length');
    ok($body eq huge(), '24 MB: bytes identical');
}
for my $case (['/ica', 1], ['/abort', 0]) {
    my ($loc, $ignore) = @$case;
    my $s = $t->connect($port);
    print $s "GET $loc/huge HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    sysread($s, my $buf, 1000);
    close $s;
    my $log = "logs" . $loc . ".log";
    ok($t->wait_for(sub { ($t->read_file($log) // '') =~ /\n/ }, 30), "$loc: logged");
    my ($received) = ($t->read_file($log) // '') =~ /\|(\d+)\n/;
    my $full = length(huge()) + length("HTTP/1.1 200 OK\r\nContent-Length: " . length(huge()) . "\r\n\r\n");
    # a reset client fails the next write, which ends the upstream either way, as nginx
    # (32-proxy-abort.t has what proxy_ignore_client_abort changes)
    ok($received < $full, "proxy_ignore_client_abort " . ($ignore ? 'on' : 'off') . ': a failed write stops reading');
}
{
    # a client that goes away mid-body leaves nothing behind (checked by the final fd check)
    my $s = $t->connect($port);
    print $s "GET /big HTTP/1.1\r\nHost: a\r\n\r\n";
    sysread($s, my $buf, 1000);
    close $s;
}
$t->wait_for(sub { 0 }, 1);
is($t->stop, 0, 'graceful stop');
$t->done_testing;
