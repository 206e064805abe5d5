package Sluice;

# Test helper for sluice's integration tests: a temp prefix, free ports, start/stop by pid,
# and the final checks every test gets.  Core Perl only.  POD at the end.

use strict;
use warnings;

use Exporter qw(import);
our @EXPORT_OK = qw(status_of body_of head_of header_of);

use Cwd qw(abs_path getcwd);
use Fcntl qw(:flock);
use File::Basename qw(dirname);
use File::Find qw(find);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(WNOHANG);
use Socket qw(SOCK_STREAM);
use Test::More ();
use Time::HiRes qw(sleep time);

our $TIMEOUT = $ENV{SLUICE_TEST_TIMEOUT} || 10;

my $ROOT = abs_path(dirname(__FILE__) . '/../../..');
my $PORT_LOCKS = ($ENV{TMPDIR} || '/tmp') . '/sluice-test-ports';
my $SANITIZER = qr/ERROR: \w*Sanitizer|LeakSanitizer|runtime error:/;
my $TEST_GLOBALS = "daemon off;\nmaster_process off;\nerror_log logs/error.log info;\n"
    . "pid logs/sluice.pid;\n";
my @OBJECTS;
my $TB = Test::More->builder;

sub new {
    my ($class, %opts) = @_;
    my $bin = $ENV{SLUICE_BINARY} || "$ROOT/build/sluice";
    $bin = getcwd() . "/$bin" unless $bin =~ m{^/};
    die "sluice binary not found or not executable: $bin (build it, or set SLUICE_BINARY)\n"
        unless -x $bin;

    my $prefix = tempdir('sluice-t-XXXXXXXX', TMPDIR => 1, CLEANUP => !$ENV{SLUICE_TEST_KEEP});
    make_path(map { "$prefix/$_" } qw(conf logs _io));

    my $self = bless {
        binary => $bin, prefix => $prefix, owner => $$, ports => {}, locks => {},
        pid => undef, idle_fds => {}, runs => 0, io => [], problems => [],
        temp_paths => [], allow_alerts => [], checked => 0, error_log => 'logs/error.log',
        %opts,
    }, $class;
    push @OBJECTS, $self;

    # So that END runs (and stops the server) on ^C or a kill of the test; and so that a
    # write to a connection the server closed is an error, not the end of the test.
    for my $sig (qw(INT TERM HUP)) {
        $SIG{$sig} = sub { exit 128 } if !$SIG{$sig} || $SIG{$sig} eq 'DEFAULT';
    }
    $SIG{PIPE} = 'IGNORE' if !$SIG{PIPE} || $SIG{PIPE} eq 'DEFAULT';
    return $self;
}

sub prefix { $_[0]{prefix} }

# Whether the binary under test is built with AddressSanitizer, whose redzones and
# quarantine of freed memory make its RSS no measure of the server's own.
sub sanitized {
    my ($self) = @_;
    return $self->{sanitized} //= do {
        open(my $fh, '<:raw', $self->{binary}) or return 0;
        local $/;
        my $bin = <$fh>;
        $bin =~ /__asan_init/ ? 1 : 0;
    };
}
sub binary { $_[0]{binary} }
sub pid    { $_[0]{pid} }

# Ports ---------------------------------------------------------------------------------------

sub port {
    my ($self, $n) = @_;
    return $self->{ports}{$n} //= $self->_free_port;
}

# A port the kernel just gave us, locked (a file per port, flock) so that a parallel test
# does not take it too; the lock lives until this test ends.
sub _free_port {
    my ($self) = @_;
    make_path($PORT_LOCKS);
    chmod 01777, $PORT_LOCKS;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
            or next;
        my $port = $s->sockport;
        close $s;
        next if $self->{locks}{$port};
        my $path = "$PORT_LOCKS/$port";
        open(my $fh, '>>', $path) or next;
        # A previous holder unlinks the file while still holding the lock: if ours is no
        # longer the file at $path, we locked a dead inode.
        if (!flock($fh, LOCK_EX | LOCK_NB) || (stat $fh)[1] != ((stat $path)[1] // -1)) {
            close $fh;
            next;
        }
        my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                                          Proto => 'tcp', ReuseAddr => 1);
        if (!$probe) {
            unlink $path;
            close $fh;
            next;
        }
        close $probe;
        $self->{locks}{$port} = [$fh, $path];
        return $port;
    }
    die "no free loopback port found\n";
}

sub _release_ports {
    my ($self) = @_;
    for my $l (values %{$self->{locks}}) {
        unlink $l->[1];
        close $l->[0];
    }
    $self->{locks} = {};
}

# Files ---------------------------------------------------------------------------------------

sub test_globals { $TEST_GLOBALS }

sub _subst {
    my ($self, $text) = @_;
    $text =~ s/%%TEST_GLOBALS%%/$TEST_GLOBALS/g;
    $text =~ s/%%PORT_(\d+)%%/$self->port($1)/ge;
    $text =~ s/%%PREFIX%%/$self->{prefix}/g;
    return $text;
}

sub _path {
    my ($self, $name) = @_;
    return $name =~ m{^/} ? $name : "$self->{prefix}/$name";
}

sub write_file {
    my ($self, $name, $text) = @_;
    my $path = $self->_path($name);
    make_path(dirname($path));
    open(my $fh, '>', $path) or die "open $path: $!\n";
    print $fh $self->_subst($text);
    close $fh or die "write $path: $!\n";
    return $path;
}

sub write_config {
    my ($self, $text) = @_;
    return $self->write_file('conf/sluice.conf', $text);
}

sub read_file {
    my ($self, $name) = @_;
    open(my $fh, '<', $self->_path($name)) or return undef;
    local $/;
    return scalar <$fh>;
}

sub error_log {
    my ($self, $name) = @_;
    return $self->read_file($name // $self->{error_log}) // '';
}

sub temp_paths {
    my ($self, @dirs) = @_;
    push @{$self->{temp_paths}}, @dirs;
}

sub allow_alerts {
    my ($self, @re) = @_;
    push @{$self->{allow_alerts}}, @re ? @re : qr//;
}

# Processes -----------------------------------------------------------------------------------

sub _spawn {
    my ($self, $args, $tag) = @_;
    my $n = ++$self->{runs};
    my ($out, $err) = map { "$self->{prefix}/_io/$tag$n.$_" } qw(out err);
    push @{$self->{io}}, [$err, $tag eq 'start'];
    STDOUT->flush;
    STDERR->flush;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', $out);
        open(STDERR, '>', $err);
        $ENV{ASAN_OPTIONS} = 'detect_leaks=1:abort_on_error=0:halt_on_error=1';
        $ENV{UBSAN_OPTIONS} = 'print_stacktrace=1:halt_on_error=1';
        no warnings 'exec';
        exec { $self->{binary} } $self->{binary}, '-p', "$self->{prefix}/", @$args;
        print STDERR "exec $self->{binary}: $!\n";
        POSIX::_exit(127);
    }
    return ($pid, $out, $err);
}

# Waits (bounded) for $pid to exit; returns its wait status, or undef on timeout.
sub _wait_pid {
    my ($pid, $timeout) = @_;
    my $deadline = time + $timeout;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        return $? if $r == $pid;
        return undef if $r < 0 || time > $deadline;
        sleep 0.02;
    }
}

# Kills what is left of a process group whose leader is not reaped yet (so the id is ours).
sub _kill_group {
    my ($pid) = @_;
    kill 'KILL', -$pid;
    kill 'KILL', $pid;
    return _wait_pid($pid, $TIMEOUT);
}

sub _note_status {
    my ($self, $what, $status, $sent) = @_;
    my $sig = $status & 127;
    push @{$self->{problems}}, "$what: killed by signal $sig" if $sig && $sig != ($sent // 0);
}

sub _slurp {
    my ($path) = @_;
    open(my $fh, '<', $path) or return '';
    local $/;
    return scalar <$fh>;
}

sub run {
    my ($self, @args) = @_;
    my ($pid, $out, $err) = $self->_spawn(\@args, 'run');
    my $status = _wait_pid($pid, $TIMEOUT);
    if (!defined $status) {
        $TB->ok(0, "sluice @args: still running after ${TIMEOUT}s, killed");
        $status = _kill_group($pid) // -1;
    } else {
        $self->_note_status("sluice @args", $status);
    }
    return { exit => $status >> 8, signal => $status & 127, status => $status,
             stdout => _slurp($out), stderr => _slurp($err) };
}

# The files the config reads: the main one and its includes (globs), to find what to wait for.
sub _config_files {
    my ($self, $main) = @_;
    my (@files, %seen);
    my @todo = ($main);
    while (defined(my $f = shift @todo)) {
        next if $seen{$f}++;
        my $text = _slurp($f);
        push @files, [$f, $text];
        while ($text =~ /(?:^|[;{}])\s*include\s+['"]?([^'";\s]+)/mg) {
            my $inc = $1;
            $inc = dirname($main) . "/$inc" unless $inc =~ m{^/};
            push @todo, grep { -f } glob($inc);
        }
    }
    return @files;
}

# What start() waits for: the pid file, TCP listen ports, unix sockets.
sub _readiness {
    my ($self, @args) = @_;
    my $conf = 'conf/sluice.conf';
    my @g;
    for my $i (0 .. $#args - 1) {
        $conf = $args[$i + 1] if $args[$i] eq '-c';
        push @g, $args[$i + 1] if $args[$i] eq '-g';
    }
    my $text = join("\n", @g, map { $_->[1] } $self->_config_files($self->_path($conf)));
    $text =~ s/#[^\n]*//g;
    my (%tcp, %unix, $pid_file, $error_log);
    while ($text =~ /(?:^|[;{}])\s*(listen|pid|error_log)\s+['"]?([^'";\s]+)/mg) {
        my ($d, $v) = ($1, $2);
        if ($d eq 'pid') {
            $pid_file //= $v;
        } elsif ($d eq 'error_log') {
            $error_log //= $v;
        } elsif ($v =~ /^unix:(.+)/) {
            $unix{$1} = 1;
        } elsif ($v =~ /^(?:(?:127\.0\.0\.1|localhost|\*):)?(\d+)$/) {
            $tcp{$1} = 1;
        }
    }
    $self->{error_log} = $error_log if $error_log && $error_log !~ /^(?:stderr|syslog:|memory:)/;
    return ($pid_file // 'logs/sluice.pid', [sort keys %tcp], [sort keys %unix]);
}

sub start {
    my ($self, @args) = @_;
    die "sluice already running (pid $self->{pid})\n" if $self->{pid};
    unshift @args, '-c', 'conf/sluice.conf' unless grep { $_ eq '-c' } @args;
    my ($pid_file, $tcp, $unix) = $self->_readiness(@args);
    my ($pid, $out, $err) = $self->_spawn(\@args, 'start');
    $self->{pid} = $pid;

    my $deadline = time + $TIMEOUT;
    my $why;
    while (1) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $why = sprintf('exited (code %d, signal %d) before it was ready', $? >> 8, $? & 127);
            $self->_note_status('sluice', $?);
            delete $self->{pid};
            last;
        }
        my $content = $self->read_file($pid_file) // '';
        last if $content =~ /^(\d+)\s*$/ && $1 == $pid
            && !grep({ !$self->can_connect($_) } @$tcp)
            && !grep({ !IO::Socket::UNIX->new(Peer => $_, Type => SOCK_STREAM) } @$unix);
        if (time > $deadline) {
            $why = "not ready after ${TIMEOUT}s (pid file $pid_file; ports @$tcp; "
                . "unix @$unix)";
            last;
        }
        sleep 0.05;
    }
    if ($why) {
        if ($self->{pid}) {
            $self->_note_status('sluice', _kill_group($pid) // 0, 9);
            delete $self->{pid};
        }
        $TB->diag("sluice @args: $why\n--- stderr:\n" . _slurp($err) . "--- error log:\n"
             . $self->error_log);
        die "sluice did not start: $why\n";
    }
    $self->{idle_fds} = $self->_settled_fds($pid);
    return $pid;
}

sub signal {
    my ($self, $sig) = @_;
    return $self->{pid} ? kill($sig, $self->{pid}) : 0;
}

# Waits (bounded) for the started process to exit by itself; its wait status, undef if not.
sub wait_exit {
    my ($self, $timeout) = @_;
    my $pid = $self->{pid} or return $self->{status};
    my $status = _wait_pid($pid, $timeout // $TIMEOUT);
    return undef unless defined $status;
    $self->_note_status('sluice', $status);
    delete $self->{pid};
    return $self->{status} = $status;
}

# Checks descriptors, signals (QUIT by default), waits; returns the wait status.
sub stop {
    my ($self, %opt) = @_;
    my $pid = $self->{pid} or return $self->{status};
    my $sig = $opt{signal} // 'QUIT';
    if (waitpid($pid, WNOHANG) == $pid) {
        $self->_note_status('sluice', $?);
        push @{$self->{problems}}, "sluice exited (status $?) before stop()";
        delete $self->{pid};
        return $self->{status} = $?;
    }
    $self->check_fds if $opt{fd_check} // 1;
    kill $sig, $pid;
    my $status = _wait_pid($pid, $TIMEOUT);
    if (!defined $status) {
        $TB->ok(0, "sluice exits within ${TIMEOUT}s of SIG$sig");
        $status = _kill_group($pid) // -1;
    } else {
        $self->_note_status('sluice', $status);
    }
    delete $self->{pid};
    return $self->{status} = $status;
}

# The descriptors once start-up is over: the pid file and the ports are ready a moment
# before the event loop has made its epoll instance and signal channel, so wait (bounded)
# until three looks 50 ms apart agree.
sub _settled_fds {
    my ($self, $pid) = @_;
    my ($last, $same) = ('', 0);
    my $fds = {};
    for (1 .. 60) {
        $fds = $self->fds($pid);
        my $now = join(',', map { "$_=$fds->{$_}" } sort keys %$fds);
        $same = $now eq $last ? $same + 1 : 0;
        last if $same >= 2;
        $last = $now;
        sleep 0.05;
    }
    return $fds;
}

# /proc/PID/fd as { fd => target }.
sub fds {
    my ($self, $pid) = @_;
    $pid //= $self->{pid};
    my %fds;
    opendir(my $d, "/proc/$pid/fd") or return {};
    for my $fd (grep { /^\d+$/ } readdir $d) {
        my $target = readlink("/proc/$pid/fd/$fd");
        $fds{$fd} = $target if defined $target;
    }
    return \%fds;
}

# Descriptors open now beyond the idle set (compared by target: a reopened log keeps its name).
sub _extra_fds {
    my ($self) = @_;
    my %idle;
    $idle{$_}++ for values %{$self->{idle_fds}};
    my $now = $self->fds;
    my @extra;
    for my $fd (sort { $a <=> $b } keys %$now) {
        my $target = $now->{$fd};
        if ($idle{$target}) {
            $idle{$target}--;
        } else {
            push @extra, "$fd -> $target";
        }
    }
    return @extra;
}

sub check_fds {
    my ($self) = @_;
    my @extra;
    $self->wait_for(sub { !(@extra = $self->_extra_fds) }, 2);
    $TB->ok(!@extra, 'no descriptors open beyond the idle set')
        or $TB->diag("extra descriptors in pid $self->{pid}: " . join(', ', @extra));
}

# Final checks --------------------------------------------------------------------------------

sub done_testing {
    my ($self) = @_;
    $self->final_checks;
    Test::More::done_testing();
}

sub final_checks {
    my ($self) = @_;
    return if $self->{checked}++;
    $self->stop if $self->{pid};

    my (@alerts, @sanitizer);
    my @logs = map { [$_, 1] } grep { -f } glob("$self->{prefix}/logs/*");
    for my $f (@logs, @{$self->{io}}) {
        my ($path, $alerts_too) = @$f;
        for my $line (split /\n/, _slurp($path)) {
            push @sanitizer, $line if $line =~ $SANITIZER;
            next unless $alerts_too && $line =~ /\[(?:alert|crit)\]/;
            push @alerts, $line unless grep { $line =~ $_ } @{$self->{allow_alerts}};
        }
    }
    $TB->ok(!@alerts, 'no [alert] or [crit] in the logs') or $TB->diag(join("\n", @alerts));
    $TB->ok(!@sanitizer, 'no sanitizer report') or $TB->diag(join("\n", @sanitizer));
    my @problems = @{$self->{problems}};
    $TB->ok(!@problems, 'no process crashed') or $TB->diag(join("\n", @problems));
    for my $dir (@{$self->{temp_paths}}) {
        my @left;
        my $path = $self->_path($dir);
        find({ wanted => sub { push @left, $_ if !-d }, no_chdir => 1 }, $path) if -d $path;
        $TB->ok(!@left, "no file left in $dir") or $TB->diag(join("\n", @left));
    }
}

# Clients -------------------------------------------------------------------------------------

# A client connection to 127.0.0.1:$port; rcvbuf => N sets SO_RCVBUF before connecting (as
# the kernel wants it), for a client whose socket buffers fill early.
sub connect {
    my ($self, $port, %opt) = @_;
    if (!$opt{rcvbuf}) {
        return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                     Proto => 'tcp', Timeout => $opt{timeout} // $TIMEOUT);
    }
    my $s = IO::Socket::INET->new(Proto => 'tcp') or return undef;
    setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), $opt{rcvbuf}) or return undef;
    $s->connect(Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1'))) or return undef;
    return $s;
}

# Reads a response to EOF without keeping its body: (head, body length, body md5 in hex,
# whether the body was complete), a chunked body decoded (complete: its last chunk came),
# one with Content-Length complete when that many bytes came.  For bodies too large to hold.
sub read_response_md5 {
    my ($self, $sock, $timeout) = @_;
    require Digest::MD5;
    my ($head, $buf, $len, $md5, $chunked, $left, $last) = (undef, '', 0, Digest::MD5->new, 0, 0, 0);
    my $sel = IO::Select->new($sock);
    while ($sel->can_read($timeout // 60)) {
        sysread($sock, $buf, 1 << 20, length $buf) or last;
        if (!defined $head) {
            next if $buf !~ s/^(.*?\r\n)\r\n//s;
            $head = $1;
            $chunked = $head =~ /\r\nTransfer-Encoding: chunked\r\n/i;
        }
        if (!$chunked) {
            ($len += length $buf, $md5->add($buf), $buf = '');
            next;
        }
        while (1) {
            if ($left) {
                my $take = substr($buf, 0, $left, '');
                ($left -= length $take, $len += length $take, $md5->add($take));
                last if $left;
            }
            last if $buf !~ s/^(?:\r\n)?([0-9a-fA-F]+)\r\n//;
            $left = hex $1;
            $last = 1, last if !$left;
        }
    }
    my ($cl) = ($head // '') =~ /\r\nContent-Length: (\d+)\r\n/i;
    my $complete = $chunked ? $last : defined $cl && $len == $cl;
    return ($head // '', $len, $md5->hexdigest, $complete);
}

sub can_connect {
    my ($self, $port) = @_;
    my $s = $self->connect($port, timeout => 1) or return 0;
    close $s;
    return 1;
}

# Reads until EOF (bounded); in list context also whether EOF was seen.
sub read_all {
    my ($self, $sock, $timeout) = @_;
    my $deadline = time + ($timeout // $TIMEOUT);
    my $sel = IO::Select->new($sock);
    my ($data, $eof) = ('', 0);
    while ((my $left = $deadline - time) > 0) {
        next unless $sel->can_read($left);
        my $n = sysread($sock, $data, 65536, length $data);
        if (!$n) {
            $eof = 1;
            last;
        }
    }
    return wantarray ? ($data, $eof) : $data;
}

sub http {
    my ($self, $port, $request, %opt) = @_;
    my $s = $self->connect($port) or return undef;
    print $s $request;
    my $r = $self->read_all($s, $opt{timeout});
    close $s;
    return $r;
}

sub http_get {
    my ($self, $port, $path, %opt) = @_;
    return $self->http($port, "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n", %opt);
}

# GET $path over HTTP/1.1 with Connection: close and the extra header lines given; the raw
# response.
sub get_close {
    my ($self, $port, $path, @headers) = @_;
    my $h = join('', map { "$_\r\n" } @headers);
    return scalar $self->http($port, "GET $path HTTP/1.1\r\nHost: localhost\r\n${h}Connection: close\r\n\r\n");
}

# The pieces of a raw response (exported on request): the status code ('none' without a
# status line), the body ('' without one), the head ending with CRLF, one header's value
# (undef when absent; the first of several).
sub status_of { my ($r) = @_; return ($r // '') =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 'none'; }
sub body_of { my ($r) = @_; my (undef, $b) = split /\r\n\r\n/, $r // '', 2; return $b // ''; }
sub head_of { my ($r) = @_; my ($h) = split /\r\n\r\n/, $r // '', 2; return ($h // '') . "\r\n"; }
sub header_of {
    my ($r, $name) = @_;
    return head_of($r) =~ /\r\n\Q$name\E: ([^\r]*)\r\n/i ? $1 : undef;
}

# Polls $cond every 50 ms until it returns true or $timeout seconds pass; returns its value.
sub wait_for {
    my ($self, $cond, $timeout) = @_;
    my $deadline = time + ($timeout // $TIMEOUT);
    while (1) {
        my $r = $cond->();
        return $r if $r || time > $deadline;
        sleep 0.05;
    }
}

END {
    my $status = $?;
    for my $self (grep { $_->{owner} == $$ } @OBJECTS) {
        if ($status == 0 && $self->{runs} && !$self->{checked}) {
            $TB->diag('final checks run at END: end the test with $t->done_testing');
            $self->final_checks;
        } elsif ($self->{pid}) {
            kill 'QUIT', $self->{pid};
            _kill_group($self->{pid}) unless defined _wait_pid($self->{pid}, 5);
            delete $self->{pid};
        }
        if (!Test::More->builder->is_passing) {
            my $log = $self->error_log;
            $log = join("\n", (split /\n/, $log)[-30 .. -1]) if ($log =~ tr/\n//) > 30;
            $TB->diag("prefix $self->{prefix}" . ($ENV{SLUICE_TEST_KEEP} ? ' (kept)' : '')
                 . "; error log:\n" . ($log // ''));
        }
        $self->_release_ports;
    }
    $? = $status;
}

1;

__END__

=head1 NAME

Sluice - helper for sluice's integration tests (tests/t/*.t)

=head1 SYNOPSIS

    use Test::More;
    use Sluice;

    my $t = Sluice->new;
    $t->write_config(<<'EOF');
    %%TEST_GLOBALS%%
    events { worker_connections 64; }
    http { server { listen 127.0.0.1:%%PORT_1%%; } }
    EOF
    my $r = $t->run('-t');               # { exit, signal, status, stdout, stderr }
    $t->start;                           # waits for the pid file and port 1
    ok($t->can_connect($t->port(1)));
    is($t->stop, 0, 'graceful stop');    # checks descriptors, SIGQUIT, wait status
    $t->done_testing;                    # final checks, then Test::More::done_testing

Run with C<prove -I tests/t/lib tests/t/> (C<-j2> is fine). The binary is
C<$ENV{SLUICE_BINARY}>, default F<build/sluice> of the repository.

=head1 METHODS

=over 4

=item new(%opts)

Creates a temp prefix with F<conf/> and F<logs/> (removed at exit unless
C<SLUICE_TEST_KEEP> is set). Dies if the binary is missing.

=item prefix, binary, pid

The prefix (no trailing slash), the binary, the pid of the started server (undef if none).

=item port($n)

The free loopback port for C<%%PORT_n%%>, the same for the whole test. Locked with a
file under F</tmp/sluice-test-ports/> until the test ends, so parallel tests differ.

=item write_config($text), write_file($name, $text)

Write F<conf/sluice.conf> or F<PREFIX/$name> (a relative name is relative to the prefix;
directories are made), replacing C<%%PORT_n%%>, C<%%PREFIX%%> and C<%%TEST_GLOBALS%%>
(C<daemon off; master_process off; error_log logs/error.log info; pid logs/sluice.pid;>,
also C<test_globals()>). Return the path. C<read_file($name)> reads one back (undef if none).

=item run(@args)

Runs C<sluice -p PREFIX/ @args> to completion (bounded: killed and a failure after
C<$Sluice::TIMEOUT> s, 10 by default or C<SLUICE_TEST_TIMEOUT>). Returns
C<{ exit, signal, status, stdout, stderr }>.

=item start(@args)

Starts C<sluice -p PREFIX/ -c conf/sluice.conf @args> (C<-c> only if not in C<@args>), in its
own process group, stdout/stderr to F<PREFIX/_io/>. Waits (bounded) until the pid file
holds its pid and every C<listen> address of the config (TCP on loopback, C<unix:>) accepts
connections; the config is read with its includes, C<-g> values count too. Otherwise it
prints stderr and the error log and dies. Then snapshots F</proc/PID/fd> as the idle set.
Returns the pid.

=item stop(signal => 'QUIT', fd_check => 1)

Checks no descriptor is open beyond the idle set (one test; retried for 2 s), sends the
signal, waits (bounded: SIGKILL and a failure). Returns the wait status (0: exited with 0).

=item signal($sig), wait_exit($timeout)

Send a signal to the server; wait (bounded) for it to exit by itself (after C<-s quit>):
the wait status, or undef if it is still running.

=item error_log([$name]), fds([$pid]), check_fds

The error log's text ('' if none); C</proc/PID/fd> as C<{ fd =E<gt> target }>; the descriptor
check C<stop> runs.

=item temp_paths(@dirs), allow_alerts(@regexps)

Declare directories that must hold no file at the end; allow C<[alert]>/C<[crit]> lines
matching a regexp (all of them without arguments).

=item done_testing, final_checks

C<final_checks> stops the server if running and checks: no C<[alert]>/C<[crit]> line in
F<logs/*> or the server's stderr, no sanitizer report (F<logs/*> and the stderr of every run),
no process killed by a signal it was not sent, no file left in a temp path. C<done_testing>
runs them, then C<Test::More::done_testing>. If a test forgets, they run at END; if the test
died, END only stops the server. On failure END prints the end of the error log.

=item connect($port), can_connect($port), http($port, $raw), http_get($port, $path)

=item read_all($sock, $timeout), wait_for($code, $timeout)

Client helpers on 127.0.0.1: a connected IO::Socket::INET; whether a connection succeeds; send
raw bytes and read until EOF; the same with C<GET $path HTTP/1.0>; read until EOF (bounded;
in list context also whether EOF came); poll C<$code> every 50 ms until true (bounded).

=back

=cut
