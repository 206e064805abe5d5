# The small modules of #20, each through a real socket with its own configuration:
# split_clients (the values nginx 1.22 gives the same strings), empty_gif, index with
# variables, random_index, valid_referers/$invalid_referer, secure_link (both modes), and
# $request_id.  Expected values marked "nginx" are what Debian's nginx 1.22.1 answered to
# the same request with the same configuration.
use strict;
use warnings;
use Test::More;
use Digest::MD5 qw(md5 md5_hex);
use MIME::Base64 qw(encode_base64url);
use Sluice qw(status_of body_of header_of);

my $t = Sluice->new;
$t->write_file('html/index.a.html', "variant a\n");
$t->write_file('html/index.b.html', "variant b\n");
$t->write_file('html/rnd/one.html', "one\n");
$t->write_file('html/rnd/two.html', "two\n");
$t->write_file('html/rnd/.hidden', "hidden\n");
$t->write_file('html/s/file', "secret\n");
$t->write_file('conf/geo.conf', "192.168.0.0/16 private;\n");
$t->write_file('html/p/file', "protected\n");
$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    root html;
    split_clients "$arg_x" $v { 0.5% a; 20% b; 33.33% c; * d; }
    split_clients "$arg_x" $w { 10% a; 10% b; }
    split_clients "$arg_x" $idx { 50% a; * b; }
    geo $arg_ip $g {
        default none;
        include geo.conf;
        10.0.0.0/8 ten;
        10.1.0.0/16 ten-one;
        10.1.2.3 host;
        10.9.0.0/16 deleted;
        delete 10.9.0.0/16;
        2001:db8::/32 doc6;
        255.255.255.255 unix;
    }
    geo $arg_ip $gr {
        ranges;
        default none;
        10.0.0.0-10.0.255.255 a;
        10.0.1.0-10.0.1.255 b;
        10.2.0.0-10.3.255.255 c;
        delete 10.3.0.0-10.3.255.255;
    }
    geo $gp {
        proxy 127.0.0.1;
        default none;
        192.0.2.0/24 doc;
        127.0.0.0/8 loop;
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name localhost ~^re\d+$;
        location /split { return 200 "$v$w\n"; }
        location = / { index index.$idx.html; }
        location /gif { empty_gif; }
        location /rnd/ { random_index on; }
        location /ref { valid_referers none blocked example.org/pub *.example.net www.example.* ~\.test/ok;
                        return 200 "[$invalid_referer]"; }
        location /sn { valid_referers server_names; return 200 "[$invalid_referer]"; }
        location /geo { return 200 "$g|$gr|$gp"; }
        location /uid {
            userid on; userid_name sid; userid_domain example.org; userid_path /uid;
            userid_expires 1h; userid_flags secure httponly samesite=lax; userid_mark x;
            userid_service 258; userid_p3p 'CP="NOI"';
            add_header X-Got "$uid_got"; add_header X-Set "$uid_set";
            return 200 "ok";
        }
        location /open { return 200 "[$invalid_referer]"; }
        location /s/ {
            secure_link $arg_md5,$arg_e;
            secure_link_md5 "$arg_e$uri sesame";
            add_header X-Expires "$secure_link_expires";
            if ($secure_link = "") { return 403; }
            if ($secure_link = "0") { return 410; }
        }
        location /p/ {
            secure_link_secret sesame;
            if ($secure_link = "") { return 403; }
            rewrite ^ /s/$secure_link break;
        }
    }
}
EOF
$t->start;
my $p = $t->port(1);
sub get { my ($uri, @h) = @_; return $t->http($p, "GET $uri HTTP/1.0\r\nHost: localhost\r\n" . join('', map { "$_\r\n" } @h) . "\r\n"); }

# ---- split_clients ----
my %nginx = (1 => 'c', 2 => 'bb', 3 => 'c', 4 => 'b', 5 => 'c', 6 => 'c', 7 => 'd', 8 => 'ba',
             abc => 'ba', hello => 'd', '' => 'aa');
for my $x (sort keys %nginx) {
    is(body_of(get("/split?x=$x")), "$nginx{$x}\n", "split_clients \"$x\": as nginx");
}
my %seen;
$seen{body_of(get("/?x=$_"))}++ for 1 .. 8;
is_deeply([sort keys %seen], ["variant a\n", "variant b\n"], 'index with a split_clients variable');

# ---- empty_gif ----
my $r = get('/gif');
is(status_of($r), 200, 'empty_gif: 200');
is(header_of($r, 'Content-Type'), 'image/gif', 'empty_gif: image/gif');
is(length(body_of($r)), 43, 'empty_gif: 43 bytes');
is(substr(body_of($r), 0, 6), 'GIF89a', 'empty_gif: a GIF');
is(header_of($r, 'Last-Modified'), 'Mon, 28 Sep 1970 06:00:00 GMT', 'empty_gif: nginx\'s Last-Modified');
is(status_of(get('/gif', 'If-Modified-Since: Mon, 28 Sep 1970 06:00:00 GMT')), 304, 'empty_gif: 304');
is(status_of($t->http($p, "POST /gif HTTP/1.0\r\nContent-Length: 2\r\n\r\nab")), 405, 'empty_gif: POST 405');

# ---- random_index ----
%seen = ();
for (1 .. 30) {
    $r = get('/rnd/');
    $seen{body_of($r)}++;
}
is_deeply([sort keys %seen], ["one\n", "two\n"], 'random_index: both files, never a dot file');

# ---- valid_referers / $invalid_referer ----
for my $case (
    ['/ref', undef, '[]', 'none: no Referer is valid'],
    ['/ref', 'garbage', '[]', 'blocked: a Referer without scheme is valid'],
    ['/ref', 'http://example.org/pub/x', '[]', 'a name with its uri'],
    ['/ref', 'https://EXAMPLE.org:8080/pub', '[]', 'https, any case, a port'],
    ['/ref', 'http://example.org/private', '[1]', 'a name with another uri'],
    ['/ref', 'http://a.b.example.net/', '[]', '*.example.net: a subdomain'],
    ['/ref', 'http://example.net/', '[1]', '*.example.net: not the bare name'],
    ['/ref', 'http://www.example.com/', '[]', 'www.example.*'],
    ['/ref', 'http://site.test/ok', '[]', 'a regex on the whole referer'],
    ['/ref', 'http://site.test/no', '[1]', 'the regex does not match'],
    ['/ref', 'http://' . ('a' x 257), '[1]', 'a host of 257 bytes'],
    ['/sn', 'http://localhost/x', '[]', 'server_names'],
    ['/sn', 'http://re42/', '[]', 'server_names: a regex name'],
    ['/sn', 'http://other/', '[1]', 'server_names: another host'],
    ['/open', 'http://other/', '[]', 'no valid_referers: always valid'],
) {
    my ($uri, $ref, $want, $name) = @$case;
    is(body_of(get($uri, defined $ref ? ("Referer: $ref") : ())), $want, "referer: $name");
}

# ---- geo ----
for my $case (
    ['10.2.3.4', 'ten|c|loop', 'a /8, a range'], ['10.1.9.9', 'ten-one|none|loop', 'the most specific network'],
    ['10.1.2.3', 'host|none|loop', 'a host'], ['10.9.1.1', 'ten|none|loop', 'a deleted network'],
    ['192.168.1.1', 'private|none|loop', 'from an include'], ['2001:db8::5', 'doc6|none|loop', 'IPv6'],
    ['::ffff:10.1.2.3', 'host|none|loop', 'IPv4-mapped'], ['8.8.8.8', 'none|none|loop', 'default'],
    ['junk', 'unix|none|loop', 'not an address: 255.255.255.255'],
    ['10.0.1.7', 'ten|b|loop', 'a range inside another splits it'],
    ['10.0.2.7', 'ten|a|loop', 'the rest of the split range'],
    ['10.3.0.1', 'ten|none|loop', 'a deleted range'],
) {
    my ($ip, $want, $name) = @$case;
    is(body_of(get("/geo?ip=$ip")), $want, "geo: $name");
}
is(body_of(get('/geo', 'X-Forwarded-For: 192.0.2.7')), 'unix|none|doc', 'geo: proxy, X-Forwarded-For');

# ---- userid ----
$r = get('/uid');
my $cookie = header_of($r, 'Set-Cookie');
like($cookie, qr{^sid=[A-Za-z0-9+/]{22}x=; expires=\w{3}, \d\d-\w{3}-\d\d \d\d:\d\d:\d\d GMT; domain=example\.org; path=/uid; secure; httponly; samesite=lax$},
     'userid: the cookie, marked, with its attributes');
is(header_of($r, 'P3P'), 'CP="NOI"', 'userid: P3P');
my ($set) = header_of($r, 'X-Set') =~ /^sid=([0-9A-F]{32})$/;
ok($set, 'userid: $uid_set');
# the words are printed as the host reads them: 258 in network order reads 0x02010000 on a
# little-endian machine, as with nginx
my $little_endian = pack('L', 1) eq pack('V', 1);
is(substr($set, 0, 8), $little_endian ? '02010000' : '00000102', 'userid: the service word');
my ($value) = $cookie =~ /^sid=([^;]+)/;
$r = get('/uid', "Cookie: a=b; sid=$value");
is(header_of($r, 'Set-Cookie'), undef, 'userid: a marked cookie is not set again');
is(header_of($r, 'X-Got'), "sid=$set", 'userid: $uid_got is what was set');
my $unmarked = substr($value, 0, 22) . '==';
$r = get('/uid', "Cookie: sid=$unmarked");
like(header_of($r, 'Set-Cookie'), qr/^sid=\Q${\substr($value, 0, 22)}\Ex=;/, 'userid: an unmarked cookie is marked');
$r = get('/uid', 'Cookie: sid=short');
like(header_of($r, 'Set-Cookie'), qr/^sid=/, 'userid: a short cookie gets a new one');
like($t->error_log, qr/client sent too short userid cookie "sid=short"/, 'userid: nginx\'s line');

# ---- secure_link ----
sub link_hash { my ($text) = @_; return encode_base64url(md5($text)); }
my $future = time() + 3600;
$r = get("/s/file?md5=" . link_hash("$future/s/file sesame") . "&e=$future");
is(status_of($r), 200, 'secure_link: a signed link');
is(body_of($r), "secret\n", 'secure_link: the file');
is(header_of($r, 'X-Expires'), $future, 'secure_link: $secure_link_expires');
is(status_of(get("/s/file?md5=" . link_hash("1/s/file sesame") . "&e=1")), 410, 'secure_link: expired is "0"');
is(status_of(get("/s/file?md5=" . link_hash("$future/s/other sesame") . "&e=$future")), 403, 'secure_link: wrong hash');
is(status_of(get("/s/file?md5=AAAA&e=$future")), 403, 'secure_link: a short hash');
is(status_of(get("/s/file?md5=" . link_hash("$future/s/file sesame") . "&e=0")), 403, 'secure_link: expires 0');
$r = get('/p/' . md5_hex('file' . 'sesame') . '/file');
is(body_of($r), "secret\n", 'secure_link_secret: a signed uri');
is(status_of(get('/p/' . md5_hex('filx' . 'sesame') . '/file')), 403, 'secure_link_secret: wrong hash');
is(status_of(get('/p/nothex/file')), 403, 'secure_link_secret: no hash');

$t->done_testing;
