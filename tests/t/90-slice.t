# (validated: this file passes with SLUICE_BINARY=/usr/sbin/nginx, Debian's nginx 1.22)
# The slice module, as an operator sees it: a scripted origin that serves byte ranges and
# records every Range it is asked for, behind "slice" with "proxy_set_header Range
# $slice_range":
# - a whole GET is fetched slice by slice and reaches the client as one 200;
# - a client range inside one slice costs one upstream request; one crossing slices costs
#   the slices it touches, and the client gets a 206 of exactly its bytes;
# - with proxy_cache keyed by $slice_range the pieces are cached: the second request (whole
#   or a range) is served without the origin;
# - an origin that ignores Range (200) is passed on whole, without slicing;
# - an origin whose ETag changes between slices: the response ends truncated (connection
#   closed) and the error log says "etag mismatch in slice response", as nginx.
use strict;
use warnings;
use Test::More;
use Sluice qw(status_of body_of head_of header_of);
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;

my $letters = join '', 'a' .. 'z';
my $big = '0123456789' x 500;

# The object at a path, and its ETag (the "etag" object changes after its first request).
sub object {
    my ($path, $seen) = @_;
    return ($letters, '"L"') if $path =~ m{^/obj};
    return ($letters, undef) if $path =~ m{^/norange};
    return ($big, $seen ? '"v2"' : '"v1"') if $path =~ m{^/etag};
    return ($big, '"B"');
}

sub origin {
    my ($c) = @_;
    my $req = Origin::read_head($c) // return;
    my ($path) = $req =~ m{^GET (\S+)};
    my ($range) = $req =~ /^Range: bytes=(\d+-\d+)\r?$/mi;
    my $log = "$dir/origin.log";
    my $seen = -e $log ? () = $t->read_file('origin.log') =~ /^\Q$path\E /mg : 0;
    open(my $fh, '>>', $log) or die;
    print $fh "$path " . ($range // '-') . "\n";
    close $fh;
    my ($body, $etag) = object($path, $seen);
    my $head = "HTTP/1.1 200 OK\r\n";
    if (defined $range && $path !~ m{^/norange}) {
        my ($from, $to) = split /-/, $range;
        $to = length($body) - 1 if $to > length($body) - 1;
        $head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes $from-$to/" . length($body)
              . "\r\n";
        $body = substr($body, $from, $to - $from + 1);
    }
    $head .= "ETag: $etag\r\n" if defined $etag;
    Origin::write_all($c, $head . "Content-Length: " . length($body)
                      . "\r\nConnection: close\r\n\r\n" . $body);
}

my $origin = Origin::scripted(port => $origin_port, lifetime => 30, handler => \&origin);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    proxy_cache_path $dir/cache keys_zone=slices:1m;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /s/ {
            slice 4;
            proxy_pass http://127.0.0.1:$origin_port/;
            proxy_set_header Range \$slice_range;
        }
        location /c/ {
            slice 4;
            proxy_pass http://127.0.0.1:$origin_port/;
            proxy_set_header Range \$slice_range;
            proxy_cache slices;
            proxy_cache_key \$uri\$is_args\$args\$slice_range;
            proxy_cache_valid 200 206 1h;
            add_header X-Cache \$upstream_cache_status;
        }
        location /big/ {
            slice 2k;
            proxy_pass http://127.0.0.1:$origin_port/;
            proxy_set_header Range \$slice_range;
        }
    }
}
EOF
$t->start;

# The ranges the origin was asked for at $path since the last call.
my %asked;
sub asked {
    my ($path) = @_;
    my @all = -e "$dir/origin.log" ? $t->read_file('origin.log') =~ /^\Q$path\E (\S+)$/mg : ();
    my @new = @all[($asked{$path} // 0) .. $#all];
    $asked{$path} = @all;
    return join ' ', @new;
}

like(scalar `${\ $t->binary} -V 2>&1`, qr/--with-http_slice_module/, '-V announces the module');

{
    my $r = $t->get_close($port, '/s/obj');
    is(status_of($r), '200', 'a whole GET: 200');
    is(body_of($r), $letters, 'the whole object, in order');
    is(header_of($r, 'Content-Length'), '26', 'its whole length');
    is(header_of($r, 'Content-Range'), undef, 'no Content-Range');
    is(header_of($r, 'ETag'), '"L"', 'the origin\'s ETag');
    is(asked('/obj'), '0-3 4-7 8-11 12-15 16-19 20-23 24-27', 'fetched slice by slice');
}
{
    my $r = $t->get_close($port, '/s/obj', 'Range: bytes=5-6');
    is(status_of($r), '206', 'a range inside one slice: 206');
    is(header_of($r, 'Content-Range'), 'bytes 5-6/26', 'its Content-Range');
    is(body_of($r), 'fg', 'its bytes');
    is(asked('/obj'), '4-7', 'one upstream request, for the slice holding it');
}
{
    my $r = $t->get_close($port, '/s/obj', 'Range: bytes=6-13');
    is(status_of($r), '206', 'a range crossing slices: 206');
    is(header_of($r, 'Content-Range'), 'bytes 6-13/26', 'its Content-Range');
    is(body_of($r), 'ghijklmn', 'its bytes, across the pieces');
    is(asked('/obj'), '4-7 8-11 12-15', 'only the slices it touches');
}
{
    my $r = $t->get_close($port, '/s/obj', 'Range: bytes=-3');
    is(body_of($r), 'xyz', 'a suffix range');
    is(header_of($r, 'Content-Range'), 'bytes 23-25/26', 'its Content-Range');
}
{
    my $r = $t->get_close($port, '/c/obj?k=1');
    is(body_of($r), $letters, 'cached location: the whole object');
    is(header_of($r, 'X-Cache'), 'MISS', 'a miss');
    is(asked('/obj?k=1'), '0-3 4-7 8-11 12-15 16-19 20-23 24-27', 'every slice fetched once');
    $r = $t->get_close($port, '/c/obj?k=1');
    is(body_of($r), $letters, 'the second request: the whole object again');
    is(header_of($r, 'X-Cache'), 'HIT', 'a hit');
    $r = $t->get_close($port, '/c/obj?k=1', 'Range: bytes=9-17');
    is(body_of($r), 'jklmnopqr', 'a range from the cached pieces');
    is(asked('/obj?k=1'), '', 'served without the origin');
    my @files = glob("$dir/cache/*");
    is(scalar @files, 7, 'one cache entry per slice');
}
{
    my $r = $t->get_close($port, '/s/norange', 'Range: bytes=2-4');
    is(status_of($r), '200', 'an origin that ignores Range: its 200 is passed on');
    is(body_of($r), $letters, 'whole (a proxied 200 without Accept-Ranges is not cut)');
    is(asked('/norange'), '0-3', 'one request, no slicing');
}
{
    my $r = $t->get_close($port, '/big/etag');
    is(status_of($r), '200', 'ETag changes mid-way: the header went out');
    is(header_of($r, 'Content-Length'), '5000', 'announcing the whole length');
    is(length(body_of($r)), 2048, 'the body stops after the first slice (truncated, closed)');
    like($t->error_log, qr/\[error\].*etag mismatch in slice response/, 'logged as nginx');
    is(asked('/etag'), '0-2047 2048-4095', 'no slice asked after the mismatch');
}
{
    my $r = $t->get_close($port, '/big/b', 'Range: bytes=2040-2059');
    is(body_of($r), substr($big, 2040, 20), 'a range across a 2k slice boundary');
}

$t->check_fds;
$t->done_testing;
Origin::stop_scripted($origin);
