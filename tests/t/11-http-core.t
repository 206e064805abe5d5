# The HTTP/1.1 server core through real sockets: the request line and header rules,
# the error codes and pages, keepalive and pipelining, server_name, location matching,
# return and error_page.  Expected bytes follow nginx 1.22 (checked against Debian's nginx
# with the same config); the page footer names sluice instead of nginx.
use strict;
use warnings;
use Test::More;
use Sluice;

my $t = Sluice->new;
$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name default.test;
        keepalive_requests 3;
        location / { return 200 "root\n"; }
        location = /exact { return 200 "exact\n"; }
        location /prefix { return 200 "prefix\n"; }
        location /prefix/longer { return 200 "longer\n"; }
        location ^~ /stop { return 200 "stop\n"; }
        location ~ \.php$ { return 200 "php\n"; }
        location ~* \.JPG$ { return 200 "jpg\n"; }
        location /nest {
            location /nest/inner { return 200 "inner\n"; }
            location ~ /nest/.*\.txt$ { return 200 "nested regex\n"; }
            return 200 "nest\n";
        }
        location /code { return 204; }
        location /redirect { return 301 http://example.test/new; }
        location /url { return https://example.test/u; }
        location /forbidden { return 403; }
        location /err { error_page 404 /handled; return 404; }
        location = /handled { return 200 "handled $uri\n"; }
        location /named { error_page 403 @fallback; return 403; }
        location @fallback { return 200 "named\n"; }
        location /vars { return 200 "$request_method $uri $args $host\n"; }
        location /close { return 444; }
        location /hdr { add_header X-A "a $uri"; add_header X-B b always; add_header X-Empty $http_nothing; return 200 "h\n"; }
        location /hdr404 { add_header X-A a; add_header X-B b always; return 404; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name limits.test;
        client_max_body_size 10;
        keepalive_timeout 30s 25;
        server_tokens off;
        location / { return 200 "limits\n"; }
        location /hidden { internal; return 200 "hidden\n"; }
        location /show { error_page 404 = /hidden; return 404; }
        location /nolimit { client_max_body_size 0; return 200 "nolimit\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name headers.test;
        add_header X-Server s;
        location / { return 200 "inherit\n"; }
        location /own { add_header X-Own o; return 200 "own\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name www.example.test *.wild.test .dot.test ~^(?<sub>[a-z]+)\.re\.test$;
        location / { return 200 "vhost $host\n"; }
    }
}
EOF
$t->start;
my $port = $t->port(1);

sub req { my ($raw) = @_; return scalar $t->http($port, $raw); }
sub status_of { my ($resp) = @_; return $resp =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 'none'; }
sub body_of { my ($resp) = @_; my (undef, $b) = split /\r\n\r\n/, $resp, 2; return $b; }
sub get { my ($path, $host) = @_; $host //= 'default.test';
    return req("GET $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n"); }

# --- return and the response header ---
my $r = get('/');
like($r, qr{^HTTP/1\.1 200 OK\r\nServer: sluice/[0-9.]+\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nroot\n$}, 'return 200 text: exact header order and body');
is(body_of(get('/code')), '', 'return 204: no body');
like(get('/code'), qr{^HTTP/1\.1 204 No Content\r\n}, '204 status line');
unlike(get('/code'), qr{Content-Length}, '204 has no Content-Length');
$r = get('/redirect');
like($r, qr{^HTTP/1\.1 301 Moved Permanently\r\n.*Location: http://example\.test/new\r\n}s, 'return 301 URL');
like(body_of($r), qr{<title>301 Moved Permanently</title>}, '301 built-in page');
like(get('/url'), qr{^HTTP/1\.1 302 Moved Temporarily\r\n.*Location: https://example\.test/u\r\n}s, 'return URL is a 302');
$r = get('/forbidden');
is(body_of($r), "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>sluice/0.1.0</center>\r\n</body>\r\n</html>\r\n", '403 page bytes (nginx markup)');
like($r, qr{Content-Type: text/html\r\n}, 'error page is text/html');
is(body_of(get('/vars?a=1')), "GET /vars a=1 default.test\n", 'variables in return text');
$r = req("HEAD / HTTP/1.1\r\nHost: default.test\r\nConnection: close\r\n\r\n");
like($r, qr{Content-Length: 5\r\n}, 'HEAD keeps Content-Length');
is(body_of($r), '', 'HEAD: no body');
is(req("GET /close HTTP/1.1\r\nHost: default.test\r\n\r\n"), '', 'return 444 closes without a response');

# --- add_header ---
$r = get('/hdr');
like($r, qr{\r\nX-A: a /hdr\r\nX-B: b\r\n}, 'add_header with variables, in order');
unlike($r, qr{X-Empty}, 'an empty value adds no header');
$r = get('/hdr404');
unlike($r, qr{X-A:}, 'no add_header on 404 without always');
like($r, qr{\r\nX-B: b\r\n}, 'always adds it to errors too');
like(get('/', 'headers.test'), qr{\r\nX-Server: s\r\n}, 'add_header inherited from the server level');
$r = get('/own', 'headers.test');
like($r, qr{\r\nX-Own: o\r\n}, 'own add_header');
unlike($r, qr{X-Server}, 'a level with add_header replaces the inherited set');

# --- limits, tokens, internal ---
sub lreq { my ($raw) = @_; return req($raw); }
$r = req("POST / HTTP/1.1\r\nHost: limits.test\r\nContent-Length: 11\r\n\r\n01234567890");
is(status_of($r), 413, 'Content-Length over client_max_body_size: 413 before the body');
like($r, qr{Connection: close\r\n}, '413 closes');
is(status_of(req("POST /nolimit HTTP/1.1\r\nHost: limits.test\r\nConnection: close\r\nContent-Length: 11\r\n\r\n01234567890")), 200, 'client_max_body_size 0: no limit');
$r = req("GET / HTTP/1.1\r\nHost: limits.test\r\n\r\n");
like($r, qr{\r\nServer: sluice\r\n}, 'server_tokens off');
like($r, qr{\r\nConnection: keep-alive\r\nKeep-Alive: timeout=25\r\n}, 'keepalive_timeout header_timeout');
like(req("GET /nope HTTP/1.1\r\nHost: limits.test\r\nConnection: close\r\n\r\n"), qr{^HTTP/1\.1 200 .*limits\n$}s, 'other server still fine');
is(status_of(req("GET /hidden HTTP/1.1\r\nHost: limits.test\r\nConnection: close\r\n\r\n")), 404, 'internal location: 404 from outside');
$r = req("GET /show HTTP/1.1\r\nHost: limits.test\r\nConnection: close\r\n\r\n");
is(body_of($r), "hidden\n", 'internal location reached by error_page');
is(status_of($r), 200, 'error_page = takes the target\'s status');
like(body_of(req("GET /forbidden-x HTTP/1.1\r\nHost: limits.test\r\nConnection: close\r\n\r\n")), qr{limits}, 'limits server root');
{
    # as nginx 1.22: the body is not wanted, but "100 Continue" still goes before it is read
    # and dropped, and the connection stays usable for the next request
    my $s = $t->connect($port);
    print $s "POST /exact HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    sysread($s, my $first, 25);
    is($first, "HTTP/1.1 100 Continue\r\n\r\n", '100 Continue before a discarded body');
    print $s "01234GET /exact HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    like(scalar $t->read_all($s), qr{^HTTP/1\.1 200 .*keep-alive.*exact\n.*HTTP/1\.1 200 .*exact\n$}s,
         'answered, the body dropped, and the next request read');
}

# --- locations, nginx's order ---
is(body_of(get('/exact')), "exact\n", '= exact');
is(body_of(get('/exact/x')), "root\n", '= does not match longer uris');
is(body_of(get('/prefix/a')), "prefix\n", 'prefix');
is(body_of(get('/prefix/longer/a')), "longer\n", 'longest prefix wins');
is(body_of(get('/prefix/a.php')), "php\n", 'regex beats prefix');
is(body_of(get('/stop/a.php')), "stop\n", '^~ stops the regex search');
is(body_of(get('/x/A.jpg')), "jpg\n", '~* is caseless');
is(body_of(get('/x/A.PHP')), "root\n", '~ is case-sensitive');
is(body_of(get('/nest/inner/x')), "inner\n", 'nested prefix');
is(body_of(get('/nest/a.txt')), "nested regex\n", 'nested regex');
is(body_of(get('/nest/x')), "nest\n", 'outer of nested');
is(body_of(get('/a/../exact')), "exact\n", 'dot segments resolved before matching');
is(body_of(get('/%65xact')), "exact\n", 'percent-decoding before matching');
is(body_of(get('//exact')), "exact\n", 'merge_slashes');
is(status_of(get('/../x')), 400, '.. above the root is 400');

# --- error_page ---
is(body_of(get('/err')), "handled /handled\n", 'error_page to a uri (internal redirect)');
like(get('/err'), qr{^HTTP/1\.1 404 }, 'error_page keeps the status');
is(body_of(get('/named')), "named\n", 'error_page to a named location');

# --- server_name ---
is(body_of(get('/', 'www.example.test')), "vhost www.example.test\n", 'exact server_name');
is(body_of(get('/', 'WWW.Example.TEST:80')), "vhost www.example.test\n", 'host lowercased, port dropped');
is(body_of(get('/', 'a.b.wild.test')), "vhost a.b.wild.test\n", '*.wildcard');
is(body_of(get('/', 'dot.test')), "vhost dot.test\n", '.domain matches the domain itself');
is(body_of(get('/', 'x.dot.test')), "vhost x.dot.test\n", '.domain matches subdomains');
is(body_of(get('/', 'abc.re.test')), "vhost abc.re.test\n", 'regex server_name');
is(body_of(get('/', 'unknown.test')), "root\n", 'unknown host: default server');
is(body_of(req("GET http://www.example.test/x HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n")),
    "vhost www.example.test\n", 'absolute-form host wins over Host');
is(body_of(req("GET http://default.test/vars?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
    "GET /vars q=1 default.test\n", 'absolute-form: uri and args from the path part');
like(req("GET /" . ("\r\n" x 3000) . " HTTP/1.1\r\n\r\n"), qr{^HTTP/1\.1 400 }, 'junk after a uri: 400');
like(req(("\r\n" x 5000) . "GET /exact HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"), qr{exact\n$}, 'thousands of empty lines before a request are skipped in a bounded buffer');

# --- malformed requests: status and close ---
my %bad = (
    "GET / HTTP/1.1\r\n\r\n" => 400,                                  # no Host
    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" => 400,           # two Hosts
    "GET / HTTP/2.0\r\nHost: a\r\n\r\n" => 505,
    "GET / HTTP/1.2\r\nHost: a\r\n\r\n" => 505,
    "GET / HTTP/1.10\r\nHost: a\r\n\r\n" => 400,
    "GET /\r\n\r\n" => 400,                                           # HTTP/0.9
    "get / HTTP/1.1\r\nHost: a\r\n\r\n" => 400,                      # lowercase method
    "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n" => 400,         # obs-fold
    "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n" => 400,
    "GET / HTTP/1.1\r\nHost: a\r\nName : x\r\n\r\n" => 400,          # space before colon
    "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n" => 400,           # NUL in value
    "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n" => 400,                     # invalid host
    "GET / HTTP/1.1\r\nHost: a b\r\n\r\n" => 400,                     # a space in the host
    "GET http://a.test/ HTTP/1.1\r\n\r\n" => 400,                       # absolute-form, no Host
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx" => 400,
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n" => 400,
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" => 400,
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" => 501,
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" => 400,
    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" => 400,
    "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n" => 405,
    "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n" => 400,                 # control byte in target
);
for my $raw (sort keys %bad) {
    my $resp = req($raw);
    (my $name = $raw) =~ s/([\x00-\x1f])/sprintf('\\x%02x', ord $1)/ge;
    is(status_of($resp), $bad{$raw}, "$bad{$raw} for $name");
    like($resp, qr{\r\nConnection: close\r\n}, "closes after $bad{$raw}") if $bad{$raw} != 405;
}
like(req("GET / HTTP/1.1\r\nHost: a\r\n\r\n" . ('x' x 0)), qr{^HTTP/1\.1 200 }, 'a good request after all that');

# header and URI size limits (defaults: 1k buffer, 4 x 8k large buffers)
is(status_of(req("GET /" . ('a' x 9000) . " HTTP/1.1\r\nHost: a\r\n\r\n")), 414, 'request line over 8k: 414');
like(req("GET /" . ('a' x 3000) . " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"), qr{^HTTP/1\.1 200 }, 'request line over 1k fits a large buffer');
$r = req("GET / HTTP/1.1\r\nHost: a\r\nX-Long: " . ('b' x 9000) . "\r\n\r\n");
is(status_of($r), 400, 'header line over 8k: 400');
like(body_of($r), qr{<title>400 Request Header Or Cookie Too Large</title>}, 'nginx\'s 494 page');
like(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" . join('', map { "X-$_: " . ('c' x 3000) . "\r\n" } 1 .. 6) . "\r\n"),
    qr{^HTTP/1\.1 200 }, 'many headers over several large buffers');

# --- keepalive and pipelining ---
{
    my $s = $t->connect($port);
    print $s "GET /exact HTTP/1.1\r\nHost: a\r\n\r\nGET /prefix HTTP/1.1\r\nHost: a\r\n\r\nGET /nest/x HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    my ($all, $eof) = $t->read_all($s, 10);
    my @bodies = $all =~ m{\r\n\r\n([a-z]+\n)}g;
    is_deeply(\@bodies, ["exact\n", "prefix\n", "nest\n"], 'pipelined requests answered in order, keepalive_requests 3 stops after the third');
    like($all, qr{Connection: keep-alive.*Connection: keep-alive.*Connection: close}s, 'Connection headers: keep-alive, keep-alive, close');
    ok($eof, 'connection closed after keepalive_requests');
}
{
    my $resp = req("GET / HTTP/1.0\r\n\r\n");
    like($resp, qr{Connection: close\r\n}, 'HTTP/1.0 without keep-alive closes');
    my $s = $t->connect($port);
    print $s "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    sysread($s, my $buf, 4096);
    like($buf, qr{Connection: keep-alive\r\n}, 'HTTP/1.0 keep-alive honoured');
    print $s "GET /exact HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    my ($rest) = $t->read_all($s, 10);
    like($rest, qr{exact\n$}, 'second request on the kept connection');
}
{
    # a body with a return: discarded, the connection stays in sync
    my $s = $t->connect($port);
    print $s "POST /exact HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /prefix HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    my ($all) = $t->read_all($s, 10);
    like($all, qr{exact\n.*prefix\n$}s, 'Content-Length body discarded, next request read');
    $s = $t->connect($port);
    print $s "POST /exact HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nGET /prefix HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    ($all) = $t->read_all($s, 10);
    like($all, qr{exact\n.*prefix\n$}s, 'chunked body (extension, trailer) discarded, next request read');
    $s = $t->connect($port);
    print $s "POST /exact HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\nGET /prefix HTTP/1.1\r\nHost: a\r\n\r\n";
    ($all) = $t->read_all($s, 10);
    unlike($all, qr{prefix\n}, 'bare LF in chunk framing: nothing after it is taken as a request');
    like($all, qr{^HTTP/1\.1 400 }, 'bare LF in chunk framing: 400 instead of the return (RFC 9112; nginx takes it)');
    # a body that is no chunked body: 400 and the connection closes, as nginx (was the 200)
    for my $bad ("zz\r\nabc\r\n0\r\n\r\n", "3\r\nabcXX\r\n0\r\n\r\n") {
        $s = $t->connect($port);
        print $s "POST /exact HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n$bad"
            . "GET /prefix HTTP/1.1\r\nHost: a\r\n\r\n";
        my ($resp, $eof) = $t->read_all($s, 10);
        (my $name = $bad) =~ s/\r\n/\\r\\n/g;
        like($resp, qr{^HTTP/1\.1 400 .*\r\nConnection: close\r\n}s, "discarded body \"$name\": 400, close");
        ok($eof && $resp !~ /prefix\n/, "discarded body \"$name\": closed, nothing after it served");
    }
}

is($t->stop, 0, 'graceful stop');
$t->done_testing;
