# Start-up: listening sockets, the pid file, signals and -s, a port in use, unix sockets.
use strict;
use warnings;

use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Test::More;
use Sluice;

my $t = Sluice->new;
my $prefix = $t->prefix;
my $pid_file = "$prefix/logs/sluice.pid";

$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events {
    worker_connections 64;
}

http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
    }
}
EOF

# Both ports accept, several connections at once; SIGQUIT stops with 0 and removes the pid file.
my $pid = $t->start;
is($t->read_file('logs/sluice.pid') =~ s/\s+\z//r, $pid, 'pid file holds the pid');
ok($t->can_connect($t->port(1)), 'port 1 accepts');
ok($t->can_connect($t->port(2)), 'port 2 accepts');

my @socks = map { $t->connect($t->port(1 + $_ % 2)) } 1 .. 10;
is(scalar(grep { defined } @socks), 10, '10 connections at once');
# The server may wait for a request or close them; either way the client closes.
print {$_} "GET / HTTP/1.0\r\n" for grep { defined } @socks;
close $_ for grep { defined } @socks;

is($t->stop, 0, 'SIGQUIT: exit status 0');
ok(!-e $pid_file, 'SIGQUIT: pid file removed');

# SIGTERM
$t->start;
is($t->stop(signal => 'TERM'), 0, 'SIGTERM: exit status 0');
ok(!-e $pid_file, 'SIGTERM: pid file removed');

# -s quit, -s stop: the signal goes to the pid in the pid file.
for my $s (qw(quit stop)) {
    $t->start;
    my $r = $t->run('-c', 'conf/sluice.conf', '-s', $s);
    is($r->{exit}, 0, "-s $s: exit 0") or diag($r->{stderr});
    is($t->wait_exit, 0, "-s $s: the server exits with 0");
    ok(!-e $pid_file, "-s $s: pid file removed");
}

# -s reopen: a new error.log after the old one was renamed.
$t->start;
rename("$prefix/logs/error.log", "$prefix/logs/error.log.1") or die "rename: $!";
my $r = $t->run('-c', 'conf/sluice.conf', '-s', 'reopen');
is($r->{exit}, 0, '-s reopen: exit 0') or diag($r->{stderr});
ok($t->wait_for(sub { -e "$prefix/logs/error.log" }), '-s reopen: error.log reopened');
ok($t->wait_for(sub {
       ($t->error_log('logs/error.log.1') . $t->error_log) =~ /\[notice\] .*reopening logs/
   }), '-s reopen: notice logged');
ok($t->can_connect($t->port(1)), '-s reopen: still serving');
is($t->stop, 0, 'stop after reopen');

# -g: extra main directives; the pid file named there is used (and removed at exit).
$t->write_file('conf/nopid.conf', <<'EOF');
daemon off;
master_process off;
error_log logs/error.log info;
events {
}
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
    }
}
EOF
$pid = $t->start('-c', 'conf/nopid.conf', '-g', 'pid logs/g.pid;');
is($t->read_file('logs/g.pid') =~ s/\s+\z//r, $pid, '-g pid: pid file written');
is($t->stop, 0, '-g pid: stopped');
ok(!-e "$prefix/logs/g.pid", '-g pid: pid file removed');

# A port already in use.
my $port = $t->port(3);
my $holder = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                   Proto => 'tcp', Listen => 5)
    or die "cannot hold port $port: $!";
$t->write_file('conf/busy.conf', <<'EOF');
daemon off;
master_process off;
error_log logs/busy.log info;
pid logs/busy.pid;
events {
}
http {
    server {
        listen 127.0.0.1:%%PORT_3%%;
    }
}
EOF
$r = $t->run('-c', 'conf/busy.conf');
is($r->{exit}, 1, 'port in use: exit 1');
like($r->{stderr}, qr/\Qbind() to 127.0.0.1:$port failed (98: Address already in use)\E/,
     'port in use: bind() error');
close $holder;

# A unix socket.
$t->write_file('conf/unix.conf', <<'EOF');
%%TEST_GLOBALS%%
events {
}
http {
    server {
        listen unix:%%PREFIX%%/s.sock;
    }
}
EOF
$t->start('-c', 'conf/unix.conf');
my $u = IO::Socket::UNIX->new(Peer => "$prefix/s.sock", Type => SOCK_STREAM);
ok($u, 'unix socket accepts');
close $u if $u;
is($t->stop, 0, 'unix: stopped');

$t->done_testing;
