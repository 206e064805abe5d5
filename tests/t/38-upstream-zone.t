# upstream zone: with "zone", the workers share the peers' state, so a server one worker
# found dead is skipped by the others; without it each worker finds out for itself (nginx's
# behaviour both ways).  Two workers with reuseport sockets so that both get requests.  Also
# the zone directive's errors (nginx's wording).
use strict;
use warnings;

use IO::Socket::INET;
use Test::More;
use Sluice;

my $t = Sluice->new;
my $user = $> == 0 ? 'user root;' : '';
my $dead = $t->port(9);   # nothing listens there

for my $case (
    [ 'zone z 1k;', qr/zone "z" is too small in \S+:\d+/ ],
    [ 'zone z abc;', qr/invalid zone size "abc" in \S+:\d+/ ],
    [ "zone z 64k; server 127.0.0.1:1; } upstream v { zone z 128k;",
      qr/the size 131072 of shared memory zone "z" conflicts with already declared size 65536 in \S+:\d+/ ],
) {
    $t->write_file('conf/bad.conf', "events {}\nhttp { upstream u { $case->[0] server 127.0.0.1:1; } }\n");
    my $r = $t->run('-t', '-c', 'conf/bad.conf');
    like($r->{stderr}, $case->[1], "-t: $case->[0]");
}

$t->write_config(<<"EOF");
daemon off;
master_process on;
worker_processes 2;
$user
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    log_format up '\$uri \$pid \$upstream_addr';
    access_log logs/access.log up;
    upstream shared {
        zone backends 64k;
        server 127.0.0.1:$dead max_fails=1 fail_timeout=60s;
        server 127.0.0.1:%%PORT_2%%;
    }
    upstream private {
        server 127.0.0.1:$dead max_fails=1 fail_timeout=60s;
        server 127.0.0.1:%%PORT_2%%;
    }
    server {
        listen 127.0.0.1:%%PORT_1%% reuseport;
        location /shared { proxy_pass http://shared; }
        location /private { proxy_pass http://private; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        access_log off;
        location / { return 200 "ok\\n"; }
    }
}
EOF
$t->start;
my $port = $t->port(1);

# Requests on new connections until both workers have answered this path (bounded).
sub until_both_workers {
    my ($path) = @_;
    my %pids;
    my ($ok, $n) = (0, 0);
    while ($n < 200 && keys %pids < 2) {
        $n++;
        my $r = $t->http($port, "GET $path HTTP/1.0\r\nHost: x\r\n\r\n") // '';
        $ok++ if $r =~ m{^HTTP/1\.1 200 .*\r\n\r\nok\n\z}s;
        my @lines = grep { m{^\Q$path\E } } split /\n/, $t->read_file('logs/access.log') // '';
        %pids = map { (split / /)[1] => 1 } @lines;
    }
    return ($ok, $n, scalar keys %pids);
}

sub failures {
    my ($path) = @_;
    my @l = $t->error_log =~ /connect\(\) failed \(111: Connection refused\) while connecting to upstream, .*request: "GET \Q$path\E /g;
    return scalar @l;
}

my ($ok, $n, $workers) = until_both_workers('/shared');
is($ok, $n, "zone: every request answered ($n)");
is($workers, 2, 'zone: both workers served');
is(failures('/shared'), 1, 'zone: the dead server is tried once in all; the other worker knew');

($ok, $n, $workers) = until_both_workers('/private');
is($ok, $n, "no zone: every request answered ($n)");
is($workers, 2, 'no zone: both workers served');
is(failures('/private'), 2, 'no zone: each worker tries the dead server once');

is($t->stop, 0, 'stopped');
$t->done_testing;
