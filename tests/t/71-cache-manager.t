# The cache manager and loader processes beside the workers:
# - both run with their titles ("sluice: cache manager process", "... cache loader
#   process"); the loader exits 0 once it has walked the cache and is not restarted; a
#   manager killed is restarted by the master;
# - max_size is held by the manager: files past it go, least recently used first;
# - after a restart, the loader rebuilds the keys zone from the files on disk (the manager
#   can only hold max_size for files the zone knows), removes the names a crash left
#   beside a file being published and files of another format, and the files it loaded are
#   served as HITs;
# - a reload starts a new manager and loader with the new workers.
use strict;
use warnings;
use Test::More;
use File::Find;
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;
chmod 0755, $dir;    # the workers run as nobody when the tests run as root

sub serve {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or return; }
    my ($uri) = $req =~ m{^\w+ (\S+) };
    my $body = "body $uri";
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
                      . "\r\nConnection: close\r\n\r\n$body");
}

Origin::scripted(port => $origin_port, lifetime => 60, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

sub config {
    my ($max) = @_;
    $t->write_config(<<"EOF");
daemon off;
master_process on;
worker_processes 1;
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    access_log off;
    proxy_cache_path %%PREFIX%%/cache levels=1:2 keys_zone=z:1m $max manager_sleep=100ms;
    proxy_cache_path %%PREFIX%%/big keys_zone=b:1m;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        proxy_cache_valid 200 1h;
        add_header X-Cache \$upstream_cache_status always;
        location / { proxy_pass http://127.0.0.1:$origin_port; proxy_cache z; }
        location /big/ { proxy_pass http://127.0.0.1:$origin_port; proxy_cache b; }
    }
}
EOF
}

sub cache_of {
    my ($uri) = @_;
    my $r = $t->http($port, "GET $uri HTTP/1.0\r\nHost: front.test\r\n\r\n") // '';
    return Sluice::header_of($r, 'X-Cache') // '';
}

sub files {
    my ($sub) = @_;
    my @f;
    find({ wanted => sub { push @f, $File::Find::name if -f $_ }, no_chdir => 1 }, "$dir/$sub")
        if -d "$dir/$sub";
    return @f;
}

sub children_titles {
    my $master = $t->pid;
    my %t;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open(my $fh, '<', $stat) or next;
        my $line = <$fh> // next;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        next unless $ppid == $master;
        open(my $cf, '<', "/proc/$pid/cmdline") or next;
        my $cmd = <$cf> // '';
        $cmd =~ s/\0+$//;
        $t{$pid} = $cmd;
    }
    return %t;
}

# --- the processes ---
config('');
$t->temp_paths('proxy_temp');
$t->allow_alerts(qr/cache manager process \d+ exited on signal 9/);
$t->start;
ok($t->wait_for(sub { $t->error_log =~ /cache loader process \d+ exited with code 0/ }, 10),
   'the loader walked the (empty) cache and left');
my %titles = children_titles();
my ($manager) = grep { $titles{$_} eq 'sluice: cache manager process' } keys %titles;
ok($manager, 'a child titled "sluice: cache manager process"');
ok(!grep({ $_ =~ /loader/ } values %titles), 'the loader is not restarted');
kill 'KILL', $manager;
ok($t->wait_for(sub { my %n = children_titles();
                      grep { $n{$_} eq 'sluice: cache manager process' && $_ != $manager } keys %n }, 10),
   'a killed manager is restarted');

# --- fill the caches ---
is(cache_of("/k$_"), 'MISS', "k$_ stored") for 1 .. 6;
is(cache_of("/k$_"), 'HIT', "k$_ cached") for 1 .. 6;
is(scalar(files('cache')), 6, 'six files');
is(cache_of("/big/x$_"), 'MISS', "big x$_ stored") for 1 .. 3;
$t->stop;

# leftovers of a crash, and a file of another format
my ($one) = files('cache');
(my $sub = $one) =~ s{/[^/]+$}{};
my $stray = "$sub/0123456789abcdef0123456789abcdef.4242.1";
my $alien = "$sub/fedcba9876543210fedcba9876543210";
for my $f ($stray, $alien) { open(my $fh, '>', $f) or die; print $fh "not a cache file"; close $fh; }

# --- restart with max_size: the loader enters the files, the manager trims them ---
config('max_size=10k');
$t->start;
ok($t->wait_for(sub { (() = $t->error_log =~ /cache loader process \d+ exited with code 0/g) >= 2 }, 10),
   'after the restart the loader walked the cache');
ok(!-e $stray, 'the name a crash left beside a file is removed');
ok(!-e $alien, 'a file of another format is removed');
ok($t->wait_for(sub { my @f = files('cache'); @f >= 1 && @f <= 2 }, 20),
   'the manager brought the cache under max_size (files the loader found)')
    or diag(join "\n", files('cache'));
is(scalar(files('big')), 3, 'a cache without max_size keeps its files');
is(cache_of("/big/x$_"), 'HIT', "big x$_: served from the file after the restart") for 1 .. 3;

# --- reload: new manager and loader with the new workers, the old ones leave ---
my %before = children_titles();
$t->signal('HUP');
ok($t->wait_for(sub { (() = $t->error_log =~ /cache loader process \d+ exited with code 0/g) >= 3 }, 10),
   'reload: a new loader walked the cache');
ok($t->wait_for(sub { my %n = children_titles();
                      my @m = grep { $n{$_} eq 'sluice: cache manager process' } keys %n;
                      @m == 1 && !$before{$m[0]} }, 10),
   'reload: one manager, a new one');
is(cache_of('/big/x1'), 'HIT', 'reload: the new keys zone finds the files');

$t->done_testing;
