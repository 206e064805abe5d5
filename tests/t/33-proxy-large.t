# A 64 MiB response to a client that reads nothing until the origin is done (or stuck), then
# reads at full speed, through proxy_buffering on with small buffers:
# - with a temp file: the response spills to it, the upstream connection is closed while
#   the client has read nothing, sluice's memory stays near its idle size, the temp file is
#   gone afterwards and the bytes are identical;
# - with proxy_max_temp_file_size 0: never a file, memory bounded just the same, and the
#   origin is throttled (it can write nothing for 2 s) until the client reads.
# Memory is VmRSS from /proc/PID/status; no timing is measured.
use strict;
use warnings;
use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;
my $blocks = 1024;                 # of 64 KiB: 64 MiB
my $size = $blocks * 65536;
my $slack = 8 << 20;               # what RSS may grow by over the idle size

my $expect = Origin::blocks_md5($blocks);
my $log = "$dir/origin.log";

# --- the origin: writes 64 MiB without blocking and notes what happens to it ---
sub serve {
    my ($c) = @_;
    my ($id) = Origin::read_head($c) =~ m{^GET /\S*\?id=(\S+) };
    Origin::stream_blocks($c, head => "HTTP/1.1 200 OK\r\nContent-Length: $size\r\n\r\n",
                          blocks => $blocks, log => $log, id => $id)
        or return;
    # everything is out: the proxy closes once it has read it all
    IO::Select->new($c)->can_read(60);
    Origin::note($log, $id, 'closed');
}

Origin::scripted(port => $origin_port, lifetime => 120, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    proxy_temp_path %%PREFIX%%/proxy_temp;
    proxy_buffers 4 4k;
    proxy_busy_buffers_size 8k;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /spill/ { proxy_pass http://127.0.0.1:$origin_port/; }
        location /nospill/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_max_temp_file_size 0; }
    }
}
EOF
$t->temp_paths('proxy_temp');
$t->start;

sub rss {
    open(my $fh, '<', '/proc/' . $t->pid . '/status') or return 0;
    while (<$fh>) { return $1 * 1024 if /^VmRSS:\s+(\d+) kB/; }
    return 0;
}

sub origin_saw {
    my ($id, $re) = @_;
    my $line;
    $t->wait_for(sub { (($t->read_file('origin.log') // '') =~ /^\Q$id\E ($re)$/m) and $line = $1 }, 60);
    return $line // 'nothing';
}

sub temp_open { scalar grep { m{/proxy_temp/} } values %{ $t->fds } }

my $idle = rss();
ok($idle > 0, "idle RSS read from /proc: $idle bytes");

for my $case (['spill', 1], ['nospill', 0]) {
    my ($loc, $spill) = @$case;
    my $s = $t->connect($port);
    print $s "GET /$loc/x?id=$loc HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n";
    my ($during, $temp);
    if ($spill) {
        # the client reads nothing: the origin finishes and is closed all the same
        is(origin_saw($loc, 'closed|cut .*|stuck'), 'closed', 'spill: the upstream connection is closed while the client has read nothing');
        $temp = temp_open();
        ok($temp, 'spill: the response is in a temp file');
    } else {
        like(origin_saw($loc, 'waiting after \d+|all written|cut .*'), qr{^waiting after (\d+)$}, 'no spill: the origin is throttled while the client reads nothing');
        my ($at) = ($t->read_file('origin.log') =~ /^nospill waiting after (\d+)$/m);
        ok(defined $at && $at < $size, 'no spill: blocked well before the end (' . ($at // '?') . " of $size bytes)");
        ok(!temp_open(), 'no spill: no temp file');
    }
    $during = rss();
    ok($during - $idle < $slack, "$loc: RSS while the client waits is within 8 MiB of idle (" . ($during - $idle) . ' bytes more)');
    my ($head, $len, $got, $complete) = $t->read_response_md5($s);
    close $s;
    like($head, qr{^HTTP/1\.1 200 OK\r\n.*\r\nContent-Length: $size\r\n}s, "$loc: 200 with the length");
    ok($complete, "$loc: the whole body, then the connection closes");
    is($len, $size, "$loc: 64 MiB received");
    is($got, $expect, "$loc: bytes identical (md5)");
    is(origin_saw($loc, 'closed|cut .*|stuck'), 'closed', "$loc: the origin was read to the end") if !$spill;
    my $after = rss();
    ok($after - $idle < $slack, "$loc: RSS after the transfer is within 8 MiB of idle (" . ($after - $idle) . ' bytes more)');
    ok($t->wait_for(sub { !temp_open() }, 5), "$loc: no temp file open afterwards");
}

$t->done_testing;
