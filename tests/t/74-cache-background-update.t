# (validated: this file passes with SLUICE_BINARY=/usr/sbin/nginx, Debian's nginx 1.22)
# proxy_cache_background_update: an expired entry is answered at once, stale, while a
# background subrequest refreshes it, as nginx.
# - the origin holds the refresh until the test releases it: the client has the whole stale
#   body (STALE) before the origin answers, and a request meanwhile gets UPDATING;
# - once the refresh is stored, the next request gets the new body (HIT);
# - a client that closes right after its stale answer does not stop the refresh;
# - the refresh is one request to the origin, with the client's method and header lines,
#   and is not logged (log_subrequest off); each client request is logged once;
# - without background update the expired entry is refreshed in the foreground (EXPIRED).
# Entries expire at once by X-Accel-Expires: @1 (a time long past), no waiting.
use strict;
use warnings;
use Test::More;
use IO::Select;
use Sluice qw(status_of body_of header_of);
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;

sub file_of {
    my ($name) = @_;
    open(my $fh, '<', "$dir/$name") or return undef;
    local $/;
    my $v = <$fh>;
    return $v;
}

sub put {
    my ($name, $value) = @_;
    open(my $fh, '>', "$dir/$name") or die;
    print $fh $value;
    close $fh;
}

# The body is "<uri> <version>"; version v1 is stored already expired, v2 for an hour.
# With the "hold" file present a request waits for the "release" file before answering.
sub serve {
    my ($c) = @_;
    my $req = Origin::read_head($c);
    my ($method, $uri) = $req =~ m{^(\w+) (\S+)};
    my $tag = $req =~ /^X-Tag: (\S+)\r?$/mi ? $1 : '-';
    open(my $log, '>>', "$dir/requests") or die;
    print $log "$method $uri tag=$tag\n";
    close $log;
    if (-e "$dir/hold") {
        select(undef, undef, undef, 0.05) until -e "$dir/release";
    }
    my $version = file_of('version') // 'v1';
    my $expires = $version eq 'v1' ? '@1' : '3600';
    my $body = "$uri $version";
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nX-Accel-Expires: $expires\r\nContent-Length: "
                      . length($body) . "\r\nConnection: close\r\n\r\n$body");
}

my $origin = Origin::scripted(port => $origin_port, lifetime => 30, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format st "\$uri \$upstream_cache_status";
    access_log logs/access.log st;
    proxy_temp_path %%PREFIX%%/proxy_temp;
    proxy_cache_path %%PREFIX%%/cache keys_zone=z:1m;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        proxy_cache z;
        proxy_cache_use_stale updating;
        add_header X-Cache \$upstream_cache_status always;
        location /bg/ {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_cache_background_update on;
        }
        location /fg/ {
            proxy_pass http://127.0.0.1:$origin_port;
        }
    }
}
EOF
$t->temp_paths('proxy_temp');
$t->start;

sub requests {
    my $log = file_of('requests') // '';
    return split /\n/, $log;
}

sub get {
    my ($uri) = @_;
    my $r = $t->http($port, "GET $uri HTTP/1.0\r\nHost: h\r\nX-Tag: t1\r\n\r\n") // '';
    $r =~ s{^HTTP/1\.0}{HTTP/1.1};
    return join ' ', status_of($r), header_of($r, 'X-Cache') // '-', body_of($r);
}

# One response (head and Content-Length body) read from $s, without waiting for EOF.
sub read_response {
    my ($s) = @_;
    my ($r, $sel) = ('', IO::Select->new($s));
    while ($sel->can_read(10)) {
        sysread($s, $r, 65536, length $r) or last;
        my ($head, $body) = split /\r\n\r\n/, $r, 2;
        next unless defined $body;
        my ($len) = $head =~ /\r\nContent-Length: (\d+)/i;
        last if defined $len && length($body) >= $len;
    }
    $r =~ s{^HTTP/1\.0}{HTTP/1.1};
    return $r;
}

sub start_request {
    my ($uri) = @_;
    my $s = $t->connect($port);
    print $s "GET $uri HTTP/1.0\r\nHost: h\r\nX-Tag: t2\r\n\r\n";
    return $s;
}

is(get('/bg/a'), '200 MISS /bg/a v1', 'stored (already expired)');
is(get('/bg/b'), '200 MISS /bg/b v1', 'another one stored');
is(get('/fg/c'), '200 MISS /fg/c v1', 'one without background update stored');

# the refresh is held at the origin: the stale answer comes first
put('version', 'v2');
put('hold', '');
my $s = start_request('/bg/a');
my $r = read_response($s);
is(join(' ', status_of($r), header_of($r, 'X-Cache') // '-', body_of($r)), '200 STALE /bg/a v1',
   'the stale body at once');
ok(!-e "$dir/release", 'the origin had not answered yet');
$t->wait_for(sub { (grep { m{^GET /bg/a } } requests()) >= 2 }, 10);
is_deeply([grep { m{^GET /bg/a } } requests()], ['GET /bg/a tag=t1', 'GET /bg/a tag=t2'],
          'one refresh went upstream, with the client\'s method and header lines');
is(get('/bg/a'), '200 UPDATING /bg/a v1', 'meanwhile another request gets UPDATING');
put('release', '');
my ($rest, $eof) = $t->read_all($s);
ok($eof && $rest eq '', 'the connection closes once the refresh is done');
close $s;
is(get('/bg/a'), '200 HIT /bg/a v2', 'the next request gets the new body');
is(scalar(grep { m{^GET /bg/a } } requests()), 2, 'from the cache');

# a client gone after its stale answer does not stop the refresh
unlink("$dir/release");
$s = start_request('/bg/b');
$r = read_response($s);
is(body_of($r), '/bg/b v1', 'stale answer');
$t->wait_for(sub { (grep { m{^GET /bg/b } } requests()) >= 2 }, 10);
close $s;
put('release', '');
ok($t->wait_for(sub { get('/bg/b') eq '200 HIT /bg/b v2' }, 10),
   'the client closed: the refresh was stored all the same');
unlink("$dir/hold");

# without background update: refreshed in the foreground
is(get('/fg/c'), '200 EXPIRED /fg/c v2', 'no background update: EXPIRED, the new body');
is(get('/fg/c'), '200 HIT /fg/c v2', 'then HIT');

$t->check_fds;
$t->stop;
my @log = split /\n/, $t->read_file('logs/access.log');
is(scalar(grep { $_ eq '/bg/a STALE' } @log), 1, 'the stale request logged once');
is(scalar(grep { m{^/bg/a } } @log), 4, 'no line for the refresh (log_subrequest off)');
$t->done_testing;
Origin::stop_scripted($origin);
