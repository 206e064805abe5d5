# (validated: this file passes with SLUICE_BINARY=/usr/sbin/nginx, Debian's nginx 1.22)
# auth_request fronting a location, with a scripted auth origin, as an SSO proxy uses it:
# - the auth origin's 2xx lets the request on, 403 denies, 401 answers 401 with the auth
#   origin's first WWW-Authenticate (nginx 1.22); any other status, or the auth origin down, is a 500 with
#   nginx's log line;
# - the auth subrequest gets the client's headers but no body, as a GET; the protected
#   request's own body still reaches its upstream;
# - auth_request_set copies $upstream_http_* of the auth answer into the request (here into
#   a header sent to the application);
# - auth_request off in an inner location; nothing left open.
use strict;
use warnings;
use Test::More;
use Sluice qw(status_of body_of head_of header_of);
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $auth_port = $t->port(2);
my $app_port = $t->port(3);
my $down_port = $t->port(4);
my $dir = $t->prefix;

sub auth {
    my ($c) = @_;
    my $req = Origin::read_head($c) // return;
    open(my $log, '>>', "$dir/auth.log") or die;
    print $log $req =~ s/\r\n\r\n.*//sr, "\n--\n";
    close $log;
    my ($token) = $req =~ /^X-Token: (\w+)/mi;
    $token //= 'none';
    my $head = {
        ok => "HTTP/1.1 204 No Content\r\nX-User: alice\r\n",
        deny => "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n",
        odd => "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n",
    }->{$token} // "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"x\"\r\n"
                  . "WWW-Authenticate: Basic realm=\"y\"\r\nContent-Length: 6\r\n";
    Origin::write_all($c, $head . "Connection: close\r\n\r\n" . ($head =~ /401/ ? 'denied' : ''));
}

sub app {
    my ($c) = @_;
    my $req = Origin::read_head($c) // return;
    my ($len) = $req =~ /^Content-Length: (\d+)/mi;
    my ($user) = $req =~ /^X-User: (\S+)/mi;
    my $body = $req =~ s/^.*?\r\n\r\n//sr;
    while (defined $len && length($body) < $len) {
        sysread($c, $body, 65536, length $body) or last;
    }
    my $out = 'APP user=' . ($user // '-') . ' body=' . $body;
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: " . length($out)
                      . "\r\nConnection: close\r\n\r\n$out");
}

my @origins = (Origin::scripted(port => $auth_port, lifetime => 30, handler => \&auth),
               Origin::scripted(port => $app_port, lifetime => 30, handler => \&app));
$t->wait_for(sub { $t->can_connect($auth_port) && $t->can_connect($app_port) }, 10)
    or die "origins did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / {
            auth_request /auth;
            auth_request_set \$user \$upstream_http_x_user;
            proxy_set_header X-User \$user;
            proxy_pass http://127.0.0.1:$app_port;
            location /public/ {
                auth_request off;
                proxy_pass http://127.0.0.1:$app_port;
            }
        }
        location /down/ {
            auth_request /auth-down;
            proxy_pass http://127.0.0.1:$app_port;
        }
        location = /auth {
            internal;
            proxy_pass http://127.0.0.1:$auth_port/check;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
        location = /auth-down {
            internal;
            proxy_pass http://127.0.0.1:$down_port/check;
        }
    }
}
EOF
$t->start;

sub req {
    my ($method, $uri, $token, $body) = @_;
    my $h = "$method $uri HTTP/1.0\r\nHost: h\r\n";
    $h .= "X-Token: $token\r\n" if defined $token;
    $h .= 'Content-Length: ' . length($body) . "\r\n" if defined $body;
    return $t->http($port, $h . "\r\n" . ($body // '')) // '';
}

{
    my $r = req('GET', '/app', 'ok');
    is(status_of($r), '200', 'a 2xx from the auth origin lets the request on');
    is(body_of($r), 'APP user=alice body=', 'auth_request_set: the auth answer\'s header');
}
is(status_of(req('GET', '/app', 'deny')), '403', 'a 403 denies');
{
    my $r = req('GET', '/app');
    is(status_of($r), '401', 'a 401 is the answer');
    my @auth = head_of($r) =~ /^WWW-Authenticate: (.*?)\r$/mg;
    is_deeply(\@auth, ['Bearer realm="x"'],
              'the 401 carries the auth origin\'s first WWW-Authenticate (as nginx 1.22)');
    unlike(body_of($r), qr/denied/, 'not the auth origin\'s body');
}
{
    my $r = req('GET', '/app', 'odd');
    is(status_of($r), '500', 'another status is a 500');
    like($t->error_log, qr/\[error\].*auth request unexpected status: 302/, 'logged as nginx');
}
is(status_of(req('GET', '/down/x', 'ok')), '500', 'the auth origin down: 500');
{
    my $r = req('POST', '/app', 'ok', 'payload');
    is(body_of($r), 'APP user=alice body=payload', 'the request\'s own body reaches its upstream');
    my @auths = split /\n--\n/, $t->read_file('auth.log');
    my $last = $auths[-1];
    like($last, qr{^GET /check HTTP/1\.[01]\r\n}, 'the auth subrequest is a GET');
    unlike($last, qr/payload|Content-Length: [1-9]/i, 'the auth subrequest carries no body');
    like($last, qr/^X-Token: ok\r?$/m, 'the auth subrequest has the client\'s headers');
}
{
    my $before = () = $t->read_file('auth.log') =~ /\n--\n/g;
    my $r = req('GET', '/public/p');
    is(status_of($r), '200', 'auth_request off inside');
    my $after = () = $t->read_file('auth.log') =~ /\n--\n/g;
    is($after, $before, 'auth_request off: no subrequest');
}

$t->check_fds;
$t->done_testing;
# stopped here: Origin's END handler stops one scripted origin only
Origin::stop_scripted($_) for @origins;
