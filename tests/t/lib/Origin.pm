package Origin;

# Scripted HTTP origins on loopback for the upstream tests (35-37), and Origin::scripted for
# the tests that script their origin themselves (15, 30, 32, 33, 40-44).  An origin is a listener
# process in its own process group that forks a child per accepted connection; the child
# serves requests on that connection (persistent unless told otherwise) as the origin's
# current mode says, and appends one line per event to the origin's event file, from which
# the test counts connections, requests per connection, overlaps and closes.  Core Perl
# only.  POD at the end.

use strict;
use warnings;

use Fcntl qw(O_WRONLY O_APPEND O_CREAT);
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
use POSIX ();
use Time::HiRes qw(sleep time);

my @STARTED;

# Bounds inside the origin processes, so that nothing outlives a test for long.
my $CONN_LIFETIME = 60;
my $HOLD_BOUND = 20;
my $HANG_BOUND = 30;

sub start {
    my ($class, $t, %opt) = @_;
    my $self = bless {
        name => 'origin', host => '127.0.0.1', mode => 'ok', idle_close => 0, %opt,
    }, $class;
    die "Origin->start: port needed\n" unless $self->{port};
    my $base = $t->prefix . "/_origin-$self->{name}";
    $self->{prefix} = $t->prefix;
    $self->{events} = "$base.events";
    $self->{mode_file} = "$base.mode";
    $self->{shut_file} = "$base.shut";
    unlink $self->{events}, $self->{shut_file};
    $self->set_mode($self->{mode});

    my $pid = _serve_in_background("origin $self->{name}", $self->{host}, $self->{port}, 128,
                                   sub { $self->_listen_loop($_[0]) });
    $self->{pid} = $pid;
    $self->{owner} = $$;
    push @STARTED, $self;
    return $self;
}

sub name { $_[0]{name} }
sub port { $_[0]{port} }
sub addr { "$_[0]{host}:$_[0]{port}" }

# The behaviour for the requests that come from now on (read by the origin per request):
#   ok      200, body: the origin's name
#   NNN     that status, body: "NAME NNN"
#   drop    read the request, close without a byte
#   hang    read the request, answer nothing (until the peer closes)
#   close   200 as ok, then close the connection without announcing it
sub set_mode {
    my ($self, $mode) = @_;
    my $tmp = "$self->{mode_file}.tmp";
    open(my $fh, '>', $tmp) or die "$tmp: $!\n";
    print $fh $mode;
    close $fh;
    rename $tmp, $self->{mode_file} or die "rename $tmp: $!\n";
    $self->{mode} = $mode;
}

# Closes the connections that wait for a request (as if the origin had restarted), waits
# (bounded) until none is open, and goes back to normal; whether none is open.
sub close_idle {
    my ($self, $timeout) = @_;
    open(my $fh, '>', $self->{shut_file}) or die "$self->{shut_file}: $!\n";
    close $fh;
    my $deadline = time + ($timeout // 10);
    sleep 0.05 while $self->open_connections && time < $deadline;
    unlink $self->{shut_file};
    return !$self->open_connections;
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'KILL', -$pid;
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

END {
    local $?;
    $_->stop for grep { $_->{owner} == $$ } @STARTED;
}

# Listens on host:port before forking (the port accepts connections once this returns),
# then runs loop($listening_socket) in a child that leads its own process group, with
# default INT/TERM/HUP, SIGPIPE ignored and children reaped by the kernel.  Returns the
# child's pid.
sub _serve_in_background {
    my ($what, $host, $port, $backlog, $loop) = @_;
    my $srv = IO::Socket::INET->new(LocalAddr => $host, LocalPort => $port,
                                    Listen => $backlog, ReuseAddr => 1, Proto => 'tcp')
        or die "$what: listen on $host:$port: $!\n";
    STDOUT->flush;
    STDERR->flush;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        setpgrp(0, 0);
        $SIG{CHLD} = 'IGNORE';
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        $SIG{PIPE} = 'IGNORE';
        eval { $loop->($srv) };
        POSIX::_exit(0);
    }
    close $srv;
    return $pid;
}

# A scripted origin of the test's own: listens on 127.0.0.1:PORT (before returning), then a
# listener process in its own process group forks a child per connection that runs
# handler($socket, $n) (n counts the connections from 1) and exits; each child lives at
# most `lifetime` seconds.  SIGPIPE is ignored: a write to a closed socket just fails.
# Returns the listener's pid; the whole group is killed at stop_scripted() or END.
my @SCRIPTED;

sub scripted {
    my (%opt) = @_;
    my ($port, $handler, $lifetime) = @opt{qw(port handler lifetime)};
    my $pid = _serve_in_background('scripted origin', '127.0.0.1', $port, $opt{backlog} // 64, sub {
        my ($srv) = @_;
        my $n = 0;
        while (1) {
            my $c = $srv->accept or next;
            $n++;
            if (fork) { close $c; next; }
            close $srv;
            $SIG{ALRM} = sub { POSIX::_exit(0) };
            alarm($lifetime // 30);
            eval { $handler->($c, $n) };
            close $c;
            POSIX::_exit(0);
        }
    });
    push @SCRIPTED, [$pid, $$];
    return $pid;
}

sub stop_scripted {
    my ($pid) = @_;
    kill 'KILL', -$pid;
    kill 'KILL', $pid;
    waitpid($pid, 0);
    @SCRIPTED = grep { $_->[0] != $pid } @SCRIPTED;
}

# The request head (up to the empty line) read from $c, with whatever of the body came
# with it; the connection's process exits when the client closes first.
sub read_head {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or POSIX::_exit(0); }
    return $req;
}

END {
    local $?;
    # the pids first: stop_scripted() rewrites @SCRIPTED
    my @mine = map { $_->[0] } grep { $_->[1] == $$ } @SCRIPTED;
    stop_scripted($_) for @mine;
}

# The origin's side ---------------------------------------------------------------------------

sub _event {
    my ($self, @words) = @_;
    sysopen(my $fh, $self->{events}, O_WRONLY | O_APPEND | O_CREAT) or return;
    syswrite($fh, sprintf("%.6f %s\n", time, join(' ', @words)));
    close $fh;
}

sub _current_mode {
    my ($self) = @_;
    open(my $fh, '<', $self->{mode_file}) or return 'ok';
    my $m = <$fh> // 'ok';
    $m =~ s/\s+//g;
    return $m;
}

sub _listen_loop {
    my ($self, $srv) = @_;
    my $n = 0;
    my $errors = 0;
    while ($errors < 1000) {
        my $c = $srv->accept;
        if (!$c) {
            $errors++;
            next;
        }
        $n++;
        my $pid = fork;
        if (!defined $pid) {
            close $c;
            next;
        }
        if ($pid == 0) {
            close $srv;
            eval { $self->_connection($c, $n) };
            POSIX::_exit(0);
        }
        close $c;
    }
}

# Reads one request (head and a Content-Length body) into a hash; undef at EOF/timeout.
sub _read_request {
    my ($self, $c, $bufref, $timeout) = @_;
    my $sel = IO::Select->new($c);
    my $deadline = time + $timeout;
    my $need;
    while (1) {
        if (!defined $need && $$bufref =~ /\r\n\r\n/) {
            my ($head) = $$bufref =~ /^(.*?\r\n)\r\n/s;
            my ($len) = $head =~ /\r\ncontent-length:\s*(\d+)/i;
            $need = length($head) + 2 + ($len // 0);
        }
        last if defined $need && length($$bufref) >= $need;
        my $left = $deadline - time;
        return (undef, 'timeout') if $left <= 0;
        return (undef, 'shut') if $$bufref eq '' && -e $self->{shut_file};
        next unless $sel->can_read($left < 0.05 ? $left : 0.05);
        my $got = sysread($c, $$bufref, 65536, length $$bufref);
        return (undef, 'eof') unless $got;
    }
    my $raw = substr($$bufref, 0, $need, '');
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($line, @lines) = split /\r\n/, $head;
    my ($method, $uri, $version) = split / /, $line;
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = $v;
    }
    return { method => $method, uri => $uri, version => $version, headers => \%h,
             body => $body, head => $head };
}

# Large bodies ---------------------------------------------------------------------------------

# Block n of a large test body: 64 KiB of its number ("0000012\n" over and over), so a
# misplaced or repeated block shows in the bytes.
sub block { sprintf("%07d\n", $_[0]) x 8192 }

# The md5 (hex) of blocks 0 .. n-1.
sub blocks_md5 {
    my ($n) = @_;
    require Digest::MD5;
    my $md5 = Digest::MD5->new;
    $md5->add(block($_)) for 0 .. $n - 1;
    return $md5->hexdigest;
}

# Appends "ID WHAT" to the file $log: what a scripted origin tells its test.
sub note {
    my ($log, $id, $what) = @_;
    sysopen(my $fh, $log, O_WRONLY | O_APPEND | O_CREAT) or return;
    syswrite($fh, "$id $what\n");
    close $fh;
}

# Writes the head $head, then blocks 0 .. blocks-1 (as chunks when chunked), without
# blocking, so it can tell a proxy that reads slowly from one that holds it back.  Notes
# to $log: "ID waiting after N" once the proxy has taken nothing for 2 s (N bytes written
# so far), then "ID all written", or "ID cut after N" (a write failed), or "ID stuck"
# (nothing taken for 60 s).  1 when everything was written.
sub stream_blocks {
    my ($c, %o) = @_;
    my ($log, $id, $blocks) = @o{qw(log id blocks)};
    my ($out, $next, $written, $waiting) = ($o{head}, 0, 0, 0);
    my $sel = IO::Select->new($c);
    $c->blocking(0);
    while (length $out || $next < $blocks) {
        if (length $out < 65536 && $next < $blocks) {
            my $b = block($next++);
            $b = sprintf("%x\r\n", length $b) . $b . "\r\n" if $o{chunked};
            $b .= "0\r\n\r\n" if $o{chunked} && $next == $blocks;
            $out .= $b;
        }
        my $n = syswrite($c, $out);
        if (defined $n) {
            substr($out, 0, $n, '');
            $written += $n;
            next;
        }
        if (!$!{EAGAIN}) {
            note($log, $id, "cut after $written");
            return 0;
        }
        next if $sel->can_write(2);
        note($log, $id, "waiting after $written") if !$waiting++;
        next if $sel->can_write(60);
        note($log, $id, 'stuck');
        return 0;
    }
    $c->blocking(1);
    note($log, $id, 'all written');
    return 1;
}

# All of data written to c (blocking); 0 when the peer went away first.
sub write_all {
    my ($c, $data) = @_;
    while (length $data) {
        my $n = syswrite($c, $data);
        return 0 unless $n;
        substr($data, 0, $n, '');
    }
    return 1;
}

sub _connection {
    my ($self, $c, $cid) = @_;
    local $SIG{ALRM} = sub { POSIX::_exit(0) };
    alarm $CONN_LIFETIME;
    $self->_event('accept', $cid, $c->peerhost . ':' . $c->peerport);
    my $buf = '';
    my $nreq = 0;
    while (1) {
        my $timeout = $nreq && $self->{idle_close} ? $self->{idle_close} : $CONN_LIFETIME;
        my ($req, $why) = $self->_read_request($c, \$buf, $timeout);
        if (!$req) {
            close $c;
            $self->_event('closed', $cid, $why eq 'timeout' ? 'idle' : $why);
            return;
        }
        $nreq++;
        my $mode = $self->_current_mode;
        my $conn = lc($req->{headers}{connection} // '');
        my $keep = $req->{version} eq 'HTTP/1.1' ? $conn ne 'close' : $conn eq 'keep-alive';
        $self->_event('req', $cid, $nreq, $req->{method}, $req->{uri}, $req->{version},
                      'connection=' . ($req->{headers}{connection} // '-'));

        if ($mode eq 'drop' || $mode eq 'reset') {
            # reset: SO_LINGER with a zero timeout makes the close an RST
            setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)) if $mode eq 'reset';
            close $c;
            $self->_event('closed', $cid, $mode);
            return;
        }
        if ($mode eq 'hang') {
            # until the peer gives up (bounded)
            my $sel = IO::Select->new($c);
            my $deadline = time + $HANG_BOUND;
            while ((my $left = $deadline - time) > 0) {
                next unless $sel->can_read($left);
                my $got = sysread($c, my $junk, 4096);
                last unless $got;
            }
            close $c;
            $self->_event('end', $cid, $nreq);
            $self->_event('closed', $cid, 'eof');
            return;
        }
        if ($req->{uri} =~ /[?&]hold=([\w.-]+)/) {
            my $flag = "$self->{prefix}/$1";
            my $deadline = time + $HOLD_BOUND;
            sleep 0.02 while !-e $flag && time < $deadline;
        }
        my $status = $mode =~ /^(\d{3})$/ ? $1 : 200;
        my $body = $status == 200 ? $self->{name} : "$self->{name} $status";
        my %reason = (200 => 'OK', 404 => 'Not Found', 500 => 'Internal Server Error',
                      502 => 'Bad Gateway', 503 => 'Service Unavailable',
                      504 => 'Gateway Timeout');
        my $connection = !$keep                   ? "Connection: close\r\n"
                       : $mode eq 'close_in_list' ? "Connection: keep-alive, close\r\n"
                       :                            '';
        my $resp = "HTTP/1.1 $status " . ($reason{$status} // 'Other') . "\r\n"
            . "Content-Length: " . length($body) . "\r\nX-Origin: $self->{name}\r\n"
            . "$connection\r\n$body";
        # logged before the answer goes: whoever reads the answer sees the end already
        $self->_event('end', $cid, $nreq);
        if (!write_all($c, $resp)) {
            close $c;
            $self->_event('closed', $cid, 'write');
            return;
        }
        if (!$keep || $mode eq 'close') {
            close $c;
            $self->_event('closed', $cid, 'after-response');
            return;
        }
    }
}

# The test's side -----------------------------------------------------------------------------

# The events so far, as [time, type, fields...].
sub events {
    my ($self) = @_;
    open(my $fh, '<', $self->{events}) or return ();
    my @ev;
    while (my $line = <$fh>) {
        chomp $line;
        push @ev, [split / /, $line];
    }
    return @ev;
}

sub _count {
    my ($self, $type) = @_;
    return scalar grep { $_->[1] eq $type } $self->events;
}

sub accepts  { $_[0]->_count('accept') }
sub requests { $_[0]->_count('req') }
sub closes   { $_[0]->_count('closed') }

# Connections accepted and not yet closed by either side.
sub open_connections {
    my ($self) = @_;
    return $self->accepts - $self->closes;
}

# Requests per connection, in the order the connections were accepted.
sub requests_per_connection {
    my ($self) = @_;
    my (@order, %n);
    for my $e ($self->events) {
        push @order, $e->[2] if $e->[1] eq 'accept';
        $n{$e->[2]}++ if $e->[1] eq 'req';
    }
    return map { $n{$_} // 0 } @order;
}

# The highest number of requests this origin had in progress at once (from a request's
# arrival to the moment its answer was about to be written, or its connection ended).
sub max_concurrent {
    my ($self) = @_;
    my (%busy, $max);
    $max = 0;
    for my $e ($self->events) {
        my ($type, $cid) = @$e[1, 2];
        if ($type eq 'req') {
            $busy{$cid} = 1;
        } elsif ($type eq 'end' || $type eq 'closed') {
            delete $busy{$cid};
        }
        $max = keys %busy if keys %busy > $max;
    }
    return $max;
}

# The request lines (method and uri) the origin received, in order.
sub request_uris {
    my ($self) = @_;
    return map { "$_->[4] $_->[5]" } grep { $_->[1] eq 'req' } $self->events;
}

# The requests received, in order, as { conn, n (on that connection), method, uri,
# version, connection (the Connection header, '-' if none) }.
sub request_log {
    my ($self) = @_;
    return map {
        my ($conn) = $_->[7] =~ /^connection=(.*)$/;
        { conn => $_->[2], n => $_->[3], method => $_->[4], uri => $_->[5], version => $_->[6],
          connection => $conn }
    } grep { $_->[1] eq 'req' } $self->events;
}

# Why the connections ended, in order: eof (the peer closed), idle (idle_close), drop,
# after-response (the origin closed after answering), write (a write failed), shut
# (close_idle).
sub close_reasons {
    my ($self) = @_;
    return map { $_->[3] } grep { $_->[1] eq 'closed' } $self->events;
}

# Helpers for the tests -----------------------------------------------------------------------

# Splits a raw response into (status, { lc name => value }, body); status 'none' if none.
sub parse_response {
    my ($raw) = @_;
    $raw //= '';
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.[01] (\d{3})};
    my %h;
    for (split /\r\n/, $head // '') {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = $v;
    }
    return ($status // 'none', \%h, $body // '');
}

# Opens a client connection to 127.0.0.1:$port, from $src (a loopback address) if given.
sub client {
    my ($port, $src) = @_;
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
                                 Timeout => 10, $src ? (LocalAddr => $src) : ());
}

# Waits (bounded) for the line of an access log whose first field is $key; the line's
# other fields (split on '|'), or an empty list.
sub log_fields {
    my ($t, $file, $key, $timeout) = @_;
    my $line;
    $t->wait_for(sub {
        ($line) = grep { /^\Q$key\E / } split /\n/, ($t->read_file($file) // '');
        defined $line;
    }, $timeout // 10);
    return () unless defined $line;
    $line =~ s/^\Q$key\E //;
    return split /\|/, $line, -1;
}

1;

__END__

=head1 NAME

Origin - scripted HTTP origins for the upstream tests

=head1 SYNOPSIS

    my $a = Origin->start($t, name => 'a', port => $t->port(11));
    $a->set_mode('502');              # from now on it answers 502
    ... requests through the server under test ...
    is($a->accepts, 1, 'one upstream connection');
    is_deeply([$a->requests_per_connection], [5], 'five requests on it');

=head1 DESCRIPTION

C<start($t, name =E<gt> N, port =E<gt> P, mode =E<gt> M, idle_close =E<gt> S)> listens on
127.0.0.1:P (before returning) and serves in a child process group, killed by pid at
C<stop> or at END. Requests are read whole (head and a Content-Length body); the answer
is C<HTTP/1.1> with C<Content-Length>, C<X-Origin: N> and the body C<N> (C<N NNN> for
another status). The connection stays open for the next request unless the request asks
to close (HTTP/1.0 without C<keep-alive>, or C<Connection: close>), in which case the answer
says C<Connection: close>. With C<idle_close =E<gt> S> the origin closes a connection that
stays idle S seconds after an answer. A uri with C<hold=NAME> in its query is answered
only once the file F<PREFIX/NAME> exists (bounded).

Modes (C<set_mode>): C<ok>, a status (C<502>), C<drop> (close after reading the request),
C<reset> (reset the connection, RST, after reading the request),
C<hang> (never answer), C<close> (answer, then close without saying so), C<close_in_list>
(answer with C<Connection: keep-alive, close> and keep the connection open anyway).
C<close_idle> closes every connection waiting for a request (bounded wait until none is
open), for instance so that the proxy's descriptors can be checked.

Counting: C<accepts>, C<requests>, C<closes>, C<open_connections>,
C<requests_per_connection>, C<max_concurrent>, C<request_uris>, C<request_log>,
C<close_reasons>, C<events>. A connection is counted closed once its socket is closed.

Functions: C<parse_response($raw)>, C<client($port, $src)>,
C<log_fields($t, $file, $key)>.

Large bodies: C<Origin::block($n)> is 64 KiB numbered n, C<Origin::blocks_md5($n)> the md5
of blocks 0 to n-1; C<Origin::stream_blocks($c, head =E<gt> H, blocks =E<gt> N, chunked =E<gt>
0|1, log =E<gt> FILE, id =E<gt> ID)> writes them without blocking and notes to FILE
C<ID waiting after N> (the proxy took nothing for 2 s), C<ID all written>, C<ID cut after
N> or C<ID stuck>; C<Origin::note(FILE, ID, WHAT)> adds a line of the test's own.

C<Origin::scripted(port =E<gt> P, handler =E<gt> sub { my ($c, $n) = @_; ... },
lifetime =E<gt> S)> is for a test that scripts its origin itself: it listens on
127.0.0.1:P before returning, and each connection gets a child process (bounded to S
seconds, 30 by default) that runs the handler on the socket (C<$n> counts connections)
and exits. C<Origin::read_head($c)> reads a request head; C<Origin::write_all($c, $data)> writes all
of the data (0 when the peer went away first). The origin's process group is
killed at C<Origin::stop_scripted($pid)> or at END.

=cut
