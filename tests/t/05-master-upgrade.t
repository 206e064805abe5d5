# Master and workers, continued: what the worker-shaping directives do (worker_priority,
# worker_cpu_affinity, user) and how they fail in -t; TERM; the binary upgrade (USR2, WINCH,
# QUIT of the old master, and the way back when the new binary goes away).
use strict;
use warnings;

use Fcntl qw(F_SETFD);
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep);
use Sluice;

my $t = Sluice->new;
my $prefix = $t->prefix;
my $port = $t->port(1);
my $root = $> == 0;

sub stat_fields {
    my ($pid) = @_;
    my $stat = $t->read_file("/proc/$pid/stat") // return ();
    $stat =~ s/^.*\) //s;
    return split / /, $stat;
}

sub alive {
    my ($pid) = @_;
    my ($state) = stat_fields($pid);
    return defined $state && $state ne 'Z';
}

sub children_of {
    my ($pid) = @_;
    my @kids;
    opendir(my $d, '/proc') or return ();
    for my $p (grep { /^\d+$/ } readdir $d) {
        my ($state, $ppid) = stat_fields($p);
        push @kids, $p if defined $ppid && $ppid == $pid && $state ne 'Z';
    }
    @kids = sort { $a <=> $b } @kids;
    return @kids;
}

sub nchildren { my @k = children_of($_[0]); return scalar @k }

sub status_field {
    my ($pid, $name) = @_;
    my $s = $t->read_file("/proc/$pid/status") // return undef;
    return $s =~ /^$name:\s*(.*)$/m ? $1 : undef;
}

sub answer {
    my $r = $t->http($port, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n") // '';
    return $r =~ /\r\n\r\n(\S+) (\d+)\n\z/ ? ($1, $2) : ();
}

# -t: the worker-shaping directives fail as nginx's do -----------------------------------------

for my $case (
    [ 'worker_priority abc;', qr/"worker_priority" directive invalid number in \S+:1\n/ ],
    [ 'worker_cpu_affinity 0x1;', qr/invalid character "x" in "worker_cpu_affinity" in \S+:1\n/ ],
    [ 'worker_shutdown_timeout x;', qr/"worker_shutdown_timeout" directive invalid value in \S+:1\n/ ],
    [ 'user sluice-no-such-user;', $root ? qr/getpwnam\("sluice-no-such-user"\) failed in \S+:1\n/
                                         : qr/the "user" directive makes sense only if the master process runs with super-user privileges, ignored in \S+:1\n/ ],
    [ 'user nobody sluice-no-such-group;', $root ? qr/getgrnam\("sluice-no-such-group"\) failed in \S+:1\n/
                                                 : qr/makes sense only if/ ],
) {
    my ($line, $re) = @$case;
    $t->write_file('conf/bad.conf', "$line\nevents {}\n");
    my $r = $t->run('-t', '-c', 'conf/bad.conf');
    like($r->{stderr}, $re, "-t: $line");
}
{
    $t->write_file('conf/masks.conf', "worker_processes 3;\nworker_cpu_affinity 01 10;\nevents {}\n");
    my $r = $t->run('-t', '-c', 'conf/masks.conf');
    is($r->{exit}, 0, '-t: fewer masks than workers is accepted');
    like($r->{stderr}, qr/\[warn\] .*the number of "worker_processes" is not equal to the number of "worker_cpu_affinity" masks, using last mask for remaining worker processes/,
         '-t: with nginx\'s warning');
}

# worker_priority, worker_cpu_affinity, user; TERM ----------------------------------------------

my $ncpu = () = ($t->read_file('/proc/cpuinfo') // '') =~ /^processor\s*:/mg;
my $user = $root ? 'user nobody nogroup;' : '';
$t->write_config(<<"EOF");
daemon off;
master_process on;
worker_processes 2;
worker_priority 5;
worker_cpu_affinity auto;
worker_rlimit_nofile 2345;
$user
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    access_log logs/access.log;
    server { listen 127.0.0.1:%%PORT_1%%; return 200 "up \$pid\\n"; }
}
EOF
$t->start;
ok($t->wait_for(sub { nchildren($t->pid) == 2 }), 'two workers');
my @w = children_of($t->pid);
is((stat_fields($w[0]))[16], 5, 'worker_priority 5: the worker\'s nice value');
is((stat_fields($t->pid))[16], 0, 'worker_priority: not the master\'s');
like($t->read_file("/proc/$w[0]/limits"), qr/^Max open files\s+2345\s+2345\s/m,
     'worker_rlimit_nofile 2345: the worker\'s limit');
SKIP: {
    skip 'one CPU: auto affinity is trivially right', 1 if $ncpu < 2;
    my %cpus = map { (status_field($_, 'Cpus_allowed_list') // '?') => 1 } @w;
    is(scalar(keys %cpus), 2, 'worker_cpu_affinity auto: each worker on its own CPU')
        or diag(join ', ', keys %cpus);
}
SKIP: {
    skip 'not root: "user" does not apply', 2 unless $root;
    my ($uid) = split /\s+/, status_field($w[0], 'Uid') // '';
    is($uid, scalar getpwnam('nobody'), 'user nobody: the worker runs as nobody');
    ($uid) = split /\s+/, status_field($t->pid, 'Uid') // '';
    is($uid, 0, 'user: the master stays root');
}
my ($what, $who) = answer();
is($what, 'up', 'a worker as nobody serves');
is($t->stop(signal => 'TERM'), 0, 'TERM: the master exits 0');
ok(!grep({ alive($_) } @w), 'TERM: the workers are gone');

# binary upgrade --------------------------------------------------------------------------------

# daemon on: WINCH is only acted on by a daemonized master, as in nginx.
$t->write_file('conf/up.conf', <<"EOF");
daemon on;
master_process on;
worker_processes 1;
$user
error_log logs/up.log info;
pid logs/up.pid;
events { worker_connections 64; }
http {
    access_log off;
    server { listen 127.0.0.1:%%PORT_1%%; return 200 "gen \$pid\\n"; }
}
EOF

my @masters;
END {
    # only if the test stopped half-way: stop what it started
    for my $m (grep { $_ && alive($_) } @masters) {
        kill 'TERM', $m;
    }
}

sub pid_in {
    my ($file) = @_;
    my $c = $t->read_file($file) // return undef;
    return $c =~ /^(\d+)\n?\z/ ? $1 : undef;
}

{
    my $r = $t->run('-c', 'conf/up.conf');
    is($r->{exit}, 0, 'daemon: started') or diag($r->{stderr});
    my $m1;
    ok($t->wait_for(sub { $m1 = pid_in('logs/up.pid') }), 'daemon: pid file');
    push @masters, $m1;
    ok($t->wait_for(sub { nchildren($m1) == 1 && answer() }), 'old master: one worker serving');

    kill 'USR2', $m1;
    my $m2;
    ok($t->wait_for(sub { ($m2 = pid_in('logs/up.pid')) && $m2 != $m1 }),
       'USR2: the pid file names the new master');
    push @masters, $m2;
    is(pid_in('logs/up.pid.oldbin'), $m1, 'USR2: the old pid moved to up.pid.oldbin');
    is((stat_fields($m2))[1], $m1, 'USR2: the new master is a child of the old one');
    ok($t->wait_for(sub { nchildren($m2) == 1 }), 'USR2: the new master has its worker');
    like($t->read_file('logs/up.log'), qr/using inherited sockets from "\d+;"/,
         'USR2: the new binary inherits the listening socket');

    kill 'WINCH', $m1;
    ok($t->wait_for(sub { my @k = children_of($m1); @k == 1 && $k[0] == $m2 }),
       'WINCH: the old workers leave (the new master stays)');
    my @new_workers = children_of($m2);
    my %seen;
    for (1 .. 10) { my (undef, $p) = answer(); $seen{$p // 'none'}++; }
    is_deeply([sort keys %seen], \@new_workers, 'WINCH: only the new workers answer');

    kill 'QUIT', $m1;
    ok($t->wait_for(sub { !alive($m1) }), 'QUIT to the old master: it exits');
    ok(!-e "$prefix/logs/up.pid.oldbin", 'QUIT: up.pid.oldbin removed');
    is(pid_in('logs/up.pid'), $m2, 'the pid file still names the new master');
    ok(scalar(answer()), 'the new master serves on');

    # the way back: a newer binary that leaves gives control back to the master before it
    kill 'USR2', $m2;
    my $m3;
    ok($t->wait_for(sub { ($m3 = pid_in('logs/up.pid')) && $m3 != $m2 }), 'USR2 again');
    push @masters, $m3;
    ok($t->wait_for(sub { nchildren($m3) == 1 }), 'the newest master has its worker');
    kill 'QUIT', $m3;
    ok($t->wait_for(sub { !alive($m3) && (pid_in('logs/up.pid') // 0) == $m2 }),
       'the newest master quits: up.pid names the previous master again');
    ok(!-e "$prefix/logs/up.pid.oldbin", 'and up.pid.oldbin is gone');
    like($t->read_file('logs/up.log'), qr/new binary process $m3 exited with code 0/,
         'the master logs the new binary\'s exit');
    ok(scalar(answer()), 'the previous master serves on');

    my $r2 = $t->run('-c', 'conf/up.conf', '-s', 'quit');
    is($r2->{exit}, 0, '-s quit');
    ok($t->wait_for(sub { !alive($m2) }), 'the last master exits');
    ok(!-e "$prefix/logs/up.pid", 'its pid file is removed');
}

# taking over from nginx: the sockets listed in $NGINX are adopted -----------------------------

{
    my $port3 = $t->port(3);
    my $port4 = $t->port(4);
    my @ls = map {
        IO::Socket::INET->new(Listen => 16, LocalAddr => "127.0.0.1:$_", ReuseAddr => 1)
            or die "listen: $!"
    } $port3, $port4;
    fcntl($_, F_SETFD, 0) for @ls;   # as nginx leaves them for the binary it executes
    $t->write_file('conf/takeover.conf', <<"EOF2");
daemon off;
master_process on;
worker_processes 1;
$user
error_log logs/takeover.log info;
pid logs/takeover.pid;
events { worker_connections 64; }
http {
    access_log off;
    server { listen 127.0.0.1:%%PORT_3%%; return 200 "taken over\\n"; }
}
EOF2
    {
        local $ENV{NGINX} = join('', map { fileno($_) . ';' } @ls);
        $t->start('-c', 'conf/takeover.conf');
    }
    my $fds = join ' ', map { fileno($_) } @ls;
    close $_ for @ls;
    my $r = $t->http($port3, "GET / HTTP/1.0\r\nHost: x\r\n\r\n") // '';
    like($r, qr/\r\n\r\ntaken over\n\z/, 'NGINX=fd;fd;: the inherited socket serves');
    like($t->read_file('logs/takeover.log'), qr/using inherited sockets from "\d+;\d+;"/,
         'NGINX: logged as nginx does');
    ok(!$t->can_connect($port4), 'NGINX: an inherited socket the config does not list is closed');
    is($t->stop, 0, 'NGINX: stopped');
}

$t->done_testing;
