# $upstream_cookie_NAME and $upstream_trailer_NAME.  A cookie is read from the upstream's
# Set-Cookie lines: the first line whose first pair has the name (in any case) gives it;
# blanks around the name and after '=' are skipped, the value runs to ';'; a pair without
# '=' gives nothing; proxy_hide_header Set-Cookie does not hide it from the variable.  The
# upstream's chunked trailer is dropped, neither sent to the client nor kept for
# $upstream_trailer_NAME (nginx 1.22 fills those only for gRPC).
#
# Expected bytes and log lines were first observed with Debian's nginx 1.22.1; the test
# also passes with SLUICE_BINARY=/usr/sbin/nginx.
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

my $cookies = "Set-Cookie: a=1; Path=/\r\nSet-Cookie: B=two\r\nSet-Cookie: c = three ; HttpOnly\r\n"
    . "Set-Cookie: d=4; e=5\r\nSet-Cookie: a=second\r\nSet-Cookie: f=\r\nSet-Cookie: g\r\n"
    . "Set-Cookie: h=\"q v\"\r\nSet-Cookie: ;i=9\r\n";

Origin::scripted(port => $origin_port, lifetime => 10, handler => sub {
    my ($c) = @_;
    if (Origin::read_head($c) =~ m{^GET /cookies}) {
        print $c "HTTP/1.1 200 OK\r\n${cookies}Content-Length: 2\r\nConnection: close\r\n\r\nok";
    } else {
        print $c "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n"
            . "Connection: close\r\n\r\n2\r\nok\r\n0\r\nX-T: tv\r\nX-U: uv\r\n\r\n";
    }
});
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format v '\$uri a=[\$upstream_cookie_a] b=[\$upstream_cookie_b] B=[\$upstream_cookie_B] '
                 'c=[\$upstream_cookie_c] d=[\$upstream_cookie_d] e=[\$upstream_cookie_e] '
                 'f=[\$upstream_cookie_f] g=[\$upstream_cookie_g] h=[\$upstream_cookie_h] '
                 'i=[\$upstream_cookie_i] zz=[\$upstream_cookie_zz] '
                 't=[\$upstream_trailer_x_t] u=[\$upstream_trailer_X_U]';
    access_log logs/access.log v;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /cookies {
            add_header X-V "a=[\$upstream_cookie_a] B=[\$upstream_cookie_B] c=[\$upstream_cookie_c]";
            proxy_pass http://127.0.0.1:$origin_port;
        }
        location /hide/ { proxy_hide_header Set-Cookie; proxy_pass http://127.0.0.1:$origin_port/cookies; }
        location /trailer { proxy_http_version 1.1; proxy_pass http://127.0.0.1:$origin_port; }
        location /trailernb {
            proxy_buffering off; proxy_http_version 1.1;
            proxy_pass http://127.0.0.1:$origin_port/trailer;
        }
        location /none { return 200 "c=[\$upstream_cookie_a] t=[\$upstream_trailer_x]\\n"; }
    }
}
EOF
$t->start;

sub get {
    my ($uri) = @_;
    my $r = $t->http($port, "GET $uri HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") // '';
    $r =~ s/^(?:Date|Server|Content-Type): [^\r]*\r\n//mg;
    return $r;
}

is(get('/cookies'), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n${cookies}"
   . "X-V: a=[1] B=[two] c=[three ]\r\n\r\nok", 'cookies in add_header');
is(get('/hide/'), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
   'proxy_hide_header Set-Cookie');
my $chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
    . "Trailer: X-T\r\n\r\n2\r\nok\r\n0\r\n\r\n";
is(get('/trailer'), $chunked, 'buffered: the trailer is not passed on');
is(get('/trailernb'), $chunked, 'unbuffered: the trailer is not passed on');
is(get('/none'), "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nc=[] t=[]\n",
   'without an upstream: empty');

my $found = 'a=[1] b=[two] B=[two] c=[three ] d=[4] e=[-] f=[] g=[-] h=[\x22q v\x22] i=[-] '
    . 'zz=[-] t=[-] u=[-]';
my $none = 'a=[-] b=[-] B=[-] c=[-] d=[-] e=[-] f=[-] g=[-] h=[-] i=[-] zz=[-] t=[-] u=[-]';
my @log = ("/cookies $found", "/hide/ $found", "/trailer $none", "/trailernb $none",
           "/none $none");
$t->wait_for(sub { (($t->read_file('logs/access.log') // '') =~ tr/\n//) >= @log }, 5);
is_deeply([split /\n/, $t->read_file('logs/access.log') // ''], \@log, 'access log: the variables');

is($t->stop, 0, 'graceful stop');
$t->done_testing;
