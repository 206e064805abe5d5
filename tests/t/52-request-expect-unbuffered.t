# "Expect: 100-continue" as nginx 1.22 answers it (before a body is read or discarded, any
# case, not to HTTP/1.0, no 417 for other expectations, the interim response counted in the
# access log's byte counts), a bad chunked body that is being discarded (400, connection
# closed), and proxy_request_buffering off: a body that is all there at once goes as if
# buffered, one that is not streams (the first piece with the request header, the rest as it
# comes, re-chunked one chunk per read), pipelining behind a streamed body, and
# client_body_in_file_only left aside.  Behaviour and byte counts compared with Debian's
# nginx 1.22 on the same config (SLUICE_BINARY=/usr/sbin/nginx passes this file).
use strict;
use warnings;
use Test::More;
use Sluice qw(status_of body_of header_of);
use Origin;

my $t = Sluice->new;
my $origin_port = $t->port(2);
my $notes = $t->prefix . '/origin.notes';

# The origin notes every read ("N got BYTES", escaped), and answers once the body is whole
# (Content-Length, or the last chunk) with what it got after the head.
Origin::scripted(port => $origin_port, lifetime => 30, handler => sub {
    my ($c, $n) = @_;
    my $buf = Origin::read_head($c);
    $buf =~ s/^(.*?\r\n)\r\n//s;
    my $head = $1;
    my ($len) = $head =~ /\r\ncontent-length: (\d+)/i;
    my $chunked = $head =~ /\r\ntransfer-encoding: chunked/i;
    my $framing = $chunked ? 'chunked' : 'length=' . ($len // 'none');
    Origin::note($notes, $n, "head $framing");
    Origin::note($notes, $n, 'got ' . esc($buf)) if length $buf && length $buf < 1024;
    while ($chunked ? !($buf eq "0\r\n\r\n" || substr($buf, -7) eq "\r\n0\r\n\r\n")
                    : length $buf < ($len // 0)) {
        sysread($c, my $more, 65536) or return;
        Origin::note($notes, $n, 'got ' . esc($more)) if length $more < 1024;
        $buf .= $more;
    }
    my $answer = "$framing raw=" . esc($buf) . "\n";
    if ($head =~ m{^POST /ub/large }) {
        # a large body: its decoded length and md5 instead of its bytes
        require Digest::MD5;
        my $data = "";
        while ($buf =~ /\G([0-9a-f]+)\r\n/gc) {
            my $size = hex $1;
            $data .= substr($buf, pos($buf), $size);
            pos($buf) = pos($buf) + $size + 2;
        }
        $answer = "$framing length=" . length($data) . ' md5=' . Digest::MD5::md5_hex($data) . "\n";
    }
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: "
                      . length($answer) . "\r\n\r\n$answer");
});
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

sub esc { my ($s) = @_; $s =~ s/\r/\\r/g; $s =~ s/\n/\\n/g; return $s; }

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format bytes '\$request_uri \$status \$bytes_sent \$body_bytes_sent';
    access_log logs/bytes.log bytes;
    client_body_temp_path %%PREFIX%%/body_temp;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        client_header_buffer_size 1k;
        add_header X-Body "\$request_body";
        location /p { proxy_pass http://127.0.0.1:$origin_port; }
        location /return { return 200 "returned\\n"; }
        location /ub {
            proxy_request_buffering off;
            proxy_http_version 1.1;
            client_body_buffer_size 64;
            proxy_pass http://127.0.0.1:$origin_port;
            location /ub/large {
                client_body_buffer_size 1k;
                client_max_body_size 8m;
                proxy_pass http://127.0.0.1:$origin_port;
            }
        }
        location /ubfile {
            proxy_request_buffering off;
            client_body_in_file_only on;
            add_header X-Body-File "\$request_body_file";
            proxy_pass http://127.0.0.1:$origin_port;
        }
    }
}
EOF
$t->temp_paths('body_temp');
$t->start;
my $port = $t->port(1);
my $continue = "HTTP/1.1 100 Continue\r\n\r\n";

# Reads exactly n bytes (bounded by the test timeout).
sub read_n {
    my ($s, $n) = @_;
    my $got = '';
    my $sel = IO::Select->new($s);
    while (length $got < $n && $sel->can_read(10)) {
        sysread($s, $got, $n - length $got, length $got) or last;
    }
    return $got;
}

# --- Expect: 100-continue ---
{
    my $s = $t->connect($port);
    print $s "POST /p/e HTTP/1.1\r\nHost: t\r\nConnection: close\r\nExpect: 100-continue\r\n"
        . "Content-Length: 5\r\n\r\n";
    is(read_n($s, length $continue), $continue, '100 Continue before the body is read');
    print $s 'hello';
    my $r = $t->read_all($s);
    like($r, qr/^HTTP\/1\.1 200 .*length=5 raw=hello\n$/s, 'then the body goes upstream');
    # as nginx: the interim response counts in $bytes_sent and in $body_bytes_sent (the line
    # is written when the connection is done with, a lingering close included: close it)
    close $s;
    $t->wait_for(sub { $t->read_file('logs/bytes.log') =~ m{^/p/e }m }, 10);
    my ($line) = $t->read_file('logs/bytes.log') =~ m{^/p/e (.*)$}m;
    is($line, '200 ' . (length($continue) + length $r) . ' ' . (length($continue) + length body_of($r)),
       'the access log counts the 100 Continue as nginx does');
}
sub expect_req {
    my ($uri, $version, $value, $body) = @_;
    return $t->http($port, "POST $uri HTTP/$version\r\nHost: t\r\nConnection: close\r\n"
                    . "Expect: $value\r\nContent-Length: " . length($body) . "\r\n\r\n$body");
}
like(expect_req('/p', '1.1', '100-Continue', 'abc'), qr/^\Q$continue\EHTTP\/1\.1 200 /,
     'the expectation is matched without regard to case');
like(expect_req('/p', '1.1', '100-continue', ''), qr/^\Q$continue\EHTTP\/1\.1 200 /,
     'sent even for a body of length 0, as nginx');
unlike(expect_req('/p', '1.0', '100-continue', 'abc'), qr/100 Continue/, 'never to HTTP/1.0');
my $r = expect_req('/p', '1.1', 'something-else', 'abc');
unlike($r, qr/100 Continue/, 'no 100 Continue for another expectation');
is(status_of($r), 200, 'and no 417 (nginx 1.22 answers the request)');
{
    # the body is not wanted: 100 Continue still, then the body is read and dropped, and
    # the next request on the connection is answered
    my $s = $t->connect($port);
    print $s "POST /return HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    is(read_n($s, length $continue), $continue, '100 Continue before a body is discarded');
    print $s "01234GET /return HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    my @answers = $t->read_all($s) =~ /returned\n/g;
    is(scalar @answers, 2, 'the discarded body dropped, the next request answered');
}
{
    # an error answer never invites the body, as nginx: no 100 Continue; what the client
    # sends anyway is read and dropped, and the next request is answered
    my $r = $t->http($port, "POST /missing HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                     . "Content-Length: 3\r\n\r\nabcGET /return HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    like($r, qr/^HTTP\/1\.1 404 .*HTTP\/1\.1 200 .*returned\n$/s, 'no 100 Continue before an error answer');
}
{
    my $s = $t->connect($port);
    print $s "POST /ub/e HTTP/1.1\r\nHost: t\r\nConnection: close\r\nExpect: 100-continue\r\n"
        . "Content-Length: 5\r\n\r\n";
    is(read_n($s, length $continue), $continue, '100 Continue with proxy_request_buffering off');
    print $s 'hello';
    like(scalar $t->read_all($s), qr/length=5 raw=hello\n$/, 'and the body streamed');
}

# --- a bad chunked body being discarded: 400, and the connection closes ---
{
    my $bad = "POST /return HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        . "4\r\nSEE-THIS\r\n0\r\n\r\n";
    my $r = $t->http($port, $bad . "GET /return HTTP/1.1\r\nHost: t\r\n\r\n");
    is(status_of($r), 400, 'a runaway chunk under return: 400, not the return\'s 200');
    like($r, qr/\r\nConnection: close\r\n/, 'announced as closing');
    is(() = $r =~ m{HTTP/1\.1 }g, 1, 'and the request behind it is not read');
    is(status_of($t->http($port, "POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n")),
       400, 'a bad chunk size in a body read for the proxy: 400');
}

# --- proxy_request_buffering off ---
{
    my $r = $t->http($port, "POST /ub/whole HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                     . "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    like($r, qr/length=5 raw=hello\n$/, 'a body all there at once goes with a Content-Length');
    is(header_of($r, 'X-Body'), 'hello', 'and is in $request_body');
}
sub wait_origin_got {
    my ($want) = @_;
    return $t->wait_for(sub {
        my $all = join('', map { /^\d+ got (.*)$/ ? $1 : () } split /\n/, $t->read_file('origin.notes') // '');
        return index($all, $want) >= 0;
    }, 10);
}
{
    unlink $notes;
    my $s = $t->connect($port);
    print $s "POST /ub/split HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 10\r\n\r\n01234";
    ok(wait_origin_got('01234'), 'the first part reaches the origin before the rest is sent');
    print $s '56789';
    like(scalar $t->read_all($s), qr/length=10 raw=0123456789\n$/, 'then the rest: the whole body');
}
{
    unlink $notes;
    my $s = $t->connect($port);
    print $s "POST /ub/chunks HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n4\r\nmany\r\n";
    ok(wait_origin_got('9\\r\\n01234many\\r\\n'), 'a chunked body streams, one chunk per read');
    print $s "5\r\n56789\r\n4\r\nmany\r\n0\r\n\r\n";
    like(scalar $t->read_all($s),
         qr/chunked raw=9\\r\\n01234many\\r\\n9\\r\\n56789many\\r\\n0\\r\\n\\r\\n\n$/,
         're-chunked for the upstream, and ended with the last chunk');
}
{
    # a body larger than client_body_buffer_size (64) all sent at once streams through the
    # buffer; the pipelined request behind it is read as the next request
    my $big = join('', map { sprintf('%04d', $_) } 1 .. 100);
    my $r = $t->http($port, "POST /ub/big HTTP/1.1\r\nHost: t\r\nContent-Length: 400\r\n\r\n$big"
                     . "POST /ub/next HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc");
    my @raws = $r =~ /raw=(\S*)\n/g;
    is_deeply(\@raws, [$big, 'abc'], 'a streamed body, then the pipelined request behind it');
}
{
    # 4 MiB in 256 pieces of 16 KiB, through a 1 KiB buffer: re-chunked whole, in order
    require Digest::MD5;
    my $s = $t->connect($port);
    print $s "POST /ub/large HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n";
    my $md5 = Digest::MD5->new;
    for my $i (0 .. 255) {
        my $piece = sprintf('%015d,', $i) x 1024;
        $md5->add($piece);
        print $s sprintf('%x', length $piece) . "\r\n$piece\r\n";
    }
    print $s "0\r\n\r\n";
    like(scalar $t->read_all($s, 60), qr/chunked length=4194304 md5=${\ $md5->hexdigest}\n$/,
         'a large chunked body streamed through a small buffer arrives whole');
}
{
    my $s = $t->connect($port);
    print $s "POST /ubfile HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 10\r\n\r\n01234";
    wait_origin_got('01234');
    print $s '56789';
    my $r = $t->read_all($s);
    like($r, qr/raw=0123456789\n$/, 'client_body_in_file_only with buffering off: the body streams');
    is(header_of($r, 'X-Body-File'), undef, 'and no file is made (as nginx)');
}

$t->check_fds;
like($t->error_log, qr/\[error\] .*client sent invalid chunked body, client: /, "the bad chunk logged as nginx (at error)");
$t->done_testing;
