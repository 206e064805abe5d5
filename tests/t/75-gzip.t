# The gzip filter: every response it compresses is decompressed here and compared with the
# original bytes.
# - static files: Content-Encoding, chunked on HTTP/1.1 (close-delimited on 1.0 with
#   gzip_http_version 1.0), Content-Length and Accept-Ranges gone, the ETag made weak, HEAD;
#   no gzip for a Range (the whole 200 compressed instead), a 304, a type not in gzip_types
#   (text/html always is; "*" takes any), a body under gzip_min_length, HTTP/1.0 by default,
#   gzip off; Accept-Encoding read as nginx does (q=0 refuses, x-gzip is not gzip);
#   gzip_disable msie6 and regexes (case-insensitive); gzip_vary; small gzip_buffers on a
#   5 MB file with sendfile on; $gzip_ratio in the access log;
# - proxied: Content-Length and chunked upstream bodies, 8 MiB through the event pipe, an
#   already encoded body passed unchanged, a 206 and a 204 left alone, every gzip_proxied
#   value against a request with Via (Expires past and future, Cache-Control no-cache,
#   no-store, private, Last-Modified, ETag, Authorization), unbuffered streaming (a flush
#   lets the client decompress the first part while the origin waits);
# - a slow client: 16 MiB of incompressible data through the proxy to a client that reads
#   nothing until the origin has written everything: the worker's memory stays bounded
#   (gzip holds its input in the pipe's buffers, which spill to the temp file), and every
#   byte arrives; unbuffered, the origin is held back instead; a 16 MiB file likewise;
# - access_log ... gzip: the log file decompresses to the lines.
#
# Expectations follow nginx 1.22; the same file runs against it:
#   SLUICE_BINARY=/usr/sbin/nginx prove -v -I tests/t/lib tests/t/75-gzip.t
use strict;
use warnings;
use Test::More;
use Compress::Raw::Zlib;
use Digest::MD5 qw(md5_hex);
use IO::Select;
use Socket;
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Sluice qw(status_of body_of head_of header_of);
use Origin;

my $t = Sluice->new;
my $prefix = $t->prefix;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $log = "$prefix/origin.log";

sub put {
    my ($name, $content) = @_;
    my $path = $t->write_file("html/$name", '');
    open(my $fh, '>:raw', $path) or die "$path: $!";
    print $fh $content;
    close $fh;
    return $path;
}

# Deterministic bytes: compressible text, and a sequence deflate cannot shrink.
my $page = join('', map { "<p>line $_ of the page</p>\n" } 1 .. 200);
sub noise {
    my ($n) = @_;
    my ($x, $out) = (12345, '');
    $out .= pack('N', $x = ($x * 1103515245 + 12345) % 4294967296) for 1 .. $n / 4;
    return $out;
}
my $big = noise(5_000_000);
sub put_noise {
    my ($name, $size) = @_;
    my $data = noise($size);
    put($name, $data);
    return $data;
}
my $proxied_big = join('', map { sprintf "%07d %s\n", $_, 'x' x ($_ % 50) } 1 .. 250_000);
my $SLOW = 16 << 20;
put('page.html', $page);
put('small.html', 'tiny');
put('style.css', "body { color: red; }\n" x 50);
put('data.json', '{"a": 1}' x 100);
put('big.html', $big);
my $slow_md5 = md5_hex(put_noise('slow.bin', $SLOW));

# The origin: /o/NAME answers one scripted response per request, then closes.
my %fixed = (
    page => ["Content-Type: text/html\r\nContent-Length: " . length($page), $page],
    plain => ["Content-Type: text/plain\r\nContent-Length: " . length($page), $page],
    encoded => ["Content-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: 9", 'notreally'],
    partial => ["Content-Type: text/html\r\nContent-Range: bytes 0-9/100\r\nContent-Length: 10",
                '0123456789', '206 Partial Content'],
    nocontent => ["Content-Type: text/html", '', '204 No Content'],
    expired => ["Content-Type: text/html\r\nExpires: Thu, 01 Jan 1970 00:00:01 GMT", $page],
    future => ["Content-Type: text/html\r\nExpires: Thu, 31 Dec 2037 23:55:55 GMT", $page],
    nocache => ["Content-Type: text/html\r\nCache-Control: no-cache", $page],
    nostore => ["Content-Type: text/html\r\nCache-Control: max-age=10, no-store", $page],
    private => ["Content-Type: text/html\r\nCache-Control: private", $page],
    maxage => ["Content-Type: text/html\r\nCache-Control: max-age=60", $page],
    lm => ["Content-Type: text/html\r\nLast-Modified: Tue, 02 Jan 2024 03:04:05 GMT", $page],
    etag => ["Content-Type: text/html\r\nETag: \"abc\"", $page],
    bare => ["Content-Type: text/html", $page],
);

sub serve {
    my ($c) = @_;
    my $req = Origin::read_head($c);
    my ($name) = $req =~ m{^GET /o/(\w+)} or return;
    if (my $f = $fixed{$name}) {
        my ($head, $body, $status) = @$f;
        $head .= "\r\nContent-Length: " . length($body) if $head !~ /Content-Length/ && $name ne 'nocontent';
        Origin::write_all($c, "HTTP/1.1 " . ($status // '200 OK') . "\r\n$head\r\nConnection: close\r\n\r\n$body");
        return;
    }
    if ($name eq 'chunked') {
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (my $i = 0; $i < length $proxied_big; $i += 70_000) {
            my $piece = substr($proxied_big, $i, 70_000);
            Origin::write_all($c, sprintf("%x\r\n%s\r\n", length $piece, $piece)) or return;
        }
        Origin::write_all($c, "0\r\n\r\n");
    } elsif ($name eq 'large') {
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                              . length($proxied_big) . "\r\n\r\n$proxied_big");
    } elsif ($name eq 'slow') {
        open(my $fh, '<:raw', "$prefix/html/slow.bin") or return;
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                              . "Content-Length: $SLOW\r\n\r\n");
        while (read($fh, my $buf, 65536)) {
            Origin::write_all($c, $buf) or return Origin::note($log, 'slow', 'cut');
        }
        Origin::note($log, 'slow', 'all written');
    } elsif ($name eq 'held') {
        # the same bytes, written without blocking: "held after N" once the proxy has taken
        # nothing for 2 s, then "all written"
        open(my $fh, '<:raw', "$prefix/html/slow.bin") or return;
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                              . "Content-Length: $SLOW\r\n\r\n");
        setsockopt($c, Socket::SOL_SOCKET(), Socket::SO_SNDBUF(), 64 * 1024);
        $c->blocking(0);
        my ($sent, $held, $sel) = (0, 0, IO::Select->new($c));
        while (read($fh, my $buf, 65536)) {
            while (length $buf) {
                if (!$sel->can_write(2) && !$held++) {
                    Origin::note($log, 'held', "held after $sent");
                }
                my $n = syswrite($c, $buf);
                next if !defined $n && $!{EAGAIN};
                return Origin::note($log, 'held', 'cut') if !$n;
                substr($buf, 0, $n, '');
                $sent += $n;
            }
        }
        Origin::note($log, 'held', 'all written');
    } elsif ($name eq 'stream') {
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
                              . "first part\n");
        # the rest only once the test has seen the first part decompressed
        for (1 .. 600) {
            last if -e "$prefix/go";
            select(undef, undef, undef, 0.05);
        }
        Origin::write_all($c, "second part\n");
    }
}
Origin::scripted(port => $origin_port, lifetime => 120, handler => \&serve);

my $proxied_locations = join("\n", map {
    "        location /px/$_/ { proxy_pass http://127.0.0.1:$origin_port/o/; gzip_proxied $_; }"
} qw(off expired no-cache no-store private no_last_modified no_etag auth any));

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    types { text/html html; text/css css; application/json json; }
    default_type application/octet-stream;
    log_format ratio '\$uri \$gzip_ratio';
    access_log %%PREFIX%%/logs/ratio.log ratio;
    proxy_temp_path %%PREFIX%%/proxy_temp;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        root %%PREFIX%%/html;
        gzip on;
        location / { }
        location /types/ { alias %%PREFIX%%/html/; gzip_types text/css; }
        location /any/ { alias %%PREFIX%%/html/; gzip_types *; }
        location /minlen/ { alias %%PREFIX%%/html/; gzip_min_length 10000; }
        location /v10/ { alias %%PREFIX%%/html/; gzip_http_version 1.0; }
        location /vary/ { alias %%PREFIX%%/html/; gzip_vary on; }
        location /disable/ { alias %%PREFIX%%/html/; gzip_disable msie6 "^bot"; }
        location /off/ { alias %%PREFIX%%/html/; gzip off; }
        location /bufs/ {
            alias %%PREFIX%%/html/;
            sendfile on;
            gzip_types *;
            gzip_buffers 2 1k;
            gzip_comp_level 9;
        }
        location /bufs1/ { alias %%PREFIX%%/html/; sendfile on; gzip_types *; gzip_buffers 2 1k; }
        location /p/ { proxy_pass http://127.0.0.1:$origin_port/o/; }
        location /pv/ { proxy_pass http://127.0.0.1:$origin_port/o/; gzip_proxied any; gzip_vary on; }
$proxied_locations
        location /slow/ {
            proxy_pass http://127.0.0.1:$origin_port/o/;
            proxy_buffers 8 16k;
            proxy_busy_buffers_size 32k;
            gzip_types application/octet-stream;
        }
        location /gzlog/ { access_log %%PREFIX%%/logs/gz.log ratio gzip flush=100ms; return 200 x; }
        location /gzlog9/ { access_log %%PREFIX%%/logs/gz9.log ratio gzip=9 buffer=64; return 200 x; }
        location /unbuf/ {
            proxy_pass http://127.0.0.1:$origin_port/o/;
            proxy_buffering off;
            gzip_types application/octet-stream;
        }
    }
}
EOF
$t->temp_paths('proxy_temp');
my $pid = $t->start;

# A raw response's body without its chunked framing.
sub dechunk {
    my ($body) = @_;
    my ($out, $at) = ('', 0);
    while ((my $eol = index($body, "\r\n", $at)) > $at) {
        my $n = hex substr($body, $at, $eol - $at);
        last if $n == 0;
        $out .= substr($body, $eol + 2, $n);
        $at = $eol + 2 + $n + 2;
    }
    return $out;
}

# (raw response, decoded body): chunks joined, gzip undone.
sub fetch {
    my ($path, @headers) = @_;
    my $r = $t->get_close($port, $path, @headers) // '';
    my $body = body_of($r);
    $body = dechunk($body) if (header_of($r, 'Transfer-Encoding') // '') eq 'chunked';
    if ((header_of($r, 'Content-Encoding') // '') eq 'gzip') {
        my $plain;
        gunzip(\$body => \$plain) or return ($r, "gunzip failed: $GunzipError");
        $body = $plain;
    }
    return ($r, $body);
}

my $AE = 'Accept-Encoding: gzip';

# --- static files -----------------------------------------------------------------------
my ($r, $body) = fetch('/page.html', $AE);
is(status_of($r), 200, 'gzip: 200');
is(header_of($r, 'Content-Encoding'), 'gzip', 'gzip: Content-Encoding');
is(header_of($r, 'Transfer-Encoding'), 'chunked', 'gzip: chunked on HTTP/1.1');
is(header_of($r, 'Content-Length'), undef, 'gzip: no Content-Length');
is(header_of($r, 'Accept-Ranges'), undef, 'gzip: no Accept-Ranges');
like(header_of($r, 'ETag') // '', qr{^W/"[0-9a-f]+-[0-9a-f]+"$}, 'gzip: the ETag is weak');
is(header_of($r, 'Vary'), undef, 'gzip: no Vary without gzip_vary');
is($body, $page, 'gzip: the decompressed body is the file');
ok(length(body_of($r)) < length($page) / 4, 'gzip: and it is compressed');

($r, $body) = fetch('/page.html');
is(header_of($r, 'Content-Encoding'), undef, 'no Accept-Encoding: plain');
is(header_of($r, 'Content-Length'), length $page, 'no Accept-Encoding: Content-Length');
is(header_of($r, 'Accept-Ranges'), 'bytes', 'no Accept-Encoding: Accept-Ranges');
is($body, $page, 'no Accept-Encoding: the file');

my %accept = (
    'gzip' => 1, 'GZIP' => 1, 'gzip, deflate, br' => 1, 'deflate, gzip' => 1, 'br,gzip' => 1,
    'gzip;q=0.5' => 1, 'gzip; q=1' => 1, 'gzip;q=1.000' => 1, 'gzip;q=0.001' => 1,
    'deflate;q=0, gzip' => 1,
    'gzip;q=0' => 0, 'gzip; q=0.000' => 0, 'gzip;q=1.5' => 0, 'gzip;q=0.0001' => 0,
    'x-gzip' => 0, 'identity' => 0, '*' => 0, 'gzipx' => 0, 'gzip;level=1' => 0, 'gzip;q' => 0,
);
for my $value (sort keys %accept) {
    ($r, $body) = fetch('/page.html', "Accept-Encoding: $value");
    is(header_of($r, 'Content-Encoding') // 'none', $accept{$value} ? 'gzip' : 'none',
       "Accept-Encoding: $value: " . ($accept{$value} ? 'gzip' : 'plain'));
    is($body, $page, "Accept-Encoding: $value: the body");
}

$r = $t->http($port, "HEAD /page.html HTTP/1.1\r\nHost: x\r\n$AE\r\nConnection: close\r\n\r\n");
is(header_of($r, 'Content-Encoding'), 'gzip', 'HEAD: Content-Encoding');
is(body_of($r), '', 'HEAD: no body');

($r, $body) = fetch('/page.html', $AE, 'Range: bytes=0-9');
is(status_of($r), 200, 'Range: the whole 200, compressed');
is(header_of($r, 'Content-Encoding'), 'gzip', 'Range: Content-Encoding');
is($body, $page, 'Range: the whole body');

my ($plain_r) = fetch('/page.html');
my $lm = header_of($plain_r, 'Last-Modified');
$r = $t->get_close($port, '/page.html', $AE, "If-Modified-Since: $lm");
is(status_of($r), 304, 'If-Modified-Since: not modified');
is(header_of($r, 'Content-Encoding'), undef, '304: no Content-Encoding');

($r, $body) = fetch('/small.html', $AE);
is(header_of($r, 'Content-Encoding'), undef, 'under gzip_min_length (20): plain');
($r, $body) = fetch('/minlen/page.html', $AE);
is(header_of($r, 'Content-Encoding'), undef, 'gzip_min_length 10000: a 5 KB page is plain');
is($body, $page, 'gzip_min_length: the body');

($r, $body) = fetch('/style.css', $AE);
is(header_of($r, 'Content-Encoding'), undef, 'text/css is not in the default gzip_types');
($r, $body) = fetch('/types/style.css', $AE);
is(header_of($r, 'Content-Encoding'), 'gzip', 'gzip_types text/css');
is($body, "body { color: red; }\n" x 50, 'gzip_types text/css: the body');
($r, $body) = fetch('/types/page.html', $AE);
is(header_of($r, 'Content-Encoding'), 'gzip', 'gzip_types: text/html is always in');
($r, $body) = fetch('/types/data.json', $AE);
is(header_of($r, 'Content-Encoding'), undef, 'gzip_types: application/json is not');
($r, $body) = fetch('/any/data.json', $AE);
is(header_of($r, 'Content-Encoding'), 'gzip', 'gzip_types *: application/json');
is($body, '{"a": 1}' x 100, 'gzip_types *: the body');
($r, $body) = fetch('/off/page.html', $AE);
is(header_of($r, 'Content-Encoding'), undef, 'gzip off');

$r = $t->http($port, "GET /page.html HTTP/1.0\r\nHost: x\r\n$AE\r\n\r\n");
is(header_of($r, 'Content-Encoding'), undef, 'HTTP/1.0: plain (gzip_http_version 1.1)');
$r = $t->http($port, "GET /v10/page.html HTTP/1.0\r\nHost: x\r\n$AE\r\n\r\n");
is(header_of($r, 'Content-Encoding'), 'gzip', 'gzip_http_version 1.0: gzip');
is(header_of($r, 'Transfer-Encoding'), undef, 'HTTP/1.0: not chunked');
is(header_of($r, 'Connection'), 'close', 'HTTP/1.0: the close ends the body');
my $plain = '';
gunzip(\body_of($r) => \$plain);
is($plain, $page, 'HTTP/1.0: the body');

($r, $body) = fetch('/vary/page.html', $AE);
is(header_of($r, 'Vary'), 'Accept-Encoding', 'gzip_vary: Vary on the gzip response');
($r, $body) = fetch('/vary/page.html');
is(header_of($r, 'Vary'), 'Accept-Encoding', 'gzip_vary: and on the plain one');
($r, $body) = fetch('/vary/small.html', $AE);
is(header_of($r, 'Vary'), undef, 'gzip_vary: not on what gzip would not take');

my %agents = (
    'Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)' => 0,
    'Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)' => 0,
    'Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)' => 1,
    'Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)' => 1,
    'Opera/9.80 (compatible; MSIE 6.0)' => 1,
    'bot/1.0' => 0,
    'BOT/2.0' => 0,
    'a bot' => 1,
);
for my $ua (sort keys %agents) {
    ($r, $body) = fetch('/disable/page.html', $AE, "User-Agent: $ua");
    is(header_of($r, 'Content-Encoding') // 'none', $agents{$ua} ? 'gzip' : 'none',
       "gzip_disable: $ua");
}
($r, $body) = fetch('/page.html', $AE, 'User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)');
is(header_of($r, 'Content-Encoding'), 'gzip', 'no gzip_disable: MSIE 6 gets gzip');

($r, $body) = fetch('/bufs/big.html', $AE);
is(header_of($r, 'Content-Encoding'), 'gzip', 'gzip_buffers 2 1k, sendfile on: gzip');
ok($body eq $big, 'gzip_buffers 2 1k: 5 MB decompressed equal the file');

# --- proxied ------------------------------------------------------------------------------
($r, $body) = fetch('/p/page', $AE);
is(header_of($r, 'Content-Encoding'), 'gzip', 'proxied: gzip');
is(header_of($r, 'Content-Length'), undef, 'proxied: the upstream Content-Length is gone');
is($body, $page, 'proxied: the body');
($r, $body) = fetch('/p/chunked', $AE);
is(header_of($r, 'Content-Encoding'), 'gzip', 'chunked upstream: gzip');
ok($body eq $proxied_big, 'chunked upstream: 7 MB decompressed equal what the origin sent');
($r, $body) = fetch('/p/large', $AE);
ok($body eq $proxied_big, 'large upstream body through the pipe: equal');
($r, $body) = fetch('/p/encoded', $AE);
is(scalar(() = head_of($r) =~ /^Content-Encoding:/mg), 1, 'already encoded: one Content-Encoding');
is(body_of($r), 'notreally', 'already encoded: the body as it came');
($r, $body) = fetch('/p/partial', $AE);
is(status_of($r), 206, 'a 206 from upstream');
is(header_of($r, 'Content-Encoding'), undef, 'a 206: not compressed');
is(body_of($r), '0123456789', 'a 206: the body as it came');
$r = $t->get_close($port, '/p/nocontent', $AE);
is(status_of($r), 204, 'a 204');
is(header_of($r, 'Content-Encoding'), undef, 'a 204: no Content-Encoding');
($r, $body) = fetch('/p/plain', $AE);
is(header_of($r, 'Content-Encoding'), undef, 'proxied text/plain: not in gzip_types');

# gzip_proxied: a request with Via, per value and response
my %proxied = (
    off => { bare => 0, expired => 0 },
    expired => { expired => 1, future => 0, bare => 1, maxage => 0, nocache => 0 },
    'no-cache' => { nocache => 1, nostore => 0, maxage => 0, bare => 1, expired => 0 },
    'no-store' => { nostore => 1, nocache => 0, bare => 1 },
    private => { private => 1, nocache => 0, bare => 1 },
    no_last_modified => { lm => 0, bare => 1, etag => 1 },
    no_etag => { etag => 0, bare => 1, lm => 1 },
    auth => { maxage => 0, bare => 1 },
    any => { maxage => 1, future => 1, lm => 1, etag => 1, bare => 1 },
);
for my $value (sort keys %proxied) {
    for my $resp (sort keys %{$proxied{$value}}) {
        my $want = $proxied{$value}{$resp};
        ($r, $body) = fetch("/px/$value/$resp", $AE, 'Via: 1.1 cache');
        is(header_of($r, 'Content-Encoding') // 'none', $want ? 'gzip' : 'none',
           "gzip_proxied $value, $resp: " . ($want ? 'gzip' : 'plain'));
        is($body, $page, "gzip_proxied $value, $resp: the body");
    }
}
($r, $body) = fetch('/px/auth/maxage', $AE, 'Via: 1.1 cache', 'Authorization: Basic eDp5');
is(header_of($r, 'Content-Encoding'), 'gzip', 'gzip_proxied auth: with Authorization');
($r, $body) = fetch('/p/page', $AE, 'Via: 1.1 cache');
is(header_of($r, 'Content-Encoding'), undef, 'gzip_proxied default (off): Via refuses');
($r, $body) = fetch('/pv/page', $AE, 'Via: 1.1 cache');
is(header_of($r, 'Content-Encoding'), 'gzip', 'gzip_proxied any');
is(header_of($r, 'Vary'), 'Accept-Encoding', 'gzip_vary on a proxied response');

# unbuffered: the first part reaches the client, decompressible, before the origin goes on
{
    my $s = $t->connect($port) or die "connect: $!";
    print $s "GET /unbuf/stream HTTP/1.1\r\nHost: x\r\n$AE\r\nConnection: close\r\n\r\n";
    my ($raw, $text) = ('', '');
    my $inflate = Compress::Raw::Zlib::Inflate->new(-WindowBits => WANT_GZIP);
    my $sel = IO::Select->new($s);
    while ($text !~ /first part/ && $sel->can_read(10)) {
        sysread($s, $raw, 65536, length $raw) or last;
        my ($head, $rest) = split /\r\n\r\n/, $raw, 2;
        next unless defined $rest;
        my $gz = dechunk($rest);
        $inflate = Compress::Raw::Zlib::Inflate->new(-WindowBits => WANT_GZIP);
        $text = '';
        $inflate->inflate($gz, $text);
    }
    like($raw, qr/\r\nContent-Encoding: gzip\r\n/, 'unbuffered: gzip');
    is($text, "first part\n", 'unbuffered: the first part decompresses while the origin waits');
    $t->write_file('go', '');
    my $rest = $t->read_all($s);
    close $s;
    ($r, $body) = (undef, undef);
    my $all = $raw . $rest;
    my $plain2 = '';
    gunzip(\dechunk(body_of($all)) => \$plain2);
    is($plain2, "first part\nsecond part\n", 'unbuffered: the whole body');
}

# --- a slow client ------------------------------------------------------------------------
sub rss {
    open(my $fh, '<', "/proc/$pid/status") or return 0;
    while (<$fh>) { return $1 * 1024 if /^VmRSS:\s+(\d+) kB/; }
    return 0;
}
fetch('/slow/nothing', $AE);    # the worker's first use of the location
{
    my $before = rss();
    my $s = $t->connect($port, rcvbuf => 64 * 1024) or die "connect: $!";
    print $s "GET /slow/slow HTTP/1.1\r\nHost: x\r\n$AE\r\nConnection: close\r\n\r\n";
    my $seen = $t->wait_for(sub { ($t->read_file('origin.log') // '') =~ /^slow (.+)$/m && $1 }, 60);
    is($seen, 'all written', 'slow client: the origin writes all 16 MiB while the client reads nothing');
    my $grew = rss() - $before;
    # gzip's window and buffers and the pipe's buffers; 16 MiB held would show
    my $slack = $t->sanitized ? 24 << 20 : 4 << 20;
    ok($grew < $slack, "slow client: the worker grows by less than " . ($slack >> 20)
       . " MiB ($grew bytes)");
    my $raw = $t->read_all($s, 120);
    close $s;
    is(header_of($raw, 'Content-Encoding'), 'gzip', 'slow client: gzip');
    my $out = '';
    gunzip(\dechunk(body_of($raw)) => \$out);
    is(length $out, $SLOW, 'slow client: 16 MiB decompressed');
    is(md5_hex($out), $slow_md5, 'slow client: equal to what the origin sent (md5)');
}

# unbuffered: the origin is held back while the client reads nothing; memory stays put
{
    my $before = rss();
    my $s = $t->connect($port, rcvbuf => 64 * 1024) or die "connect: $!";
    print $s "GET /unbuf/held HTTP/1.1\r\nHost: x\r\n$AE\r\nConnection: close\r\n\r\n";
    my $seen = $t->wait_for(sub { ($t->read_file('origin.log') // '') =~ /^held (.+)$/m && $1 }, 60);
    like($seen // '', qr/^held after (\d+)$/, 'unbuffered, slow client: the origin is held back');
    my ($after) = ($seen // '') =~ /(\d+)/;
    ok(defined $after && $after < $SLOW / 2, 'unbuffered, slow client: early ('
       . ($after // '?') . ' bytes)');
    my $grew = rss() - $before;
    my $slack = $t->sanitized ? 24 << 20 : 4 << 20;
    ok($grew < $slack, "unbuffered, slow client: the worker grows by less than "
       . ($slack >> 20) . " MiB ($grew bytes)");
    my $raw = $t->read_all($s, 120);
    close $s;
    my $out = '';
    gunzip(\dechunk(body_of($raw)) => \$out);
    is(md5_hex($out), $slow_md5, 'unbuffered, slow client: every byte (md5)');
}

# a 16 MiB file to a slow client, compressed through 2 buffers of 1k
{
    my $before = rss();
    my $s = $t->connect($port, rcvbuf => 64 * 1024) or die "connect: $!";
    print $s "GET /bufs1/slow.bin HTTP/1.1\r\nHost: x\r\n$AE\r\nConnection: close\r\n\r\n";
    # the client has read nothing: what its socket took is all that went
    sleep 1;
    my $grew = rss() - $before;
    my $slack = $t->sanitized ? 24 << 20 : 4 << 20;
    ok($grew < $slack, "a file to a slow client: the worker grows by less than "
       . ($slack >> 20) . " MiB ($grew bytes)");
    my $raw = $t->read_all($s, 120);
    close $s;
    my $out = '';
    gunzip(\dechunk(body_of($raw)) => \$out);
    is(md5_hex($out), $slow_md5, 'a file to a slow client: every byte (md5)');
}

# --- $gzip_ratio ----------------------------------------------------------------------------
$t->wait_for(sub { ($t->read_file('logs/ratio.log') // '') =~ m{^/slow/slow } }, 5);
my $ratios = $t->read_file('logs/ratio.log') // '';
like($ratios, qr{^/page\.html \d+\.\d\d$}m, '$gzip_ratio of a compressed response');
like($ratios, qr{^/off/page\.html -$}m, '$gzip_ratio: "-" when not compressed');

# --- access_log ... gzip ----------------------------------------------------------------------
sub gunzipped_log {
    my ($name) = @_;
    my ($gz, $text) = ($t->read_file("logs/$name") // '', '');
    gunzip(\$gz => \$text, MultiStream => 1) or return '';
    return $text;
}
$t->get_close($port, "/gzlog/$_") for 1 .. 3;
is($t->wait_for(sub { gunzipped_log('gz.log') =~ tr/\n// == 3 && gunzipped_log('gz.log') }, 10),
   "/gzlog/1 -\n/gzlog/2 -\n/gzlog/3 -\n", 'access_log gzip flush=: the lines, compressed');
my $long = 'y' x 100;
$t->get_close($port, "/gzlog9/$long");
is(gunzipped_log('gz9.log'), "/gzlog9/$long -\n",
   'access_log gzip=9 buffer=64: a line longer than the buffer, compressed on its own');

$t->done_testing;
