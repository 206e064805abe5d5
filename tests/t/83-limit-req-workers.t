# limit_req's zone is shared by the workers: two workers (reuseport sockets, so both get
# connections) reject exactly the requests one worker rejects, because every worker updates
# the same bucket under the zone's lock.  At 1r/m with burst=2 nodelay the bucket lets three
# requests through and refuses the rest for a minute, whatever the timing of the test.
# A reload keeps the zone (the bucket stays full) and refuses a changed key, as nginx.
# Also the limits' configuration errors, in nginx's wording.  Passes against Debian's
# nginx 1.22.1 too, but for the descriptor check (its reload opens new ones).
use strict;
use warnings;

use Test::More;
use Sluice;

my $t = Sluice->new;
my $user = $> == 0 ? 'user root;' : '';
$t->write_file('html/one/f', "one\n");
$t->write_file('html/two/f', "two\n");
$t->write_file('html/dry/f', "dry\n");

for my $case (
    [ 'limit_req_zone $uri zone=z:1k rate=1r/s;', qr/zone "zone=z:1k" is too small in \S+:\d+/ ],
    [ 'limit_req_zone $uri zone=z:64k rate=x;', qr/invalid rate "rate=x" in \S+:\d+/ ],
    [ 'limit_req_zone $uri rate=1r/s foo;', qr/invalid parameter "foo" in \S+:\d+/ ],
    [ 'limit_req_zone $uri zone=:64k rate=1r/s;',
      qr/"limit_req_zone" must have "zone" parameter in \S+:\d+/ ],
    [ 'limit_req_zone $uri zone=z:64k rate=1r/s; limit_req_zone $host zone=z:64k rate=1r/s;',
      qr/limit_req_zone "z" is already bound to key "\$uri" in \S+:\d+/ ],
    [ 'limit_req zone=nowhere;', qr/zero size shared memory zone "nowhere"/ ],
    [ 'limit_req_zone $uri zone=z:64k rate=1r/s; limit_req zone=z burst=0;',
      qr/invalid burst value "burst=0" in \S+:\d+/ ],
    [ 'limit_req_zone $uri zone=z:64k rate=1r/s; limit_req zone=z; limit_req zone=z;',
      qr/"limit_req" directive is duplicate in \S+:\d+/ ],
    [ 'limit_req_status 399;', qr/value must be between 400 and 599 in \S+:\d+/ ],
    [ 'limit_conn_zone $uri zone=c:64k; limit_conn c 0;',
      qr/invalid number of connections "0" in \S+:\d+/ ],
    [ 'limit_conn_zone $uri zone=c:64k; limit_conn c 1; limit_conn c 0;',
      qr/"limit_conn" directive is duplicate in \S+:\d+/ ],
    [ 'limit_conn_status 600;', qr/value must be between 400 and 599 in \S+:\d+/ ],
    [ 'limit_conn_log_level debug;', qr/invalid value "debug" in \S+:\d+/ ],
) {
    $t->write_file('conf/bad.conf', "events {}\nhttp { $case->[0] }\n");
    my $r = $t->run('-t', '-c', 'conf/bad.conf');
    like($r->{stderr}, $case->[1], "-t: $case->[0]");
}

sub config {
    my ($workers, $extra, $key) = @_;
    $extra //= '';
    $key //= '$binary_remote_addr';
    $t->write_config(<<"EOF");
daemon off;
master_process on;
worker_processes $workers;
$user
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    root html;
    log_format lr '\$uri \$pid \$status \$limit_req_status';
    access_log logs/access.log lr;
    limit_req_zone $key zone=one:64k rate=1r/m;
    limit_req_zone \$arg_k zone=keyed:64k rate=1r/m;
    server {
        listen 127.0.0.1:%%PORT_1%% reuseport;
        location /one/ { limit_req zone=one burst=2 nodelay; }
        location /two/ {
            limit_req zone=keyed nodelay;
            limit_req_status 429;
            limit_req_log_level warn;
        }
        location /dry/ { limit_req zone=keyed nodelay; limit_req_dry_run on; }
        $extra
    }
}
EOF
}

# The statuses of requests on new connections to $path, until both workers have answered
# one (two workers) or $min requests were made, whichever is later (bounded: 200).
sub statuses {
    my ($path, $min, $want_pids) = @_;
    my (@codes, %pids);
    while (@codes < 200 && (@codes < $min || keys %pids < $want_pids)) {
        push @codes, Sluice::status_of($t->http($t->port(1), "GET $path HTTP/1.0\r\nHost: x\r\n\r\n"));
        %pids = map { (split / /)[1] => 1 }
                grep { m{^\Q$path\E } } split /\n/, $t->read_file('logs/access.log') // '';
    }
    return (\@codes, scalar keys %pids);
}

my %seen;
for my $workers (2, 1) {
    config($workers);
    unlink $t->prefix . '/logs/access.log';
    $t->start;
    my ($codes, $pids) = statuses('/one/f', 12, $workers);
    is($pids, $workers, "$workers worker(s) answered");
    is("@$codes[0 .. 2]", '200 200 200', "$workers worker(s): burst=2 lets three through");
    is(scalar(grep { $_ ne '503' } @$codes[3 .. $#$codes]), 0,
       "$workers worker(s): every later request of the minute is 503 (" . scalar(@$codes) . ')');
    $seen{$workers} = [ @$codes[0 .. 11] ];

    # a key of its own per request: each key's bucket is its own; the same key twice is
    # refused with limit_req_status, logged at limit_req_log_level
    is(Sluice::status_of($t->get_close($t->port(1), '/two/f?k=a')), 200, "$workers: key a");
    is(Sluice::status_of($t->get_close($t->port(1), '/two/f?k=b')), 200, "$workers: key b");
    is(Sluice::status_of($t->get_close($t->port(1), '/two/f?k=a')), 429, "$workers: key a again");
    is(Sluice::status_of($t->get_close($t->port(1), '/two/f')), 200, "$workers: no key: no limit");
    # dry run: counted and logged, never refused
    is(Sluice::status_of($t->get_close($t->port(1), '/dry/f?k=d')), 200, "$workers: dry 1");
    is(Sluice::status_of($t->get_close($t->port(1), '/dry/f?k=d')), 200, "$workers: dry 2");
    if ($workers == 2) {
        # a reload keeps a zone whose name and size are unchanged, buckets and all (nginx)
        config(2, 'location = /gen { return 200 "2"; }');
        $t->signal('HUP');
        ok($t->wait_for(sub { Sluice::body_of($t->get_close($t->port(1), '/gen')) eq '2' }),
           'reloaded');
        is(Sluice::status_of($t->get_close($t->port(1), '/one/f')), 503,
           'after the reload the bucket is still full');
        # ... and refuses a kept zone whose key changed: the running configuration stays
        config(2, 'location = /gen { return 200 "3"; }', '$remote_addr');
        $t->signal('HUP');
        ok($t->wait_for(sub { $t->error_log =~ /\[emerg\] \d+#\d+: limit_req "one" uses the "\$remote_addr" key while previously it used the "\$binary_remote_addr" key/ }),
           'a changed key is refused on reload');
        is(Sluice::body_of($t->get_close($t->port(1), '/gen')), '2', 'the old configuration runs on');
    }
    is($t->stop, 0, "$workers worker(s): graceful stop");

    my $log = $t->read_file('logs/access.log');
    like($log, qr{^/one/f \d+ 200 PASSED$}m, "$workers: \$limit_req_status PASSED");
    like($log, qr{^/one/f \d+ 503 REJECTED$}m, "$workers: \$limit_req_status REJECTED");
    like($log, qr{^/two/f \d+ 200 -$}m, "$workers: \$limit_req_status without a key");
    like($log, qr{^/dry/f \d+ 200 REJECTED_DRY_RUN$}m, "$workers: REJECTED_DRY_RUN");
    my $err = $t->error_log;
    like($err, qr/\[error\] \d+#\d+: \*\d+ limiting requests, excess: [23]\.\d{3} by zone "one", client: 127\.0\.0\.1/,
         "$workers: the rejection's log line");
    like($err, qr/\[warn\] \d+#\d+: \*\d+ limiting requests, excess: 1\.\d{3} by zone "keyed"/,
         "$workers: limit_req_log_level warn");
    like($err, qr/limiting requests, dry run, excess: 1\.\d{3} by zone "keyed"/,
         "$workers: the dry run's line");
    unlink $t->prefix . '/logs/error.log';
}
is("@{ $seen{2} }", "@{ $seen{1} }", 'two workers refuse the same requests as one');

$t->done_testing;
