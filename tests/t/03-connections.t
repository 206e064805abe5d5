# Connections before the HTTP core: client_header_timeout, a connection that sends bytes,
# graceful stop with idle connections, a full connection table, daemon mode, multi_accept,
# reuseport and IPv6 listeners, a wildcard listener answering for a specific address.
use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use IO::Socket::IP;
use Socket qw(SOCK_STREAM);
use Test::More;
use Sluice;

my $t = Sluice->new;
my $prefix = $t->prefix;
# A complete request, so that the server closes after it with or without the HTTP core.
my $REQUEST = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";

# Sockets the server holds (listeners and connections), from /proc/PID/fd.
sub sockets {
    my ($s, $pid) = @_;
    return scalar grep { /^socket:/ } values %{$s->fds($pid)};
}

# Whether the server closed this client's connection (bounded wait; EOF or reset).
sub closed_by_server {
    my ($s, $sock, $timeout) = @_;
    my (undef, $eof) = $s->read_all($sock, $timeout);
    return $eof;
}

# Whether EOF (or anything) is waiting on the socket right now, without waiting.
sub readable_now {
    my ($sock) = @_;
    return scalar IO::Select->new($sock)->can_read(0);
}

# client_header_timeout, a connection that sends bytes, SIGQUIT with idle connections ----------

$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events {
    worker_connections 64;
}

http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        client_header_timeout 1s;
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
    }
}
EOF

my $port1 = $t->port(1);
my $port2 = $t->port(2);
$t->start;

{
    my $s = $t->connect($port1) or die "connect: $!";
    my ($data, $eof) = $t->read_all($s, 10);
    ok($eof, 'client_header_timeout: a silent connection is closed by the server');
    is($data, '', 'client_header_timeout: nothing is sent to it');
    close $s;
    my $line = qr/\[info\] \d+#\d+: \*\d+ client timed out \(110: Connection timed out\) while waiting for request, client: 127\.0\.0\.1, server: 127\.0\.0\.1:$port1$/m;
    ok($t->wait_for(sub { $t->error_log =~ $line }), 'client_header_timeout: logged as nginx')
        or diag($t->error_log);
}

# Until the HTTP core exists the server reads and closes; later it will answer.  Only the
# close is checked.
{
    my $s = $t->connect($port2) or die "connect: $!";
    print $s $REQUEST;
    ok(closed_by_server($t, $s), 'a connection that sends bytes is closed by the server');
    close $s;
}

# Graceful stop: idle connections (waiting for a request) are closed, the process exits 0.
{
    ok($t->wait_for(sub { sockets($t) == 2 }), 'SIGQUIT: only the listeners before');
    my @c = map { $t->connect($port2) or die "connect: $!" } 1 .. 3;
    ok($t->wait_for(sub { sockets($t) == 5 }), 'SIGQUIT: 3 idle connections accepted')
        or diag(explain($t->fds));
    is($t->stop(fd_check => 0), 0, 'SIGQUIT with 3 idle connections: exit status 0');
    is(scalar(grep { closed_by_server($t, $_) } @c), 3, 'SIGQUIT: every idle client sees EOF');
    close $_ for @c;
    ok(!-e "$prefix/logs/sluice.pid", 'SIGQUIT: pid file removed');
}

# worker_connections: idle connections make room ----------------------------------------------
#
# 4 = the listener, the signal channel and 2 clients.  A connection waiting for its request
# is reusable (as in nginx), so a third client does not get refused: the oldest idle one is
# closed for it.

$t->write_file('conf/wc.conf', <<'EOF');
%%TEST_GLOBALS%%
events {
    worker_connections 4;
}

http {
    server {
        listen 127.0.0.1:%%PORT_3%%;
    }
}
EOF

my $port3 = $t->port(3);
$t->start('-c', 'conf/wc.conf');
{
    ok($t->wait_for(sub { sockets($t) == 1 }), 'worker_connections 4: only the listener');
    my $ca = $t->connect($port3) or die "connect: $!";
    ok($t->wait_for(sub { sockets($t) == 2 }), 'worker_connections 4: client A held');
    my $cb = $t->connect($port3) or die "connect: $!";
    ok($t->wait_for(sub { sockets($t) == 3 }), 'worker_connections 4: client B held');
    my $cc = $t->connect($port3) or die "connect: $!";
    ok(closed_by_server($t, $ca), 'worker_connections 4: the oldest idle client (A) is closed');
    ok($t->wait_for(sub { sockets($t) == 3 }), 'worker_connections 4: B and C held');
    ok(!readable_now($cb) && !readable_now($cc), 'worker_connections 4: B and C still open');
    unlike($t->error_log, qr/worker_connections are not enough\n/,
           'worker_connections 4: nothing refused while idle connections can be closed');
    close $_ for $ca, $cb, $cc;
    ok($t->wait_for(sub { sockets($t) == 1 }), 'worker_connections 4: all released');

    # The table is whole again: two new connections are held.
    my @d = map { $t->connect($port3) or die "connect: $!" } 1 .. 2;
    ok($t->wait_for(sub { sockets($t) == 3 }), 'worker_connections 4: served again');
    ok(!grep({ readable_now($_) } @d), 'worker_connections 4: new clients still open');
    close $_ for @d;
}
is($t->stop, 0, 'worker_connections 4: stopped');

# daemon on -----------------------------------------------------------------------------------

$t->write_file('conf/daemon.conf', <<'EOF');
daemon on;
master_process off;
error_log logs/daemon.log info;
pid logs/daemon.pid;

events {
    worker_connections 64;
}

http {
    server {
        listen 127.0.0.1:%%PORT_4%%;
    }
}
EOF

my $port4 = $t->port(4);
my $daemon;

# A process that is gone or a zombie waiting for someone else to reap it.
sub alive {
    my ($pid) = @_;
    my $stat = $t->read_file("/proc/$pid/stat") // return 0;
    return $stat !~ /^\d+ \(.*\) Z /s;
}

# /proc/PID/stat fields after the command name: state, ppid, pgrp, session.
sub stat_fields {
    my ($pid) = @_;
    my $stat = $t->read_file("/proc/$pid/stat") // return ();
    $stat =~ s/^.*\) //s;
    return split / /, $stat;
}

END {
    # Only if the test failed before -s quit: stop the daemon this test started.
    if ($daemon && alive($daemon)) {
        kill 'QUIT', $daemon;
        $t->wait_for(sub { !alive($daemon) }, 5) or kill 'KILL', $daemon;
    }
}

{
    my $r = $t->run('-c', 'conf/daemon.conf');
    is($r->{exit}, 0, 'daemon on: the launcher exits 0') or diag($r->{stderr});
    ok($t->wait_for(sub {
           ($t->read_file('logs/daemon.pid') // '') =~ /^(\d+)\n?\z/ and $daemon = $1
       }), 'daemon on: pid file written');
    SKIP: {
        skip 'no daemon pid', 10 unless $daemon;
        ok(alive($daemon), 'daemon on: the process in the pid file is alive');
        my (undef, $ppid, undef, $session) = stat_fields($daemon);
        # The launcher was our child and has been reaped; the daemon is its child, reparented.
        isnt($ppid, $$, 'daemon on: not a child of the test (the launcher has exited)');
        my (undef, undef, undef, $our_session) = stat_fields($$);
        isnt($session, $our_session, 'daemon on: in a session of its own (setsid)');
        isnt($session, $daemon,
             'daemon on: not the session leader (double fork: it can never get a terminal)');
        my $idle = sockets($t, $daemon);
        ok($t->wait_for(sub { $t->can_connect($port4) }), 'daemon on: accepts connections');
        my $s = $t->connect($port4);
        print $s $REQUEST;
        ok(closed_by_server($t, $s), 'daemon on: serves the connection');
        close $s;
        ok($t->wait_for(sub { sockets($t, $daemon) == $idle }), 'daemon on: no socket left');

        $r = $t->run('-c', 'conf/daemon.conf', '-s', 'quit');
        is($r->{exit}, 0, 'daemon on: -s quit exits 0') or diag($r->{stderr});
        ok($t->wait_for(sub { !alive($daemon) }), 'daemon on: the daemon exits after -s quit');
        ok($t->wait_for(sub { !-e "$prefix/logs/daemon.pid" }), 'daemon on: pid file removed');
    }
}

# multi_accept on: 20 connections queued while the server is stopped, all accepted ----------

$t->write_file('conf/multi.conf', <<'EOF');
%%TEST_GLOBALS%%
events {
    worker_connections 64;
    multi_accept on;
}

http {
    server {
        listen 127.0.0.1:%%PORT_5%%;
    }
}
EOF

my $port5 = $t->port(5);
$t->start('-c', 'conf/multi.conf');
{
    ok($t->wait_for(sub { sockets($t) == 1 }), 'multi_accept: only the listener');
    # Stopped, the server cannot accept: the 20 handshakes complete in the backlog and one
    # readiness report finds them all.
    $t->signal('STOP');
    my @c = map { $t->connect($port5) } 1 .. 20;
    $t->signal('CONT');
    is(scalar(grep { defined } @c), 20, 'multi_accept: 20 clients connected');
    ok($t->wait_for(sub { sockets($t) == 21 }), 'multi_accept: all 20 accepted and held')
        or diag(sockets($t) . ' sockets');
    print {$_} $REQUEST for grep { defined } @c;
    is(scalar(grep { defined && closed_by_server($t, $_) } @c), 20,
       'multi_accept: all 20 served');
    close $_ for grep { defined } @c;
}
is($t->stop, 0, 'multi_accept: stopped');

# reuseport, [::1] ----------------------------------------------------------------------------

my $have_ipv6 = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1,
                                    Proto => 'tcp') ? 1 : 0;
my $ipv6_server = $have_ipv6 ? "    server {\n        listen [::1]:%%PORT_7%%;\n    }\n" : '';
$t->write_file('conf/addrs.conf', <<"EOF");
%%TEST_GLOBALS%%
events {
    worker_connections 64;
}

http {
    server {
        listen 127.0.0.1:%%PORT_6%% reuseport;
    }
    server {
        listen 127.0.0.1:%%PORT_8%%;
    }
$ipv6_server}
EOF

my ($port6, $port8) = ($t->port(6), $t->port(8));
$t->start('-c', 'conf/addrs.conf');
{
    ok($t->can_connect($port6), 'reuseport: accepts connections');
    # SO_REUSEPORT is set on the server's socket: another socket of ours may bind the same
    # address with it (never listening, so it takes no connection) ...
    my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port6,
                                      Proto => 'tcp', ReusePort => 1);
    ok($probe, 'reuseport: SO_REUSEPORT set on the listening socket') or diag("bind: $!");
    close $probe if $probe;
    # ... and not on a socket without "reuseport".
    $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port8,
                                   Proto => 'tcp', ReusePort => 1);
    ok(!$probe, 'no reuseport: SO_REUSEPORT not set');
    close $probe if $probe;

    SKIP: {
        skip '::1 is not available', 2 unless $have_ipv6;
        my $port7 = $t->port(7);
        my $connect6 = sub {
            IO::Socket::IP->new(PeerHost => '::1', PeerPort => $port7, Proto => 'tcp',
                                Timeout => 1);
        };
        my $s;
        ok($t->wait_for(sub { $s = $connect6->() }), 'listen [::1]: accepts connections');
        if ($s) {
            print $s $REQUEST;
            ok(closed_by_server($t, $s), 'listen [::1]: serves the connection');
            close $s;
        } else {
            fail('listen [::1]: serves the connection');
        }
    }
}
is($t->stop, 0, 'reuseport, [::1]: stopped');

# A wildcard and a specific address on one port: only the wildcard socket is bound -----------

$t->write_file('conf/wildcard.conf', <<'EOF');
%%TEST_GLOBALS%%
events {
    worker_connections 64;
}

http {
    server {
        listen *:%%PORT_9%%;
    }
    server {
        listen 127.0.0.1:%%PORT_9%%;
    }
}
EOF

my $port9 = $t->port(9);

# Listening TCP sockets on a port, from /proc/net/tcp: "ADDR:PORT" in the kernel's hex.
sub listening_on {
    my ($port) = @_;
    my $hex = sprintf('%04X', $port);
    my @found;
    for my $line (split /\n/, $t->read_file('/proc/net/tcp') // '') {
        my (undef, $local, undef, $state) = split ' ', $line;
        next unless defined $state && $state eq '0A' && $local =~ /^([0-9A-F]{8}):$hex$/;
        push @found, $1;
    }
    return join(' ', sort @found);
}

my $wpid = $t->start('-c', 'conf/wildcard.conf');
is(listening_on($port9), '00000000', 'wildcard: one socket, on 0.0.0.0, none on 127.0.0.1');
ok($t->wait_for(sub { sockets($t) == 1 }), 'wildcard: the server holds one listening socket');
{
    my $s = $t->connect($port9);
    ok($s, 'wildcard: 127.0.0.1 accepts connections');
    if ($s) {
        print $s $REQUEST;
        ok(closed_by_server($t, $s), 'wildcard: the connection is served');
        close $s;
    }
}
is($t->stop, 0, 'wildcard: stopped');

$t->final_checks;

# worker_connections: refused when nothing can be freed ---------------------------------------
#
# 4 = three listeners and the signal channel: no room for any client.  Every connection is
# accepted and closed at once, with nginx's alert; the server stays up and leaks nothing.

my $w = Sluice->new;
$w->allow_alerts(qr/\[alert\] \d+#\d+: 4 worker_connections are not enough$/);
$w->write_config(<<'EOF');
%%TEST_GLOBALS%%
events {
    worker_connections 4;
}

http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
    }
    server {
        listen 127.0.0.1:%%PORT_3%%;
    }
}
EOF
$w->start;
{
    my @c = map { $w->connect($w->port(1 + $_ % 3)) } 1 .. 6;
    is(scalar(grep { defined } @c), 6, 'table full: the clients connect (backlog)');
    is(scalar(grep { defined && closed_by_server($w, $_) } @c), 6,
       'table full: every connection is closed at once');
    close $_ for grep { defined } @c;
    like($w->error_log, qr/\[alert\] \d+#\d+: 4 worker_connections are not enough$/m,
         'table full: alert as nginx');
    ok($w->wait_for(sub { sockets($w) == 3 }), 'table full: only the listeners held');
}
is($w->stop, 0, 'table full: stopped');

$w->done_testing;
