# Static files: root and alias, index, the directory redirect, errors and their log lines,
# Content-Type (types{}, include mime.types, default_type), Last-Modified and ETag,
# conditional requests (304, 412), byte ranges (206, multipart, 416), sendfile on and off,
# keepalive and limit_rate.  Expected bytes follow nginx 1.22 (Debian's 1.22.1, same config
# and files); the page footer names sluice instead of nginx.
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use IO::Select;
use POSIX qw(mkfifo);
use Time::HiRes qw(time);
use Sluice qw(status_of body_of head_of header_of);

my $t = Sluice->new;
my $prefix = $t->prefix;
my $MTIME = 1704164645;    # Tue, 02 Jan 2024 03:04:05 GMT, 0x65937d25
my $LM = 'Tue, 02 Jan 2024 03:04:05 GMT';

sub put {
    my ($name, $content) = @_;
    my $path = $t->write_file("html/$name", '');
    open(my $fh, '>:raw', $path) or die "$path: $!";
    print $fh $content;
    close $fh;
    utime($MTIME, $MTIME, $path);
    return $path;
}

put('a.txt', "hello world\n");    # 12 bytes: ETag "65937d25-c"
put('page.html', "<p>page</p>\n");
put('pic.JPG', 'jpg');
put('noext', 'noext');
put('data.json', '{}');
put('empty', '');
put('dir/index.html', "<p>index</p>\n");
put('dir/other.htm', "other\n");
put('custom/second.txt', "second\n");
put('noindex/file.txt', 'x');
put('alias/file.txt', "aliased\n");
put('my dir/f', 'f');
put('locked/f', 'secret');
mkdir "$prefix/html/sub dir";
mkdir "$prefix/html/absidx";
mkdir "$prefix/html/q?r";
mkfifo("$prefix/html/fifo", 0600) or die "mkfifo: $!";
my $big = join('', map { pack('N', ($_ * 2654435761) % 4294967296) } 0 .. 1_249_999);    # 5 MB
put('big.bin', $big);
my $mid = substr($big, 0, 300_000);
put('mid.bin', $mid);
# the repository's conf/mime.types, as "make install" would ship it
my $root = abs_path(dirname(__FILE__) . '/../..');
copy("$root/conf/mime.types", "$prefix/conf/mime.types") or die "copy mime.types: $!";

$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    include mime.types;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        root html;
        location /al/ { alias html/alias/; }
        location /al2 { alias html/alias; }
        location ~ ^/re/(.+)$ { alias html/alias/$1; }
        location /custom/ { index first.txt second.txt; }
        location /absidx/ { index nope.html /a.txt; }
        location /nolog/ { log_not_found off; }
        location /types/ { types { text/x-foo txt; } default_type app/def; alias html/; }
        location /ims_before/ { if_modified_since before; alias html/; }
        location /ims_off/ { if_modified_since off; alias html/; }
        location /noetag/ { etag off; alias html/; }
        location /mr1/ { max_ranges 1; alias html/; }
        location /mr0/ { max_ranges 0; alias html/; }
        location /sf/ { sendfile on; alias html/; }
        location /ob/ { output_buffers 3 4k; sendfile_max_chunk 64k; aio off; alias html/; }
        location /slow/ { limit_rate 100k; alias html/; }
        location /var/ { alias html/$arg_d/; }
        location /ep/ { error_page 404 /page.html; }
    }
    server {
        # a small send buffer: a large file cannot go out in one sendfile() call
        listen 127.0.0.1:%%PORT_2%% sndbuf=32k;
        root html;
        sendfile on;
    }
}
EOF
$t->start;
my $port = $t->port(1);

sub req { my ($raw) = @_; return scalar $t->http($port, $raw); }
sub get { return $t->get_close($port, @_); }
sub log_has { my ($re) = @_; return $t->wait_for(sub { $t->error_log =~ $re }, 2); }

# --- a file: the exact header nginx sends ---
my $r = get('/a.txt');
like($r, qr{^HTTP/1\.1 200 OK\r\nServer: sluice/[0-9.]+\r\nDate: [^\r]+\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nLast-Modified: Tue, 02 Jan 2024 03:04:05 GMT\r\nConnection: close\r\nETag: "65937d25-c"\r\nAccept-Ranges: bytes\r\n\r\nhello world\n$},
     'GET a file: status, headers in nginx order, body');
$r = req("HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
like($r, qr{Content-Length: 12\r\n.*ETag: "65937d25-c"\r\nAccept-Ranges: bytes\r\n\r\n$}s, 'HEAD: same header, no body');
$r = get('/empty');
like($r, qr{Content-Length: 0\r\n.*ETag: "65937d25-0"\r\n}s, 'empty file: length 0');
is(body_of($r), '', 'empty file: no body');
is(body_of(req("GET /a.txt HTTP/1.0\r\n\r\n")), "hello world\n", 'HTTP/1.0');
unlike(get('/noetag/a.txt'), qr{ETag}, 'etag off');

# --- Content-Type ---
is(header_of(get('/page.html'), 'Content-Type'), 'text/html', 'include mime.types at http level: html');
is(header_of(get('/pic.JPG'), 'Content-Type'), 'image/jpeg', 'extension matched caselessly');
is(header_of(get('/data.json'), 'Content-Type'), 'application/json', 'json');
is(header_of(get('/noext'), 'Content-Type'), 'text/plain', 'no extension: default_type text/plain');
is(header_of(get('/types/a.txt'), 'Content-Type'), 'text/x-foo', 'types{} in a location replaces the set');
is(header_of(get('/types/page.html'), 'Content-Type'), 'app/def', 'not in that set: its default_type');
is(header_of(get('/dir/'), 'Content-Type'), 'text/html', 'index file: type of the index name');

# --- root, alias, index ---
is(body_of(get('/al/file.txt')), "aliased\n", 'alias replaces the location prefix');
is(body_of(get('/al2/file.txt')), "aliased\n", 'alias without trailing slash');
like(get('/al2'), qr{^HTTP/1\.1 301 .*\r\nLocation: http://localhost:$port/al2/\r\n}s, 'alias of a directory: 301');
is(body_of(get('/re/file.txt')), "aliased\n", 'alias with a capture in a regex location');
is(body_of(get('/var/file.txt?d=alias')), "aliased\n", 'alias with a variable');
is(body_of(get('/dir/')), "<p>index</p>\n", 'index.html by default');
is(body_of(get('/dir/?x=1')), "<p>index</p>\n", 'index with args');
is(body_of(get('/custom/')), "second\n", 'index list: first that exists');
is(body_of(get('/absidx/')), "hello world\n", 'absolute index: redirected to as is');
$r = get('/noindex/');
is(status_of($r), 403, 'no index file: 403');
ok(log_has(qr{\[error\] .*directory index of "[^"]*noindex/" is forbidden}), '403 logged');
$r = get('/nodir/');
is(status_of($r), 404, 'index in a missing directory: 404');
ok(log_has(qr{\[error\] .*"\Q$prefix\E/html/nodir/index\.html" is not found \(2: No such file or directory\)}),
   'missing directory logged with the index path');
is(status_of(get('/a.txt/')), 404, 'index under a file: 404');
ok(log_has(qr{"\Q$prefix\E/html/a\.txt/index\.html" is not found \(20: Not a directory\)}), 'ENOTDIR logged');

# --- the directory redirect ---
$r = get('/dir');
like($r, qr{^HTTP/1\.1 301 Moved Permanently\r\n.*\r\nLocation: http://localhost:$port/dir/\r\n}s, 'directory: 301 to uri/');
like(body_of($r), qr{<title>301 Moved Permanently</title>}, '301 page');
like(get('/dir?a=1&b'), qr{\r\nLocation: http://localhost:$port/dir/\?a=1&b\r\n}, 'args kept');
like(get('/sub%20dir'), qr{\r\nLocation: http://localhost:$port/sub%20dir/\r\n}, 'uri escaped as nginx does');
like(get('/q%3Fr'), qr{\r\nLocation: http://localhost:$port/q%3Fr/\r\n}, '? escaped');
like(req("POST /dir HTTP/1.0\r\n\r\n"), qr{^HTTP/1\.1 301 }, 'POST to a directory: 301 too');

# --- errors ---
$r = get('/missing.txt');
is(status_of($r), 404, 'missing file: 404');
ok(log_has(qr{\[error\] \d+#\d+: \*\d+ open\(\) "\Q$prefix\E/html/missing\.txt" failed \(2: No such file or directory\), client: 127\.0\.0\.1, server: , request: "GET /missing\.txt HTTP/1\.1", host: "localhost"}),
   'open() failure logged as nginx');
is(status_of(get('/a.txt/x')), 404, 'a file as a directory: 404');
ok(log_has(qr{open\(\) "\Q$prefix\E/html/a\.txt/x" failed \(20: Not a directory\)}), 'ENOTDIR logged');
is(status_of(get('/nolog/x')), 404, 'log_not_found off: 404');
ok(!log_has(qr{html/nolog/x}), 'log_not_found off: not logged');
$t->allow_alerts(qr{"[^"]*/html/fifo" is not a regular file});
is(status_of(get('/fifo')), 404, 'not a regular file: 404');
ok(log_has(qr{\[crit\] .*"\Q$prefix\E/html/fifo" is not a regular file}), 'logged at crit as nginx');
$r = get('/ep/missing');
like($r, qr{^HTTP/1\.1 404 Not Found\r\n.*\r\nContent-Type: text/html\r\nContent-Length: 12\r\n}s,
     'error_page to a static file: 404 with its type and length');
unlike($r, qr{Last-Modified}, 'error_page to a static file: no Last-Modified (nginx drops it unless 200/206/304)');
is(body_of($r), "<p>page</p>\n", 'error_page to a static file: body');
is(status_of(req("PUT /a.txt HTTP/1.0\r\n\r\n")), 405, 'PUT: 405');
is(status_of(req("DELETE /missing HTTP/1.0\r\n\r\n")), 405, 'DELETE: 405 before looking');
$r = req("POST /a.txt HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
is(status_of($r), 405, 'POST to a file: 405');
unlike($r, qr{Allow:}, 'no Allow header (nginx sends none)');
SKIP: {
    skip 'running as root: permissions are not enforced', 2 if $> == 0;
    chmod 0000, "$prefix/html/locked/f";
    is(status_of(get('/locked/f')), 403, 'unreadable file: 403');
    ok(log_has(qr{open\(\) "\Q$prefix\E/html/locked/f" failed \(13: Permission denied\)}), 'EACCES logged');
    chmod 0644, "$prefix/html/locked/f";
}

# --- conditional requests ---
$r = get('/a.txt', "If-Modified-Since: $LM");
like($r, qr{^HTTP/1\.1 304 Not Modified\r\nServer: [^\r]+\r\nDate: [^\r]+\r\nLast-Modified: \Q$LM\E\r\nConnection: close\r\nETag: "65937d25-c"\r\n\r\n$},
     '304 via If-Modified-Since: no type, length or Accept-Ranges');
is(status_of(get('/a.txt', 'If-Modified-Since: Tue, 02 Jan 2024 03:04:06 GMT')), 200, 'exact: a later date is not a match');
is(status_of(get('/a.txt', 'If-Modified-Since: Tuesday, 02-Jan-24 03:04:05 GMT')), 304, 'RFC 850 date');
is(status_of(get('/a.txt', 'If-Modified-Since: Tue Jan  2 03:04:05 2024')), 304, 'asctime date');
is(status_of(get('/a.txt', 'If-Modified-Since: garbage')), 200, 'unparsable date: 200');
is(status_of(get('/ims_before/a.txt', 'If-Modified-Since: Tue, 02 Jan 2024 03:04:06 GMT')), 304, 'if_modified_since before');
is(status_of(get('/ims_before/a.txt', 'If-Modified-Since: Tue, 02 Jan 2024 03:04:04 GMT')), 200, 'before: an earlier date');
is(status_of(get('/ims_off/a.txt', "If-Modified-Since: $LM")), 200, 'if_modified_since off');
is(status_of(get('/a.txt', 'If-None-Match: "65937d25-c"')), 304, 'If-None-Match');
is(status_of(get('/a.txt', 'If-None-Match: W/"65937d25-c"')), 304, 'If-None-Match: weak comparison');
is(status_of(get('/a.txt', 'If-None-Match: "x", "65937d25-c"')), 304, 'If-None-Match: list');
is(status_of(get('/a.txt', 'If-None-Match: *')), 304, 'If-None-Match: *');
is(status_of(get('/a.txt', 'If-None-Match: "x"')), 200, 'If-None-Match: other tag');
is(status_of(get('/a.txt', 'If-None-Match: "x"', "If-Modified-Since: $LM")), 200, 'both present: both must match');
is(status_of(get('/ims_off/a.txt', 'If-None-Match: "65937d25-c"')), 304, 'if_modified_since off keeps If-None-Match');
$r = req("HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: \"65937d25-c\"\r\nConnection: close\r\n\r\n");
is(status_of($r), 304, 'HEAD: 304');
$r = get('/a.txt', 'If-Unmodified-Since: Tue, 02 Jan 2024 03:04:04 GMT');
is(status_of($r), 412, 'If-Unmodified-Since before Last-Modified: 412');
like(body_of($r), qr{<title>412 Precondition Failed</title>}, '412 page');
$r = req("GET /a.txt HTTP/1.1\r\nHost: localhost\r\nIf-Match: \"x\"\r\n\r\n"
    . "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
like($r, qr{^HTTP/1\.1 412 .*\r\nConnection: keep-alive\r\n.*HTTP/1\.1 200 OK\r\n}s,
     '412 keeps the connection (nginx closes it despite "keep-alive"; documented)');
is(status_of(get('/a.txt', "If-Unmodified-Since: $LM")), 200, 'If-Unmodified-Since equal: 200');
is(status_of(get('/a.txt', 'If-Unmodified-Since: garbage')), 412, 'If-Unmodified-Since unparsable: 412');
is(status_of(get('/a.txt', 'If-Match: "x"')), 412, 'If-Match other tag: 412');
is(status_of(get('/a.txt', 'If-Match: W/"65937d25-c"')), 412, 'If-Match: strong comparison');
is(status_of(get('/a.txt', 'If-Match: "y", "65937d25-c"')), 200, 'If-Match list');
is(status_of(get('/noetag/a.txt', 'If-Match: *')), 200, 'If-Match * without ETag');

# --- ranges ---
$r = get('/a.txt', 'Range: bytes=0-4');
like($r, qr{^HTTP/1\.1 206 Partial Content\r\n.*\r\nContent-Length: 5\r\n.*\r\nETag: "65937d25-c"\r\nContent-Range: bytes 0-4/12\r\n\r\nhello$}s,
     'single range: 206, Content-Range last');
unlike($r, qr{Accept-Ranges}, '206 has no Accept-Ranges');
is(body_of(get('/a.txt', 'Range: bytes=6-')), "world\n", 'open range');
is(body_of(get('/a.txt', 'Range: bytes=-3')), "ld\n", 'suffix range');
like(get('/a.txt', 'Range: bytes=0-100'), qr{Content-Range: bytes 0-11/12\r\n\r\nhello world\n$}, 'end past the file: clamped');
like(get('/a.txt', 'Range: bytes=0-1,20-30'), qr{Content-Range: bytes 0-1/12\r\n\r\nhe$}, 'unsatisfiable part dropped');
$r = get('/a.txt', 'Range: bytes=12-');
is(status_of($r), 416, 'nothing satisfiable: 416');
like($r, qr{\r\nContent-Range: bytes \*/12\r\n}, '416 Content-Range');
is(status_of(get('/a.txt', 'Range: bytes=5-2')), 416, 'reversed range: 416');
is(status_of(get('/a.txt', 'Range: bytes=0-4,')), 416, 'trailing comma: 416');
is(status_of(get('/a.txt', 'Range: bytes=-0')), 416, 'empty suffix: 416');
like(get('/a.txt', 'Range: items=0-4'), qr{^HTTP/1\.1 200 .*Accept-Ranges: bytes\r\n}s, 'other unit: 200');
is(status_of(get('/a.txt', 'Range: bytes=0-11,0-11')), 200, 'ranges larger than the file: 200');
$r = get('/a.txt', 'Range: bytes=0-1,4-5');
my ($boundary) = $r =~ m{\r\nContent-Type: multipart/byteranges; boundary=(\d{20})\r\n};
ok($boundary, 'two ranges: multipart/byteranges');
is(body_of($r), "\r\n--$boundary\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/12\r\n\r\nhe"
    . "\r\n--$boundary\r\nContent-Type: text/plain\r\nContent-Range: bytes 4-5/12\r\n\r\no "
    . "\r\n--$boundary--\r\n", 'multipart body bytes');
is(header_of($r, 'Content-Length'), 198, 'multipart Content-Length (198, as nginx)');
is(status_of(get('/mr1/a.txt', 'Range: bytes=0-1,4-5')), 200, 'max_ranges 1: several ranges give 200');
is(status_of(get('/mr1/a.txt', 'Range: bytes=0-1')), 206, 'max_ranges 1: one range is fine');
$r = get('/mr0/a.txt', 'Range: bytes=0-1');
is(status_of($r), 200, 'max_ranges 0: ranges off');
unlike($r, qr{Accept-Ranges}, 'max_ranges 0: no Accept-Ranges');
is(status_of(get('/a.txt', 'Range: bytes=0-1', 'If-Range: "65937d25-c"')), 206, 'If-Range ETag matches');
is(status_of(get('/a.txt', 'Range: bytes=0-1', 'If-Range: "x"')), 200, 'If-Range ETag differs: 200');
is(status_of(get('/a.txt', 'Range: bytes=0-1', "If-Range: $LM")), 206, 'If-Range date matches');
is(status_of(get('/a.txt', 'Range: bytes=0-1', 'If-Range: Tue, 02 Jan 2024 03:04:06 GMT')), 200, 'If-Range date differs');
is(status_of(get('/a.txt', 'Range: bytes=0-1', 'If-None-Match: "65937d25-c"')), 304, 'If-None-Match before Range');
is(status_of(get('/empty', 'Range: bytes=0-')), 200, 'empty file: ranges ignored');
is(body_of(get('/mid.bin', 'Range: bytes=100000-100009')), substr($mid, 100000, 10), 'range inside a file read into memory');
is(body_of(get('/sf/mid.bin', 'Range: bytes=299990-')), substr($mid, 299990), 'range with sendfile');
$r = get('/mid.bin', 'Range: bytes=1-2,299990-299999,5-6');
($boundary) = $r =~ /boundary=(\d+)/;
is(body_of($r), "\r\n--$boundary\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 1-2/300000\r\n\r\n" . substr($mid, 1, 2)
    . "\r\n--$boundary\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 299990-299999/300000\r\n\r\n" . substr($mid, 299990, 10)
    . "\r\n--$boundary\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 5-6/300000\r\n\r\n" . substr($mid, 5, 2)
    . "\r\n--$boundary--\r\n", 'multipart over a larger file, parts in the order asked');

# --- big bodies, sendfile on and off, keepalive, limit_rate ---
sub read_response {
    my ($s) = @_;
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = time + 20;
    while (time < $deadline) {
        if ($buf =~ /\r\n\r\n/) {
            my ($h, $b) = split /\r\n\r\n/, $buf, 2;
            my ($len) = $h =~ /\r\nContent-Length: (\d+)\r\n/;
            return ($h, $b) if defined $len && length($b) >= $len;
        }
        last unless $sel->can_read($deadline - time);
        my $n = sysread($s, $buf, 1 << 20, length $buf);
        last unless $n;
    }
    return split /\r\n\r\n/, $buf, 2;
}

for my $loc ('', '/sf', '/ob') {
    my $what = $loc eq '/sf' ? 'sendfile on' : $loc ? 'output_buffers 3 4k' : 'sendfile off';
    my $s = $t->connect($port);
    print $s "GET $loc/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my ($h, $b) = read_response($s);
    like($h, qr{^HTTP/1\.1 200 .*\r\nContent-Length: 5000000\r\n}s, "$what: 5 MB header");
    ok(defined $b && $b eq $big, "$what: 5 MB body byte-exact");
    for my $n (1 .. 3) {
        print $s "GET $loc/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
        ($h, $b) = read_response($s);
        is($b, "hello world\n", "$what: request $n more on the keepalive connection");
    }
    close $s;
}

{
    # a slow reader: the file is read as the client drains it (memory stays bounded)
    my $s = $t->connect($port);
    print $s "GET /big.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    my $got = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(10)) {
        my $n = sysread($s, $got, 65536, length $got);
        last unless $n;
        select(undef, undef, undef, 0.002) if length($got) < 1_000_000;
    }
    is(body_of($got), $big, 'slow reader: whole body');
}

{
    # a client that goes away in the middle: the descriptor is closed with the request (the
    # final descriptor check at stop() would see it otherwise)
    for my $loc ('', '/sf') {
        my $s = $t->connect($port);
        print $s "GET $loc/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n";
        my $got = '';
        IO::Select->new($s)->can_read(5) and sysread($s, $got, 1000);
        like($got, qr{^HTTP/1\.1 200 }, "client closing early ($loc): response started");
        close $s;
    }
}

{
    $r = req("GET /slow/mid.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    is(body_of($r), $mid, 'limit_rate 100k: 300k body complete');
}

{
    # a file truncated while sendfile() sends it: nginx's alert, and the connection closed
    # short of Content-Length (a short count must not read as a full socket: no stall until
    # send_timeout)
    my $path = $t->write_file('html/shrink.bin', 'z' x 4_000_000);
    my $s = $t->connect($t->port(2), rcvbuf => 65536);
    print $s "GET /shrink.bin HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my $got = '';
    IO::Select->new($s)->can_read(5) and sysread($s, $got, 65536);
    truncate($path, 1_000_000);
    my ($rest, $eof) = $t->read_all($s, 10);
    $got .= $rest;
    ok($eof, 'truncated under sendfile: the connection closed');
    cmp_ok(length(body_of($got)), '<', 4_000_000, '... short of Content-Length');
    $t->allow_alerts(qr{sendfile\(\) reported that "[^"]*/html/shrink\.bin" was truncated at 1000000});
    like($t->error_log, qr{\[alert\] .*sendfile\(\) reported that "[^"]*/html/shrink\.bin" was truncated at 1000000},
         '... with nginx\'s alert');
}

$t->done_testing;
