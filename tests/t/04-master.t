# master_process on: one master and N workers; a killed worker is replaced; HUP reloads
# without a failed request (and keeps the old config when the new one is broken); QUIT lets
# an in-flight response finish; worker_shutdown_timeout bounds it; USR1 reopens logs;
# -s reload / -s quit; reuseport with one socket per worker.
use strict;
use warnings;

use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);
use Sluice;

my $t = Sluice->new;
my $prefix = $t->prefix;
my $port = $t->port(1);
# Workers drop to "user" when the master runs as root; the test prefix is private to us.
my $user = $> == 0 ? 'user root;' : '';

sub config {
    my (%o) = @_;
    my $body = $o{body} // 'v1';
    my $listen = $o{listen} // '';
    my $extra = $o{extra} // '';
    return <<"EOF";
daemon off;
master_process on;
worker_processes $o{workers};
$user
$extra
error_log logs/error.log info;
pid logs/sluice.pid;

events {
    worker_connections 128;
}

http {
    access_log logs/access.log;
    server {
        listen 127.0.0.1:%%PORT_1%% $listen;
        location / {
            return 200 "$body \$pid\\n";
        }
        location /slow/ {
            root html;
            limit_rate 64k;
        }
    }
}
EOF
}

# The live children of $pid (from /proc/*/stat: field 4 is the parent).
sub children_of {
    my ($pid) = @_;
    my @kids;
    opendir(my $d, '/proc') or return ();
    for my $p (grep { /^\d+$/ } readdir $d) {
        my $stat = $t->read_file("/proc/$p/stat") // next;
        $stat =~ s/^.*\) //s;
        my ($state, $ppid) = split / /, $stat;
        push @kids, $p if $ppid == $pid && $state ne 'Z';
    }
    return sort { $a <=> $b } @kids;
}

sub workers { my @w = children_of($t->pid); return @w }
sub nworkers { my @w = workers(); return scalar @w }

sub get {
    my ($path) = @_;
    my $r = $t->http($port, "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n") // '';
    return $r =~ /\r\n\r\n(.*)\z/s ? $1 : undef;
}

# worker_processes 2: one master, two workers ---------------------------------------------------

$t->write_config(config(workers => 2));
mkdir "$prefix/html";
mkdir "$prefix/html/slow";
$t->write_file('html/slow/big', 'x' x (256 * 1024));
$t->start;

# the pid file and the port are ready before the master has forked every worker
ok($t->wait_for(sub { nworkers() == 2 }), 'worker_processes 2: the master has two children');
my @w = workers();
my %w = map { $_ => 1 } @w;
my ($body) = get('/') =~ /^v1 (\d+)$/ or fail('a worker answers');
ok($body && $w{$body} && $body != $t->pid, 'a worker answers, not the master');
like($t->error_log, qr/\[notice\] \d+#\d+: start worker processes\n/, 'log: start worker processes');

# Process titles as nginx's: what ps, pgrep -f and monitoring read in /proc/PID/cmdline.
sub title {
    my ($pid) = @_;
    open(my $fh, '<', "/proc/$pid/cmdline") or return '';
    local $/;
    (my $t = <$fh> // '') =~ s/\0+$//;
    $t =~ s/\0/ /g;
    return $t;
}
like(title($t->pid), qr{^sluice: master process \S*sluice -p \S+ -c conf/sluice\.conf$},
     'title: sluice: master process and its command line');
is(title($w[1]), 'sluice: worker process', 'title: sluice: worker process');

# a worker killed with SIGKILL is replaced ------------------------------------------------------

{
    $t->allow_alerts(qr/worker process \d+ exited on signal 9/);
    my $victim = $w[0];
    kill 'KILL', $victim;
    ok($t->wait_for(sub { my @n = workers(); @n == 2 && !grep { $_ == $victim } @n }),
       'SIGKILL: the worker is replaced by a new one');
    like($t->error_log, qr/\[alert\] \d+#\d+: worker process $victim exited on signal 9\n/,
         'SIGKILL: the master logs the signal');
    like(get('/'), qr/^v1 \d+$/, 'SIGKILL: still serving');
}

# HUP under load: not one failed request --------------------------------------------------------

# A client in a child process: a new connection per request until told to stop (bounded by
# count and time); writes "ok errors v1 v2" to $out.
sub start_client {
    my ($out) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    my ($ok, $err, %seen, $last) = (0, 0);
    my $deadline = time + 30;
    my $last_err = '';
    for my $i (1 .. 20000) {
        last if -e "$out.stop" || time > $deadline;
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 5);
        if (!$s) { $err++; $last_err = "connect: $!"; next; }
        print $s "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
        my $r = '';
        while (1) {
            my $n = sysread($s, $r, 4096, length $r);
            last unless $n;
        }
        close $s;
        if ($r =~ m{^HTTP/1\.1 200 .*\r\n\r\n(v\d) \d+\n\z}s) {
            $ok++;
            $seen{$1}++;
            $last = $1;
        } else {
            $err++;
            $last_err = "response: " . substr($r, 0, 80);
        }
    }
    open(my $fh, '>', $out);
    print $fh join(' ', $ok, $err, $seen{v1} // 0, $seen{v2} // 0, $last // '-'), "\n$last_err\n";
    close $fh;
    POSIX::_exit(0);
}

{
    my $out = "$prefix/client.out";
    my $old_workers = join ',', workers();
    my $client = start_client($out);
    sleep 0.3;
    $t->write_config(config(workers => 2, body => 'v2'));
    $t->signal('HUP');
    ok($t->wait_for(sub { (get('/') // '') =~ /^v2/ }), 'HUP: the new body is served');
    ok($t->wait_for(sub { my @n = workers(); @n == 2 && join(',', @n) ne $old_workers
                          && !grep { $old_workers =~ /\b$_\b/ } @n }),
       'HUP: the old workers are gone, two new ones run');
    sleep 0.3;
    open(my $fh, '>', "$out.stop");
    close $fh;
    waitpid($client, 0);
    my ($ok, $err, $v1, $v2, $last, $why) = split /[ \n]/, $t->read_file($out) // '', 6;
    is($err, 0, "HUP under load: no failed request ($ok answered)") or diag("last error: $why");
    ok($v1 > 0 && $v2 > 0, "HUP under load: answers from both configurations (v1 $v1, v2 $v2)");
    is($last, 'v2', 'HUP under load: the last answers come from the new configuration');
    like($t->error_log, qr/signal 1 \(SIGHUP\) received from \d+, reconfiguring\n/,
         'HUP: logged as nginx does');
}

# HUP with a broken configuration: the old one keeps serving ----------------------------------

{
    my $before = join ',', workers();
    $t->write_file('conf/sluice.conf', config(workers => 2, body => 'v3') . "bogus_directive;\n");
    $t->signal('HUP');
    ok($t->wait_for(sub { $t->error_log =~ /\[emerg\] .*unknown directive "bogus_directive" in \S+sluice\.conf:\d+/ }),
       'broken HUP: the error is logged with file:line');
    like(get('/'), qr/^v2 /, 'broken HUP: the old configuration still answers');
    is(join(',', workers()), $before, 'broken HUP: the workers are left alone');
}

# HUP with a listener added and one removed ---------------------------------------------------

{
    my $port2 = $t->port(2);
    my $conf = config(workers => 2, body => 'v2');
    $conf =~ s/(listen 127\.0\.0\.1:%%PORT_1%% ;)/$1\n        listen 127.0.0.1:%%PORT_2%%;/;
    $t->write_config($conf);
    $t->signal('HUP');
    ok($t->wait_for(sub { $t->can_connect($port2) }), 'HUP: a new listen port is opened');
    $t->write_config(config(workers => 2, body => 'v2'));
    $t->signal('HUP');
    ok($t->wait_for(sub { !$t->can_connect($port2) }), 'HUP: a removed listen port is closed');
    like(get('/'), qr/^v2 /, 'HUP: the kept port answers throughout');
}

# USR1 after logrotate's rename ---------------------------------------------------------------

{
    get('/usr1-before');
    ok($t->wait_for(sub { ($t->read_file('logs/access.log') // '') =~ m{/usr1-before} }),
       'USR1: the access log is written');
    rename("$prefix/logs/access.log", "$prefix/logs/access.log.1") or die "rename: $!";
    $t->signal('USR1');
    ok($t->wait_for(sub { -e "$prefix/logs/access.log" }), 'USR1: a new access log is created');
    # the master passes USR1 on; once both workers have reopened, lines go to the new file
    my $master = $t->pid;
    ok($t->wait_for(sub { my @l = $t->error_log =~ /signal 10 \(SIGUSR1\) received from $master, reopening logs\n/g;
                          @l == 2 }), 'USR1: both workers reopen their logs');
    get('/usr1-after') for 1 .. 4;
    ok($t->wait_for(sub { ($t->read_file('logs/access.log') // '') =~ m{/usr1-after} }),
       'USR1: new lines go to the new file');
    unlike($t->read_file('logs/access.log.1'), qr{/usr1-after}, 'USR1: not to the renamed one');
}

# -s reload / QUIT with a slow response in flight ---------------------------------------------

{
    $t->write_config(config(workers => 1, body => 'v4'));
    my $r = $t->run('-s', 'reload');
    is($r->{exit}, 0, '-s reload exits 0') or diag($r->{stderr});
    ok($t->wait_for(sub { (get('/') // '') =~ /^v4/ }), '-s reload: the new configuration answers');
    ok($t->wait_for(sub { nworkers() == 1 }), '-s reload: worker_processes 1 now');

    # 256 KiB at 64 KiB/s: about 3 s in flight when QUIT arrives.
    my $s = $t->connect($port) or die "connect: $!";
    print $s "GET /slow/big HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my $first;
    sysread($s, $first, 1024);
    ok(length $first, 'slow response started');
    my $master = $t->pid;
    my ($worker) = workers();
    $r = $t->run('-s', 'quit');
    is($r->{exit}, 0, '-s quit exits 0');
    ok($t->wait_for(sub { title($worker) eq 'sluice: worker process is shutting down' }, 5),
       'title: the worker finishing its response says it is shutting down');
    my ($rest, $eof) = $t->read_all($s, 20);
    my $all = $first . $rest;
    my ($head, $content) = split /\r\n\r\n/, $all, 2;
    is(length($content // ''), 256 * 1024, 'QUIT: the in-flight response is complete');
    ok($eof, 'QUIT: then the connection is closed');
    is($t->wait_exit(10), 0, 'QUIT: the master exits 0 once the worker is done');
    ok(!-e "$prefix/logs/sluice.pid", 'QUIT: pid file removed');
}

# worker_shutdown_timeout: a slow response is cut ------------------------------------------------

{
    $t->write_config(config(workers => 1, extra => 'worker_shutdown_timeout 500ms;'));
    $t->start;
    my $s = $t->connect($port) or die "connect: $!";
    print $s "GET /slow/big HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my $first;
    sysread($s, $first, 1024);
    $t->signal('QUIT');
    my ($rest, $eof) = $t->read_all($s, 10);
    my (undef, $content) = split /\r\n\r\n/, $first . $rest, 2;
    ok($eof && length($content // '') < 256 * 1024,
       'worker_shutdown_timeout 500ms: the slow response is closed early');
    is($t->wait_exit(10), 0, 'worker_shutdown_timeout: the master exits 0');
}

# reuseport: one socket per worker, kept by the master across a reload --------------------------

{
    $t->write_config(config(workers => 2, listen => 'reuseport'));
    $t->start;
    $t->wait_for(sub { nworkers() == 2 });
    my $sockets = sub { scalar grep { /^socket:/ } values %{$t->fds($_[0])} };
    is($sockets->($t->pid), 2, 'reuseport: the master holds one socket per worker');
    ok($t->wait_for(sub { 2 == grep { $sockets->($_) == 1 } workers() }),
       'reuseport: each worker keeps only its own socket')
        or diag(join ', ', map { "$_: " . $sockets->($_) } workers());
    my %by;
    for (1 .. 40) { my ($p) = (get('/') // '') =~ /^v1 (\d+)/; $by{$p // 'none'}++; }
    ok(!$by{none}, 'reuseport: every request answered');
    $t->write_config(config(workers => 2, listen => 'reuseport', body => 'v5'));
    $t->signal('HUP');
    ok($t->wait_for(sub { (get('/') // '') =~ /^v5/ }), 'reuseport: reload serves the new body');
    is($sockets->($t->pid), 2, 'reuseport: still two sockets after the reload');
    is($t->stop, 0, 'reuseport: stopped');
}

$t->done_testing;
