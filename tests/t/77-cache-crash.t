# A worker killed (SIGKILL) at the worst moment must not wedge the others (a master, two
# workers, one keys zone):
# - while it holds a shared zone's lock (the keys zone, a limit_req zone, an upstream zone):
#   the master frees the lock of the dead pid and says so at alert, and the survivors serve
#   HITs, limited and balanced requests.  The test puts the dead worker's pid in the locks
#   (the first word of each zone) through /proc/PID/mem, the state a worker killed inside
#   the lock leaves, then kills it; it is skipped where /proc/PID/mem cannot be written;
# - while it fetches a key under proxy_cache_lock (lock_timeout and lock_age 1h): the next
#   request for the key goes upstream at once, not an hour later;
# - while it writes a cache file: the other worker goes on serving HITs, no file (complete or
#   partial) is left for the key, and the next request fetches and stores it whole;
# - clients that close in the middle of a HIT of a large file (sent from the content phase)
#   crash no worker.
use strict;
use warnings;
no warnings 'portable';    # 64-bit addresses in /proc/PID/maps
use Test::More;
use File::Find;
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;
my $piece = 'p' x 65536;
chmod 0755, $dir;    # the workers run as nobody when the tests run as root

sub touch { open(my $fh, '>', "$dir/$_[0]") or die; close $fh; }

sub wait_file {
    my ($name) = @_;
    for (1 .. 800) {
        return 1 if -e "$dir/$name";
        select(undef, undef, undef, 0.025);
    }
    return 0;
}

sub write_file_atomic {
    my ($name, $text) = @_;
    open(my $fh, '>', "$dir/$name.tmp") or die;
    print $fh $text;
    close $fh;
    rename "$dir/$name.tmp", "$dir/$name" or die;
}

sub serve {
    my ($c, $n) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or return; }
    my ($uri) = $req =~ m{^\w+ (\S+) };
    my ($worker) = $req =~ m{\r\nX-Worker: (\d+)\r\n}i;
    (my $name = $uri) =~ s/\W/_/g;
    if ($uri =~ m{^/held/} && !-e "$dir/seen$name") {
        # the first fetch of the key never ends: its worker is killed meanwhile
        touch("seen$name");
        write_file_atomic("worker$name", $worker);
        wait_file("never");
        return;
    }
    if ($uri =~ m{^/slow} && !-e "$dir/seen$name") {
        touch("seen$name");
        my $len = 8 * length $piece;
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: $len\r\n\r\n$piece");
        write_file_atomic("worker$name", $worker);
        wait_file("go$name") or return;
        Origin::write_all($c, $piece) for 2 .. 8;
        return;
    }
    my $body = $uri =~ m{^/(big|slow)} ? $piece x 8 : "body $uri $n";
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
                      . "\r\nConnection: close\r\n\r\n$body");
}

Origin::scripted(port => $origin_port, lifetime => 30, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
daemon off;
master_process on;
worker_processes 2;
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    access_log off;
    proxy_cache_path %%PREFIX%%/cache levels=1:2 keys_zone=z:3m use_temp_path=off;
    limit_req_zone \$binary_remote_addr zone=lr:5m rate=1000r/s;
    upstream back { zone uz 6m; server 127.0.0.1:$origin_port; }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        proxy_cache z;
        proxy_cache_valid 200 1h;
        proxy_set_header X-Worker \$pid;
        add_header X-Cache \$upstream_cache_status always;
        location / { proxy_pass http://127.0.0.1:$origin_port; }
        location /held/ {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 1h;
            proxy_cache_lock_age 1h;
        }
        location /lr/ { limit_req zone=lr burst=100; proxy_pass http://127.0.0.1:$origin_port; }
        location /up/ { proxy_cache off; proxy_pass http://back; }
    }
}
EOF
$t->allow_alerts(qr/exited on signal 9/, qr/shared memory zone "\w+" was locked by \d+/);
$t->start;

sub get {
    my ($uri) = @_;
    my $r = $t->http($port, "GET $uri HTTP/1.0\r\nHost: front.test\r\n\r\n", timeout => 10) // '';
    return (Sluice::status_of($r =~ s{^HTTP/1\.0}{HTTP/1.1}r) // 0,
            Sluice::header_of($r, 'X-Cache') // '', Sluice::body_of($r) // '');
}

sub workers {
    my $master = $t->pid;
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open(my $fh, '<', $stat) or next;
        my $line = <$fh> // next;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        next if $ppid != $master;
        open(my $cf, '<', "/proc/$pid/cmdline") or next;
        my $cmd = <$cf> // '';
        push @w, $pid if $cmd =~ /worker process/;
    }
    return sort { $a <=> $b } @w;
}

# Two workers again, none of them one of @dead.
sub respawned {
    my @dead = @_;
    return $t->wait_for(sub {
        my @n = workers();
        @n == 2 && !grep { my $p = $_; grep { $_ == $p } @dead } @n;
    }, 10);
}

sub files_in_cache {
    my @f;
    find({ wanted => sub { push @f, $File::Find::name if -f $_ }, no_chdir => 1 }, "$dir/cache")
        if -d "$dir/cache";
    return sort @f;
}

ok(respawned(), 'two workers');
is(join(' ', (get('/a'))[0, 1]), '200 MISS', 'stored');
is(join(' ', (get('/a'))[0, 1]), '200 HIT', 'then a HIT');

# --- a worker killed inside a zone's lock ---
# The start of each shared mapping of $size bytes in $pid's address space.
sub zone_address {
    my ($pid, $size) = @_;
    open(my $fh, '<', "/proc/$pid/maps") or return undef;
    while (my $l = <$fh>) {
        my ($from, $to, $perm) = $l =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+)/ or next;
        return hex $from if $perm =~ /s/ && hex($to) - hex($from) == $size;
    }
    return undef;
}

sub hold_lock {
    my ($pid, $size) = @_;
    my $addr = zone_address($pid, $size) // return 0;
    open(my $mem, '+<', "/proc/$pid/mem") or return 0;
    sysseek($mem, $addr, 0) or return 0;
    return syswrite($mem, pack('L', $pid)) == 4;
}

SKIP: {
    my ($w) = workers();
    my %zones = (z => 3 << 20, lr => 5 << 20, uz => 6 << 20);
    my @held = grep { hold_lock($w, $zones{$_}) } sort keys %zones;
    skip 'cannot write a worker\'s memory through /proc/PID/mem here', 7 if @held != 3;
    kill 'KILL', $w;
    ok(respawned($w), 'a worker killed holding three zones\' locks is replaced');
    my $log = $t->error_log;
    for my $zone (sort keys %zones) {
        like($log, qr/shared memory zone "$zone" was locked by $w\b/, "the master freed \"$zone\"");
    }
    # each worker takes some of these: all answer
    my @hits = map { join ' ', (get('/a'))[0, 1] } 1 .. 6;
    is_deeply(\@hits, [('200 HIT') x 6], 'the keys zone works for every worker');
    my @limited = map { (get("/lr/$_"))[0] } 1 .. 4;
    is_deeply(\@limited, [(200) x 4], 'the limit_req zone too');
    my @balanced = map { (get("/up/$_"))[0] } 1 .. 4;
    is_deeply(\@balanced, [(200) x 4], 'the upstream zone too');
}

# --- a worker killed while it fetches a key under proxy_cache_lock ---
{
    my $s = $t->connect($port);
    syswrite($s, "GET /held/k HTTP/1.0\r\nHost: front.test\r\n\r\n");
    ok(wait_file('worker_held_k'), 'the fetch under the lock reached the origin');
    my $w = $t->read_file('worker_held_k');
    ok(kill('KILL', $w), "its worker $w is killed");
    close $s;
    ok(respawned($w), 'and replaced');
    my ($status, $x, $body) = get('/held/k');
    is("$status $x", '200 MISS', 'the key is fetched again at once, not after lock_timeout');
    like($body, qr{^body /held/k \d+$}, 'with the origin\'s answer');
    is(join(' ', (get('/held/k'))[0, 1]), '200 HIT', 'and stored');
}

# --- a worker killed while it writes a cache file ---
{
    my @before = files_in_cache();
    my $s = $t->connect($port);
    syswrite($s, "GET /slow HTTP/1.0\r\nHost: front.test\r\n\r\n");
    ok(wait_file('worker_slow'), 'the slow response has started');
    sysread($s, my $buf, 4096);
    my $w = $t->read_file('worker_slow');
    kill 'KILL', $w;
    touch('go_slow');
    close $s;
    my @hits = map { join ' ', (get('/a'))[0, 1] } 1 .. 4;
    is_deeply(\@hits, [('200 HIT') x 4], 'the other worker serves meanwhile');
    ok(respawned($w), 'the killed writer is replaced');
    is_deeply([files_in_cache()], \@before, 'no file, complete or partial, for the killed write');
    my ($status, $x, $body) = get('/slow');
    is("$status $x " . length $body, '200 MISS ' . 8 * length $piece, 'fetched again whole');
    is(join(' ', (get('/slow'))[0, 1]), '200 HIT', 'and stored');
}

# --- clients leaving in the middle of a large HIT ---
{
    my @w = workers();
    is(join(' ', (get('/big'))[0, 1]), '200 MISS', 'a large object stored');
    for (1 .. 20) {
        my $s = $t->connect($port, rcvbuf => 4096) or next;
        syswrite($s, "GET /big HTTP/1.1\r\nHost: front.test\r\n\r\n");
        sysread($s, my $buf, 1024);
        close $s;
    }
    my ($status, $x, $body) = get('/big');
    is("$status $x " . length $body, '200 HIT ' . 8 * length $piece, 'the next HIT is whole');
    is_deeply([workers()], \@w, 'no worker crashed');
}

$t->done_testing;
