# The proxy cache (proxy_cache_path, proxy_cache), with a master and two workers sharing
# one keys zone:
# - MISS, then HIT from whichever worker takes the connection, with the origin asked once;
#   EXPIRED once the validity has passed, then HIT on the refreshed copy;
# - the file lies at levels=1:2 under its MD5, and nothing else is left in the directory;
# - a HEAD is answered from the cache; a range of a cached response is the file's;
# - a chunked body is stored decoded and served with its length; a cut one is not stored;
# - crash safety: both workers killed with SIGKILL while a response is being written leave
#   no file for that key (nor any temp file), and the next request fetches and stores it;
# - proxy_cache_lock: of several parallel requests for a missing key, one goes upstream;
# - proxy_no_cache, Set-Cookie and Cache-Control: no-store keep a response out of the cache.
use strict;
use warnings;
use Test::More;
use Digest::MD5 qw(md5_hex);
use File::Find;
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;
my $slow_piece = 's' x 65536;
# the workers run as nobody when the tests run as root: they must reach the cache
chmod 0755, $dir;

sub touch { open(my $fh, '>', "$dir/$_[0]") or die; close $fh; }

sub wait_file {
    my ($name) = @_;
    for (1 .. 800) {
        return 1 if -e "$dir/$name";
        select(undef, undef, undef, 0.025);
    }
    return 0;
}

# One count per uri, kept in files (each connection is its own process).
sub count_for {
    my ($uri) = @_;
    (my $name = $uri) =~ s/\W/_/g;
    my $f = "$dir/count-$name";
    open(my $fh, '+>>', $f) or die;
    flock($fh, 2);
    seek($fh, 0, 0);
    my $n = <$fh> // 0;
    $n++;
    truncate($fh, 0);
    print $fh $n;
    close $fh;
    return $n;
}

sub origin_count {
    (my $name = $_[0]) =~ s/\W/_/g;
    open(my $fh, '<', "$dir/count-$name") or return 0;
    my $n = <$fh>;
    return $n // 0;
}

sub serve {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or return; }
    my ($method, $uri) = $req =~ m{^(\w+) (\S+) };
    my $n = count_for($uri);
    my $extra = '';
    if ($uri =~ m{^/slow}) {
        my $len = 8 * length $slow_piece;
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: $len\r\n\r\n$slow_piece");
        touch("sent-$n");
        wait_file("go-$n") or return;
        Origin::write_all($c, $slow_piece) for 2 .. 8;
        return;
    }
    if ($uri =~ m{^/chunked}) {
        return Origin::write_all($c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 . "5\r\nhello\r\n6\r\n chunk\r\n0\r\n\r\n");
    }
    if ($uri =~ m{^/cut}) {
        # Content-Length promises more than comes: never stored
        return Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
    }
    select(undef, undef, undef, 0.5) if $uri =~ m{^/lock};
    $extra = "Set-Cookie: a=b\r\n" if $uri =~ m{cookie};
    $extra = "Cache-Control: no-store\r\n" if $uri =~ m{nostore};
    my $body = "body $uri $n";
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nAccept-Ranges: bytes\r\nContent-Length: " . length($body)
                      . "\r\n${extra}Connection: close\r\n\r\n$body");
}

Origin::scripted(port => $origin_port, lifetime => 30, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
daemon off;
master_process on;
worker_processes 2;
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    access_log off;
    proxy_temp_path %%PREFIX%%/proxy_temp;
    proxy_cache_path %%PREFIX%%/cache levels=1:2 keys_zone=z:1m use_temp_path=off;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        proxy_cache z;
        proxy_cache_valid 200 1h;
        add_header X-Cache \$upstream_cache_status always;
        location / { proxy_pass http://127.0.0.1:$origin_port; }
        location /short/ { proxy_pass http://127.0.0.1:$origin_port; proxy_cache_valid 200 1s; }
        location /lock/ { proxy_pass http://127.0.0.1:$origin_port; proxy_cache_lock on; }
        location /lockx/ {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_cache_lock on;
            proxy_cache_valid 200 1s;
        }
        location /nc/ { proxy_pass http://127.0.0.1:$origin_port; proxy_no_cache \$arg_nc; }
    }
}
EOF
$t->temp_paths('proxy_temp');
$t->allow_alerts(qr/exited on signal 9/);
$t->start;

sub get {
    my ($uri, $method, $extra) = @_;
    $method //= 'GET';
    $extra //= '';
    my $r = $t->http($port, "$method $uri HTTP/1.0\r\nHost: front.test\r\n$extra\r\n") // '';
    return (Sluice::status_of($r =~ s{^HTTP/1\.0}{HTTP/1.1}r), Sluice::header_of($r, 'X-Cache') // '',
            Sluice::body_of($r), $r);
}

sub files_in_cache {
    my @f;
    find({ wanted => sub { push @f, $File::Find::name if -f $_ }, no_chdir => 1 }, "$dir/cache")
        if -d "$dir/cache";
    return sort @f;
}

# --- MISS, then HIT in both workers ---
{
    my ($st, $x, $b) = get('/a');
    is("$st $x $b", '200 MISS body /a 1', 'first: MISS from the origin');
    my $hits = 0;
    for (1 .. 8) {
        my (undef, $x2, $b2) = get('/a');
        $hits++ if $x2 eq 'HIT' && $b2 eq 'body /a 1';
    }
    is($hits, 8, 'then HIT each time, whichever worker answers');
    is(origin_count('/a'), 1, 'the origin was asked once');
    my $md5 = md5_hex('http127.0.0.1:' . $origin_port . '/a');
    my $path = "$dir/cache/" . substr($md5, -1) . '/' . substr($md5, -3, 2) . "/$md5";
    ok(-f $path, 'the file is at levels=1:2 under the MD5 of the key');
    is_deeply([files_in_cache()], [$path], 'nothing else in the cache directory');

    my ($hst, $hx, $hb) = get('/a', 'HEAD');
    is("$hst $hx [$hb]", '200 HIT []', 'a HEAD is answered from the cache');
    my ($rst, $rx, $rb) = get('/a', 'GET', "Range: bytes=5-6\r\n");
    is("$rst $rx $rb", '206 HIT /a', 'a range of the cached response');
}

# --- EXPIRED, then HIT on the new copy ---
{
    my (undef, $x1, $b1) = get('/short/e');
    is("$x1 $b1", 'MISS body /short/e 1', 'short: MISS');
    select(undef, undef, undef, 2.2);
    my (undef, $x2, $b2) = get('/short/e');
    is("$x2 $b2", 'EXPIRED body /short/e 2', 'past its validity: EXPIRED, fetched again');
    my (undef, $x3, $b3) = get('/short/e');
    is("$x3 $b3", 'HIT body /short/e 2', 'the new copy is the one served');
}

# --- a chunked body is stored decoded; a cut one is not stored ---
{
    my (undef, $x1, $b1) = get('/chunked');
    is("$x1 $b1", 'MISS hello chunk', 'chunked: MISS');
    my (undef, $x2, $b2, $r2) = get('/chunked');
    is("$x2 $b2", 'HIT hello chunk', 'chunked: HIT, the decoded body');
    like($r2, qr/\r\nContent-Length: 11\r\n/, 'served with its length');
    get('/cut');
    my (undef, $x3) = get('/cut');
    is($x3, 'MISS', 'a body shorter than its Content-Length is not stored');
}

# --- not stored ---
{
    get('/nc/x?nc=1');
    my (undef, $x) = get('/nc/x');
    is($x, 'MISS', 'proxy_no_cache: the response was not stored');
    get('/cookie');
    is((get('/cookie'))[1], 'MISS', 'Set-Cookie: not stored');
    get('/nostore');
    is((get('/nostore'))[1], 'MISS', 'Cache-Control: no-store: not stored');
}

# --- the lock: one request goes upstream ---
{
    my @socks = map { $t->connect($port) } 1 .. 4;
    syswrite($_, "GET /lock/k HTTP/1.0\r\nHost: front.test\r\n\r\n") for @socks;
    my @bodies = map { Sluice::body_of($t->read_all($_)) } @socks;
    is_deeply(\@bodies, [('body /lock/k 1') x 4], 'every waiting request got the one response');
    is(origin_count('/lock/k'), 1, 'proxy_cache_lock: the origin was asked once');

    # an expired entry: one request refreshes it, the others wait and get the new copy
    is(Sluice::body_of($t->http($port, "GET /lockx/k HTTP/1.0\r\nHost: front.test\r\n\r\n")),
       'body /lockx/k 1', 'lock, expired: stored');
    select(undef, undef, undef, 2.2);
    @socks = map { $t->connect($port) } 1 .. 3;
    syswrite($_, "GET /lockx/k HTTP/1.0\r\nHost: front.test\r\n\r\n") for @socks;
    my @r = map { scalar $t->read_all($_) } @socks;
    is_deeply([map { Sluice::body_of($_) } @r], [('body /lockx/k 2') x 3],
              'lock, expired: every request got the refreshed copy');
    is(origin_count('/lockx/k'), 2, 'lock, expired: the origin was asked once more');
}

# --- crash safety: SIGKILL while the file is written ---
sub workers {
    my $master = $t->pid;
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open(my $fh, '<', $stat) or next;
        my $line = <$fh> // next;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        push @w, $pid if $ppid == $master;
    }
    return @w;
}

{
    my @before = files_in_cache();
    my $s = $t->connect($port);
    syswrite($s, "GET /slow HTTP/1.0\r\nHost: front.test\r\n\r\n");
    ok(wait_file('sent-1'), 'the slow response has started');
    sysread($s, my $buf, 4096);
    my @w = workers();
    ok(@w >= 2, 'two workers');
    kill 'KILL', @w;
    touch('go-1');
    close $s;
    ok($t->wait_for(sub { my @n = workers(); @n >= 2 && !grep { my $p = $_; grep { $_ == $p } @w } @n }, 10),
       'the master started new workers');
    is_deeply([files_in_cache()], \@before, 'no file, complete or partial, for the killed response');
    touch('go-2');
    my (undef, $x, $b) = get('/slow');
    is($x, 'MISS', 'the next request fetches it again');
    is(length $b, 8 * length $slow_piece, 'whole');
    my (undef, $x2, $b2) = get('/slow');
    is($x2 . ' ' . length $b2, 'HIT ' . 8 * length $slow_piece, 'and it is stored whole');
}

$t->done_testing;
