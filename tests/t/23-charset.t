# The charset filter: "charset" names the charset in Content-Type for the types of
# charset_types (variables, "*", off), a charset the response already has is kept unless
# override_charset, X-Accel-Charset from an upstream, 301/302 get none, and charset_map
# recodes: byte tables in place (Content-Length kept; static files read into memory even
# with sendfile on), to utf-8 and from utf-8 (entities for what the map lacks, sequences cut
# between upstream reads, Content-Length dropped), proxied and static.  The configuration
# errors are nginx's.  Expected output follows nginx 1.22 (Debian's 1.22.1): this file
# passes against it too (SLUICE_BINARY=/usr/sbin/nginx prove -I tests/t/lib tests/t/23-charset.t).
use strict;
use warnings;
use Test::More;
use Digest::MD5 qw(md5_hex);
use IO::Uncompress::Gunzip qw(gunzip);
use Origin;
use Sluice qw(status_of body_of head_of header_of);

my $t = Sluice->new;
my $origin_port = $t->port(2);

# koi8-r's two letters we map: 0xC1 is U+0430 (a), 0xE1 is U+0410 (A)
my %KOI = ("\x{430}" => "\xC1", "\x{410}" => "\xE1");
my $UTF8_TEXT = join('', map { "line $_: \x{430}\x{410} \x{20ac} \x{1f600} end\n" } 1 .. 3000);
my $UTF8_BYTES = $UTF8_TEXT;
utf8::encode($UTF8_BYTES);
(my $KOI_EXPECTED = $UTF8_TEXT) =~ s/([^\x00-\x7f])/$KOI{$1} \/\/ '&#' . ord($1) . ';'/ge;

$t->write_file('html/t.html', 'X' x 99);
$t->write_file('html/big.html', ('aXbX' x 50000));
$t->write_file('html/plain.txt', "plain\n");
$t->write_file('html/t.foo', "foo\n");
$t->write_file('html/koi.html', "\xC1\xE1\xFFz\n" x 1000);
$t->write_file('html/utf.html', $UTF8_BYTES);

$t->write_config(<<'EOF2');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    types { text/html html; text/plain txt; text/foo foo; }
    charset_map B A { 58 59; }
    charset_map koi8-r utf-8 { C1 D0B0; E1 D090; }
    proxy_cache_path cache keys_zone=cs:1m;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        root html;
        location / { charset utf-8; }
        location /foo/ { charset utf-8; charset_types text/foo; alias html/; }
        location /any/ { charset utf-8; charset_types *; alias html/; }
        location /var/ { charset $arg_c; alias html/; }
        location /offsub/ {
            charset utf-8;
            alias html/;
            location /offsub/off/ { charset off; alias html/; }
        }
        location /redir { charset utf-8; return 302 /x; }
        location /perm { charset utf-8; return 301 /x; }
        location /ret { charset utf-8; return 200 "ret\n"; }
        location /recode/ { charset A; source_charset B; alias html/; }
        location /recodeoff/ { charset A; source_charset B; sendfile off; alias html/; }
        location /toutf/ { charset utf-8; source_charset koi8-r; alias html/; }
        location /cgz/ {
            charset utf-8; source_charset koi8-r; alias html/;
            gzip on; gzip_min_length 1; gzip_http_version 1.0;
        }
        location /fromutf/ { charset koi8-r; source_charset utf-8; alias html/; }
        location /nomap/ { charset $arg_c; source_charset B; alias html/; }
        location /up/ { proxy_pass http://127.0.0.1:%%PORT_2%%; charset koi8-r; }
        location /upover/ { proxy_pass http://127.0.0.1:%%PORT_2%%; charset koi8-r; override_charset on; }
        location /upsrc/ { proxy_pass http://127.0.0.1:%%PORT_2%%; source_charset koi8-r; }
        location /cached/ {
            proxy_pass http://127.0.0.1:%%PORT_2%%; proxy_cache cs; proxy_cache_valid 200 1m;
            source_charset koi8-r;
        }
        location /upplain/ { proxy_pass http://127.0.0.1:%%PORT_2%%; }
    }
}
EOF2

# The origin: /utf8 is the UTF-8 text in odd-sized writes (sequences cut between reads),
# /xac/NAME a koi8-r body with "X-Accel-Charset: NAME".
Origin::scripted(port => $origin_port, handler => sub {
    my ($c) = @_;
    my $head = Origin::read_head($c) // return;
    my ($path) = $head =~ m{^GET (\S+)};
    if ($path =~ m{/utf8$}) {
        print $c "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=\"utf-8\"\r\n"
            . "Content-Length: " . length($UTF8_BYTES) . "\r\nConnection: close\r\n\r\n";
        for (my $at = 0; $at < length $UTF8_BYTES; $at += 4093) {
            syswrite($c, substr($UTF8_BYTES, $at, 4093));
            select(undef, undef, undef, 0.002) if $at < 40000;
        }
        return;
    }
    if ($path =~ m{/csB$}) {
        print $c "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=B\r\nAccept-Ranges: bytes\r\n"
            . "Content-Length: 10\r\nConnection: close\r\n\r\n0123456789";
        return;
    }
    my ($xac) = $path =~ m{/xac/([^/]+)$};
    my $body = "\xC1\xE1z\n";
    print $c "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Accel-Charset: $xac\r\n"
        . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
});

$t->start;
my $port = $t->port(1);
sub get { return $t->get_close($port, @_); }
# HTTP/1.0: a body without a length comes close-delimited, not chunked
sub get10 { return scalar $t->http_get($port, @_); }

# --- naming the charset ---
like(get('/t.html'), qr{\r\nContent-Type: text/html; charset=utf-8\r\n}, 'charset added to a listed type');
like(get('/t.foo'), qr{\r\nContent-Type: text/foo\r\n}, 'a type not in charset_types: none');
like(get('/foo/t.foo'), qr{\r\nContent-Type: text/foo; charset=utf-8\r\n}, 'charset_types');
like(get('/foo/t.html'), qr{\r\nContent-Type: text/html; charset=utf-8\r\n}, 'text/html is always in charset_types');
like(get('/foo/plain.txt'), qr{\r\nContent-Type: text/plain\r\n}, 'charset_types replaces the other defaults');
like(get('/any/t.foo'), qr{\r\nContent-Type: text/foo; charset=utf-8\r\n}, 'charset_types *');
like(get('/var/t.html?c=utf-8'), qr{\r\nContent-Type: text/html; charset=utf-8\r\n}, 'charset from a variable');
like(get('/offsub/t.html'), qr{charset=utf-8}, 'inherited');
like(get('/offsub/off/t.html'), qr{\r\nContent-Type: text/html\r\n}, 'charset off in a nested location');
like(get('/plain.txt'), qr{\r\nContent-Type: text/plain; charset=utf-8\r\n}, 'text/plain is a default type');
like(get('/ret'), qr{\r\nContent-Type: text/plain; charset=utf-8\r\n}, 'return text gets it too');
my $r = get('/redir');
is(status_of($r), 302, 'return 302');
unlike(head_of($r), qr{charset}, 'none on a 302');
unlike(head_of(get('/perm')), qr{charset}, 'none on a 301');

# --- byte tables ---
$r = get('/recode/t.html');
is(body_of($r), 'Y' x 99, 'recoded B to A');
is(header_of($r, 'Content-Length'), 99, 'the length kept');
is(header_of($r, 'Content-Type'), 'text/html; charset=A', 'named A');
$r = get('/recode/big.html');
is(md5_hex(body_of($r)), md5_hex('aYbY' x 50000), 'a 200 KB file read into memory with sendfile on');
$r = get('/recodeoff/big.html');
is(md5_hex(body_of($r)), md5_hex('aYbY' x 50000), 'and with sendfile off');
is(body_of(get('/t.html')), 'X' x 99, 'the file itself untouched');

# --- to and from utf-8 ---
$r = get10('/toutf/koi.html');
is(body_of($r), "\xD0\xB0\xD0\x90?z\n" x 1000, 'koi8-r to utf-8, unmapped bytes as ?');
is(header_of($r, 'Content-Length'), undef, 'no Content-Length');
is(header_of($r, 'Content-Type'), 'text/html; charset=utf-8', 'named utf-8');
$r = get10('/fromutf/utf.html');
is(md5_hex(body_of($r)), md5_hex($KOI_EXPECTED), 'utf-8 to koi8-r, entities for the rest');

$r = scalar $t->http($port, "GET /cgz/koi.html HTTP/1.0\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n");
is(header_of($r, 'Content-Encoding'), 'gzip', 'recoded and gzipped');
my ($gz, $plain) = (body_of($r), '');
gunzip(\$gz => \$plain);
is($plain, "\xD0\xB0\xD0\x90?z\n" x 1000, '... recoded first, as nginx');

# --- proxied ---
$r = get10('/upover/utf8');
is(header_of($r, 'Content-Type'), 'text/html; charset=koi8-r', 'override_charset: the upstream charset replaced');
is(length(body_of($r)), length($KOI_EXPECTED), 'recoded length');
is(md5_hex(body_of($r)), md5_hex($KOI_EXPECTED), 'recoded across cut sequences');
$r = get('/up/utf8');
is(header_of($r, 'Content-Type'), 'text/html; charset="utf-8"', 'without override_charset: kept');
is(md5_hex(body_of($r)), md5_hex($UTF8_BYTES), 'and the body as it came');
$r = get('/upplain/xac/utf-8');
is(header_of($r, 'Content-Type'), 'text/html; charset=utf-8', 'X-Accel-Charset names the charset');
$r = get10('/up/xac/utf-8');
is(body_of($r), "\xC1\xE1z\n", 'X-Accel-Charset without a source charset: named, not recoded');
$r = get10('/upsrc/xac/utf-8');
is(body_of($r), "\xD0\xB0\xD0\x90z\n", 'X-Accel-Charset with a source: recoded');
$r = get('/upplain/xac/latin9');
is(header_of($r, 'Content-Type'), 'text/html', 'an unknown X-Accel-Charset: unchanged');
ok($t->wait_for(sub { $t->error_log =~ /unknown charset "latin9" to override/ }), 'and logged');

# X-Accel-Charset from the cache: a HIT is recoded as the MISS was
for my $status ('MISS', 'HIT') {
    $r = get10('/cached/xac/utf-8');
    is(body_of($r), "\xD0\xB0\xD0\x90z\n", "X-Accel-Charset, from the cache too ($status)");
    is(header_of($r, 'Content-Type'), 'text/html; charset=utf-8', "... named ($status)");
}
# a multipart range names the charset once, the upstream's type parameter set apart
get10('/cached/csB');
$r = get('/cached/csB', 'Range: bytes=0-1,4-5');
is(status_of($r), 206, "ranges of a cached response") or diag($r);
is(scalar(() = $r =~ /\r\nContent-Type: text\/html; charset=B\r\n/g), 2,
   'each part: "text/html; charset=B", not twice the charset');

# --- no map at run time ---
$r = get('/nomap/t.html?c=koi8-r');
is(header_of($r, 'Content-Type'), 'text/html', 'no map between the variable charset and the source');
ok($t->wait_for(sub { $t->error_log =~ /no "charset_map" between the charsets "B" and "koi8-r"/ }),
   'logged as nginx');

$t->stop;

# --- configuration errors ---
my @bad = (
    ['charset_map A B { 58 59; } server { listen 127.0.0.1:%%PORT_1%%; charset C; source_charset A; }',
     qr/\[emerg\] (?:\d+#\d+: )?no "charset_map" between the charsets "A" and "C"/],
    ['charset_map A A { 58 59; }', qr/\[emerg\] (?:\d+#\d+: )?"charset_map" between the same charsets "A" and "A" in \S+:\d+/],
    ['charset_map A B { 58 59; } charset_map B A { 58 59; }',
     qr/\[emerg\] (?:\d+#\d+: )?duplicate "charset_map" between "B" and "A" in \S+:\d+/],
    ['charset_map A B { 5G 59; }', qr/\[emerg\] (?:\d+#\d+: )?invalid value "5G" in \S+:\d+/],
    # nginx 1.22 takes (and overflows its 4-byte slot with) a longer sequence; newer nginx and
    # sluice refuse it
    ['charset_map A utf-8 { 58 D0B0B0B0B0; }', qr/\[emerg\] (?:\d+#\d+: )?invalid value "D0B0B0B0B0" in \S+:\d+/],
    ['charset_map A B { 58; }', qr/\[emerg\] (?:\d+#\d+: )?invalid parameters number in \S+:\d+/],
    ['charset utf-8; charset utf-8;', qr/\[emerg\] (?:\d+#\d+: )?"charset" directive is duplicate in \S+:\d+/],
);
for my $case (@bad) {
    my ($http, $want) = @$case;
    next if $http =~ /D0B0B0B0B0/ && $t->binary =~ m{/nginx$};
    $t->write_config("%%TEST_GLOBALS%%\nevents { }\nhttp { $http }\n");
    my $res = $t->run('-t', '-c', $t->prefix . '/conf/sluice.conf');
    isnt($res->{exit}, 0, "refused: $http");
    like($res->{stderr}, $want, '... with nginx\'s words');
}

$t->done_testing;
