# Upstream groups behind proxy_pass (issue #5): the keepalive pool of upstream connections
# ("keepalive N" in the upstream block, with proxy_http_version 1.1 and an empty Connection
# header).  Scripted origins count the connections they accept, the requests on each, and
# how each ended.  Checked: sequential requests share one connection; without the pool, or
# with an HTTP/1.0 upstream request, every request has its own; the idle pool keeps at most
# N connections after a burst; an origin closing an idle connection (after a moment, or at
# once after each answer without saying so) costs the client nothing; keepalive_requests
# and keepalive_timeout inside upstream.
#
# Validated against Debian's nginx 1.22.1: every expected count below is what it produced.
# To rerun against nginx:
#   SLUICE_BINARY=/usr/sbin/nginx prove -v -I tests/t/lib tests/t/37-upstream-keepalive.t
use strict;
use warnings;
use Test::More;
use Sluice;
use Origin;

my $t = Sluice->new;

my %origin;
my %opts = (c => { idle_close => 0.2 }, d => { mode => 'close' }, j => { mode => 'close_in_list' });
my $slot = 10;
for my $name (qw(a b c d e f g h i j)) {
    $origin{$name} = Origin->start($t, name => $name, port => $t->port(++$slot),
                                   %{ $opts{$name} // {} });
}

$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    # a=11 b=12 c=13 d=14 e=15 f=16 g=17 h=18 i=19 j=20
    upstream ka    { server 127.0.0.1:%%PORT_11%%; keepalive 2; }
    upstream pool  { server 127.0.0.1:%%PORT_12%%; keepalive 2; }
    upstream idle  { server 127.0.0.1:%%PORT_13%%; keepalive 2; }
    upstream gone  { server 127.0.0.1:%%PORT_14%%; keepalive 2; }
    upstream kreq  { server 127.0.0.1:%%PORT_15%%; keepalive 2; keepalive_requests 3; }
    upstream ktime { server 127.0.0.1:%%PORT_16%%; keepalive 2; keepalive_timeout 1s; }
    upstream kdef  { server 127.0.0.1:%%PORT_17%%; keepalive 2; }
    upstream nopool { server 127.0.0.1:%%PORT_18%%; }
    upstream http10 { server 127.0.0.1:%%PORT_19%%; keepalive 2; }
    upstream listclose { server 127.0.0.1:%%PORT_20%%; keepalive 2; }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /ka/ { proxy_pass http://ka; }
        location /pool/ { proxy_pass http://pool; }
        location /idle/ { proxy_pass http://idle; }
        location /gone/ { proxy_pass http://gone; }
        location /kreq/ { proxy_pass http://kreq; }
        location /ktime/ { proxy_pass http://ktime; }
        location /kdef/ { proxy_pass http://kdef; }
        location /nopool/ { proxy_pass http://nopool; }
        location /listclose/ { proxy_pass http://listclose; }
        location /http10/ { proxy_pass http://http10; proxy_http_version 1.0; proxy_set_header Connection close; }
    }
}
EOF
$t->start;
my $port = $t->port(1);

sub send_get {
    my ($uri) = @_;
    my $s = Origin::client($port) or return undef;
    print $s "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n";
    return $s;
}

# "STATUS BODY" of a request sent with send_get
sub finish {
    my ($s) = @_;
    return 'no connection' unless $s;
    my ($status, undef, $body) = Origin::parse_response(scalar $t->read_all($s));
    close $s;
    return "$status $body";
}

sub get { finish(send_get($_[0])) }

# --- one connection for sequential requests ---
is(join(',', map { get("/ka/$_") } 1 .. 5), join(',', ('200 a') x 5), 'keepalive: five answers');
is($origin{a}->accepts, 1, 'keepalive: one upstream connection');
is_deeply([$origin{a}->requests_per_connection], [5], 'keepalive: all five requests on it');
is_deeply([map { "$_->{version} $_->{connection}" } $origin{a}->request_log], [('HTTP/1.1 -') x 5],
          'keepalive: HTTP/1.1 requests upstream without a Connection header');
is($origin{a}->open_connections, 1, 'keepalive: the connection stays open');

is(join(',', map { get("/nopool/$_") } 1 .. 3), join(',', ('200 h') x 3), 'no keepalive in the group: answers');
is_deeply([$origin{h}->requests_per_connection], [1, 1, 1], 'no keepalive in the group: a connection per request');
ok($t->wait_for(sub { $origin{h}->open_connections == 0 }, 10), 'no keepalive in the group: each is closed');
is(join(',', map { get("/http10/$_") } 1 .. 3), join(',', ('200 i') x 3), 'HTTP/1.0 upstream requests: answers');
is_deeply([$origin{i}->requests_per_connection], [1, 1, 1], 'HTTP/1.0 upstream requests: a connection per request');
is_deeply([map { "$_->{version} $_->{connection}" } $origin{i}->request_log], [('HTTP/1.0 close') x 3],
          'HTTP/1.0 upstream requests: Connection: close sent');

# "close" anywhere in the upstream's Connection list: the connection is not kept
is(join(',', map { get("/listclose/$_") } 1 .. 2), '200 j,200 j', '"Connection: keep-alive, close": answers');
is_deeply([$origin{j}->requests_per_connection], [1, 1], '"Connection: keep-alive, close": a connection per request');
ok($t->wait_for(sub { $origin{j}->open_connections == 0 }, 10), '"Connection: keep-alive, close": each closed by the proxy');

# --- the idle pool keeps at most 2 ---
{
    my @s = map { send_get("/pool/$_?hold=pool-go") } 1 .. 4;
    ok($t->wait_for(sub { $origin{b}->requests == 4 }, 10), 'pool: four requests in progress at once');
    is($origin{b}->accepts, 4, 'pool: on four connections');
    $t->write_file('pool-go', '');
    is(join(',', map { finish($_) } @s), join(',', ('200 b') x 4), 'pool: four answers');
    ok($t->wait_for(sub { $origin{b}->open_connections == 2 }, 10), 'pool: two connections closed');
    is($origin{b}->open_connections, 2, 'pool: two stay open (keepalive 2)');
    is_deeply([$origin{b}->close_reasons], ['eof', 'eof'], 'pool: closed by the proxy');
    is(join(',', map { get("/pool/seq$_") } 1 .. 3), join(',', ('200 b') x 3), 'pool: sequential requests after');
    is($origin{b}->accepts, 4, 'pool: they reuse the kept connections');
    is($origin{b}->open_connections, 2, 'pool: still two open');
}

# --- the origin closes idle connections: the client sees nothing of it ---
{
    is(get('/idle/1'), '200 c', 'origin closing when idle: first answer');
    ok($t->wait_for(sub { $origin{c}->closes == 1 }, 10), 'origin closing when idle: it closed the kept connection');
    is(get('/idle/2'), '200 c', 'origin closing when idle: the next request is answered');
    is($origin{c}->accepts, 2, 'origin closing when idle: on a new connection');
    # whether the origin closes before, during or after the proxy reuses the connection
    # depends on timing here: every request must be answered anyway
    is(join(',', map { get("/idle/x$_") } 1 .. 6), join(',', ('200 c') x 6),
       'origin closing when idle: requests in a row all answered');

    my @got = map { get("/gone/$_") } 1 .. 10;
    is(join(',', @got), join(',', ('200 d') x 10),
       'origin closing right after each answer (without "Connection: close"): every request answered');
    is($origin{d}->accepts, 10, 'origin closing after each answer: a connection per request');
    is_deeply([$origin{d}->requests_per_connection], [(1) x 10], 'one request on each');
}

# --- keepalive_requests 3 ---
is(join(',', map { get("/kreq/$_") } 1 .. 7), join(',', ('200 e') x 7), 'keepalive_requests 3: seven answers');
is_deeply([$origin{e}->requests_per_connection], [3, 3, 1], 'keepalive_requests 3: three requests per connection');
ok($t->wait_for(sub { $origin{e}->closes == 2 }, 10), 'keepalive_requests 3: the two used-up connections closed');
is_deeply([$origin{e}->close_reasons], ['eof', 'eof'], 'keepalive_requests 3: by the proxy');
is($origin{e}->open_connections, 1, 'keepalive_requests 3: the last one is kept');

# --- keepalive_timeout 1s, and the default (60s) for comparison ---
{
    is(get('/ktime/1'), '200 f', 'keepalive_timeout 1s: answer');
    is(get('/kdef/1'), '200 g', 'default keepalive_timeout: answer');
    ok($t->wait_for(sub { $origin{f}->closes == 1 }, 10), 'keepalive_timeout 1s: the idle connection is closed');
    is_deeply([$origin{f}->close_reasons], ['eof'], 'keepalive_timeout 1s: by the proxy');
    is($origin{g}->open_connections, 1, 'default keepalive_timeout: still open meanwhile');
    is(get('/ktime/2'), '200 f', 'keepalive_timeout 1s: the next request');
    is($origin{f}->accepts, 2, 'keepalive_timeout 1s: on a new connection');
    is(get('/kdef/2'), '200 g', 'default keepalive_timeout: the next request');
    is($origin{g}->accepts, 1, 'default keepalive_timeout: on the same connection');
}

# --- nothing leaks; a graceful stop closes the kept connections ---
ok(!grep({ !$origin{$_}->close_idle } sort keys %origin), 'the origins closed every idle connection');
$t->check_fds;    # the proxy dropped the kept connections the origins closed
is(get('/ka/last'), '200 a', 'a connection kept again');
is($origin{a}->open_connections, 1, 'one kept connection');
is($t->stop(fd_check => 0), 0, 'graceful stop');
ok($t->wait_for(sub { !$origin{a}->open_connections }, 10), 'the stop closed the kept connection');
is(($origin{a}->close_reasons)[-1], 'eof', 'from the proxy side');
$t->done_testing;
