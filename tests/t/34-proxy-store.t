# proxy_store and proxy_store_access, as nginx 1.22 (validated: this file passes with
# SLUICE_BINARY=/usr/sbin/nginx, Debian's nginx 1.22; two sluice-only checks are skipped
# then: no named temp file under proxy_temp while a response streams, and the HEAD one):
# - a complete 200 lands at root + uri ("on") or at the path a string with variables gives,
#   with proxy_store_access's mode; missing directories are created; its mtime is the
#   origin's Last-Modified;
# - a HEAD stores nothing (sluice-only check, skipped with nginx: a HEAD answered without
#   Content-Length makes nginx store an empty file);
# - a 404, a response cut short (Content-Length or chunked), a response sent with
#   proxy_buffering off: no file, and no temp file left behind;
# - a reader polling the target while a slow response streams never sees a partial file;
# - a client that goes away mid-body, or stops reading until send_timeout, does not stop
#   the store (nginx does not watch the client when storing): the upstream is read to the
#   end and the file appears.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX ();
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;
my $piece = 'p' x 65536;
my $slow_len = 4 * length $piece;
my $body = 'stored body ' x 100;
my $big_len = 16 << 20;
my $lm_date = 'Sun, 06 Nov 1994 08:49:37 GMT';
my $lm_time = 784111777;

# Waits (bounded) for the file go-ID.
sub wait_go {
    my ($id) = @_;
    for (1 .. 400) {
        return 1 if -e "$dir/go-$id";
        select(undef, undef, undef, 0.025);
    }
    return 0;
}

sub touch {
    open(my $fh, '>', "$dir/$_[0]") or die;
    close $fh;
}

sub serve {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or return; }
    my ($method, $path) = $req =~ m{^(GET|HEAD) (\S+) };
    my $len = length $body;
    if ($path =~ m{/lm}) {
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: $len\r\nLast-Modified: $lm_date\r\n\r\n"
                      . ($method eq 'HEAD' ? '' : $body));
    } elsif ($path =~ m{/headnolen}) {
        # a HEAD answered without Content-Length (the body would be close-delimited)
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    } elsif ($path =~ m{/missing}) {
        Origin::write_all($c, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
    } elsif ($path =~ m{/trunc}) {
        # the origin closes early
        return Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" . ('t' x 3000));
    } elsif ($path =~ m{/chunktrunc}) {
        return Origin::write_all($c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n");
    } elsif ($path =~ m{/chunked}) {
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n");
    } elsif ($path =~ m{/slow\w*\?id=(\w+)}) {
        my $id = $1;
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: $slow_len\r\n\r\n$piece");
        touch("sent-$id");
        wait_go($id) or return;
        for (2 .. 4) { Origin::write_all($c, $piece) or return; }
    } elsif ($path =~ m{/big\?id=(\w+)}) {
        # all but the last piece, which waits for go
        my $id = $1;
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: $big_len\r\n\r\n");
        for (2 .. $big_len / length $piece) { Origin::write_all($c, $piece) or return; }
        wait_go($id) or return;
        Origin::write_all($c, $piece);
    } else {
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: $len\r\nConnection: close\r\n\r\n$body");
    }
    # the proxy reads to the end and closes
    1 while sysread($c, my $buf, 4096);
}

Origin::scripted(port => $origin_port, lifetime => 30, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

mkdir "$dir/html";
$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    proxy_temp_path %%PREFIX%%/proxy_temp;
    proxy_buffers 4 4k;
    root %%PREFIX%%/html;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /s/ { proxy_pass http://127.0.0.1:$origin_port; proxy_store on; }
        location /m/ {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_store on;
            proxy_store_access user:rw group:rw all:r;
        }
        location /a/ {
            alias %%PREFIX%%/aliased/;
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_store on;
        }
        location /v/ {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_store %%PREFIX%%/var/\$arg_name.data;
        }
        location /nb/ { proxy_pass http://127.0.0.1:$origin_port; proxy_store on; proxy_buffering off; }
        location /t/ { proxy_pass http://127.0.0.1:$origin_port; proxy_store on; send_timeout 1s; }
        location /off/ { proxy_pass http://127.0.0.1:$origin_port; proxy_store off; }
    }
}
EOF
$t->temp_paths('proxy_temp');
$t->start;

sub get {
    my ($uri) = @_;
    my $r = $t->http($port, "GET $uri HTTP/1.0\r\nHost: front.test\r\n\r\n") // '';
    my ($head, $b) = split /\r\n\r\n/, $r, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
    return ($status // 'none', $b // '');
}

sub mode_of { my @s = stat $_[0]; return @s ? sprintf('%04o', $s[2] & 07777) : 'none' }

# --- complete 200s are stored ---
{
    my ($st, $b) = get('/s/one/two/file.txt');
    is($st, '200', 'on: 200 to the client');
    is($b, $body, 'on: the body to the client');
    is($t->read_file('html/s/one/two/file.txt'), $body, 'on: stored at root + uri, directories created');
    is(mode_of("$dir/html/s/one/two/file.txt"), '0600', 'on: default access user:rw');
    is(mode_of("$dir/html/s/one/two"), '0700', 'on: created directories are usable');
}
{
    my ($st) = get('/m/x.txt');
    is($st, '200', 'access: 200');
    is(mode_of("$dir/html/m/x.txt"), '0664', 'access: user:rw group:rw all:r gives 0664');
}
{
    my ($st) = get('/a/in/alias.txt');
    is($st, '200', 'alias: 200');
    is($t->read_file('aliased/in/alias.txt'), $body, 'alias: stored at the alias path');
}
{
    my ($st) = get('/v/whatever?name=abc');
    is($st, '200', 'variables: 200');
    is($t->read_file('var/abc.data'), $body, 'variables: stored at the path the string gives');
}
{
    my ($st, $b) = get('/s/chunked');
    is($b, '0123456789abcdef', 'chunked: the body');
    is($t->read_file('html/s/chunked'), '0123456789abcdef', 'chunked: the decoded body is stored');
}
{
    # a second response replaces the stored file
    open(my $fh, '>', "$dir/html/s/one/two/file.txt") or die;
    print $fh 'old';
    close $fh;
    get('/s/one/two/file.txt');
    is($t->read_file('html/s/one/two/file.txt'), $body, 'an existing file is replaced');
}

{
    # the file's mtime is the origin's Last-Modified
    my ($st) = get('/s/lm/file');
    is($st, '200', 'Last-Modified: 200');
    is($t->read_file('html/s/lm/file'), $body, 'Last-Modified: stored');
    is((stat "$dir/html/s/lm/file")[9], $lm_time, 'Last-Modified: the mtime is its time');
}

# --- nothing is stored ---
{
    # HEAD: the origin's answer has no body; with a Content-Length it does not match
    my $r = $t->http($port, "HEAD /s/lm/head HTTP/1.0\r\nHost: front.test\r\n\r\n") // '';
    like($r, qr{^HTTP/1\.1 200 }, 'HEAD: 200');
    ok(!-e "$dir/html/s/lm/head", 'HEAD: no file');
    # without Content-Length nginx 1.22 stores an empty file (and would so empty a stored
    # one); sluice stores nothing for a HEAD
    $r = $t->http($port, "HEAD /s/headnolen HTTP/1.0\r\nHost: front.test\r\n\r\n") // '';
    like($r, qr{^HTTP/1\.1 200 }, 'HEAD without Content-Length: 200');
    if ($t->binary !~ /nginx/) {
        ok(!-e "$dir/html/s/headnolen", 'HEAD without Content-Length: no file (sluice)');
    }
}
{
    my ($st) = get('/s/missing');
    is($st, '404', '404 passed on');
    ok(!-e "$dir/html/s/missing", '404: no file');
}
{
    get('/s/trunc');
    ok(!-e "$dir/html/s/trunc", 'Content-Length cut short: no file');
    get('/s/chunktrunc');
    ok(!-e "$dir/html/s/chunktrunc", 'chunked cut short: no file');
}
{
    my ($st, $b) = get('/nb/file');
    is($b, $body, 'proxy_buffering off: the body');
    ok(!-e "$dir/html/nb/file", 'proxy_buffering off: nothing stored');
    get('/off/file');
    ok(!-e "$dir/html/off/file", 'proxy_store off: nothing stored');
}

# --- a slow response: the target is absent until it is complete ---
{
    my $id = 'poll';
    my $s = $t->connect($port) or die;
    print $s "GET /s/slow?id=$id HTTP/1.0\r\nHost: front.test\r\n\r\n";
    ok($t->wait_for(sub { -e "$dir/sent-$id" }, 10), 'slow: the first piece is sent');
    # the client gets the first piece while the rest is awaited (it streams), all but a
    # partly filled buffer (nginx passes one on only once full, or at the end)
    my $r = '';
    my $first = sub { $r =~ /\r\n\r\n/ && length($r) - $+[0] >= length($piece) - 4096 };
    while (!$first->()) { sysread($s, $r, 65536, length $r) or last; }
    ok($first->(), 'slow: the first piece reached the client');
    my $partial = 0;
    for (1 .. 20) {
        $partial++ if -e "$dir/html/s/slow";
        select(undef, undef, undef, 0.01);
    }
    if ($t->binary !~ /nginx/) {
        # sluice: the temp file is anonymous, nothing is named under proxy_temp meanwhile
        my @named = grep { -f } glob("$dir/proxy_temp/*");
        is(scalar @named, 0, 'slow: no named temp file while streaming (sluice)');
    }
    touch("go-$id");
    $r .= $t->read_all($s, 20);
    close $s;
    my ($h, $b) = split /\r\n\r\n/, $r, 2;
    is(length($b // ''), $slow_len, 'slow: the whole body to the client');
    is($partial, 0, 'slow: no file while the response streams');
    is(-s "$dir/html/s/slow", $slow_len, 'slow: complete once done');
}

# --- a client that leaves mid-body: the store goes on ---
{
    my $id = 'abort';
    my $s = $t->connect($port) or die;
    print $s "GET /s/slow2?id=$id HTTP/1.0\r\nHost: front.test\r\n\r\n";
    my $got = '';
    while ($got !~ /\r\n\r\n./s) { sysread($s, $got, 65536, length $got) or last; }
    ok(length $got, 'abort: some of the body came');
    close $s;
    select(undef, undef, undef, 0.2);
    touch("go-$id");
    ok($t->wait_for(sub { (-s "$dir/html/s/slow2" // 0) == $slow_len }, 10),
       'abort: the file is stored all the same');
}

# --- a client that stops reading: send_timeout does not stop the store either ---
{
    my $s = $t->connect($port) or die;
    print $s "GET /t/big?id=tmo HTTP/1.0\r\nHost: front.test\r\n\r\n";
    ok($t->wait_for(sub { $t->error_log =~ /client timed out/ }, 20), 'client timed out: logged');
    ok(!-e "$dir/html/t/big", 'client timed out: not stored while the upstream is not done');
    touch('go-tmo');
    ok($t->wait_for(sub { (-s "$dir/html/t/big" // 0) == $big_len }, 20),
       'client timed out: the file is stored all the same');
    close $s;
}

$t->done_testing;
