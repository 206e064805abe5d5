# The finer rules of the upstream's response headers: proxy_cookie_domain (a leading dot
# of the string and of its replacement dropped, the value's own kept; a domain regex is
# caseless and sees the whole value, dot included), proxy_cookie_flags with a cookie name
# from variables, $upstream_cookie_NAME (spaces skipped, not tabs), an intercepted 401
# with several WWW-Authenticate, X-Accel-Redirect (Content-Disposition and Accept-Ranges
# carried over with the others, even when proxy_hide_header names them; the uri decoded
# once, and checked again once decoded), and an upstream header sent twice (newer nginx's rule:
# a second Content-Length or Transfer-Encoding is a 502; a second Expires, Location,
# Content-Type, ... is dropped with a warning and $upstream_http_NAME sees the first).
#
# Validated against Debian's nginx 1.22.1 (SLUICE_BINARY=/usr/sbin/nginx): everything but
# what is newer nginx's (1.23) behaviour: every WWW-Authenticate of an intercepted 401
# (1.22 keeps the first only), and the duplicate headers part (1.22 passes both copies
# and takes a second equal Content-Length).
use strict;
use warnings;
use Test::More;
use Sluice qw(status_of body_of head_of);
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);

my %script = (
    '/auth2' => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"a\"\r\n"
        . "WWW-Authenticate: Bearer\r\nContent-Length: 3\r\n\r\nno\n",
    '/dupcl'  => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    '/dupte'  => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
        . "2\r\nok\r\n0\r\n\r\n",
    '/dupexp' => "HTTP/1.1 200 OK\r\nExpires: first\r\nX-A: 1\r\nExpires: second\r\n"
        . "Location: http://a.example/1\r\nLocation: http://a.example/2\r\nContent-Type: text/one\r\n"
        . "Content-Type: text/two\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok",
);

# the origin: a scripted answer, or a 200 whose Set-Cookie is the request's X-C, with the
# request's X-Xar as X-Accel-Redirect and the headers it carries over
Origin::scripted(port => $origin_port, lifetime => 20, handler => sub {
    my ($c) = @_;
    my $req = Origin::read_head($c);
    my ($path) = $req =~ m{^\S+ (\S+)};
    return print $c $script{$path} if $script{$path};
    my ($cookie) = $req =~ /^X-C: ([^\r\n]*)/mi;
    my ($xar) = $req =~ /^X-Xar: ([^\r\n]*)/mi;
    my $h = defined $cookie ? "Set-Cookie: $cookie\r\n" : '';
    $h .= "X-Accel-Redirect: $xar\r\nContent-Disposition: attachment\r\nAccept-Ranges: parrots\r\n"
        . "Expires: fake\r\nCache-Control: no-cache\r\nContent-Type: text/blah\r\nX-Other: x\r\n"
        if defined $xar;
    print $c "HTTP/1.1 200 OK\r\n${h}Content-Length: 3\r\nConnection: close\r\n\r\nup\n";
});
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name localhost;
        location / {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_cookie_domain .dot.example .new.example;
            proxy_cookie_domain ~^(.+)\\.net\$ .\$1.org;
            proxy_cookie_domain ~^www\\.(.+)\\.re\$ X\$1;
            proxy_cookie_flags \$arg_n secure;
            proxy_cookie_flags ~^re httponly;
        }
        location /uc/ {
            proxy_pass http://127.0.0.1:$origin_port;
            add_header X-UC "[\$upstream_cookie_tc]";
        }
        location /auth2 {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_intercept_errors on;
            error_page 401 /intercepted;
        }
        location = /intercepted { return 200 "intercepted\\n"; }
        location /xar/ {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_hide_header Content-Disposition;
            proxy_hide_header Accept-Ranges;
        }
        location /target/ {
            return 200 "uri=\$uri args=\$args\\n";
        }
        location /dup {
            proxy_pass http://127.0.0.1:$origin_port;
            add_header X-UE "[\$upstream_http_expires]";
        }
    }
}
EOF
$t->start;

sub get {
    my ($uri, @h) = @_;
    return $t->http($port, "GET $uri HTTP/1.0\r\nHost: localhost\r\n"
                    . join('', map { "$_\r\n" } @h) . "\r\n") // '';
}

sub cookie {
    my ($uri, $c) = @_;
    my @sc = get($uri, "X-C: $c") =~ /^Set-Cookie: ([^\r\n]*)/mg;
    return join(' | ', @sc);
}

# --- proxy_cookie_domain ---
is(cookie('/', 'a=1; Domain=.Dot.Example; Path=/'), 'a=1; Domain=.new.example; Path=/',
   'domain string: the value\'s dot kept, the replacement\'s dropped, any case');
is(cookie('/', 'a=1; Domain=dot.example'), 'a=1; Domain=new.example',
   'domain string: no dot on the value, none in the result');
is(cookie('/', 'a=1; Domain=x.dot.example'), 'a=1; Domain=x.dot.example',
   'domain string: the whole value must match');
is(cookie('/', 'a=1; Domain=x.net'), 'a=1; Domain=.x.org',
   'domain regex: the replacement as written');
is(cookie('/', 'a=1; Domain=.x.net'), 'a=1; Domain=..x.org',
   'domain regex: the value\'s dot is part of what it matches');
is(cookie('/', 'a=1; Domain=X.NET'), 'a=1; Domain=.X.org', 'domain regex: caseless');
is(cookie('/', 'a=1; Domain=www.y.re'), 'a=1; Domain=Xy', 'domain regex: anchored, captures');
is(cookie('/', 'a=1; Domain=.www.y.re'), 'a=1; Domain=.www.y.re',
   'domain regex: anchored at the dot, no match');
is(cookie('/', 'a=1;  Domain = dot.example ;Path=/'), 'a=1; Domain=new.example; Path=/',
   'a rewritten cookie is written back normalized');

# --- proxy_cookie_flags: the name from a variable ---
is(cookie('/?n=sess', 'sess=1; Path=/'), 'sess=1; Path=/; Secure', 'flags: name from a variable');
is(cookie('/?n=SESS', 'sess=1'), 'sess=1; Secure', 'flags: name from a variable, any case');
is(cookie('/?n=other', 'sess=1; Path=/'), 'sess=1; Path=/', 'flags: variable names another');
is(cookie('/', 'sess=1;Path=/'), 'sess=1;Path=/', 'flags: empty variable matches no cookie');
is(cookie('/', 'regular=1'), 'regular=1; HttpOnly', 'flags: a regex entry after it');

# --- $upstream_cookie_NAME ---
sub uc_of { my ($r) = @_; return $r =~ /^X-UC: \[([^\r\n]*)\]/m ? $1 : 'none'; }
is(uc_of(get('/uc/', 'X-C: tc = v1; Path=/')), 'v1', 'upstream_cookie: spaces skipped');
is(uc_of(get('/uc/', "X-C: tc\t=\tv2;")), '', 'upstream_cookie: a tab is not a space');
is(uc_of(get('/uc/', "X-C: tc=\tv3")), "\tv3", 'upstream_cookie: a tab after = is the value\'s');

# --- an intercepted 401 keeps every challenge ---
my $r = get('/auth2');
is(status_of($r), 401, 'intercepted 401: the status');
is(join(' | ', $r =~ /^WWW-Authenticate: ([^\r\n]*)/mg), 'Basic realm="a" | Bearer',
   'intercepted 401: every WWW-Authenticate, in order');
is(body_of($r), "intercepted\n", 'intercepted 401: the error_page\'s body');

# --- X-Accel-Redirect ---
$r = get('/xar/', 'X-Xar: /target/a%20b?x=1');
is(body_of($r), "uri=/target/a b args=x=1\n", 'X-Accel-Redirect: the uri decoded');
is(join(',', map { head_of($r) =~ /^$_: ([^\r\n]*)/m ? $1 : '-' }
        qw(Content-Type Content-Disposition Accept-Ranges Expires Cache-Control X-Other)),
   'text/blah,attachment,parrots,fake,no-cache,-',
   'X-Accel-Redirect: the headers nginx carries over, hidden or not; no other');
is(body_of(get('/xar/', 'X-Xar: /target/q%3Fy=2?z=%41')), "uri=/target/q?y=2 args=z=%41\n",
   'X-Accel-Redirect: decoded once; a decoded %3F is the path\'s, the args stay as they came');
is(status_of(get('/xar/', 'X-Xar: /target/%2e%2e/etc')), 404, 'X-Accel-Redirect: decoded .. refused');
like($t->error_log, qr/\[error\] .*unsafe URI "\/target\/\.\.\/etc" was detected/,
     'unsafe: logged as nginx, decoded');
is(body_of(get('/xar/', 'X-Xar: /target/%252e%252e/x%2zq')), "uri=/target/%2e%2e/xq args=\n",
   'X-Accel-Redirect: decoded once only; a broken escape dropped as nginx drops it');

# --- headers sent twice ---
is(status_of(get('/dupcl')), 502, 'a second Content-Length, even equal: 502');
like($t->error_log, qr/\[error\] .*upstream sent duplicate header line: "Content-Length: 2", previous value: "Content-Length: 2"/,
     'a second Content-Length: logged as nginx');
is(status_of(get('/dupte')), 502, 'a second Transfer-Encoding: 502');
$r = get('/dupexp');
is(join(',', head_of($r) =~ /^(Expires|Location|Content-Type|Set-Cookie|X-UE): ([^\r\n]*)/mg),
   'Content-Type,text/one,Expires,first,Location,http://a.example/1,Set-Cookie,a=1,Set-Cookie,b=2,X-UE,[first]',
   'a second Expires, Location, Content-Type: dropped; Set-Cookie: both');
like($t->error_log, qr/\[warn\] .*upstream sent duplicate header line: "Expires: second", previous value: "Expires: first", ignored/,
     'a header dropped: warned as nginx');

is($t->stop, 0, 'graceful stop');
$t->done_testing;
