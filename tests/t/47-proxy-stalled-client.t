# A client that stops reading must not hold the upstream (issue 15): with every proxy_buffers
# buffer full and the client taking nothing, the event pipe writes to the temp file, reads
# the upstream to the end and releases it, then serves the client from the file.
#
# The setup: a 64 MiB response written by the origin as fast as the proxy reads it; a client
# with SO_RCVBUF 128 KiB that sends its request and reads nothing until the origin says it
# has written everything (or gives up after a bound), then reads it all;
# `proxy_buffers 8 16k; proxy_busy_buffers_size 32k;` in the location, so the temp file's
# write size is computed from those buffers (32k), not from the http level's.
#
# - Content-Length, chunked and close-delimited bodies, and a keepalive upstream: the origin
#   writes everything while the client has read nothing, the connection is closed (or back
#   in the pool, and reused by the next request) at once, the rest is in a temp file (open
#   in the worker, and nginx's [warn]), memory grows by less than 1 MiB, and the client gets
#   every byte.
# - proxy_max_temp_file_size 0: no file; the origin is held back (it could not write for
#   2 s) until the client reads.
# - a small proxy_max_temp_file_size: the file grows to it, then the origin is held back.
# - proxy_temp_file_write_size: each write to the temp file is at most that (strace).
#
# No timing is measured: "while the client has read nothing" is what the order of events
# shows.  The same file passes against Debian's nginx 1.22 (SLUICE_BINARY=/usr/sbin/nginx),
# whose temp files are named files in the same directory.
use strict;
use warnings;
use Test::More;
use Sluice;
use Origin;

my $t = Sluice->new;
my $dir = $t->prefix;
my $origin_port = $t->port(2);
my $BLOCKS = 1024;                 # of 64 KiB: 64 MiB
my $SIZE = $BLOCKS * 65536;
# ASan keeps freed memory in quarantine and pads every block: its RSS measures ASan
my $RSS_SLACK = $t->sanitized ? 8 << 20 : 1 << 20;
my $expect = Origin::blocks_md5($BLOCKS);
my $log = "$dir/origin.log";

# Serves requests on one connection until the proxy closes it: /LOC/KIND?id=ID with KIND
# cl, chunked, close (a 64 MiB body so framed) or small.  Notes on which connection each
# request came ("ID conn N") and when the connection closes ("ID closed").
sub serve {
    my ($c, $n) = @_;
    my ($buf, $id) = ('', "conn$n");
    my %framing = (
        cl => "Content-Length: $SIZE\r\n",
        chunked => "Transfer-Encoding: chunked\r\n",
        close => "Connection: close\r\n",
    );
    while (1) {
        while ($buf !~ /\r\n\r\n/) {
            if (!sysread($c, $buf, 65536, length $buf)) {
                Origin::note($log, $id, 'closed');
                return;
            }
        }
        $buf =~ s/^(.*?)\r\n\r\n//s;
        my ($kind, $rid) = $1 =~ m{^GET /\w+/(\w+)\?id=(\S+) } or return;
        $id = $rid;
        Origin::note($log, $id, "conn $n");
        if ($kind eq 'small') {
            Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsmall\n");
            next;
        }
        Origin::stream_blocks($c, head => "HTTP/1.1 200 OK\r\n$framing{$kind}\r\n",
                              blocks => $BLOCKS, chunked => $kind eq 'chunked',
                              log => $log, id => $id)
            or return;
        next if $kind ne 'close';
        # the end of a close-delimited body: the proxy has it all once it closes too
        shutdown($c, 1);
        1 while sysread($c, $buf, 65536);
        Origin::note($log, $id, 'closed');
        return;
    }
}

my $origin = Origin::scripted(port => $origin_port, lifetime => 120, handler => \&serve);

my $common = 'proxy_buffers 8 16k; proxy_busy_buffers_size 32k;';
$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    proxy_temp_path %%PREFIX%%/proxy_temp;
    upstream ka {
        server 127.0.0.1:$origin_port;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /p/ { proxy_pass http://127.0.0.1:$origin_port; $common }
        location /ka/ {
            proxy_pass http://ka;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            $common
        }
        location /nofile/ { proxy_pass http://127.0.0.1:$origin_port; $common proxy_max_temp_file_size 0; }
        location /small/ { proxy_pass http://127.0.0.1:$origin_port; $common proxy_max_temp_file_size 1m; }
        location /wsize/ { proxy_pass http://127.0.0.1:$origin_port; $common proxy_temp_file_write_size 48k; }
    }
}
EOF
$t->temp_paths('proxy_temp');
my $pid = $t->start;
my $port = $t->port(1);

sub rss {
    open(my $fh, '<', "/proc/$pid/status") or return 0;
    while (<$fh>) { return $1 * 1024 if /^VmRSS:\s+(\d+) kB/; }
    return 0;
}

# The worker's open temp files: [fd, size].
sub temp_files {
    my $fds = $t->fds($pid);
    return map { [$_, (stat "/proc/$pid/fd/$_")[7] // 0] }
        grep { $fds->{$_} =~ m{/proxy_temp/} } sort keys %$fds;
}

# The first event of $id matching $re, waited for (bounded); 'nothing' if none came.
sub origin_saw {
    my ($id, $re, $timeout) = @_;
    my $line;
    $t->wait_for(sub {
        (($t->read_file('origin.log') // '') =~ /^\Q$id\E ($re)$/m) and $line = $1;
    }, $timeout // 60);
    return $line // 'nothing';
}

# A client with a small receive buffer, its request sent; it reads nothing yet.
sub stalled_client {
    my ($path) = @_;
    my $s = $t->connect($port, rcvbuf => 128 * 1024) or die "connect: $!";
    print $s "GET $path HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n";
    return $s;
}

sub check_whole {
    my ($name, $s) = @_;
    my ($head, $len, $got, $complete) = $t->read_response_md5($s);
    close $s;
    like($head, qr{^HTTP/1\.1 200 OK\r\n}, "$name: 200");
    ok($complete, "$name: the response is complete");
    is($len, $SIZE, "$name: the client gets all 64 MiB");
    is($got, $expect, "$name: bytes identical (md5)");
}

# a first request, so what a worker allocates once (its pools, the buffers' first use) is
# not counted against the large responses
like($t->http_get($port, '/p/small?id=warm-up'), qr/\r\n\r\nsmall\n$/, 'a first, small request');
my $idle = rss();
ok($idle > 0, "RSS read from /proc: $idle bytes");

# --- the upstream is read to the end while the client reads nothing ---
for my $case (['p', 'cl'], ['p', 'chunked'], ['p', 'close'], ['ka', 'cl'], ['ka', 'chunked']) {
    my ($loc, $kind) = @$case;
    my $id = "$loc-$kind";
    my $before = rss();
    my $s = stalled_client("/$loc/$kind?id=$id");
    is(origin_saw($id, 'all written|cut .*|stuck'), 'all written',
       "$id: the origin writes everything while the client reads nothing");
    $t->wait_for(sub { temp_files() }, 5);
    my @files = temp_files();
    ok(@files && $files[0][1] > $SIZE / 2, "$id: the rest of the response is in a temp file ("
       . (@files ? $files[0][1] : 0) . ' bytes)');
    if ($loc eq 'ka') {
        # the connection is back in the pool: the next request goes over it
        my ($conn) = origin_saw($id, 'conn \d+') =~ /(\d+)/;
        my $r = $t->http_get($port, "/ka/small?id=$id-next");
        like($r, qr/\r\n\r\nsmall\n$/, "$id: another request meanwhile");
        is(origin_saw("$id-next", 'conn \d+'), "conn $conn",
           "$id: the upstream connection is back in the pool while the client has read nothing");
    } else {
        is(origin_saw($id, 'closed'), 'closed',
           "$id: the upstream connection is closed while the client has read nothing");
    }
    my $grew = rss() - $before;
    ok($grew < $RSS_SLACK, "$id: RSS grows by less than " . ($RSS_SLACK >> 20)
       . " MiB while the client waits ($grew bytes)");
    check_whole($id, $s);
    ok($t->wait_for(sub { !temp_files() }, 5), "$id: the temp file is closed afterwards");
}
like($t->error_log, qr/\[warn\] .*an upstream response is buffered to a temporary file/,
     "nginx's warning when a response spills to a temp file");

# --- proxy_max_temp_file_size 0: no file, the origin waits for the client ---
{
    my $s = stalled_client('/nofile/cl?id=nofile');
    like(origin_saw('nofile', 'all written|waiting after \d+|cut .*|stuck'),
         qr/^waiting after (\d+)$/, 'max_temp_file_size 0: the origin is held back');
    ok(!temp_files(), 'max_temp_file_size 0: no temp file');
    check_whole('nofile', $s);
    is(origin_saw('nofile', 'closed'), 'closed', 'max_temp_file_size 0: the origin is read to the end');
}

# --- a small proxy_max_temp_file_size: spills up to it, then the origin waits ---
{
    my $s = stalled_client('/small/cl?id=small');
    like(origin_saw('small', 'all written|waiting after \d+|cut .*|stuck'),
         qr/^waiting after (\d+)$/, 'max_temp_file_size 1m: the origin is held back');
    my @files;
    $t->wait_for(sub { (@files = temp_files()) && $files[0][1] >= (1 << 20) - 32768 }, 5);
    ok(@files && $files[0][1] <= (1 << 20) && $files[0][1] > (1 << 20) - 32768,
       'max_temp_file_size 1m: the temp file fills up to it (' . (@files ? $files[0][1] : 0)
       . ' bytes)');
    check_whole('small', $s);
}

# --- a temp file that cannot be made ends the response visibly ---
{
    my $temp = "$dir/proxy_temp";
    rmdir $temp or die "rmdir $temp: $!";
    open(my $fh, '>', $temp) or die "$temp: $!";
    close $fh;
    my $crit = qr/\[crit\] .*open\(\) .*proxy_temp.* failed \(20: Not a directory\)/;
    $t->allow_alerts($crit);
    my $s = stalled_client('/p/chunked?id=broken');
    origin_saw('broken', 'all written|cut .*|stuck|closed');
    my ($head, $len, undef, $complete) = $t->read_response_md5($s);
    close $s;
    like($head, qr{^HTTP/1\.1 200 OK\r\n.*Transfer-Encoding: chunked}s,
         'no temp file: the response had started (chunked)');
    ok(!$complete && $len < $SIZE, "no temp file: the connection is closed without the last chunk ($len bytes)");
    like($t->error_log, $crit, 'no temp file: logged at crit');
    unlink $temp;
    mkdir $temp, 0700;
}

# --- proxy_temp_file_write_size bounds each write to the temp file ---
my ($STRACE) = grep { -x } map { "$_/strace" } split(/:/, $ENV{PATH} // ''), '/usr/bin';
SKIP: {
    skip 'strace is not installed (scripts/deps.sh installs it)', 6 if !$STRACE;
    my $out = "$dir/strace.out";
    my $spid = fork // die "fork: $!";
    if ($spid == 0) {
        open(STDOUT, '>', '/dev/null');
        open(STDERR, '>', "$out.err");
        no warnings 'exec';
        exec $STRACE, '-e', 'trace=pwrite64,pwritev,pwritev2,write,writev', '-o', $out, '-p', $pid;
        POSIX::_exit(127);
    }
    my $attached = $t->wait_for(sub {
        (Sluice::_slurp("/proc/$pid/status") =~ /^TracerPid:\s+(\d+)/m)[0] == $spid
    }, 10);
    skip "strace could not attach: " . Sluice::_slurp("$out.err"), 6 if !$attached;
    my $s = stalled_client('/wsize/cl?id=wsize');
    is(origin_saw('wsize', 'all written|cut .*|stuck'), 'all written',
       'write size 48k: the origin writes everything');
    my @files;
    $t->wait_for(sub { @files = temp_files() }, 5);
    my $fd = @files ? $files[0][0] : -1;
    check_whole('wsize', $s);
    kill 'INT', $spid;
    waitpid($spid, 0);
    my @sizes = Sluice::_slurp($out) =~ /^\w+\($fd, .*\) = (\d+)$/mg;
    my $max = (sort { $b <=> $a } @sizes)[0] // 0;
    ok(@sizes > 100 && $max <= 49152,
       'write size 48k: ' . scalar(@sizes) . " writes to the temp file, the largest $max bytes");
}

# the origin goes, and with it the connections kept in the pool
Origin::stop_scripted($origin);
$t->done_testing;
