# Timeouts of an upgraded (101) tunnel when one side stops reading:
# - the client stops reading while the origin keeps sending: the write to the client waits
#   and the tunnel ends after send_timeout ("client timed out");
# - the origin stops reading while the client keeps sending: the write to the origin waits
#   and the tunnel ends after proxy_send_timeout ("upstream timed out").
# Socket buffers are made small so they fill quickly; what is checked is that the tunnel
# closes, the error log line (both at info, as nginx) and the access log's status (101,
# as nginx: the status stays the one sent), not how fast.
# Validated against Debian's nginx 1.22: SLUICE_BINARY=/usr/sbin/nginx passes.
use strict;
use warnings;
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF SO_SNDBUF inet_aton pack_sockaddr_in);
use POSIX ();
use Sluice;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);

sub origin_conn {
    my ($c) = @_;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) { sysread($c, $buf, 65536, length $buf) or return; }
    my ($path) = $buf =~ m{^\S+ (\S+)};
    syswrite($c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n");
    if ($path =~ m{/flood}) {
        # sends until the proxy closes (bounded by the alarm)
        my $chunk = 'f' x 4096;
        1 while defined syswrite($c, $chunk);
    } else {
        # reads nothing more (the alarm, or the test's end, ends it)
        sleep 30;
    }
}

sub origin {
    my $srv = IO::Socket::INET->new(Proto => 'tcp', ReuseAddr => 1) or die "origin: $!";
    # accepted sockets inherit the small buffers
    setsockopt($srv, SOL_SOCKET, SO_RCVBUF, 4096);
    setsockopt($srv, SOL_SOCKET, SO_SNDBUF, 4096);
    bind($srv, pack_sockaddr_in($origin_port, inet_aton('127.0.0.1'))) or die "bind: $!";
    listen($srv, 64) or die "listen: $!";
    $SIG{CHLD} = 'IGNORE';
    $SIG{PIPE} = 'IGNORE';
    while (my $c = $srv->accept) {
        next if fork;
        local $SIG{ALRM} = sub { POSIX::_exit(0) };
        alarm 30;
        origin_conn($c);
        POSIX::_exit(0);
    }
}

my $origin_pid = fork;
if ($origin_pid == 0) { setpgrp(0, 0); origin(); POSIX::_exit(0); }
END { local $?; if ($origin_pid) { kill 'KILL', -$origin_pid; waitpid($origin_pid, 0); } }
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    log_format tun '\$request_uri|\$status|\$upstream_status';
    server {
        listen 127.0.0.1:%%PORT_1%%;
        access_log logs/tun.log tun;
        location /t/ {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_buffer_size 4k;
            send_timeout 1s;
            proxy_send_timeout 1s;
            proxy_read_timeout 60s;
        }
    }
}
EOF
$t->start;
$SIG{PIPE} = 'IGNORE';

# A client with a small receive buffer, its request sent and the 101 read.
sub tunnel {
    my ($uri) = @_;
    my $s = IO::Socket::INET->new(Proto => 'tcp') or die "socket: $!";
    setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096);
    setsockopt($s, SOL_SOCKET, SO_SNDBUF, 4096);
    connect($s, pack_sockaddr_in($port, inet_aton('127.0.0.1'))) or die "connect: $!";
    syswrite($s, "GET $uri HTTP/1.1\r\nHost: tun.test\r\nUpgrade: test\r\nConnection: upgrade\r\n\r\n");
    my $head = '';
    while ($head !~ /\r\n\r\n/) { sysread($s, $head, 1, length $head) or last; }
    return ($s, $head);
}

# Whether the tunnel was closed under the client: reads (and drops) what the proxy had
# queued until EOF or reset, for at most $secs seconds.
sub closed {
    my ($s, $secs) = @_;
    my $sel = IO::Select->new($s);
    my $end = time + $secs;
    while (time < $end) {
        next unless $sel->can_read(0.1);
        my $n = sysread($s, my $buf, 1 << 20);
        return 1 if !$n;
    }
    return 0;
}

my $log_tail = sub { my ($re) = @_; $t->wait_for(sub { $t->error_log =~ $re }, 20) };

# --- the client stops reading, the origin keeps sending: send_timeout ---
{
    my ($s, $head) = tunnel('/t/flood');
    like($head, qr{^HTTP/1\.1 101 }, 'flood: 101');
    ok($log_tail->(qr{client timed out}), 'flood: client timed out');
    like($t->error_log,
         qr{\[info\] \d+#\d+: \*\d+ client timed out \(110: Connection timed out\) while proxying upgraded connection, client: 127\.0\.0\.1, server: , request: "GET /t/flood HTTP/1\.1", upstream: "http://127\.0\.0\.1:$origin_port/t/flood", host: "tun\.test"},
         'flood: logged as nginx');
    ok(closed($s, 20), 'flood: the tunnel is closed');
    close $s;
}

# --- the origin stops reading, the client keeps sending: proxy_send_timeout ---
{
    my ($s, $head) = tunnel('/t/deaf');
    like($head, qr{^HTTP/1\.1 101 }, 'deaf: 101');
    $s->blocking(0);
    my $chunk = 'c' x 65536;
    my $sel = IO::Select->new($s);
    my $ended = 0;
    my $end = time + 20;
    while (!$ended && time < $end) {
        # keeps sending while it can; the end shows as EOF, a reset or a failed write
        my ($r, $w) = IO::Select->select($sel, $sel, undef, 0.1);
        if ($w && @$w) {
            my $n = syswrite($s, $chunk);
            $ended = 1 if !defined $n && $! != POSIX::EAGAIN;
        }
        if ($r && @$r) {
            my $n = sysread($s, my $buf, 65536);
            $ended = 1 if !$n && !(!defined $n && $! == POSIX::EAGAIN);
        }
    }
    ok($ended, 'deaf: the tunnel is closed');
    ok($log_tail->(qr{upstream timed out}), 'deaf: upstream timed out');
    like($t->error_log,
         qr{\[info\] \d+#\d+: \*\d+ upstream timed out \(110: Connection timed out\) while proxying upgraded connection, client: 127\.0\.0\.1, server: , request: "GET /t/deaf HTTP/1\.1", upstream: "http://127\.0\.0\.1:$origin_port/t/deaf", host: "tun\.test"},
         'deaf: logged as nginx');
    close $s;
}

# --- the access log: written when the tunnels end ---
my %log;
$t->wait_for(sub {
    %log = map { my @f = split /\|/; ($f[0] => "$f[1]|$f[2]") } split /\n/, ($t->read_file('logs/tun.log') // '');
    keys %log >= 2;
}, 10);
is($log{'/t/flood'}, '101|101', 'access log after send_timeout');
is($log{'/t/deaf'}, '101|101', 'access log after proxy_send_timeout');

$t->done_testing;
