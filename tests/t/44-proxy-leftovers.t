# Proxy leftovers of issue #7, compared side by side with Debian's nginx 1.22.1:
# - X-Accel-Limit-Rate next to X-Accel-Redirect: the rate holds for the redirected
#   response (a proxied one, one whose location sets limit_rate, a static file); the
#   second upstream's own X-Accel-Limit-Rate replaces it.  Seen through $limit_rate.
# - a POST (or a chunked PUT) redirected by X-Accel-Redirect to a proxied location: the
#   second upstream gets GET with the original body, its Content-Length and Content-Type.
# - upstream hop-by-hop headers: Trailer, TE, Proxy-Connection and Upgrade (on a 200) are
#   passed; Keep-Alive (like Connection and Transfer-Encoding) is not.
# - the upstream's status line is relayed as it came: its reason ("200 Okay", "302 Found",
#   "404 Nope" from HTTP/1.0, "600 Big", a tab inside), none ("200"), an empty one ("200 ").
#
# Validated against Debian's nginx 1.22.1: every expected response (Date and Server aside),
# log line and upstream request below is what it produced.  To rerun:
#   SLUICE_BINARY=/usr/sbin/nginx prove -v -I tests/t/lib tests/t/44-proxy-leftovers.t
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX ();
use Sluice;
use Origin;

my $t = Sluice->new;
my $origin_port = $t->port(2);
my $events = $t->prefix . '/origin.events';
my %script = (
    '/xlr'  => "HTTP/1.1 200 OK\r\nX-Accel-Redirect: /p2/t\r\nX-Accel-Limit-Rate: 123456\r\nContent-Length: 0\r\n\r\n",
    '/xlr3' => "HTTP/1.1 200 OK\r\nX-Accel-Redirect: /p3/t\r\nX-Accel-Limit-Rate: 123456\r\nContent-Length: 0\r\n\r\n",
    '/xlr4' => "HTTP/1.1 200 OK\r\nX-Accel-Redirect: /p2/lr\r\nX-Accel-Limit-Rate: 123456\r\nContent-Length: 0\r\n\r\n",
    '/xlrs' => "HTTP/1.1 200 OK\r\nX-Accel-Redirect: /s.txt\r\nX-Accel-Limit-Rate: 123456\r\nContent-Length: 0\r\n\r\n",
    '/lr'   => "HTTP/1.1 200 OK\r\nX-Accel-Limit-Rate: 7777\r\nContent-Length: 3\r\n\r\nlr\n",
    '/xp'   => "HTTP/1.1 200 OK\r\nX-Accel-Redirect: /p2/echo\r\nContent-Length: 0\r\n\r\n",
    '/hop'  => "HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTE: trailers\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Z: z\r\nContent-Length: 3\r\n\r\nab\n",
    '/s1'   => "HTTP/1.1 200 Okay\r\nContent-Length: 3\r\n\r\nab\n",
    '/s2'   => "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 3\r\n\r\nab\n",
    '/s3'   => "HTTP/1.1 200\r\nContent-Length: 3\r\n\r\nab\n",
    '/s4'   => "HTTP/1.1 200 \r\nContent-Length: 3\r\n\r\nab\n",
    '/s5'   => "HTTP/1.1 299 Whatever Man\r\nContent-Length: 3\r\n\r\nab\n",
    '/s6'   => "HTTP/1.0 404 Nope\r\nContent-Length: 3\r\n\r\nab\n",
    '/s7'   => "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nab\n",
    '/s8'   => "HTTP/1.1 200 OK\tx\r\nContent-Length: 3\r\n\r\nab\n",
    '/s9'   => "HTTP/1.1 200 Okay\nContent-Length: 3\n\nab\n",
    '/s10'   => "HTTP/1.1 299\r\nContent-Length: 3\r\n\r\nab\n",
    '/s11'   => "HTTP/1.1 600 Big\r\nContent-Length: 3\r\n\r\nab\n",
    '/s14'   => "HTTP/1.1 404 Gone Away\r\nContent-Length: 3\r\n\r\nab\n",
    '/s15'   => "HTTP/1.1 304 NM\r\nETag: \"e\"\r\n\r\n",
);
sub event {
    open(my $fh, '>>', $events) or return;
    print $fh "@_\n";
    close $fh;
}

# One request per connection; each logged with its head and body.
Origin::scripted(port => $origin_port, lifetime => 30, handler => sub {
    my ($c) = @_;
    my $req = Origin::read_head($c);
    my ($head) = $req =~ /^(.*?)\r\n\r\n/s;
    my ($len) = $head =~ /\r\ncontent-length:\s*(\d+)/i;
    while (length($req) < length($head) + 4 + ($len // 0)) { sysread($c, $req, 65536, length $req) or last; }
    my ($m, $path) = $req =~ m{^(\S+) (\S+)};
    my $body = substr($req, length($head) + 4);
    (my $hh = $head) =~ s/\r\n/|/g;
    event("$hh BODY[$body]");
    my $eb = "echo $m $path\n";
    print $c $script{$path} // "HTTP/1.1 200 OK\r\nContent-Length: " . length($eb) . "\r\n\r\n$eb";
});
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die;
$t->write_file('html/s.txt', "static\n");
$t->write_config(<<"EOF2");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    log_format lr '\$uri|\$limit_rate|\$status';
    server {
        listen 127.0.0.1:%%PORT_1%%;
        root %%PREFIX%%/html;
        access_log logs/lr.log lr;
        location /p/ { proxy_pass http://127.0.0.1:$origin_port/; }
        location /p2/ { proxy_pass http://127.0.0.1:$origin_port/; }
        location /p3/ { limit_rate 7k; proxy_pass http://127.0.0.1:$origin_port/; }
        location = /s.txt { }
    }
}
EOF2
$t->start;
my $port = $t->port(1);
sub req {
    my ($r) = @_;
    my $x = $t->http($port, $r) // '';
    $x =~ s/^(Date|Server): [^\r]*\r\n//mg;
    return $x;
}
sub get { req("GET $_[0] HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") }

my $r200 = "Content-Length: 3\r\nConnection: close\r\n\r\nab\n";
is(get('/p/xlr'), "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\necho GET /t\n",
   'X-Accel-Limit-Rate with X-Accel-Redirect: the redirected response');
get('/p/xlr3');
is(get('/p/xlr4'), "HTTP/1.1 200 OK\r\n$r200" =~ s/ab\n/lr\n/r, 'the second upstream');
like(get('/p/xlrs'), qr{^HTTP/1.1 200 OK\r\n.*\r\n\r\nstatic\n\z}s, 'redirected to a file');

is(get('/p/hop'), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\nTrailer: X-T\r\n"
   . "TE: trailers\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Z: z\r\n\r\nab\n",
   'hop-by-hop headers: Keep-Alive hidden, the others passed');

my %line = ('/s1' => '200 Okay', '/s3' => '200', '/s4' => '200 ', '/s5' => '299 Whatever Man',
            '/s6' => '404 Nope', '/s7' => '404 Not Found', '/s8' => "200 OK\tx", '/s9' => '200 Okay',
            '/s10' => '299', '/s11' => '600 Big', '/s14' => '404 Gone Away');
for my $s (sort keys %line) {
    is(get("/p$s"), "HTTP/1.1 $line{$s}\r\n$r200", "status line $line{$s}");
}
is(get('/p/s2'), "HTTP/1.1 302 Found\r\n$r200" =~ s/\r\n\r\n/\r\nLocation: \/x\r\n\r\n/r,
   'status line 302 Found');
is(get('/p/s15'), "HTTP/1.1 304 NM\r\nConnection: close\r\nETag: \"e\"\r\n\r\n", 'status line 304 NM');
is(req("GET /p/s1 HTTP/1.0\r\nHost: x\r\n\r\n"), "HTTP/1.1 200 Okay\r\n$r200", 'to an HTTP/1.0 client');
is(req("HEAD /p/s1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
   "HTTP/1.1 200 Okay\r\nContent-Length: 3\r\nConnection: close\r\n\r\n", 'HEAD');

my $echo = "HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\necho GET /echo\n";
is(req("POST /p/xp HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n"
       . "Connection: close\r\n\r\nhello"), $echo, 'POST redirected');
is(req("PUT /p/xp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
       . "5\r\nhello\r\n0\r\n\r\n"), $echo, 'chunked PUT redirected');
$t->stop;

my @log = split /\n/, $t->read_file('logs/lr.log');
is_deeply([@log[0 .. 3]], ['/p2/t|123456|200', '/p3/t|123456|200', '/p2/lr|7777|200', '/s.txt|123456|200'],
          '$limit_rate after the redirects');

(my $ev = $t->read_file('origin.events')) =~ s/Host: [^|]*\|//g;
my @ev = grep { /echo|\/xp/ } split /\n/, $ev;
is_deeply(\@ev, [
    'POST /xp HTTP/1.0|Connection: close|Content-Length: 5|Content-Type: text/plain BODY[hello]',
    'GET /echo HTTP/1.0|Connection: close|Content-Length: 5|Content-Type: text/plain BODY[hello]',
    'PUT /xp HTTP/1.0|Connection: close|Content-Length: 5 BODY[hello]',
    'GET /echo HTTP/1.0|Connection: close|Content-Length: 5 BODY[hello]',
], 'the body goes to the second upstream again, the method made GET');
$t->done_testing;
