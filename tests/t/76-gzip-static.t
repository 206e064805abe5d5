# gzip_static: FILE.gz beside FILE is the response, byte for byte, to a client that takes
# gzip ("on") or to every client ("always"):
# - Content-Encoding: gzip, Content-Length, Last-Modified and ETag of the .gz file,
#   Content-Type by the original name; no Accept-Ranges and no range cut from it; HEAD;
#   a 304 by the .gz file's date;
# - the plain file otherwise: no Accept-Encoding, q=0, HTTP/1.0 (gzip_http_version), a Via
#   without gzip_proxied, gzip_disable, "off", no .gz, a .gz that is a directory (or that
#   cannot be read: logged as nginx), a uri naming a directory;
# - gzip_vary: Vary: Accept-Encoding on both answers when there is a copy;
# - with "gzip on" too, the copy is not compressed again; without a copy the filter does it.
#
# Expectations follow nginx 1.22; the same file runs against it:
#   SLUICE_BINARY=/usr/sbin/nginx prove -v -I tests/t/lib tests/t/76-gzip-static.t
use strict;
use warnings;
use Test::More;
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);
use Sluice qw(status_of body_of head_of header_of);

my $t = Sluice->new;
my $prefix = $t->prefix;
my $port = $t->port(1);
my $MTIME = 1704164645;       # Tue, 02 Jan 2024 03:04:05 GMT, 0x65937d25
my $GZ_MTIME = 1704164700;    # Tue, 02 Jan 2024 03:05:00 GMT, 0x65937d5c
my $GZ_LM = 'Tue, 02 Jan 2024 03:05:00 GMT';

sub put {
    my ($name, $content, $mtime) = @_;
    my $path = $t->write_file("html/$name", '');
    open(my $fh, '>:raw', $path) or die "$path: $!";
    print $fh $content;
    close $fh;
    utime($mtime // $MTIME, $mtime // $MTIME, $path);
    return $path;
}

my $text = join('', map { "line $_ of the file\n" } 1 .. 300);
my $gz;
gzip(\$text => \$gz) or die $GzipError;
put('file.txt', $text);
put('file.txt.gz', $gz, $GZ_MTIME);
put('page.html', $text);
put('page.html.gz', $gz, $GZ_MTIME);
put('nocopy.html', $text);
put('dir.html', $text);
mkdir "$prefix/html/dir.html.gz" or die;
put('locked.html', $text);
put('locked.html.gz', $gz, $GZ_MTIME);
chmod 0, "$prefix/html/locked.html.gz";
put('loop.html', $text);
symlink('loop.html.gz', "$prefix/html/loop.html.gz") or die "symlink: $!";
put('sub/index.html', $text);
put('sub/index.html.gz', $gz, $GZ_MTIME);
my $gz_etag = sprintf('"%x-%x"', $GZ_MTIME, length $gz);

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    types { text/html html; text/plain txt; }
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        root %%PREFIX%%/html;
        location / { gzip_static on; }
        location /always/ { alias %%PREFIX%%/html/; gzip_static always; }
        location /off/ { alias %%PREFIX%%/html/; gzip_static off; }
        location /vary/ { alias %%PREFIX%%/html/; gzip_static on; gzip_vary on; }
        location /both/ { alias %%PREFIX%%/html/; gzip_static on; gzip on; }
        location /proxied/ { alias %%PREFIX%%/html/; gzip_static on; gzip_proxied any; }
        location /disable/ { alias %%PREFIX%%/html/; gzip_static on; gzip_disable "curl"; }
    }
}
EOF
$t->start;

my $AE = 'Accept-Encoding: gzip';

my $r = $t->get_close($port, '/file.txt', $AE);
is(status_of($r), 200, 'on: 200');
is(header_of($r, 'Content-Encoding'), 'gzip', 'on: Content-Encoding');
is(header_of($r, 'Content-Type'), 'text/plain', 'on: the type of the original name');
is(header_of($r, 'Content-Length'), length $gz, 'on: the length of the .gz');
is(header_of($r, 'Last-Modified'), $GZ_LM, 'on: Last-Modified of the .gz');
is(header_of($r, 'ETag'), $gz_etag, 'on: ETag of the .gz');
is(header_of($r, 'Accept-Ranges'), undef, 'on: no Accept-Ranges');
is(header_of($r, 'Vary'), undef, 'on: no Vary without gzip_vary');
ok(body_of($r) eq $gz, 'on: the .gz file byte for byte');
my $plain = '';
gunzip(\body_of($r) => \$plain);
is($plain, $text, 'on: which decompresses to the file');

$r = $t->get_close($port, '/file.txt');
is(header_of($r, 'Content-Encoding'), undef, 'on, no Accept-Encoding: the plain file');
is(header_of($r, 'Accept-Ranges'), 'bytes', 'on, no Accept-Encoding: ranges allowed');
is(body_of($r), $text, 'on, no Accept-Encoding: its bytes');
$r = $t->get_close($port, '/file.txt', 'Accept-Encoding: gzip;q=0');
is(header_of($r, 'Content-Encoding'), undef, 'on, gzip;q=0: plain');

$r = $t->get_close($port, '/file.txt', $AE, 'Range: bytes=0-9');
is(status_of($r), 200, 'Range: the whole copy, 200');
ok(body_of($r) eq $gz, 'Range: the whole .gz');

$r = $t->http($port, "HEAD /file.txt HTTP/1.1\r\nHost: x\r\n$AE\r\nConnection: close\r\n\r\n");
is(header_of($r, 'Content-Encoding'), 'gzip', 'HEAD: Content-Encoding');
is(header_of($r, 'Content-Length'), length $gz, 'HEAD: the length of the .gz');
is(body_of($r), '', 'HEAD: no body');

$r = $t->get_close($port, '/file.txt', $AE, "If-Modified-Since: $GZ_LM");
is(status_of($r), 304, 'If-Modified-Since the .gz date: 304');

$r = $t->http($port, "GET /file.txt HTTP/1.0\r\nHost: x\r\n$AE\r\n\r\n");
is(header_of($r, 'Content-Encoding'), undef, 'on, HTTP/1.0: plain (gzip_http_version 1.1)');
$r = $t->http($port, "GET /always/file.txt HTTP/1.0\r\nHost: x\r\n\r\n");
is(header_of($r, 'Content-Encoding'), 'gzip', 'always, HTTP/1.0 without Accept-Encoding: the copy');
ok(body_of($r) eq $gz, 'always: the .gz');
$r = $t->get_close($port, '/off/file.txt', $AE);
is(header_of($r, 'Content-Encoding'), undef, 'off: plain');

$r = $t->get_close($port, '/file.txt', $AE, 'Via: 1.1 cache');
is(header_of($r, 'Content-Encoding'), undef, 'Via, gzip_proxied off: plain');
$r = $t->get_close($port, '/proxied/file.txt', $AE, 'Via: 1.1 cache');
is(header_of($r, 'Content-Encoding'), 'gzip', 'Via, gzip_proxied any: the copy');
$r = $t->get_close($port, '/disable/file.txt', $AE, 'User-Agent: curl/7.88');
is(header_of($r, 'Content-Encoding'), undef, 'gzip_disable: plain');

$r = $t->get_close($port, '/vary/file.txt', $AE);
is(header_of($r, 'Vary'), 'Accept-Encoding', 'gzip_vary: Vary on the copy');
$r = $t->get_close($port, '/vary/file.txt');
is(header_of($r, 'Vary'), 'Accept-Encoding', 'gzip_vary: and on the plain file');
$r = $t->get_close($port, '/vary/nocopy.html');
is(header_of($r, 'Vary'), undef, 'gzip_vary: not without a copy');

$r = $t->get_close($port, '/nocopy.html', $AE);
is(header_of($r, 'Content-Encoding'), undef, 'no .gz: the plain file');
is(body_of($r), $text, 'no .gz: its bytes');
$r = $t->get_close($port, '/dir.html', $AE);
is(header_of($r, 'Content-Encoding'), undef, 'a .gz directory: the plain file');
is(body_of($r), $text, 'a .gz directory: its bytes');
$r = $t->get_close($port, '/sub/', $AE);
is(status_of($r), 200, 'a directory uri: the index');
is(header_of($r, 'Content-Encoding'), 'gzip', 'the index goes through gzip_static too');
$r = $t->get_close($port, '/loop.html', $AE);
is(header_of($r, 'Content-Encoding'), undef, 'a .gz that loops: the plain file');
is(body_of($r), $text, 'a .gz that loops: its bytes');
like($t->error_log, qr/\[error\] .*open\(\) ".*loop\.html\.gz" failed \(40: Too many levels of symbolic links\)/,
     'a .gz that loops: logged at error, as nginx');
SKIP: {
    skip 'root reads any file', 3 if $> == 0;
    $r = $t->get_close($port, '/locked.html', $AE);
    is(header_of($r, 'Content-Encoding'), undef, 'an unreadable .gz: the plain file');
    is(body_of($r), $text, 'an unreadable .gz: its bytes');
    like($t->error_log, qr/\[error\] .*open\(\) ".*locked\.html\.gz" failed \(13: Permission denied\)/,
         'an unreadable .gz: logged as nginx');
}

$r = $t->get_close($port, '/both/page.html', $AE);
is(header_of($r, 'Content-Encoding'), 'gzip', 'gzip on too: one Content-Encoding');
is(scalar(() = head_of($r) =~ /^Content-Encoding:/mg), 1, 'gzip on too: only one');
ok(body_of($r) eq $gz, 'gzip on too: the copy is not compressed again');
$r = $t->get_close($port, '/both/nocopy.html', $AE);
is(header_of($r, 'Content-Encoding'), 'gzip', 'gzip on, no copy: the filter compresses');
my $body = body_of($r);
my $unchunked = '';
while ($body =~ s/^([0-9a-f]+)\r\n//i) {
    my $n = hex $1;
    last if !$n;
    $unchunked .= substr($body, 0, $n, '');
    $body =~ s/^\r\n//;
}
$plain = '';
gunzip(\$unchunked => \$plain);
is($plain, $text, 'gzip on, no copy: the body decompresses to the file');

$t->done_testing;
