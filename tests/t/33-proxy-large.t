# A 64 MiB response to a client that reads nothing until the origin is done (or stuck), then
# reads at full speed, through proxy_buffering on with small buffers:
# - with a temp file: the response spills to it, the upstream connection is closed while
#   the client has read nothing, sluice's memory stays near its idle size, the temp file is
#   gone afterwards and the bytes are identical;
# - with proxy_max_temp_file_size 0: never a file, memory bounded just the same, and the
#   origin is throttled (its writes block) until the client reads.
# Memory is VmRSS from /proc/PID/status; no timing is measured.
use strict;
use warnings;
use Test::More;
use Digest::MD5;
use Errno qw(EAGAIN);
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

sub block { sprintf("%07d\n", $_[0]) x 8192 }

my $md5 = Digest::MD5->new;
$md5->add(block($_)) for 0 .. $blocks - 1;
my $expect = $md5->hexdigest;

# --- the origin: writes 64 MiB without blocking and reports what happens to it ---
sub report {
    my ($id, $what) = @_;
    open(my $fh, '>>', "$dir/origin.log") or die;
    print $fh "$id $what\n";
    close $fh;
}

sub serve {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or return; }
    my ($id) = $req =~ m{^GET /\S*\?id=(\S+) };
    $c->blocking(0);
    my $sel = IO::Select->new($c);
    my ($out, $next, $written, $blocked) = ("HTTP/1.1 200 OK\r\nContent-Length: $size\r\n\r\n", 0, 0, 0);
    while (length $out || $next < $blocks) {
        $out .= block($next++) if length $out < 65536 && $next < $blocks;
        my $n = syswrite($c, $out);
        if (defined $n) {
            substr($out, 0, $n, '');
            $written += $n;
            next;
        }
        return report($id, "cut after $written") if $! != EAGAIN;
        # the proxy stopped reading: back-pressure
        report($id, "blocked after $written") if !$blocked++;
        $sel->can_write(30) or return report($id, 'stuck');
    }
    report($id, 'all written');
    # everything is out: the proxy closes once it has read it all
    $sel->can_read(60);
    report($id, 'closed');
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

# Reads the response to the end: the header, then the body's length and md5.
sub read_response {
    my ($s) = @_;
    my ($head, $in_body, $len, $d, $eof) = ('', 0, 0, Digest::MD5->new, 0);
    my $sel = IO::Select->new($s);
    while ($sel->can_read(60)) {
        my $n = sysread($s, my $buf, 1 << 20);
        $eof = 1, last if !$n;
        if (!$in_body) {
            $head .= $buf;
            next if $head !~ /\r\n\r\n/;
            ($head, $buf) = split /\r\n\r\n/, $head, 2;
            $in_body = 1;
        }
        $len += length $buf;
        $d->add($buf);
    }
    return ($head, $len, $d->hexdigest, $eof);
}

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
        like(origin_saw($loc, 'blocked after \d+|all written|cut .*'), qr{^blocked after (\d+)$}, 'no spill: the origin is throttled while the client reads nothing');
        my ($at) = ($t->read_file('origin.log') =~ /^nospill blocked after (\d+)$/m);
        ok(defined $at && $at < $size, 'no spill: blocked well before the end (' . ($at // '?') . " of $size bytes)");
        ok(!temp_open(), 'no spill: no temp file');
    }
    $during = rss();
    ok($during - $idle < $slack, "$loc: RSS while the client waits is within 8 MiB of idle (" . ($during - $idle) . ' bytes more)');
    my ($head, $len, $got, $eof) = read_response($s);
    close $s;
    like($head, qr{^HTTP/1\.1 200 OK\r\n.*\r\nContent-Length: $size(?:\r\n|$)}s, "$loc: 200 with the length");
    ok($eof, "$loc: the connection closes after the body");
    is($len, $size, "$loc: 64 MiB received");
    is($got, $expect, "$loc: bytes identical (md5)");
    is(origin_saw($loc, 'closed|cut .*|stuck'), 'closed', "$loc: the origin was read to the end") if !$spill;
    my $after = rss();
    ok($after - $idle < $slack, "$loc: RSS after the transfer is within 8 MiB of idle (" . ($after - $idle) . ' bytes more)');
    ok($t->wait_for(sub { !temp_open() }, 5), "$loc: no temp file open afterwards");
}

$t->done_testing;
