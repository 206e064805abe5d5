# limit_conn with slow responses: a response held back by limit_rate keeps its request
# counted, so another request under the same key is refused (limit_conn_status, the log
# line, $limit_conn_status) until the slow one ends; other keys are not affected; the count
# is given back when the client of the slow response goes away.  With two workers the count
# is shared.  Also stub_status counting the slow requests as writing.  Passes against
# Debian's nginx 1.22.1 too (SLUICE_BINARY=/usr/sbin/nginx), as 83 and 84 do.
use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use Test::More;
use Sluice;

my $t = Sluice->new;
my $user = $> == 0 ? 'user root;' : '';
$t->write_file('html/slow/f', 'x' x 4096);
$t->write_file('html/fast/f', "fast\n");
$t->write_file('html/dry/f', "dry\n");

$t->write_config(<<"EOF");
daemon off;
master_process on;
worker_processes 2;
$user
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    root html;
    log_format lc '\$uri \$status \$limit_conn_status';
    access_log logs/access.log lc;
    limit_conn_zone \$arg_k zone=keys:64k;
    server {
        listen 127.0.0.1:%%PORT_1%% reuseport;
        limit_conn keys 2;
        location /slow/ { limit_rate 1; }
        location /fast/ { limit_conn_status 429; }
        location /dry/ { limit_conn keys 1; limit_conn_dry_run on; }
        location /status { stub_status; }
    }
}
EOF
$t->start;
my $port = $t->port(1);

# A slow request whose first response byte has come (so it was counted); the socket.
sub slow {
    my ($key) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
        or die "connect: $!";
    print $s "GET /slow/f?k=$key HTTP/1.0\r\nHost: x\r\n\r\n";
    IO::Select->new($s)->can_read(10) or die "no response byte";
    sysread($s, my $buf, 1);
    return $s;
}

sub code { Sluice::status_of($t->http($port, "GET $_[0] HTTP/1.0\r\nHost: x\r\n\r\n")) }

my @held = (slow('a'), slow('a'));
# whichever worker takes them, the count is the zone's
my @codes = map { code('/fast/f?k=a') } 1 .. 6;
is("@codes", '429 429 429 429 429 429', 'two slow requests of key a: a third is refused');
is(code('/fast/f?k=b'), 200, 'key b is not affected');
is(code('/fast/f'), 200, 'no key: no limit');
like($t->http($port, "GET /status HTTP/1.0\r\nHost: x\r\n\r\n"), qr/Writing: 3 /,
     'stub_status: the two slow requests and its own are writing');

# a client that goes away gives its count back
close shift @held;
ok($t->wait_for(sub { code('/fast/f?k=a') eq '200' }), 'a slow client gone: key a passes again');
push @held, slow('a');
is(code('/fast/f?k=a'), 429, 'two again: refused again');

# dry run: counted, logged, never refused
is(code('/dry/f?k=a'), 200, 'dry run: over the limit but let on');

close $_ for @held;
ok($t->wait_for(sub { code('/fast/f?k=a') eq '200' }), 'all gone: key a passes');
is($t->stop, 0, 'graceful stop');

my $log = $t->read_file('logs/access.log');
like($log, qr{^/fast/f 429 REJECTED$}m, '$limit_conn_status REJECTED');
like($log, qr{^/fast/f 200 PASSED$}m, '$limit_conn_status PASSED');
like($log, qr{^/dry/f 200 REJECTED_DRY_RUN$}m, '$limit_conn_status REJECTED_DRY_RUN');
my $err = $t->error_log;
like($err, qr/\[error\] \d+#\d+: \*\d+ limiting connections by zone "keys", client: 127\.0\.0\.1/,
     'the rejection logged');
like($err, qr/limiting connections, dry run, by zone "keys"/, 'the dry run logged');

$t->done_testing;
