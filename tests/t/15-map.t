# The map directive: exact keys (ASCII case ignored, as nginx lowercases them), hostnames
# wildcards and their priorities, regexes with numbered and named captures, ~* case
# insensitive, default and the empty key, variables in the source and the values, volatile,
# the WebSocket recipe (map $http_upgrade $connection_upgrade) in proxy_set_header through an
# origin that echoes the request head, one evaluation per request on a keepalive connection,
# include inside map{}, and nginx's configuration errors.  Every expected byte and error line
# was observed with Debian's nginx 1.22 with the same configuration: this file passes with
# SLUICE_BINARY=/usr/sbin/nginx too.
use strict;
use warnings;
use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);

# --- the origin: answers every request with its head (request line and headers) ---
Origin::scripted(port => $origin_port, lifetime => 10, handler => sub {
    my ($c) = @_;
    my ($head) = split /\r\n\r\n/, Origin::read_head($c);
    print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($head) . "\r\nConnection: close\r\n\r\n$head";
});
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_file('conf/keys.map', "included inc;\n~^inc(\\d)\$ \"inc re \$1\";\n");
$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    map_hash_max_size 4096;
    map_hash_bucket_size 128;
    map \$arg_k \$exact {
        default def;
        abc lower;
        XyZ mixed;
        '' empty;
        \\default escaped;
        ~^re(\\d+)\$ "re \$1";
        ~*^CI(?<tail>.*)\$ "ci \$tail";
        ~^r rfirst;
        include keys.map;
    }
    map \$arg_k \$nodef { a 1; ~^\$ emptyre; }
    map \$arg_h \$host_m {
        hostnames;
        default none;
        example.com exact;
        *.example.com star;
        .dot.org dot;
        www.example.* tail;
        mail.* mail;
        *.a.example.com deeper;
        ~^www\\.example\\.com\$ regex;
        ~^w(.*)\$ "rx \$1";
    }
    map \$arg_k \$nohost { *.example.com star; default none; }
    map \$arg_v \$withvar { default "d:\$arg_v:\$uri"; x \$arg_w; y "\$arg_w-\$arg_w"; }
    map "\$arg_a:\$arg_b" \$two { "1:2" onetwo; default other; }
    map \$x \$nv { default "[\$x]"; }
    map \$x \$vol { volatile; default "[\$x]"; }
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    map \$http_x_k \$per_request { default "k=\$http_x_k"; '' none; }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /e { return 200 "exact=\$exact nodef=[\$nodef]\\n"; }
        location /h { return 200 "host=\$host_m\\n"; }
        location /nohost { return 200 "nohost=\$nohost\\n"; }
        location /v { return 200 "withvar=\$withvar\\n"; }
        location /two { return 200 "two=\$two\\n"; }
        location /nv { set \$x a; set \$y \$nv; set \$z \$vol; set \$x b; return 200 "nv=\$y,\$nv vol=\$z,\$vol\\n"; }
        location /cap { if (\$uri ~ ^/cap/(.*)\$) { } return 200 "exact=\$exact one=\$1\\n"; }
        location /ka { return 200 "\$per_request\\n"; }
        location /ws {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
        }
    }
}
EOF
$t->start;

sub body_of { my (undef, $b) = split /\r\n\r\n/, $_[0] // '', 2; $b // '' }
sub get {
    my ($path, $headers) = @_;
    $headers //= '';
    return body_of(scalar $t->http($port, "GET $path HTTP/1.0\r\nHost: localhost\r\n$headers\r\n"));
}

my @cases = (
    ['/e?k=abc', "exact=lower nodef=[]\n", 'exact key'],
    ['/e?k=ABC', "exact=lower nodef=[]\n", 'exact keys ignore case'],
    ['/e?k=xyz', "exact=mixed nodef=[]\n", 'a mixed-case key matches any case'],
    ['/e', "exact=empty nodef=[]\n", "the '' key for an absent value; no default is empty"],
    ['/e?k=', "exact=empty nodef=[]\n", "the '' key for an empty value; regexes skipped"],
    ['/e?k=default', "exact=escaped nodef=[]\n", '\\default is a key'],
    ['/e?k=re12', "exact=re 12 nodef=[]\n", 'regex capture in the value'],
    ['/e?k=rex', "exact=rfirst nodef=[]\n", 'regexes in order: the first that matches'],
    ['/e?k=ciHELLO', "exact=ci HELLO nodef=[]\n", '~* with a named capture, original case'],
    ['/e?k=CIx', "exact=ci x nodef=[]\n", '~* matches any case'],
    ['/e?k=zzz', "exact=def nodef=[]\n", 'default'],
    ['/e?k=A', "exact=def nodef=[1]\n", 'second map on the same source'],
    ['/e?k=included', "exact=inc nodef=[]\n", 'exact key from an included file'],
    ['/e?k=inc7', "exact=inc re 7 nodef=[]\n", 'regex from an included file'],
    ['/nohost?k=a.example.com', "nohost=none\n", 'without hostnames a wildcard is a plain key'],
    ['/nohost?k=*.example.com', "nohost=star\n", 'without hostnames "*.example.com" matches itself'],
    ['/v?v=x&w=W', "withvar=W\n", 'a variable as the value'],
    ['/v?v=y&w=W', "withvar=W-W\n", 'variables in the value'],
    ['/v?v=q', "withvar=d:q:/v\n", 'variables in the default'],
    ['/two?a=1&b=2', "two=onetwo\n", 'a source with variables'],
    ['/two?a=1', "two=other\n", 'a source with variables, default'],
    ['/nv', "nv=[a],[a] vol=[a],[b]\n", 'cached per request; volatile evaluated on each use'],
    ['/cap/re7?k=re5', "exact=re 5 one=5\n", "the map's regex sets the captures"],
);
for my $c (@cases) {
    is(get($c->[0]), $c->[1], $c->[2]);
}

my @hosts = (
    ['example.com', 'exact', 'hostnames: exact'],
    ['EXAMPLE.com', 'exact', 'hostnames: any case'],
    ['example.com.', 'exact', 'hostnames: a trailing dot is ignored'],
    ['a.example.com', 'star', 'hostnames: *.example.com'],
    ['b.a.example.com', 'deeper', 'hostnames: the longest head wildcard wins'],
    ['x.y.a.example.com', 'deeper', 'hostnames: a head wildcard covers any depth'],
    ['dot.org', 'dot', 'hostnames: .dot.org matches dot.org'],
    ['x.dot.org', 'dot', 'hostnames: .dot.org matches x.dot.org'],
    ['www.example.org', 'tail', 'hostnames: www.example.*'],
    ['www.example.com', 'star', 'hostnames: head wildcards before tail wildcards and regexes'],
    ['mail.x', 'mail', 'hostnames: mail.*'],
    ['mail', 'none', 'hostnames: mail.* needs the dot and more'],
    ['wfoo', 'rx foo', 'hostnames: regex after the wildcards'],
    ['www.example', 'rx ww.example', 'hostnames: a tail wildcard needs its dot'],
    ['zzz', 'none', 'hostnames: default'],
    ['.', 'none', 'hostnames: "." is empty'],
);
for my $h (@hosts) {
    is(get("/h?h=$h->[0]"), "host=$h->[1]\n", $h->[2]);
}

# The WebSocket recipe: Connection follows Upgrade; an empty Upgrade is not sent.
my $head = get('/ws/a', "Upgrade: websocket\r\n");
like($head, qr{\r\nUpgrade: websocket\r\nConnection: upgrade\r\n}, 'recipe: Upgrade present -> Connection: upgrade');
$head = get('/ws/b');
like($head, qr{\r\nConnection: close\r\n}, 'recipe: no Upgrade -> Connection: close');
unlike($head, qr{\r\nUpgrade:}, 'recipe: no Upgrade header sent');

# Keepalive: each request evaluates the map anew.
my $r = $t->http($port, "GET /ka HTTP/1.1\r\nHost: x\r\nX-K: one\r\n\r\n"
    . "GET /ka HTTP/1.1\r\nHost: x\r\n\r\n"
    . "GET /ka HTTP/1.1\r\nHost: x\r\nX-K: two\r\nConnection: close\r\n\r\n");
my @bodies = map { (split /\r\n\r\n/, $_, 2)[1] } grep { length } split /(?=HTTP\/1\.1 )/, $r // '';
is_deeply(\@bodies, ["k=one\n", "none\n", "k=two\n"], 'keepalive: one value per request');

$t->stop;

# --- configuration errors ---
my @bad = (
    ['map $uri $a { x 1; x 2; }', 'conflicting parameter "x"'],
    ['map $uri $a { x 1; X 2; }', 'conflicting parameter "x"'],
    ["map \$uri \$a { '' 1; '' 2; }", 'conflicting parameter ""'],
    ['map $uri $a { default 1; default 2; }', 'duplicate default map parameter'],
    ['map $uri $a { ~( 1; }', 'pcre2_compile() failed: missing closing parenthesis in "("'],
    ['map $uri $a { hostnames; *.a.com 1; *.a.com 2; }', 'conflicting parameter "*.a.com"'],
    ['map $uri $a { hostnames; .a.com 1; *.a.com 2; }', 'conflicting parameter "*.a.com"'],
    ['map $uri $a { hostnames; *.a.com 1; .a.com 2; }', 'conflicting parameter ".a.com"'],
    ['map $uri $a { hostnames; .a.com 1; a.com 2; }', 'conflicting parameter "a.com"'],
    ['map $uri $a { hostnames; a.com 1; .a.com 2; }', 'conflicting parameter ".a.com"'],
    ['map $uri $a { hostnames; x.* 1; x.* 2; }', 'conflicting parameter "x.*"'],
    ['map $uri $a { hostnames; *a.com 1; }', 'invalid hostname or wildcard "*a.com"'],
    ['map $uri $a { hostnames; a.*.com 1; }', 'invalid hostname or wildcard "a.*.com"'],
    ['map $uri $a { hostnames; a..com 1; }', 'invalid hostname or wildcard "a..com"'],
    ['map $uri $a { hostnames; * 1; }', 'invalid hostname or wildcard "*"'],
    ['map $uri $a { hostnames; *.* 1; }', 'invalid hostname or wildcard "*.*"'],
    ['map $uri $a { x 1 2; }', 'invalid number of the map parameters'],
    ['map $uri $a { x; }', 'invalid number of the map parameters'],
    ['map $uri a { x 1; }', 'invalid variable name "a"'],
    ['map $uri { x 1; }', 'invalid number of arguments in "map" directive'],
    ['map $uri $uri { x 1; }', 'the duplicate "uri" variable'],
    ['map $uri $a { ~(?<host>x) 1; }', 'the duplicate "host" variable'],
    ['map $uri $a { x { }', 'unexpected "{"'],
    ['map $uri $a;', 'directive "map" has no opening "{"'],
    ['server { map $uri $a { } }', '"map" directive is not allowed here'],
);
for my $case (@bad) {
    my ($text, $message) = @$case;
    my $file = $t->write_file('conf/bad.conf', "%%TEST_GLOBALS%%\nevents { }\nhttp {\n    $text\n}\n");
    my $run = $t->run('-c', 'conf/bad.conf', '-t');
    isnt($run->{exit}, 0, "config error: $text: fails");
    like($run->{stderr}, qr/\[emerg\] (?:\d+#\d+: )?\Q$message\E in \Q$file\E:\d+$/m, "config error: $message")
        or diag($run->{stderr});
}
my $file = $t->write_file('conf/bad.conf', "%%TEST_GLOBALS%%\nevents { }\nhttp {\n    map \$uri \$a { x \$nosuch; }\n}\n");
like($t->run('-c', 'conf/bad.conf', '-t')->{stderr}, qr/\[emerg\] (?:\d+#\d+: )?unknown "nosuch" variable$/m,
     'config error: unknown variable in a value');
my $good = $t->write_file('conf/good.conf', "%%TEST_GLOBALS%%\nevents { }\nhttp {\n"
    . "    map_hash_bucket_size 1;\n"
    . "    map \$uri \$a { hostnames; \\default 1; default 2; volatile x; hostnames 1; . 2; .* 3; \"\" 4; }\n"
    . "    map \$uri \$a { ~x 1; ~x 2; }\n}\n");
my $run = $t->run('-c', 'conf/good.conf', '-t');
is($run->{exit}, 0, 'accepted: hash sizes, \\default, keys named like flags, a map redefined')
    or diag($run->{stderr});

$t->done_testing;
