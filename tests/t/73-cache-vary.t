# Vary: a response that varies is stored per variant of the request headers it names.
# - two clients with different Accept-Language get their own variant, each then a HIT;
# - the first variant (under the key's own file) and the second (under the variant's key)
#   are both kept: the origin is asked once per variant;
# - "Vary: *" is never stored; proxy_ignore_headers Vary stores one response for all;
# - proxy_cache_max_range_offset: a range past it goes upstream as it is and is not stored;
#   proxy_cache_min_uses: below it the Range goes upstream, at it the whole response;
# - Accept-Language values differing only by blanks and empty elements are one variant;
# - several Vary lines name several headers, all of them select the variant;
# - a response without Vary fetched for a variant's key replaces every variant (it is
#   stored under the key itself), and a response whose Vary names other headers than the
#   stored one's is stored under the key itself too, so the variants fetched after it keep
#   their own keys.
use strict;
use warnings;
use Test::More;
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;

sub serve {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or return; }
    my ($uri) = $req =~ m{^\w+ (\S+) };
    my ($lang) = $req =~ /^Accept-Language: (.*?)\r$/mi;
    my ($range) = $req =~ /^Range: (.*?)\r$/mi;
    open(my $log, '>>', "$dir/requests") or die;
    print $log "$uri\n";
    close $log;
    my ($foo) = $req =~ /^X-Foo: (.*?)\r$/mi;
    my ($xx) = $req =~ /^X-X: (.*?)\r$/mi;
    my $vary = $uri =~ /star/ ? "Vary: *\r\n"
             : $uri =~ /multi/ ? "Vary: Accept-Language\r\nVary: X-Foo\r\n"
             : $uri =~ /novary/ ? ''
             : $uri =~ /vary=([\w-]+)/ ? "Vary: $1\r\n"
             : "Vary: Accept-Language\r\n";
    my $body = "$uri lang=" . ($lang // '-') . " range=" . ($range // '-');
    $body .= " foo=" . ($foo // '-') if $uri =~ /multi/;
    $body .= " x=" . ($xx // '-') if $uri =~ /vary=/;
    Origin::write_all($c, "HTTP/1.1 200 OK\r\n${vary}Content-Length: " . length($body)
                      . "\r\nConnection: close\r\n\r\n$body");
}

Origin::scripted(port => $origin_port, lifetime => 30, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    proxy_temp_path %%PREFIX%%/proxy_temp;
    proxy_cache_path %%PREFIX%%/cache levels=2 keys_zone=z:1m;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        proxy_cache z;
        proxy_cache_valid 200 1h;
        add_header X-Cache \$upstream_cache_status always;
        location / { proxy_pass http://127.0.0.1:$origin_port; }
        location /ign/ { proxy_pass http://127.0.0.1:$origin_port; proxy_ignore_headers Vary; }
        location /off/ { proxy_pass http://127.0.0.1:$origin_port; proxy_cache_max_range_offset 2; }
        location /min/ { proxy_pass http://127.0.0.1:$origin_port; proxy_cache_min_uses 2; }
        location /k/ { proxy_pass http://127.0.0.1:$origin_port; proxy_cache_key \$uri; }
    }
}
EOF
$t->temp_paths('proxy_temp');
$t->start;

sub get {
    my ($uri, $extra) = @_;
    my $r = $t->http($port, "GET $uri HTTP/1.0\r\nHost: front.test\r\n" . ($extra // '') . "\r\n") // '';
    return (Sluice::header_of($r, 'X-Cache') // '-') . ' ' . Sluice::body_of($r);
}

sub asked { open(my $fh, '<', "$dir/requests") or return 0; my @l = grep { $_ eq "$_[0]\n" } <$fh>; scalar @l }

my $en = "Accept-Language: en\r\n";
my $fr = "Accept-Language: fr\r\n";
is(get('/v', $en), 'MISS /v lang=en range=-', 'en: MISS');
is(get('/v', $fr), 'MISS /v lang=fr range=-', 'fr: MISS, another variant');
is(get('/v', $en), 'HIT /v lang=en range=-', 'en: HIT');
is(get('/v', $fr), 'HIT /v lang=fr range=-', 'fr: HIT, kept beside it');
is(get('/v'), 'MISS /v lang=- range=-', 'no Accept-Language: a third variant');
is(get('/v'), 'HIT /v lang=- range=-', 'and it is kept');
is(asked('/v'), 3, 'the origin was asked once per variant');

get('/star');
is(get('/star'), 'MISS /star lang=- range=-', 'Vary: * is not stored');

is(get('/ign/x', $en), 'MISS /ign/x lang=en range=-', 'Vary ignored: stored');
is(get('/ign/x', $fr), 'HIT /ign/x lang=en range=-', 'one response for every variant');

is(get('/off/r', "Range: bytes=5-\r\n"), 'MISS /off/r lang=- range=bytes=5-',
   'a range past max_range_offset goes upstream');
is(get('/off/r'), 'MISS /off/r lang=- range=-', 'and is not stored');
is(get('/off/r', "Range: bytes=1-\r\n"), 'HIT /off/r lang=- range=-',
   'a range below it is answered by the stored response');
is(get('/min/m', "Range: bytes=0-2\r\n"), 'MISS /min/m lang=- range=bytes=0-2',
   'below min_uses the Range goes upstream');
is(get('/min/m', "Range: bytes=0-2\r\n"), 'MISS /min/m lang=- range=-',
   'at min_uses the whole response is fetched (no Range upstream)');
is(get('/min/m'), 'HIT /min/m lang=- range=-', 'and stored');

is(get('/n', "Accept-Language: en, fr\r\n"), 'MISS /n lang=en, fr range=-', 'a list: MISS');
is(get('/n', "Accept-Language: en,fr\r\n"), 'HIT /n lang=en, fr range=-',
   'the same list without blanks: the same variant');
is(get('/n', "Accept-Language: en,, ,fr , \r\n"), 'HIT /n lang=en, fr range=-',
   'with empty elements: the same variant');
is(get('/n', "Accept-Language: enfr\r\n"), 'MISS /n lang=enfr range=-',
   'other elements: another variant');

is(get('/multi', "X-Foo: a\r\n"), 'MISS /multi lang=- range=- foo=a', 'two Vary lines: MISS');
is(get('/multi', "X-Foo: a\r\n"), 'HIT /multi lang=- range=- foo=a', 'the same values: HIT');
is(get('/multi', "X-Foo: b\r\n"), 'MISS /multi lang=- range=- foo=b',
   'the second line\'s header differs: another variant');
is(get('/multi', "X-Foo: a\r\nAccept-Language: en\r\n"),
   'MISS /multi lang=en range=- foo=a', 'the first line\'s header differs: another variant');

is(get('/k/r', $en), 'MISS /k/r lang=en range=-', 'replace: a variant stored');
is(get('/k/r?novary', $fr), 'MISS /k/r?novary lang=fr range=-',
   'another variant fetched, answered without Vary');
is(get('/k/r?other', "Accept-Language: de\r\n"), 'HIT /k/r?novary lang=fr range=-',
   'it replaced the stored variant: every request gets it');
is(get('/k/r', $en), 'HIT /k/r?novary lang=fr range=-', 'the first variant\'s request too');

get('/k/c?vary=X-Z', "X-Z: 1\r\n");
is(get('/k/c?vary=X-X', "X-X: 1\r\n"), 'MISS /k/c?vary=X-X lang=- range=- x=1',
   'Vary names another header: MISS');
is(get('/k/c?vary=X-X', "X-X: 1\r\n"), 'HIT /k/c?vary=X-X lang=- range=- x=1',
   'stored under the key itself');
is(get('/k/c?vary=X-X', "X-X: 2\r\n"), 'MISS /k/c?vary=X-X lang=- range=- x=2',
   'another value: MISS');
is(get('/k/c?vary=X-X', "X-X: 2\r\n"), 'HIT /k/c?vary=X-X lang=- range=- x=2',
   'stored under its variant\'s key');
is(get('/k/c?vary=X-X', "X-X: 1\r\n"), 'HIT /k/c?vary=X-X lang=- range=- x=1',
   'beside the first');

$t->done_testing;
