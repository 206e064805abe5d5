# $limit_rate and when limit_rate takes effect.  nginx 1.22 applies a location's limit_rate
# (and limit_rate_after) at the response's first write, unless $limit_rate or
# X-Accel-Limit-Rate set the rate before; so $limit_rate reads 0 in "return" text and in
# add_header, and the location's rate in the access log.  An unbuffered proxied response
# has no rate.  limit_rate takes variables.
#
# Expected bytes are Debian's nginx 1.22.1's for the same config and requests (checked side
# by side); only the ports differ.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use Sluice;

my $t = Sluice->new;
my $port = $t->port(1);
$t->write_file('html/f.txt', "hello file\n");
$t->write_file('html/big.txt', 'x' x 20000);

$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format lr '$request_uri $status rate=$limit_rate sent=$body_bytes_sent';
    access_log logs/access.log lr;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        root html;
        location /a { limit_rate 10k; return 200 "rate=$limit_rate\n"; }
        location /b { limit_rate 10k; set $limit_rate 5k; return 200 "rate=$limit_rate\n"; }
        location /c { return 200 "rate=$limit_rate\n"; }
        location /e { limit_rate 10k; return 444; }
        location /h { limit_rate 10k; add_header X-Rate "r$limit_rate"; return 200 "rate=$limit_rate\n"; }
        location /n { limit_rate 10k; return 204; }
        location /i { limit_rate 10k; if ($arg_x) { limit_rate 1k; } return 200 "rate=$limit_rate\n"; }
        location /bad { set $limit_rate abc; return 200 "rate=$limit_rate\n"; }
        location /zero { limit_rate 10k; set $limit_rate 0; return 200 "rate=$limit_rate\n"; }
        location /f.txt { limit_rate 10k; add_header X-Rate "r$limit_rate"; }
        location /ep { limit_rate 10k; error_page 404 = /c; return 404; }
        location /ep2 { error_page 404 = /a; return 404; }
        location /var { limit_rate $arg_r; return 200 "rate=$limit_rate\n"; }
        location /big.txt { limit_rate $arg_r; limit_rate_after $arg_after; }
        location /p { limit_rate 10k; add_header X-Rate "r$limit_rate"; proxy_pass http://127.0.0.1:%%PORT_2%%/up; }
        location /ph { limit_rate 10k; add_header X-Rate "r$limit_rate"; proxy_pass http://127.0.0.1:%%PORT_2%%/plain; }
        location /pb { limit_rate 10k; proxy_buffering off; add_header X-Rate "r$limit_rate"; proxy_pass http://127.0.0.1:%%PORT_2%%/up; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        access_log off;
        location /up { add_header X-Accel-Limit-Rate 2000; return 200 "up\n"; }
        location /plain { return 200 "plain\n"; }
    }
}
EOF
$t->start;

# The response without the headers that change from run to run or name the server.
sub get {
    my ($uri) = @_;
    my $r = $t->http($port, "GET $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        // '';
    $r =~ s/^(?:Date|Server|Connection|Last-Modified|ETag|Accept-Ranges|Content-Type): [^\r]*\r\n//mg;
    return $r;
}

my %body = (
    '/a' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/b' => "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nrate=5120\n",
    '/c' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/e' => '',
    '/h' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX-Rate: r0\r\n\r\nrate=0\n",
    '/n' => "HTTP/1.1 204 No Content\r\n\r\n",
    '/i?x=1' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/i' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/bad' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/zero' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/f.txt' => "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Rate: r0\r\n\r\nhello file\n",
    '/ep' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/ep2' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/var?r=3k' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/var' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/var?r=junk' => "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nrate=0\n",
    '/p' => "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Rate: r2000\r\n\r\nup\n",
    '/ph' => "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Rate: r0\r\n\r\nplain\n",
    '/pb' => "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Rate: r2000\r\n\r\nup\n",
);
# the access log line of each, in the same order
my @uris = ('/a', '/b', '/c', '/e', '/h', '/n', '/i?x=1', '/i', '/bad', '/zero', '/f.txt', '/ep',
            '/ep2', '/var?r=3k', '/var', '/var?r=junk', '/p', '/ph', '/pb');
my @log = (
    '/a 200 rate=10240 sent=7',       # the location's rate, applied when the response went out
    '/b 200 rate=5120 sent=10',       # set $limit_rate wins over limit_rate
    '/c 200 rate=0 sent=7',
    '/e 444 rate=0 sent=0',           # nothing was written: never applied
    '/h 200 rate=10240 sent=7',
    '/n 204 rate=10240 sent=0',       # a header is a write
    '/i?x=1 200 rate=1024 sent=7',    # the if block's
    '/i 200 rate=10240 sent=7',
    '/bad 200 rate=0 sent=7',         # invalid $limit_rate: ignored, nothing set
    '/zero 200 rate=0 sent=7',        # set to 0 before the write: no limit
    '/f.txt 200 rate=10240 sent=11',
    '/ep 200 rate=0 sent=7',          # the final location's limit_rate counts
    '/ep2 200 rate=10240 sent=7',
    '/var?r=3k 200 rate=3072 sent=7', # limit_rate with a variable
    '/var 200 rate=0 sent=7',         # empty: invalid size, no limit
    '/var?r=junk 200 rate=0 sent=7',
    '/p 200 rate=2000 sent=3',        # X-Accel-Limit-Rate set it before the write
    '/ph 200 rate=10240 sent=6',
    '/pb 200 rate=0 sent=3',          # unbuffered: no limit
);

for my $uri (@uris) {
    is(get($uri), $body{$uri}, "$uri: response bytes");
}
$t->wait_for(sub { (($t->read_file('logs/access.log') // '') =~ tr/\n//) >= @log }, 5);
is_deeply([split /\n/, $t->read_file('logs/access.log') // ''], \@log,
          'access log: $limit_rate after each response');

my $err = $t->error_log;
like($err, qr/\[error\] .*invalid \$limit_rate "abc", client: 127\.0\.0\.1, server: , request: "GET \/bad HTTP\/1\.1"/,
     'set $limit_rate with a bad size: logged as nginx');
like($err, qr/\[error\] .*invalid size "", client: 127\.0\.0\.1, server: , request: "GET \/var HTTP\/1\.1"/,
     'limit_rate $var evaluating to nothing: logged as nginx');
like($err, qr/\[error\] .*invalid size "junk", client: .*request: "GET \/var\?r=junk HTTP\/1\.1"/,
     'limit_rate $var evaluating to junk: logged as nginx');

# a rate from a variable really limits: 20000 bytes at 10000/s take more than a second (the
# budget is rate x started seconds); limit_rate_after from a variable lets them all through
my $start = time;
my $r = $t->http($port, "GET /big.txt?r=10000 HTTP/1.0\r\n\r\n", timeout => 8) // '';
my $took = time - $start;
like($r, qr/\r\n\r\nx{20000}$/, 'limit_rate $arg_r: the whole body');
cmp_ok($took, '>=', 0.9, 'limit_rate $arg_r: throttled');
$start = time;
$r = $t->http($port, "GET /big.txt?r=10000&after=30000 HTTP/1.0\r\n\r\n", timeout => 8) // '';
like($r, qr/\r\n\r\nx{20000}$/, 'limit_rate_after $arg_after: the whole body');
cmp_ok(time - $start, '<', 0.9, 'limit_rate_after $arg_after: not throttled');

# configuration: a literal must be a size; variables must exist (nginx writes its pid after
# the level, sluice does not)
my $emerg = qr/\[emerg\] (?:\d+#\d+: )?/;
for my $case (['abc', qr/$emerg"limit_rate" directive invalid value in .*sluice\.conf:\d+$/m],
              ['""', qr/$emerg"limit_rate" directive invalid value in /],
              ['1g', qr/$emerg"limit_rate" directive invalid value in /],
              ['$nope', qr/${emerg}unknown "nope" variable/]) {
    my $c = Sluice->new;
    $c->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http { server { listen 127.0.0.1:%%PORT_1%%; location / { limit_rate $case->[0]; } } }
EOF
    my $res = $c->run('-c', 'conf/sluice.conf', '-t');
    isnt($res->{exit}, 0, "limit_rate $case->[0]: -t fails");
    like($res->{stderr}, $case->[1], "limit_rate $case->[0]: nginx's message");
    $c->final_checks;
}

is($t->stop, 0, 'graceful stop');
$t->done_testing;
