# Upstream responses that are not passed as they came (issue #7): proxy_intercept_errors
# (an error_page taking over: "= @fallback" answers with the fallback's status, "/err.html"
# keeps the upstream's; 401 keeps its WWW-Authenticate; a 304 or 301 without an error_page
# passes), X-Accel-Redirect (to a uri: GET, HEAD stays HEAD, the header's args; to a named
# location: method and args kept; Content-Type, Set-Cookie, Cache-Control and Expires carried
# over; an unsafe uri is a 404; proxy_ignore_headers), X-Accel-Charset (every charset is
# unknown without a charset_map: logged, the response unchanged), X-Accel-Expires (hidden,
# nothing else visible without a cache), the upstream connection kept only when the dropped
# response had no body, $status / $upstream_status / $upstream_addr across the redirects,
# and add_trailer (a chunked response carries the trailers; a known length gives way to
# chunks for an HTTP/1.1 client; HEAD, 304 and HTTP/1.0 get none; "always").
#
# Validated against Debian's nginx 1.22.1: every expected response (Date and server name
# aside), log line and upstream connection pattern below is what it produced.  To rerun:
#   SLUICE_BINARY=/usr/sbin/nginx prove -v -I tests/t/lib tests/t/40-proxy-intercept-xaccel.t
# The one difference found is outside this test's concern and not asserted byte for byte:
# a proxied absolute Location comes after "Connection" in nginx's header order.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX ();
use Sluice;
use Origin;

my $t = Sluice->new;
my $origin_port = $t->port(2);
my $events = $t->prefix . '/origin.events';

my $fb = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nfallback\n";
my %script = (
    '/n404'   => "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nX-O: 1\r\n\r\nup 404!!\n",
    '/n404z'  => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    '/n404c'  => "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n",
    '/n401'   => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 3\r\n\r\nno\n",
    '/n502'   => "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\n\r\nbad\n",
    '/n304'   => "HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\n\r\n",
    '/n301'   => "HTTP/1.1 301 Moved Permanently\r\nLocation: http://example.com/x\r\nContent-Length: 3\r\n\r\nmv\n",
    '/fb'     => $fb,
    '/xr'     => "HTTP/1.1 200 OK\r\nX-Accel-Redirect: /internal/t?a=1\r\nSet-Cookie: c=1\r\nCache-Control: max-age=5\r\n"
                 . "Expires: Thu, 01 Jan 2037 00:00:00 GMT\r\nContent-Type: text/plain\r\nX-Custom: y\r\n"
                 . "Last-Modified: Thu, 01 Jan 2015 00:00:00 GMT\r\nETag: \"zz\"\r\nContent-Length: 5\r\n\r\nbody\n",
    '/xrn'    => "HTTP/1.1 404 Not Found\r\nX-Accel-Redirect: \@named\r\nContent-Length: 5\r\n\r\nbody\n",
    '/xrs'    => "HTTP/1.1 200 OK\r\nX-Accel-Redirect: /static.txt\r\nContent-Length: 0\r\n\r\n",
    '/xrbad'  => "HTTP/1.1 200 OK\r\nX-Accel-Redirect: /../etc/passwd\r\nContent-Length: 0\r\n\r\n",
    '/xc'     => "HTTP/1.1 200 OK\r\nX-Accel-Charset: utf-8\r\nContent-Type: text/html\r\nContent-Length: 3\r\n\r\nhi\n",
    '/xe'     => "HTTP/1.1 200 OK\r\nX-Accel-Expires: 100\r\nContent-Length: 3\r\n\r\nhi\n",
    '/ch'     => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    '/cl'     => "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
);

sub event {
    open(my $fh, '>>', $events) or return;
    print $fh "@_\n";
    close $fh;
}

# Persistent connections, numbered, so the test sees which ones were kept.
Origin::scripted(port => $origin_port, lifetime => 30, handler => sub {
    my ($c, $n) = @_;
    for (my $k = 1;; $k++) {
        my $req = '';
        while ($req !~ /\r\n\r\n/) {
            sysread($c, $req, 65536, length $req) or do { event("c$n closed"); POSIX::_exit(0) };
        }
        my ($m, $path) = $req =~ m{^(\S+) (\S+)};
        (my $p = $path) =~ s/\?.*//;
        event("c$n $m $path");
        my $body = "echo $m $path\n";
        my $resp = $script{$p} // "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
        $resp =~ s/\r\n\r\n.*/\r\n\r\n/s if $m eq 'HEAD';
        print $c $resp;
    }
});
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_file('html/static.txt', "static file\n");
$t->write_file('html/err.html', "<p>err page</p>\n");
$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    log_format st '\$request_uri|\$status|\$upstream_status|\$upstream_addr';
    upstream ka { server 127.0.0.1:$origin_port; keepalive 4; }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        root %%PREFIX%%/html;
        access_log logs/st.log st;
        etag off;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /i/ {
            proxy_pass http://ka/;
            proxy_intercept_errors on;
            error_page 404 = \@fallback;
            error_page 401 502 /err.html;
        }
        location /off/ { proxy_pass http://ka/; error_page 404 = \@fallback; }
        location \@fallback { rewrite ^ /fb break; proxy_pass http://ka; }
        location \@named { return 200 "named \$request_method \$uri \$args\\n"; }
        location /internal/ { internal; proxy_pass http://ka/; }
        location /ign/ { proxy_pass http://ka/; proxy_ignore_headers X-Accel-Redirect X-Accel-Charset; }
        location = /err.html { }
        location = /static.txt { }
        location / { proxy_pass http://ka; }
        location /tr/ { proxy_pass http://ka/; add_trailer X-T "v\$status"; add_trailer X-A a always; add_trailer X-E ""; }
        location = /trs { add_trailer X-T t; return 200 "ret\\n"; }
        location = /tr404 { add_trailer X-T t; add_trailer X-A a always; return 404; }
    }
}
EOF
$t->start;
my $port = $t->port(1);

# The response with what differs between servers made neutral: Date, the server's name.
sub norm {
    my ($r) = @_;
    $r //= '';
    $r =~ s/^Date: [^\r]*\r\n//mg;
    $r =~ s/^Server: [^\r]*\r\n//mg;
    $r =~ s{<hr><center>[^<]*</center>}{<hr><center>S</center>}g;
    return $r;
}

sub req {
    my ($m, $path, $extra) = @_;
    return norm(scalar $t->http($port, "$m $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                       . ($extra // '') . "\r\n"));
}

sub origin_events {
    my $text = $t->read_file($events) // '';
    return [split /\n/, $text];
}

# Waits (bounded) until the access log has a line for $uri; that line's fields.
sub logged {
    my ($uri) = @_;
    my $line;
    $t->wait_for(sub {
        my $log = $t->read_file('logs/st.log') // '';
        ($line) = grep { (split /\|/)[0] eq $uri } split /\n/, $log;
        defined $line;
    }, 5);
    return defined $line ? [split /\|/, $line, -1] : [];
}

my $up = "127.0.0.1:$origin_port";
my $not_found = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    . "<center><h1>404 Not Found</h1></center>\r\n<hr><center>S</center>\r\n</body>\r\n</html>\r\n";

# --- proxy_intercept_errors ---
is(req(GET => '/i/n404'), "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nfallback\n",
   'intercepted 404, error_page 404 = @fallback: the fallback\'s response and status');
is_deeply(logged('/i/n404'), ['/i/n404', 200, '404 : 200', "$up : $up"],
          '$upstream_status and $upstream_addr list both upstreams, " : " apart');
is(req(GET => '/i/n404c'), "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nfallback\n",
   'intercepted chunked 404');
is(req(GET => '/i/n401'), "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\nContent-Length: 16\r\n"
   . "Connection: close\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\n<p>err page</p>\n",
   'intercepted 401, error_page /err.html: 401 with the page and the upstream\'s WWW-Authenticate');
is(req(GET => '/i/n502'), "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 16\r\n"
   . "Connection: close\r\n\r\n<p>err page</p>\n", 'intercepted 502, error_page /err.html');
is_deeply(logged('/i/n502'), ['/i/n502', 502, '502', $up], '502 page: $status 502, one upstream');
is(req(GET => '/i/n304'), "HTTP/1.1 304 Not Modified\r\nConnection: close\r\nETag: \"e\"\r\n\r\n",
   'intercept on, 304 without an error_page: passed');
{
    my $r = req(GET => '/i/n301');
    like($r, qr{^HTTP/1.1 301 Moved Permanently\r\n}, 'intercept on, 301 without an error_page: passed');
    like($r, qr{\r\nLocation: http://example.com/x\r\n}, '... with its Location');
    like($r, qr{\r\nContent-Length: 3\r\n.*\r\n\r\nmv\n$}s, '... and its body');
}
is(req(GET => '/off/n404'), "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\nX-O: 1\r\n\r\nup 404!!\n",
   'intercept off: the upstream\'s 404 passes though an error_page exists');

# --- X-Accel-Redirect ---
my $xr = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 16\r\nConnection: close\r\n"
    . "Set-Cookie: c=1\r\nCache-Control: max-age=5\r\nExpires: Thu, 01 Jan 2037 00:00:00 GMT\r\n\r\n";
is(req(GET => '/xr'), "${xr}echo GET /t?a=1\n",
   'X-Accel-Redirect to a uri: its args; Content-Type, Set-Cookie, Cache-Control, Expires kept');
is_deeply(logged('/xr'), ['/xr', 200, '200 : 200', "$up : $up"], 'X-Accel-Redirect: both upstreams logged');
is(req(POST => '/xr', "Content-Length: 0\r\n"), "${xr}echo GET /t?a=1\n", 'a POST is redirected as GET');
(my $xrh = $xr) =~ s/Content-Length: 16/Content-Length: 17/;
is(req(HEAD => '/xr'), $xrh, 'a HEAD stays HEAD');
is(req(GET => '/xrn?q=1'), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n"
   . "Connection: close\r\n\r\nnamed GET /xrn q=1\n", 'X-Accel-Redirect to a named location (from a 404)');
is(req(POST => '/xrn', "Content-Length: 0\r\n"), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
   . "Content-Length: 17\r\nConnection: close\r\n\r\nnamed POST /xrn \n", 'a named location keeps the method');
like(req(GET => '/xrs'), qr{^HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n.*\r\n\r\nstatic file\n$}s,
     'X-Accel-Redirect to a static file');
is(req(GET => '/xrbad'), "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 153\r\n"
   . "Connection: close\r\n\r\n$not_found", 'an unsafe X-Accel-Redirect: 404');
is_deeply(logged('/xrbad'), ['/xrbad', 404, '200', $up], '... $upstream_status 200, $status 404');
like($t->error_log, qr{\[error\] .*unsafe URI "/\.\./etc/passwd" was detected while reading response header from upstream},
     '... logged as nginx');
is(req(GET => '/ign/xr'), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n"
   . "Set-Cookie: c=1\r\nCache-Control: max-age=5\r\nExpires: Thu, 01 Jan 2037 00:00:00 GMT\r\nX-Custom: y\r\n"
   . "Last-Modified: Thu, 01 Jan 2015 00:00:00 GMT\r\nETag: \"zz\"\r\n\r\nbody\n",
   'proxy_ignore_headers X-Accel-Redirect: passed, the header still hidden');

# --- X-Accel-Charset, X-Accel-Expires ---
my $hi = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 3\r\nConnection: close\r\n\r\nhi\n";
is(req(GET => '/xc'), $hi, 'X-Accel-Charset: hidden, the type unchanged');
like($t->error_log, qr{\[error\] .*unknown charset "utf-8" to override while reading response header from upstream.*request: "GET /xc HTTP/1.1"},
     '... and the unknown charset logged as nginx');
is(req(GET => '/ign/xc'), $hi, 'X-Accel-Charset ignored');
unlike($t->error_log, qr{unknown charset.*GET /ign/xc}, '... and not logged');
is(req(GET => '/xe'), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nhi\n",
   'X-Accel-Expires: hidden, nothing else changes without a cache');

# --- which upstream connections survive a dropped response ---
# The requests the origin saw for these client requests, as [connection, uri]; and the
# connections it saw closed meanwhile.
sub upstream_trail {
    my ($want, @paths) = @_;
    my $before = scalar @{origin_events()};
    req(GET => $_) for @paths;
    my @ev;
    $t->wait_for(sub {
        my @all = @{origin_events()};
        @ev = @all[$before .. $#all];
        (grep { !/ closed$/ } @ev) >= $want;
    }, 5);
    my @reqs = map { my @f = split / /; [$f[0], $f[2]] } grep { !/ closed$/ } @ev;
    my %closed = map { /^(\S+) closed$/ ? ($1 => 1) : () } @ev;
    return (\@reqs, \%closed);
}
{
    my ($reqs) = upstream_trail(2, '/i/n404z');
    is_deeply([map { $_->[1] } @$reqs], ['/n404z', '/fb'], 'intercepted 404 without a body, then the fallback');
    is($reqs->[1][0], $reqs->[0][0], '... on the same upstream connection (kept)');
    my $closed;
    ($reqs, $closed) = upstream_trail(2, '/i/n404');
    isnt($reqs->[1][0], $reqs->[0][0], 'intercepted 404 with a body: the fallback needs another connection');
    $t->wait_for(sub { (grep { $_ eq "$reqs->[0][0] closed" } @{origin_events()}) > 0 }, 5);
    ok((grep { $_ eq "$reqs->[0][0] closed" } @{origin_events()}), '... the first one was closed');
    ($reqs) = upstream_trail(2, '/xrs', '/xe');
    is($reqs->[1][0], $reqs->[0][0], 'X-Accel-Redirect without a body: the connection is kept');
    ($reqs) = upstream_trail(2, '/xrn', '/xe');
    isnt($reqs->[1][0], $reqs->[0][0], 'X-Accel-Redirect with a body: the connection is closed');
}

# --- add_trailer ---
my $trailed = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nX-T: v200\r\nX-A: a\r\n\r\n";
is(req(GET => '/tr/ch'), $trailed, 'add_trailer: after the last chunk, values from the end ($status); empty ones left out');
is(req(GET => '/tr/cl'), $trailed, 'a known length gives way to chunks for the trailers');
is(req(GET => '/tr/n404c'), "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nabcde\r\n0\r\nX-A: a\r\n\r\n",
   'a 404: only the "always" trailer');
is(req(HEAD => '/tr/cl'), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n", 'HEAD: no trailers, the length stays');
is(req(GET => '/tr/n304'), "HTTP/1.1 304 Not Modified\r\nConnection: close\r\nETag: \"e\"\r\n\r\n", '304: no trailers');
is(norm(scalar $t->http($port, "GET /tr/cl HTTP/1.0\r\n\r\n")), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
   'an HTTP/1.0 client: no chunks, no trailers');
is(req(GET => '/trs'), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
   . "4\r\nret\n\r\n0\r\nX-T: t\r\n\r\n", 'trailers on a "return" response');
is(req(GET => '/tr404'), "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n"
   . "Connection: close\r\n\r\n99\r\n$not_found\r\n0\r\nX-A: a\r\n\r\n", 'trailers on a built-in error page: "always" only');

# the group's kept upstream connections are open on purpose: not counted as leaks (as 37)
is($t->stop(fd_check => 0), 0, 'graceful stop');
$t->done_testing;
