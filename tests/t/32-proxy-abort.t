# A client that goes away while the upstream works: proxy_ignore_client_abort, buffered and
# unbuffered, as nginx 1.22 behaves (observed on loopback with Debian's nginx):
# - off: a client that closes (or only shuts its sending side) ends the request at once:
#   before the response header a 499 and the upstream connection closed before it answers;
#   mid-body the upstream connection closed and the client cut off (the access log keeps
#   200);
# - on: that close is ignored: the upstream is read to the end and, while the client still
#   reads, the whole response reaches it;
# - either way, a write to the client that fails (a reset) ends the upstream at once.
# The origin reports what it saw of its connection: closed before it answered, read to the
# end, or cut while it was writing.
use strict;
use warnings;
use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket qw(SHUT_WR);
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;
my $piece = 'p' x 65536;
my $drip_len = 5 * length $piece;
my $big_len = 32 << 20;

# --- the origin: one child per connection; /wait, /drip and /big, with ?id=NAME ---
sub report {
    my ($id, $what) = @_;
    open(my $fh, '>>', "$dir/origin.log") or die;
    print $fh "$id $what\n";
    close $fh;
}

# Waits (bounded) for the file go-ID or for the proxy to close the connection.
sub go_or_closed {
    my ($c, $id) = @_;
    my $sel = IO::Select->new($c);
    for (1 .. 400) {
        return 'go' if -e "$dir/go-$id";
        if ($sel->can_read(0.025)) {
            my $n = sysread($c, my $buf, 1);
            return 'closed' if !$n;
        }
    }
    return 'timeout';
}

sub serve {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or return; }
    my ($path, $id) = $req =~ m{^GET (/\w+)\?id=(\S+) };
    return unless $id;
    if ($path eq '/wait') {
        open(my $fh, '>', "$dir/got-$id");
        close $fh;
        my $seen = go_or_closed($c, $id);
        return report($id, "closed before the answer") if $seen ne 'go';
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" . ('a' x 1000))
            or return report($id, 'cut while answering');
    } elsif ($path eq '/drip') {
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: $drip_len\r\n\r\n$piece");
        my $seen = go_or_closed($c, $id);
        return report($id, "closed after the first piece") if $seen ne 'go';
        for (2 .. 5) { Origin::write_all($c, $piece) or return report($id, 'cut while answering'); }
    } elsif ($path eq '/big') {
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: $big_len\r\n\r\n");
        for (1 .. $big_len / length $piece) {
            Origin::write_all($c, $piece) or return report($id, 'cut while answering');
        }
    }
    # everything written: the proxy reads it to the end and closes
    my $seen = go_or_closed($c, "never-$id");
    report($id, $seen eq 'closed' ? 'read to the end' : 'not closed');
}

Origin::scripted(port => $origin_port, lifetime => 30, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format abort '\$arg_id|\$status|\$upstream_status|\$upstream_bytes_received';
    access_log logs/abort.log abort;
    proxy_temp_path %%PREFIX%%/proxy_temp;
    proxy_buffers 4 4k;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /u-off/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_buffering off; }
        location /u-on/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_buffering off; proxy_ignore_client_abort on; }
        # a small temp file: what the proxy and the sockets can hold stays well under /big's
        # 32 MiB, so the origin cannot finish before a client that stopped reading resets,
        # however late the reset comes on a loaded machine
        location /b-off/ { proxy_pass http://127.0.0.1:$origin_port/; proxy_max_temp_file_size 1m; }
        location /b-on/ {
            proxy_pass http://127.0.0.1:$origin_port/; proxy_max_temp_file_size 1m;
            proxy_ignore_client_abort on;
        }
    }
}
EOF
$t->temp_paths('proxy_temp');
$t->start;

sub origin_saw {
    my ($id) = @_;
    my $line;
    $t->wait_for(sub { (($t->read_file('origin.log') // '') =~ /^\Q$id\E (.*)$/m) and $line = $1 }, 20);
    return $line // 'nothing';
}

sub logged {
    my ($id) = @_;
    my $line;
    $t->wait_for(sub { (($t->read_file('logs/abort.log') // '') =~ /^\Q$id\E\|(.*)$/m) and $line = $1 }, 10);
    return $line // 'nothing';
}

sub request {
    my ($loc, $path, $id) = @_;
    my $s = $t->connect($port) or die "connect: $!";
    print $s "GET /$loc$path?id=$id HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n";
    return $s;
}

# Reads until the header and some of the body are in.
sub read_some_body {
    my ($s) = @_;
    my $got = '';
    while ($got !~ /\r\n\r\n./s) { sysread($s, $got, 65536, length $got) or last; }
    return $got;
}

my $line_re = sub {
    my ($id, $msg, $action) = @_;
    return qr{\[info\] \d+#\d+: \*\d+ \Q$msg\E while \Q$action\E, client: 127\.0\.0\.1, server: , request: "GET /[\w-]+/\w+\?id=\Q$id\E HTTP/1\.1", upstream: "http://127\.0\.0\.1:$origin_port/\w+\?id=\Q$id\E", host: "front\.test"};
};
my $rdhup = 'epoll_wait() reported that client prematurely closed connection, so upstream connection is closed too';

for my $mode (qw(u b)) {
    my $what = $mode eq 'u' ? 'unbuffered' : 'buffered';

    # --- the client leaves before the response header ---
    {
        my $id = "$mode-off-early";
        my $s = request("$mode-off", '/wait', $id);
        ok($t->wait_for(sub { -e "$dir/got-$id" }, 10), "$what, off, closed before the header: the origin has the request");
        close $s;
        is(origin_saw($id), 'closed before the answer', "$what, off: the upstream connection is closed before the origin answers");
        is(logged($id), '499|-|0', "$what, off: 499 logged, no upstream status");
        like($t->error_log, $line_re->($id, $rdhup, 'sending request to upstream'), "$what, off: logged as nginx");
    }
    {
        my $id = "$mode-on-early";
        my $s = request("$mode-on", '/wait', $id);
        ok($t->wait_for(sub { -e "$dir/got-$id" }, 10), "$what, on, closed before the header: the origin has the request");
        close $s;
        open(my $fh, '>', "$dir/go-$id");
        close $fh;
        is(origin_saw($id), 'read to the end', "$what, on: the origin answers and is read to the end");
        is(logged($id), '200|200|1041', "$what, on: 200 logged, the whole response received");
    }

    # --- the client shuts its sending side at once: seen even before the upstream starts ---
    {
        my $id = "$mode-off-at-once";
        my $s = request("$mode-off", '/wait', $id);
        shutdown($s, SHUT_WR);
        my ($all, $eof) = $t->read_all($s, 10);
        ok($eof && $all eq '', "$what, off, half-closed with the request: no response, the connection closes");
        is(logged($id), '499|-|0', "$what, off: 499 logged");
    }

    # --- the client shuts its sending side mid-body and keeps reading ---
    {
        my $id = "$mode-off-half";
        my $s = request("$mode-off", '/drip', $id);
        my $got = read_some_body($s);
        shutdown($s, SHUT_WR);
        my ($rest, $eof) = $t->read_all($s, 10);
        is(origin_saw($id), 'closed after the first piece', "$what, off, half-closed mid-body: the upstream connection is closed");
        ok($eof, "$what, off: the client connection closes");
        my ($body) = ($got . $rest) =~ /\r\n\r\n(.*)$/s;
        ok(length($body) < $drip_len, "$what, off: the client does not get the rest");
        like(logged($id), qr{^200\|200\|\d+$}, "$what, off: 200 logged (the status sent)");
        like($t->error_log, $line_re->($id, $rdhup, $mode eq 'u' ? 'sending to client' : 'reading upstream'), "$what, off: logged as nginx");
    }
    {
        my $id = "$mode-on-half";
        my $s = request("$mode-on", '/drip', $id);
        my $got = read_some_body($s);
        shutdown($s, SHUT_WR);
        open(my $fh, '>', "$dir/go-$id");
        close $fh;
        my ($rest, $eof) = $t->read_all($s, 20);
        my ($body) = ($got . $rest) =~ /\r\n\r\n(.*)$/s;
        is(origin_saw($id), 'read to the end', "$what, on, half-closed mid-body: the upstream is read to the end");
        is(length $body, $drip_len, "$what, on: the client gets every byte");
        ok($body eq $piece x 5, "$what, on: bytes identical");
        my $head = length("HTTP/1.1 200 OK\r\nContent-Length: $drip_len\r\n\r\n");
        is(logged($id), '200|200|' . ($head + $drip_len), "$what, on: 200 logged, the whole response received");
    }

    # --- the client resets the connection mid-body: the next write fails ---
    for my $abort (qw(off on)) {
        my $id = "$mode-$abort-reset";
        my $s = request("$mode-$abort", '/big', $id);
        read_some_body($s);
        close $s; # unread bytes: the kernel answers with a reset
        is(origin_saw($id), 'cut while answering', "$what, $abort, reset mid-body: the origin is cut off long before $big_len bytes");
        like(logged($id), qr{^200\|200\|\d+$}, "$what, $abort, reset: 200 logged");
        my ($received) = logged($id) =~ /(\d+)$/;
        ok($received < $big_len, "$what, $abort, reset: the upstream was not read to the end");
    }
}

$t->done_testing;
