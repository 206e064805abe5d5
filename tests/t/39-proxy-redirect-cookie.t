# proxy_redirect (Location, Refresh), proxy_cookie_domain, proxy_cookie_path and
# proxy_cookie_flags against an origin that answers with the response headers the client
# asks for (one "X-H: Name: value" request header per response header, in order).  The
# expected header blocks (Server and Date left out) are what Debian's nginx 1.22.1 sent for
# the same config and requests: validated with SLUICE_BINARY=/usr/sbin/nginx.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX ();
use Sluice;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);

# --- the origin: echoes the X-H request headers as its response headers ---
my $srv = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$origin_port", Listen => 64, ReuseAddr => 1)
    or die "origin: $!";
my $origin = fork // die "fork: $!";
if ($origin == 0) {
    setpgrp(0, 0);
    $SIG{CHLD} = 'IGNORE';
    local $SIG{ALRM} = sub { POSIX::_exit(0) };
    alarm 120;
    while (my $c = $srv->accept) {
        next if fork;
        alarm 10;
        my $req = '';
        while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or POSIX::_exit(0); }
        my @h = ($req =~ /^X-H: ([^\r\n]*)\r$/mgi);
        print $c "HTTP/1.1 200 OK\r\n" . join('', map { "$_\r\n" } @h)
            . "Content-Length: 2\r\nConnection: close\r\n\r\nok";
        close $c;
        POSIX::_exit(0);
    }
    POSIX::_exit(0);
}
close $srv;
END { kill 'KILL', -$origin if $origin; }

my $up = "127.0.0.1:$origin_port";
$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events {}
http {
    access_log off;
    proxy_cookie_path /two/ /srv/;
    server {
        listen 127.0.0.1:$port;
        location /one/ { proxy_pass http://$up/two/; }
        location /nouri/ { proxy_pass http://$up; }
        location /off/ { proxy_pass http://$up/two/; proxy_redirect off; }
        location /ex/ {
            proxy_pass http://$up/two/;
            proxy_redirect http://a.example/x/ /y/;
            proxy_redirect http://a.example/ http://b.example:81/;
            proxy_redirect ~^http://r\\.example/(\\w+)/(.*)\$ /re/\$2/\$1;
            proxy_redirect ~*^http://C\\.EXAMPLE/(.*) http://\$host/ci/\$1;
        }
        location /var/ { proxy_pass http://$up/two/; proxy_redirect http://\$host/ /v/\$server_port/; }
        location /def/ { proxy_pass http://$up/two/; proxy_redirect default; proxy_redirect http://x/ /y/; }
        location /v/ { set \$u http://$up; proxy_pass \$u; }
        location /v2/ { set \$u http://$up; proxy_pass \$u; proxy_redirect \$u/ /v2/; }
        location /c/ {
            proxy_pass http://$up/two/;
            proxy_cookie_domain up.example down.example;
            proxy_cookie_domain .dot.example dot2.example;
            proxy_cookie_domain ~\\.(?<sub>[a-z]+)\\.re\\.example\$ \$sub.\$host;
            proxy_cookie_path /two/ /one/;
            proxy_cookie_path ~^/re/(.*)\$ /x/\$1;
            proxy_cookie_flags one secure httponly samesite=strict;
            proxy_cookie_flags ~^T secure samesite=lax;
            proxy_cookie_flags all nosecure nohttponly nosamesite;
            proxy_cookie_flags ~. httponly;
        }
        location /p/ { proxy_pass http://$up/two/; proxy_cookie_path /two/ /one/; }
        location /i/ { proxy_pass http://$up/two/; }
        location /po/ { proxy_pass http://$up/two/; proxy_cookie_path off; }
        location /f/ {
            proxy_pass http://$up/two/;
            proxy_cookie_flags c httponly;
            proxy_cookie_flags d bogus SECURE samesite=x;
            proxy_cookie_flags e \$arg_f;
            proxy_cookie_path /two/ /two/;
        }
        location /g/ {
            proxy_pass http://$up/two/;
            proxy_cookie_flags c samesite=none httponly secure;
            proxy_cookie_domain up.example down.example;
        }
    }
}
EOF
$t->start;

# The response's header lines, Server and Date left out (they differ by product and time).
sub headers {
    my ($path, @h) = @_;
    my $r = $t->http($port, "GET $path HTTP/1.0\r\nHost: localhost\r\n"
                     . join('', map { "X-H: $_\r\n" } @h) . "\r\n") // '';
    $r =~ s/\r\n\r\n.*//s;
    return join("\n", grep { !/^(?:Server|Date): / } split /\r\n/, $r) . "\n";
}

sub case {
    my ($name, $path, $req, $expect) = @_;
    is(headers($path, @$req), "HTTP/1.1 200 OK\n$expect", $name);
}

my $o = "http://$up";

# --- proxy_redirect ---
# a second Location is dropped (newer nginx's rule for headers a response has one of)
case('default: the proxy_pass url becomes the location; relative made absolute', '/one/a',
     ["Location: $o/two/x", "Refresh: 5; url=$o/two/r", "Location: $o/other"], <<"EOF");
Content-Length: 2
Location: http://localhost:$port/one/x
Connection: close
Refresh: 5; url=/one/r
EOF
case('a Location left alone keeps its place and stays relative', '/one/a',
     ['X-A: 1', 'Location: /two/rel', "Refresh: 3;URL=$o/two/r"], <<"EOF");
Content-Length: 2
Connection: close
X-A: 1
Location: /two/rel
Refresh: 3;URL=/one/r
EOF
case('the prefix match is case-sensitive', '/one/a', ["Location: HTTP://$up/TWO/x"], <<"EOF");
Content-Length: 2
Connection: close
Location: HTTP://$up/TWO/x
EOF
case('default without a uri part: url/ becomes /', '/nouri/a', ["Location: $o/two/x"], <<"EOF");
Content-Length: 2
Location: http://localhost:$port/two/x
Connection: close
EOF
case('without a uri part, the url alone is left as it is', '/nouri/a', ["Location: $o"], <<"EOF");
Content-Length: 2
Connection: close
Location: $o
EOF
case('proxy_redirect off', '/off/a', ["Location: $o/two/x"], <<"EOF");
Content-Length: 2
Connection: close
Location: $o/two/x
EOF
case('the first matching rule wins; Refresh too', '/ex/a',
     ['Location: http://a.example/x/1', 'Refresh: url=http://a.example/z'], <<"EOF");
Content-Length: 2
Location: http://localhost:$port/y/1
Connection: close
Refresh: url=http://b.example:81/z
EOF
case('an absolute replacement stays in place', '/ex/a',
     ['X-A: 1', 'Location: http://a.example/x'], <<"EOF");
Content-Length: 2
Connection: close
X-A: 1
Location: http://b.example:81/x
EOF
case('a regex replaces the whole value, with captures', '/ex/a',
     ['Location: http://r.example/foo/bar/baz?q'], <<"EOF");
Content-Length: 2
Location: http://localhost:$port/re/bar/baz?q/foo
Connection: close
EOF
case('an anchored regex that does not match', '/ex/a', ['Location: xhttp://r.example/foo/b'],
     <<"EOF");
Content-Length: 2
Connection: close
Location: xhttp://r.example/foo/b
EOF
case('~* is caseless; variables in the replacement', '/ex/a', ['Location: http://c.example/q'],
     <<"EOF");
Content-Length: 2
Connection: close
Location: http://localhost/ci/q
EOF
case('variables in the redirect string', '/var/a', ['Location: http://localhost/p'], <<"EOF");
Content-Length: 2
Location: http://localhost:$port/v/$port/p
Connection: close
EOF
case('default beside another rule', '/def/a', ["Location: $o/two/x", 'Refresh: 1; url=http://x/q'],
     <<"EOF");
Content-Length: 2
Location: http://localhost:$port/def/x
Connection: close
Refresh: 1; url=/y/q
EOF
case('proxy_pass with variables: no default', '/v/a', ["Location: $o/x"], <<"EOF");
Content-Length: 2
Connection: close
Location: $o/x
EOF
case('proxy_pass with variables, explicit rule', '/v2/a', ["Location: $o/x"], <<"EOF");
Content-Length: 2
Location: http://localhost:$port/v2/x
Connection: close
EOF

# --- cookies ---
case('domain (any case, dot kept) and path (prefix); flags', '/c/a',
     ['Set-Cookie: a=b; Domain=up.example; Path=/two/x', 'Set-Cookie: a=b;domain=UP.EXAMPLE;path=/two/',
      'Set-Cookie: a=b;  Domain=.up.example ;  Path=/TWO/x ;Secure'], <<"EOF");
Content-Length: 2
Connection: close
Set-Cookie: a=b; Domain=down.example; Path=/one/x; HttpOnly
Set-Cookie: a=b; domain=down.example; path=/one/; HttpOnly
Set-Cookie: a=b; Domain=.down.example; Path=/TWO/x; Secure; HttpOnly
EOF
case('a dotted domain rule; whole-domain match; regex with a named capture', '/c/a',
     ['Set-Cookie: a=b; Domain=dot.example', 'Set-Cookie: a=b; Domain=.dot.example',
      'Set-Cookie: a=b; Domain=x.up.example', 'Set-Cookie: a=b; domain=x.foo.re.example; path=/re/q/r'],
     <<"EOF");
Content-Length: 2
Connection: close
Set-Cookie: a=b; Domain=dot2.example; HttpOnly
Set-Cookie: a=b; Domain=.dot2.example; HttpOnly
Set-Cookie: a=b; Domain=x.up.example; HttpOnly
Set-Cookie: a=b; domain=foo.localhost; path=/x/q/r; HttpOnly
EOF
case('flags: added in order, SameSite replaced, removed; first entry wins', '/c/a',
     ['Set-Cookie: one=1', 'Set-Cookie: One=1; secure; SameSite=None', 'Set-Cookie: two=2; HttpOnly',
      'Set-Cookie: three=3; path=/two/; samesite=none',
      'Set-Cookie: all=x; Secure; HttpOnly; SameSite=Lax; Max-Age=5'], <<"EOF");
Content-Length: 2
Connection: close
Set-Cookie: one=1; Secure; HttpOnly; SameSite=Strict
Set-Cookie: One=1; secure; SameSite=Strict; HttpOnly
Set-Cookie: two=2; HttpOnly; Secure; SameSite=Lax
Set-Cookie: three=3; path=/one/; SameSite=Lax; Secure
Set-Cookie: all=x; Max-Age=5
EOF
case('no name=value: left alone; empty attributes kept; spaces around = trimmed', '/c/a',
     ['Set-Cookie: zzz', 'Set-Cookie: ', 'Set-Cookie: =v; a', 'Set-Cookie: q=1;;; path=/two/;',
      'Set-Cookie: x=1; Path = /two/y', 'Set-Cookie: x=1; Path=/two/y; Path=/two/z'], <<"EOF");
Content-Length: 2
Connection: close
Set-Cookie: zzz
Set-Cookie: 
Set-Cookie: =v; a
Set-Cookie: q=1; ; ; path=/one/; ; HttpOnly
Set-Cookie: x=1; Path=/one/y; HttpOnly
Set-Cookie: x=1; Path=/one/y; Path=/one/z; HttpOnly
EOF
case('untouched cookies keep their bytes; tab is not trimmed', '/p/a',
     ['Set-Cookie: a=b;path=/nomatch', 'Set-Cookie: a=b c ;path=/two/ x ; Domain=up.example.com',
      'Set-Cookie: a=b;path=/Two/x', 'Set-Cookie: a=b;Path', "Set-Cookie: a=b;\tpath=/two/"], <<"EOF");
Content-Length: 2
Connection: close
Set-Cookie: a=b;path=/nomatch
Set-Cookie: a=b c; path=/one/ x; Domain=up.example.com
Set-Cookie: a=b;path=/Two/x
Set-Cookie: a=b;Path
Set-Cookie: a=b;\tpath=/two/
EOF
case('inherited from http{}', '/i/a', ['Set-Cookie: a=b;path=/two/y'], <<"EOF");
Content-Length: 2
Connection: close
Set-Cookie: a=b; path=/srv/y
EOF
case('proxy_cookie_path off', '/po/a', ['Set-Cookie: a=b;path=/two/y'], <<"EOF");
Content-Length: 2
Connection: close
Set-Cookie: a=b;path=/two/y
EOF
case('flags appended as Secure, HttpOnly, SameSite; other directives inherited', '/g/a',
     ['Set-Cookie: c=1', 'Set-Cookie: c=1;Domain=up.example.com;SECURE;samesite=x',
      'Set-Cookie: d=1;Domain=up.example.com;SECURE;samesite=x', 'Set-Cookie: a=b;path=/two/y'],
     <<"EOF");
Content-Length: 2
Connection: close
Set-Cookie: c=1; Secure; HttpOnly; SameSite=None
Set-Cookie: c=1; Domain=up.example.com; SECURE; SameSite=None; HttpOnly
Set-Cookie: d=1;Domain=up.example.com;SECURE;samesite=x
Set-Cookie: a=b; path=/srv/y
EOF
case('a matching rule normalizes; unknown flags ignored; flags from variables', '/f/a?f=samesite=strict',
     ['Set-Cookie: c=1;HttpOnly', 'Set-Cookie: x = 1 ;path=/two/; Path= ;x=', 'Set-Cookie: c=1;path=/two/',
      'Set-Cookie: d=1', 'Set-Cookie: e=1', 'Set-Cookie: c=1;httponly'], <<"EOF");
Content-Length: 2
Connection: close
Set-Cookie: c=1; HttpOnly
Set-Cookie: x=1; path=/two/; Path=; x=
Set-Cookie: c=1; path=/two/; HttpOnly
Set-Cookie: d=1; Secure
Set-Cookie: e=1; SameSite=Strict
Set-Cookie: c=1; httponly
EOF

# --- configuration errors, as nginx words them ---
my @bad = (
    ['server { proxy_redirect default; location / { proxy_pass http://127.0.0.1:1/; } }',
     qr/"proxy_redirect default" should be placed after the "proxy_pass" directive in /],
    ['server { location / { set $u x; proxy_pass http://$u; proxy_redirect default; } }',
     qr/"proxy_redirect default" cannot be used with "proxy_pass" directive with variables in /],
    ['server { location / { proxy_pass http://127.0.0.1:1/; proxy_redirect a; } }',
     qr/invalid parameter "a" in /],
    ['server { location / { proxy_redirect off; proxy_redirect http://a/ /b/; } }',
     qr/"proxy_redirect" directive is duplicate in /],
    ['server { location / { proxy_redirect http://a/ /b/; proxy_redirect off; } }',
     qr/"proxy_redirect" directive is duplicate in /],
    ['server { location / { proxy_cookie_path a b; proxy_cookie_path off; } }',
     qr/"proxy_cookie_path" directive is duplicate in /],
    ['server { location / { proxy_cookie_flags off; proxy_cookie_flags a secure; } }',
     qr/"proxy_cookie_flags" directive is duplicate in /],
    ['server { location / { proxy_cookie_flags a; } }', qr/invalid parameter "a" in /],
    ['server { location / { proxy_cookie_domain a; } }', qr/invalid parameter "a" in /],
    ['server { location / { proxy_cookie_domain ~( b; } }',
     qr/pcre2_compile\(\) failed: missing closing parenthesis in "\(" in /],
    ['server { location / { proxy_cookie_flags ~* httponly; } }',
     qr/pcre2_compile\(\) failed: quantifier does not follow a repeatable item in "\*" at "\*" in /],
);
for my $b (@bad) {
    $t->write_file('conf/bad.conf', "%%TEST_GLOBALS%%\nevents {}\nhttp { $b->[0] }\n");
    my $r = $t->run('-c', 'conf/bad.conf', '-t');
    isnt($r->{exit}, 0, "rejected: $b->[0]");
    like($r->{stderr}, $b->[1], "message: $b->[0]");
}
$t->write_file('conf/good.conf', "%%TEST_GLOBALS%%\nevents {}\nhttp { server { location / { "
               . "proxy_pass http://127.0.0.1:1/; proxy_redirect default; proxy_redirect default; "
               . "proxy_cookie_flags a bogus secure secure; } } }\n");
is($t->run('-c', 'conf/good.conf', '-t')->{exit}, 0, 'default twice, unknown flags: accepted');

$t->done_testing;
