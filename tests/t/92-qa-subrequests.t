# (validated: this file passes with SLUICE_BINARY=/usr/sbin/nginx, Debian's nginx 1.22)
# Differences found by running sluice and nginx 1.22 side by side on the subrequest
# features (slice, auth_request, mirror), each checked here as an operator sees it:
# - slice: a HEAD, and a GET answered 304 (If-None-Match), send no body and fetch no
#   further slice; on a keepalive connection the next response follows intact;
# - $request_method in an auth_request subrequest is the client's method (HEAD, POST), as
#   the "X-Original-Method" header of SSO setups expects;
# - error_page with variables: "error_page 401 =302 https://login/?rd=$scheme://$host..."
#   (the Authelia pattern) sends the evaluated URL; a uri with variables too;
# - the built-in 401 page says "401 Authorization Required", as nginx's;
# - an error_page URL replaces a Location set before (return 302), as nginx;
# - $pipe ("p" for a pipelined request, else "."), which access_log formats use;
# - open_log_file_cache (access_log paths with variables keep their files open);
# - mirror_request_body off: the copy goes without the client's Content-Length (nginx sends
#   it with no body, and the mirror waits for one: sluice differs on purpose, see
#   docs/directives.md).
use strict;
use warnings;
use Test::More;
use Sluice qw(status_of body_of head_of header_of);
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;

my $big = join '', map { sprintf "%09d\n", $_ } 0 .. 999;    # 10000 bytes

sub log_request {
    my ($line) = @_;
    open(my $fh, '>>', "$dir/origin.log") or die;
    print $fh "$line\n";
    close $fh;
}

sub origin {
    my ($c) = @_;
    my $req = Origin::read_head($c) // return;
    my ($method, $uri) = $req =~ m{^(\w+) (\S+)};
    my ($range) = $req =~ /^Range: bytes=(\d+-\d+)\r?$/mi;
    my ($orig) = $req =~ /^X-Original-Method: (\S+)\r?$/mi;
    my ($len) = $req =~ /^Content-Length: (\d+)\r?$/mi;
    log_request("$method $uri range=" . ($range // '-') . ' orig=' . ($orig // '-')
                . ' cl=' . ($len // '-'));
    my $head = "HTTP/1.1 200 OK\r\n";
    my $body = "APP $method $uri";
    if ($uri =~ m{^/obj}) {
        $body = $big;
        $head .= "ETag: \"E1\"\r\n";
        if (defined $range) {
            my ($from, $to) = split /-/, $range;
            $to = length($big) - 1 if $to > length($big) - 1;
            $head = "HTTP/1.1 206 Partial Content\r\nETag: \"E1\"\r\n"
                  . "Content-Range: bytes $from-$to/" . length($big) . "\r\n";
            $body = substr($big, $from, $to - $from + 1);
        }
    } elsif ($uri =~ m{^/auth/deny}) {
        $head = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"r\"\r\n";
        $body = 'denied';
    } elsif ($uri =~ m{^/auth/}) {
        $body = '';
    }
    Origin::write_all($c, $head . 'Content-Length: ' . length($body)
                      . "\r\nConnection: close\r\n\r\n" . $body);
}

my $origin = Origin::scripted(port => $origin_port, lifetime => 30, handler => \&origin);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    proxy_cache_path $dir/cache keys_zone=z:1m;
    log_format pipe '\$uri \$pipe';
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /obj/ {
            slice 4000;
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_set_header Range \$slice_range;
            proxy_cache z;
            proxy_cache_key \$uri\$slice_range;
            proxy_cache_valid 200 206 1h;
        }
        location /app/ {
            auth_request /auth/ok;
            proxy_pass http://127.0.0.1:$origin_port;
        }
        location /sso/ {
            auth_request /auth/deny;
            error_page 401 =302 http://login.example/?rd=\$scheme://\$host\$request_uri;
            proxy_pass http://127.0.0.1:$origin_port;
        }
        location /sso-uri/ {
            auth_request /auth/deny;
            error_page 401 /signin/\$arg_app;
            proxy_pass http://127.0.0.1:$origin_port;
        }
        location /signin/ {
            proxy_pass http://127.0.0.1:$origin_port;
        }
        location /basic/ {
            auth_request /auth/deny;
            proxy_pass http://127.0.0.1:$origin_port;
        }
        location /auth/ {
            internal;
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method \$request_method;
        }
        location /twice {
            error_page 302 http://login.example/;
            return 302 "first";
        }
        location /cl {
            open_log_file_cache max=2 min_uses=2;
            access_log $dir/cl/\$arg_n.log pipe;
            return 200 "cl";
        }
        location /pipe {
            access_log $dir/pipe.log pipe;
            return 200 "pipe";
        }
        location /m/ {
            mirror /mirror;
            mirror_request_body off;
            proxy_pass http://127.0.0.1:$origin_port;
        }
        location = /mirror {
            internal;
            proxy_pass http://127.0.0.1:$origin_port/copy;
        }
    }
}
EOF
$t->start;

sub origin_lines { return grep { length } split /\n/, ($t->read_file('origin.log') // ''); }

sub since {
    my ($n) = @_;
    my @l = origin_lines();
    return @l[$n .. $#l];
}

# A bodiless response and the one after it on the connection: the second starts right
# where the first's head ends.
sub split_bodiless {
    my ($r) = @_;
    my ($head, $rest) = split /\r\n\r\n/, $r, 2;
    return ("$head\r\n\r\n", $rest // '');
}

# slice: HEAD on a keepalive connection, then a GET of five bytes.
{
    my $n = origin_lines();
    my $r = $t->http($port, "HEAD /obj/h HTTP/1.1\r\nHost: h\r\n\r\n"
                     . "GET /obj/h HTTP/1.1\r\nHost: h\r\nRange: bytes=0-4\r\n"
                     . "Connection: close\r\n\r\n") // '';
    my ($first, $second) = split_bodiless($r);
    is(status_of($first), '200', 'slice HEAD: 200');
    is(header_of($first, 'Content-Length'), '10000', 'slice HEAD: the whole length');
    is(status_of($second), '206', 'slice HEAD: no body, the next response follows the head');
    is(body_of($second), '00000', 'slice HEAD: the next response is intact');
    is_deeply([since($n)], ['GET /obj/h range=0-3999 orig=- cl=-'],
              'slice HEAD: one slice fetched (for the cache), no further');
}

# slice: a 304 (the cached first slice's ETag matches).
{
    my $r = $t->http($port, "GET /obj/h HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"E1\"\r\n\r\n"
                     . "GET /obj/h HTTP/1.1\r\nHost: h\r\nRange: bytes=9995-\r\n"
                     . "Connection: close\r\n\r\n") // '';
    my ($first, $second) = split_bodiless($r);
    is(status_of($first), '304', 'slice If-None-Match: 304');
    is(status_of($second), '206', 'slice 304: no body, the next response follows the head');
    is(body_of($second), "0999\n", 'slice 304: the next response is intact');
}

# $request_method in the auth subrequest.
{
    my $n = origin_lines();
    is(status_of($t->http($port, "HEAD /app/x HTTP/1.0\r\nHost: h\r\n\r\n")), '200', 'a HEAD through auth_request');
    is(status_of($t->http($port, "POST /app/y HTTP/1.0\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")),
       '200', 'a POST through auth_request');
    my @l = since($n);
    is_deeply([grep { m{^GET /auth/} } @l],
              ['GET /auth/ok range=- orig=HEAD cl=-', 'GET /auth/ok range=- orig=POST cl=-'],
              'the auth subrequest is a GET; $request_method there is the client\'s method');
}

# error_page with variables after an auth_request 401.
{
    my $r = $t->http($port, "GET /sso/page?a=1 HTTP/1.0\r\nHost: app.example\r\n\r\n");
    is(status_of($r), '302', 'error_page 401 =302 URL');
    is(header_of($r, 'Location'), 'http://login.example/?rd=http://app.example/sso/page?a=1',
       'error_page: the URL\'s variables evaluated');
    $r = $t->http($port, "GET /sso-uri/p?app=wiki HTTP/1.0\r\nHost: h\r\n\r\n");
    is(status_of($r), '401', 'error_page 401 uri: the status kept');
    is(body_of($r), 'APP GET /signin/wiki', 'error_page: the uri\'s variables evaluated');
}

# The 401 page.
{
    my $r = $t->http($port, "GET /basic/x HTTP/1.0\r\nHost: h\r\n\r\n");
    is(status_of($r), '401', 'a 401 from the auth origin');
    like(head_of($r), qr{^HTTP/1\.1 401 Unauthorized\r\n}, 'the status line: Unauthorized');
    like(body_of($r), qr{<title>401 Authorization Required</title>}, 'the page\'s title as nginx');
    is(header_of($r, 'WWW-Authenticate'), 'Basic realm="r"', 'the auth origin\'s challenge');
}

# error_page URL after a redirect of the location's own: one Location, error_page's.
{
    my $r = $t->http($port, "GET /twice HTTP/1.0\r\nHost: h\r\n\r\n");
    is(status_of($r), '302', 'error_page 302 URL after return 302');
    my @loc = head_of($r) =~ /^Location: ([^\r]*)\r$/mg;
    is_deeply(\@loc, ['http://login.example/'], 'the earlier Location deleted, as nginx');
}

# $pipe: "p" for a request read with the one before it.
{
    $t->http($port, "GET /pipe HTTP/1.1\r\nHost: h\r\n\r\n"
             . "GET /pipe HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    $t->wait_for(sub { ($t->read_file('pipe.log') // '') =~ tr/\n// >= 2 }, 10);
    is($t->read_file('pipe.log'), "/pipe .\n/pipe p\n", '$pipe: ".", then "p" when pipelined');
}

# open_log_file_cache: a file used min_uses times stays open (its lines follow it when it
# is moved); one used once is opened per line.
{
    mkdir "$dir/cl";
    mkdir "$dir/html";
    $t->http_get($port, "/cl?n=$_") for qw(kept kept once);
    rename "$dir/cl/kept.log", "$dir/cl/kept.moved";
    rename "$dir/cl/once.log", "$dir/cl/once.moved";
    $t->http_get($port, "/cl?n=$_") for qw(kept once);
    is($t->read_file('cl/kept.moved'), "/cl .\n" x 3, 'open_log_file_cache: the open file kept');
    is($t->read_file('cl/once.log'), "/cl .\n", 'open_log_file_cache: below min_uses, reopened');
    # two new names take both entries (max=2): the least recently used go, closed
    $t->http_get($port, "/cl?n=$_") for qw(x1 x2);
    is(join(',', grep { m{/cl/} } values %{$t->fds}), '', 'open_log_file_cache: LRU closes');
}

# mirror_request_body off: the copy carries no body and no Content-Length.
SKIP: {
    skip 'nginx sends the client\'s Content-Length with no body', 2
        if $t->binary =~ /nginx/;
    my $n = origin_lines();
    my $r = $t->http($port, "POST /m/z HTTP/1.0\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
    is(body_of($r), 'APP POST /m/z', 'mirror_request_body off: the request answered');
    $t->wait_for(sub { grep { m{ /copy } } since($n) }, 10);
    is_deeply([grep { m{ /copy } } since($n)], ['POST /copy range=- orig=- cl=-'],
              'mirror_request_body off: no Content-Length on the bodiless copy');
}

$t->check_fds;
$t->done_testing;
Origin::stop_scripted($origin);
