# tcp_nopush and tcp_nodelay, watched with strace: the setsockopt() calls on each client
# connection, in order with its sends.  nginx 1.22 on Linux (Debian's 1.22.1 traced the same
# way gives the same sequences; run with SLUICE_BINARY=/usr/sbin/nginx to see):
#   - no TCP_NODELAY at accept; tcp_nodelay sets it when the connection goes keepalive
#     (once), for unbuffered proxying (before the response), and on the upstream connection
#     of a streamed request body;
#   - tcp_nopush with sendfile sets TCP_CORK before a header that precedes a file part; the
#     cork is lifted when the connection goes keepalive (and then no TCP_NODELAY), not at a
#     close; never on a connection with TCP_NODELAY, nor after a request on it ran in a
#     location with tcp_nopush off;
#   - pipelined requests: nothing between them.
# Skipped only when ptrace is not permitted here.
use strict;
use warnings;
use IO::Select;
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);
use Sluice;

my ($STRACE) = grep { -x } map { "$_/strace" } split(/:/, $ENV{PATH} // ''), '/usr/bin';
if (!$STRACE) {
    fail('strace is installed (scripts/deps.sh installs it)');
    done_testing;
    exit;
}

sub slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or return '';
    local $/;
    return scalar <$fh>;
}

sub tracer_of {
    my ($pid) = @_;
    return slurp("/proc/$pid/status") =~ /^TracerPid:\s*(\d+)/m ? $1 : 0;
}

# Attaches strace to $pid, writing to $out.  Returns strace's pid once attached, or
# (undef, why) when strace gave up.
sub start_strace {
    my ($pid, $out) = @_;
    my $err = "$out.err";
    my $spid = fork // die "fork: $!\n";
    if ($spid == 0) {
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', '/dev/null');
        open(STDERR, '>', $err);
        no warnings 'exec';
        exec $STRACE, '-f', '-e', 'trace=accept4,connect,close,setsockopt,sendfile,writev,write',
            '-o', $out, '-p', $pid;
        POSIX::_exit(127);
    }
    my $deadline = time + 10;
    while (time < $deadline) {
        return $spid if tracer_of($pid) == $spid;
        if (waitpid($spid, WNOHANG) == $spid) {
            return (undef, slurp($err) || "strace exited with status $?");
        }
        sleep 0.02;
    }
    kill 'KILL', $spid;
    waitpid($spid, 0);
    return (undef, 'strace did not attach within 10 s');
}

# Whether ptrace is permitted: strace attached to a child of ours, as sluice will be.
{
    my $dir = tempdir('sluice-strace-XXXXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $child = fork // die "fork: $!\n";
    if ($child == 0) {
        no warnings 'exec';
        exec 'sleep', '30';
        POSIX::_exit(127);
    }
    my ($spid, $why) = start_strace($child, "$dir/probe");
    kill 'KILL', $child;
    waitpid($child, 0);
    waitpid($spid, 0) if $spid;
    if (!$spid) {
        plan skip_all => "ptrace not permitted here: $why" if $why =~ /not permitted|EPERM/i;
        fail("strace works: $why");
        done_testing;
        exit;
    }
}

my $t = Sluice->new;
my $port = $t->port(1);
$t->write_file('html/big.bin', 'b' x 100000);
$t->write_file('html/s.txt', "small\n");
$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        root html;
        location /np/ { sendfile on; tcp_nopush on; alias html/; }
        location /npnosf/ { sendfile off; tcp_nopush on; alias html/; }
        location /sf/ { sendfile on; alias html/; }
        location /chunk/ { sendfile on; sendfile_max_chunk 16k; alias html/; }
        location /nd0/ { tcp_nodelay off; alias html/; }
        location /np_nd0/ { sendfile on; tcp_nopush on; tcp_nodelay off; alias html/; }
        location /ret { return 200 "ret\n"; }
        location /pb { proxy_buffering off; proxy_pass http://127.0.0.1:%%PORT_2%%/; }
        location /pbnd0 { tcp_nodelay off; proxy_buffering off; proxy_pass http://127.0.0.1:%%PORT_2%%/; }
        location /p { proxy_pass http://127.0.0.1:%%PORT_2%%/; }
        location /rb { proxy_request_buffering off; proxy_pass http://127.0.0.1:%%PORT_2%%/; }
        location /rbnd0 { tcp_nodelay off; proxy_request_buffering off; proxy_pass http://127.0.0.1:%%PORT_2%%/; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        location / { return 200 "up\n"; }
    }
}
EOF
my $pid = $t->start;
my $trace = $t->prefix . '/strace.out';
my ($strace, $why) = start_strace($pid, $trace);
if (!$strace) {
    fail("strace attached to sluice: $why");
    $t->done_testing;
    exit;
}

# One response on a kept connection: the header, then Content-Length bytes (none to HEAD).
sub response {
    my ($s, $head) = @_;
    my $sel = IO::Select->new($s);
    my $data = '';
    my $deadline = time + 10;
    while (time < $deadline) {
        if ($data =~ /^(.*?\r\n\r\n)/s) {
            my $hlen = length $1;
            my $want = $head ? 0 : ($1 =~ /\r\nContent-Length: (\d+)\r\n/i ? $1 : 0);
            return substr($data, 0, $hlen + $want) if length($data) >= $hlen + $want;
        }
        next unless $sel->can_read(0.5);
        last unless sysread($s, $data, 65536, length $data);
    }
    return $data;
}

# Sends each request on one connection, reading each response, then closes.  A request may
# be several pipelined ones, sent at once.
sub talk {
    my (@requests) = @_;
    my $s = $t->connect($port) or die "connect: $!\n";
    for my $req (@requests) {
        my @each = $req =~ /(\w+ \S+ HTTP\/1\.1\r\n.*?\r\n\r\n)/sg;
        print $s $req;
        response($s, /^HEAD/) for @each;
    }
    close $s;
}

sub get { return "GET $_[0] HTTP/1.1\r\nHost: localhost\r\n" . ($_[1] // '') . "\r\n"; }

# The calls on the first connection accepted after offset $from until its close: "cork",
# "uncork", "nodelay", and "send" for a run of writes.  Also the options set on the first
# upstream connection (connect() to its close).  Empty until the connection is closed.
sub calls_since {
    my ($from) = @_;
    my @lines = split /\n/, substr(slurp($trace), $from);
    my ($cfd, $ufd, @client, @upstream, $client_closed);
    for (@lines) {
        s/^\d+\s+//;
        if (!defined $cfd) {
            $cfd = $1 if /^accept4\(\d+, .*\) = (\d+)$/;
            next;
        }
        $ufd = $1 if !defined $ufd && /^connect\((\d+), /;
        my ($call, $fd) = /^(\w+)\((\d+)[,)]/ or next;
        my $list = $fd == $cfd ? \@client : defined $ufd && $fd == $ufd ? \@upstream : next;
        if ($call eq 'close') {
            $client_closed = 1 if $fd == $cfd;
            $ufd = -1 if defined $ufd && $fd == $ufd;
            last if $client_closed;
            next;
        }
        my $token = /TCP_CORK, \[1\]/ ? 'cork' : /TCP_CORK, \[0\]/ ? 'uncork'
            : /TCP_NODELAY, \[1\]/ ? 'nodelay' : /TCP_NODELAY, \[0\]/ ? 'nodelay-off'
            : $call =~ /^(?:writev|write|sendfile)$/ ? 'send' : next;
        next if $token eq 'send' && ($fd != $cfd || (@$list && $list->[-1] eq 'send'));
        push @$list, $token;
    }
    return $client_closed ? (join(' ', @client), join(' ', @upstream)) : ();
}

# Runs one exchange and returns what the server did on that connection (and upstream).
sub traced {
    my ($code) = @_;
    my $from = length slurp($trace);
    $code->();
    my @calls;
    $t->wait_for(sub { @calls = calls_since($from) }, 5);
    return wantarray ? @calls : $calls[0];
}

my $big = '/np/big.bin';
is(traced(sub { talk(get($big), get($big)) }), 'cork send uncork cork send uncork',
   'tcp_nopush, sendfile: corked before the header, lifted at each keepalive');
is(traced(sub { talk(get($big, "Connection: close\r\n")) }), 'cork send',
   'tcp_nopush: the close sends what the cork holds');
is(traced(sub { talk(get('/npnosf/big.bin'), get('/npnosf/big.bin')) }), 'send nodelay send',
   'tcp_nopush without sendfile: no cork; tcp_nodelay at the first keepalive only');
is(traced(sub { talk(get('/sf/big.bin'), get('/sf/big.bin')) }), 'send nodelay send',
   'sendfile without tcp_nopush: no cork');
is(traced(sub { talk(get('/nd0/s.txt'), get('/nd0/s.txt')) }), 'send',
   'tcp_nodelay off: no TCP_NODELAY, not at accept either');
is(traced(sub { talk(get('/ret'), get($big), get('/ret')) }), 'send nodelay send',
   'no cork on a connection that has TCP_NODELAY');
is(traced(sub { talk(get('/nd0/s.txt'), get('/np_nd0/big.bin')) }), 'send',
   'a request where tcp_nopush is off: no cork for the rest of the connection');
is(traced(sub { talk(get('/np_nd0/big.bin'), get('/ret'), get($big)) }),
   'cork send uncork send nodelay send',
   'no TCP_NODELAY at the keepalive that lifts the cork; at the next one');
is(traced(sub { talk("HEAD $big HTTP/1.1\r\nHost: localhost\r\n\r\n") }), 'send nodelay',
   'a header without a file part: no cork');
is(traced(sub { talk(get('/ret') . get('/ret'), get('/ret', "Connection: close\r\n")) }),
   'send nodelay send', 'pipelined requests: nothing between them');

# proxying
is(traced(sub { talk(get('/pb'), get('/pb')) }), 'nodelay send',
   'proxy_buffering off: TCP_NODELAY before the response');
is(traced(sub { talk(get('/pbnd0'), get('/pbnd0')) }), 'send',
   'proxy_buffering off, tcp_nodelay off: none');
is(traced(sub { talk(get('/p'), get('/p')) }), 'send nodelay send',
   'buffered proxying: at keepalive, as any response');
# a request body in two pieces, the second after a pause: streamed to the upstream
sub post_in_two {
    my ($uri) = @_;
    my $s = $t->connect($port);
    print $s "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . "Content-Length: 10\r\n\r\nhello";
    sleep 0.3;
    print $s 'world';
    $t->read_all($s);
}
is_deeply([traced(sub { post_in_two('/rb') })], ['send', 'nodelay'],
          'proxy_request_buffering off: TCP_NODELAY on the upstream connection only');
is_deeply([traced(sub { post_in_two('/rbnd0') })], ['send', ''],
          'the same with tcp_nodelay off: none');

# sendfile_max_chunk: no sendfile() call asks for more, and the response still completes
# (nothing wakes a socket that took every byte offered: the write resumes by itself)
sub sendfile_counts {
    my ($code) = @_;
    my $from = length slurp($trace);
    my $body = $code->();
    $t->wait_for(sub { slurp($trace) =~ /^\d+\s+close\(/m }, 5);
    my @counts = substr(slurp($trace), $from) =~ /sendfile\(\d+, \d+, \[\d+\](?: => \[\d+\])?, (\d+)\)/g;
    return ($body, @counts);
}
sub fetch {
    my ($uri) = @_;
    my $s = $t->connect($port) or die "connect: $!\n";
    print $s get($uri, "Connection: close\r\n");
    my $r = $t->read_all($s);
    close $s;
    return $r;
}
my ($body, @counts) = sendfile_counts(sub { fetch('/chunk/big.bin') });
is((split /\r\n\r\n/, $body, 2)[1], 'b' x 100000, 'sendfile_max_chunk 16k: the whole file arrives');
ok(@counts >= 7 && !grep({ $_ > 16384 } @counts), 'no sendfile() call above 16k')
    or diag("counts: @counts");
($body, @counts) = sendfile_counts(sub { fetch('/sf/big.bin') });
ok(@counts >= 1 && $counts[0] == 100000, 'the default (2m): the file in one call')
    or diag("counts: @counts");

# strace detaches on SIGINT; sluice then exits untraced (LeakSanitizer cannot run under
# ptrace).  Bounded: a strace that does not go is killed.
kill 'INT', $strace;
my $deadline = time + 10;
sleep 0.05 while waitpid($strace, WNOHANG) == 0 && time < $deadline;
if (time >= $deadline) {
    kill 'KILL', $strace;
    waitpid($strace, 0);
}
ok($t->wait_for(sub { tracer_of($pid) == 0 }, 5), 'strace detached');
is($t->stop, 0, 'graceful stop');

# listen's TCP options (so_keepalive, fastopen, deferred) are the listening socket's, set by
# the master: at a reload on a socket it keeps as on one it opens (a master, traced from
# before the reload); dropping "deferred" undoes it on the kept socket.
{
    my $m = Sluice->new;
    my ($p1, $p2) = ($m->port(1), $m->port(2));
    my $mconf = sub {
        my ($l1, $l2) = @_;
        return "daemon off;\nmaster_process on;\nworker_processes 1;\n"
            . "error_log logs/error.log info;\npid logs/sluice.pid;\nevents { }\n"
            . "http { access_log off;\n"
            . "    server { listen 127.0.0.1:%%PORT_1%% $l1; return 200 \"one\\n\"; }\n"
            . ($l2 ne 'none' ? "    server { listen 127.0.0.1:%%PORT_2%% $l2; return 200 \"two\\n\"; }\n" : '')
            . "}\n";
    };
    $m->write_config($mconf->('', 'none'));
    my $mpid = $m->start;
    my $mtrace = $m->prefix . '/strace.out';
    my ($ms) = start_strace($mpid, $mtrace);
    my $reload = sub {
        my ($l1, $l2, $want) = @_;
        my $from = length slurp($mtrace);
        $m->write_config($mconf->($l1, $l2));
        $m->signal('HUP');
        $m->wait_for(sub { (() = substr(slurp($mtrace), $from) =~ /TCP_DEFER_ACCEPT/g) >= $want }, 10);
        $m->wait_for(sub { ($m->http_get($p2, '/') // '') =~ /two/ }, 10) if $l2 ne 'none';
        return substr(slurp($mtrace), $from);
    };
    my $calls = $reload->('so_keepalive=30m:10s:5 fastopen=16 deferred', 'so_keepalive=on deferred', 2);
    like($calls, qr/setsockopt\(\d+, SOL_SOCKET, SO_KEEPALIVE, \[1\], 4\) = 0/, 'so_keepalive: SO_KEEPALIVE');
    like($calls, qr/setsockopt\(\d+, SOL_TCP, TCP_KEEPIDLE, \[1800\], 4\) = 0/, '... keepidle 30m');
    like($calls, qr/setsockopt\(\d+, SOL_TCP, TCP_KEEPINTVL, \[10\], 4\) = 0/, '... keepintvl 10s');
    like($calls, qr/setsockopt\(\d+, SOL_TCP, TCP_KEEPCNT, \[5\], 4\) = 0/, '... keepcnt 5');
    like($calls, qr/setsockopt\(\d+, SOL_TCP, TCP_FASTOPEN, \[16\], 4\) = 0/, 'fastopen=16');
    is_deeply([$calls =~ /TCP_DEFER_ACCEPT, \[(\d+)\]/g], [60, 60],
              'deferred: client_header_timeout, on the kept socket and the new one');
    like($m->http_get($p1, '/') // '', qr/one/, 'the kept listener answers');
    like($m->http_get($p2, '/') // '', qr/two/, 'the new listener answers');
    $calls = $reload->('', '', 2);
    is_deeply([$calls =~ /TCP_DEFER_ACCEPT, \[(\d+)\]/g], [0, 0], 'deferred dropped: undone on both');
    if ($ms) {
        kill 'INT', $ms;
        waitpid($ms, 0);
    }
    ok($m->wait_for(sub { tracer_of($mpid) == 0 }, 5), 'strace detached from the master');
    # the listener added by the reload is not in the idle set taken at start
    is($m->stop(fd_check => 0), 0, 'the master stops');
    $m->final_checks;
}
$t->done_testing;
