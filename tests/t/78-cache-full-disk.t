# The proxy cache on a full disk: its directory is a 256 KiB tmpfs (in a mount namespace of
# this test's own: root and unshare(1) needed, else skipped).  A master, two workers, two
# caches: one writing its files in its own directory (use_temp_path=off), one through
# proxy_temp_path on the same small disk (use_temp_path=on).
# - a small response is stored and served as a HIT from the tmpfs;
# - a 1 MiB response cannot be written (ENOSPC): the client still gets all of it, byte for
#   byte, each time, a MISS each time; the failed write is logged at crit;
# - nothing half-written stays: only the stored files are in the directories, and the room
#   the failed writes took is given back (a 96 KiB response is stored afterwards).
use strict;
use warnings;
use Test::More;
use Digest::MD5 qw(md5_hex);
use File::Find;

BEGIN {
    if (!$ENV{SLUICE_TEST_UNSHARED}) {
        if ($> != 0) {
            plan skip_all => 'a small tmpfs needs root (mount in a private mount namespace)';
        }
        if (system('unshare -m --propagation private true 2>/dev/null') != 0) {
            plan skip_all => 'unshare -m does not work here (no mount namespaces)';
        }
        $ENV{SLUICE_TEST_UNSHARED} = 1;
        exec('unshare', '-m', '--propagation', 'private', $^X, (map { "-I$_" } grep { !ref } @INC),
             $0, @ARGV) or die "exec unshare: $!";
    }
}

use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;
chmod 0755, $dir;    # the workers run as nobody when the tests run as root
mkdir "$dir/disk" or die;
system('mount', '-t', 'tmpfs', '-o', 'size=256k,mode=0777', 'tmpfs', "$dir/disk") == 0
    or plan skip_all => 'cannot mount a tmpfs';
END { system('umount', '-l', "$dir/disk") if $dir && -d "$dir/disk"; }

sub body_for {
    my ($uri) = @_;
    return $uri =~ m{^/big/} ? join('', map { sprintf("%07d\n", $_) } 1 .. 131072)
         : $uri =~ m{^/mid/} ? 'm' x 98304
         : "small $uri";
}

sub serve {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or return; }
    my ($uri) = $req =~ m{^\w+ (\S+) };
    my $body = body_for($uri =~ s{^/t}{}r);
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
    proxy_cache_path %%PREFIX%%/disk/own levels=1:2 keys_zone=own:1m use_temp_path=off;
    proxy_cache_path %%PREFIX%%/disk/viatemp levels=1 keys_zone=viatemp:1m use_temp_path=on;
    proxy_temp_path %%PREFIX%%/disk/temp;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        proxy_cache_valid 200 1h;
        add_header X-Cache \$upstream_cache_status always;
        location / { proxy_cache own; proxy_pass http://127.0.0.1:$origin_port; }
        location /t/ { proxy_cache viatemp; proxy_pass http://127.0.0.1:$origin_port; }
    }
}
EOF
$t->allow_alerts(qr/\(28: No space left on device\)/);
$t->start;

sub get {
    my ($uri) = @_;
    my $s = $t->connect($port) or return ('', '', 0, '', 0);
    syswrite($s, "GET $uri HTTP/1.0\r\nHost: front.test\r\n\r\n");
    my ($head, $len, $md5, $complete) = $t->read_response_md5($s, 10);
    close $s;
    my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};
    my ($x) = $head =~ m{\r\nX-Cache: (\w+)}i;
    return ($status // '', $x // '', $len, $md5, $complete);
}

sub files_on_disk {
    my @f;
    find({ wanted => sub { push @f, $File::Find::name =~ s{^\Q$dir\E/disk/}{}r if -f $_ },
           no_chdir => 1 }, "$dir/disk");
    return sort @f;
}

for my $p ('', '/t') {
    my $name = $p ? 'through proxy_temp_path' : 'in its own directory';
    is(join(' ', (get("$p/small/1"))[0, 1]), '200 MISS', "$name: a small response");
    is(join(' ', (get("$p/small/1"))[0, 1]), '200 HIT', "$name: stored on the small disk");
    my $big = body_for('/big/1');
    for my $try (1, 2) {
        my ($status, $x, $len, $md5, $complete) = get("$p/big/1");
        is("$status $x $len", "200 MISS " . length $big, "$name: a 1 MiB response, try $try");
        ok($complete && $md5 eq md5_hex($big), "$name: all of it, byte for byte, try $try");
    }
}
like($t->error_log, qr/\[crit\].*\(28: No space left on device\)/, 'the failed writes are logged at crit');
my @stored = files_on_disk();
is(scalar(grep { !m{^temp/} } @stored), 2, 'the two small files are all the caches hold')
    or diag explain \@stored;
is(scalar(grep { m{^temp/} } @stored), 0, 'nothing is left in proxy_temp_path');
for my $p ('', '/t') {
    is(join(' ', (get("$p/mid/1"))[0, 1]), '200 MISS', "a 96 KiB response ($p)");
    my ($status, $x, $len) = get("$p/mid/1");
    is("$status $x $len", '200 HIT 98304', "is stored: the failed writes gave their room back ($p)");
    system("rm -rf $dir/disk/own/* $dir/disk/viatemp/*") if !$p;    # room for the next one
}

$t->done_testing;
