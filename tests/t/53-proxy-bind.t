# proxy_bind address | $variables | off: the local address (and port, when one is given) of
# the upstream connections, inherited from the level above, cancelled by "off", evaluated
# per request with variables (empty: no bind; not an address: logged, no bind), and the
# configurations refused ("transparent", a host name, a bad port).
#
# The origin answers with the peer address and port it saw.  Validated against Debian's
# nginx 1.22.1 (SLUICE_BINARY=/usr/sbin/nginx, with "transparent" and its check left out):
# the same addresses, the same log line for a value that is no address.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Sluice qw(body_of);
use Origin;

plan(skip_all => '127.0.0.2 is not a local address here')
    unless IO::Socket::INET->new(LocalAddr => '127.0.0.2', Proto => 'tcp');

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);

# the origin: "peer ADDR PORT"
Origin::scripted(port => $origin_port, lifetime => 20, handler => sub {
    my ($c) = @_;
    Origin::read_head($c);
    my $body = 'peer ' . $c->peerhost . ' ' . $c->peerport . "\n";
    print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n"
        . $body;
});
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    proxy_bind 127.0.0.2;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / { proxy_pass http://127.0.0.1:$origin_port/; }
        location /here/ { proxy_bind 127.0.0.1; proxy_pass http://127.0.0.1:$origin_port/; }
        location /off/ { proxy_bind off; proxy_pass http://127.0.0.1:$origin_port/; }
        location /var/ { proxy_bind \$arg_b; proxy_pass http://127.0.0.1:$origin_port/; }
        location /port/ {
            proxy_bind 127.0.0.2:\$arg_p;
            proxy_pass http://127.0.0.1:$origin_port/;
        }
    }
}
EOF
$t->start;

sub peer {
    my ($uri) = @_;
    my $r = $t->http($port, "GET $uri HTTP/1.0\r\nHost: a\r\n\r\n") // '';
    return body_of($r) =~ /^peer (\S+) (\d+)$/ ? ($1, $2) : ('none', 0);
}

is((peer('/'))[0], '127.0.0.2', 'inherited from the http level');
is((peer('/here/'))[0], '127.0.0.1', 'a location\'s own address');
is((peer('/off/'))[0], '127.0.0.1', 'off: the system\'s choice');
is((peer('/var/?b=127.0.0.2'))[0], '127.0.0.2', 'a variable: evaluated per request');
is((peer('/var/?b=127.0.0.1'))[0], '127.0.0.1', 'a variable: another request, another address');
is((peer('/var/'))[0], '127.0.0.1', 'a variable that is empty: no bind');

# a port no one holds: taken from a socket bound and closed just before
my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.2', LocalPort => 0, Proto => 'tcp')
    or die "probe: $!";
my $free = $probe->sockport;
close $probe;
is_deeply([peer("/port/?p=$free")], ['127.0.0.2', $free], 'address and port, the port bound as given');

is((peer('/var/?b=no.such.address'))[0], '127.0.0.1', 'not an address: no bind');
$t->wait_for(sub { $t->error_log =~ /invalid local address "no\.such\.address"/ }, 5);
like($t->error_log, qr/\[error\] .*invalid local address "no\.such\.address"/,
     'not an address: logged as nginx');

is($t->stop, 0, 'graceful stop');

my @bad = (
    ['proxy_bind 127.0.0.2 transparent;',
     qr/"proxy_bind \.\.\. transparent" is not supported by sluice .* in /],
    ['proxy_bind 127.0.0.2 bogus;', qr/invalid parameter "bogus" in /],
    ['proxy_bind localhost;', qr/invalid address "localhost" in /],
    ['proxy_bind 127.0.0.2:70000;', qr/invalid address "127\.0\.0\.2:70000" in /],
    ['proxy_bind off; proxy_bind 127.0.0.1;', qr/"proxy_bind" directive is duplicate in /],
);
for my $b (@bad) {
    $t->write_file('conf/bad.conf', "%%TEST_GLOBALS%%\nevents {}\nhttp { server { location / { "
                   . "$b->[0] proxy_pass http://127.0.0.1:1/; } } }\n");
    my $r = $t->run('-c', 'conf/bad.conf', '-t');
    isnt($r->{exit}, 0, "rejected: $b->[0]");
    like($r->{stderr}, $b->[1], "message: $b->[0]");
}
$t->write_file('conf/good.conf', "%%TEST_GLOBALS%%\nevents {}\nhttp { server { location / { "
               . "proxy_bind [::1]:8000; proxy_pass http://127.0.0.1:1/; } } }\n");
is($t->run('-c', 'conf/good.conf', '-t')->{exit}, 0, 'an IPv6 address with a port: accepted');

$t->done_testing;
