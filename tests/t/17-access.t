# The access module (allow, deny) and limit_except.  Clients connect from different
# 127.0.0.x addresses, from ::1 when the machine has it, and through a unix socket; realip
# gives a request an address no socket can have (an IPv4-mapped IPv6 one, 10.x).  Every
# expected status is what Debian's nginx 1.22.1 answered to the same request with the same
# configuration (the test also passes with SLUICE_BINARY=/usr/sbin/nginx).
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use IO::Socket::IP;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Sluice;

my $t = Sluice->new;
my $have_ipv6 = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1,
                                    Proto => 'tcp') ? 1 : 0;
my $listen6 = $have_ipv6 ? 'listen [::1]:%%PORT_2%%;' : '';
for my $d (qw(inherit order order/nested cidr lowbits unix allow_unix v6 v6only mapped mapped6
              realip override lmt lmt_empty lmt_post lmt_head lmt_log)) {
    $t->write_file("html/$d/f", "$d\n");
}
$t->write_file('html/other/f', "other\n");
$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    root html;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        listen unix:%%PREFIX%%/access.sock;
        $listen6
        server_name localhost;

        # the server's rules: the locations without rules of their own take them all
        deny 127.0.0.3;
        allow 127.0.0.0/24;
        deny all;

        location /inherit/ { }
        location /order/ {
            allow 127.0.0.2;
            deny 127.0.0.0/24;
            allow all;
            location /order/nested/ { }
        }
        location /cidr/ { deny 127.0.0.0/30; allow all; }
        location /lowbits/ { deny 127.0.0.5/8; }
        location /unix/ { deny unix:; allow all; }
        location /allow_unix/ { allow unix:; deny all; }
        location /v6/ { deny ::1; allow all; }
        location /v6only/ { allow ::/0; }
        location /override/ { allow all; }

        # realip runs first: the rules see the address it set
        location /realip/ {
            set_real_ip_from 127.0.0.0/24;
            allow 127.0.0.1;
            deny 10.0.0.0/8;
            allow all;
        }
        # an IPv4-mapped address is matched as IPv4 when IPv4 rules exist ...
        location /mapped/ {
            set_real_ip_from 127.0.0.0/24;
            deny 10.0.0.0/8;
            allow all;
        }
        # ... and as IPv6 when there are none
        location /mapped6/ {
            set_real_ip_from 127.0.0.0/24;
            deny ::ffff:10.0.0.0/104;
        }

        location /lmt/ {
            limit_except GET { allow 127.0.0.2; deny all; }
        }
        location /lmt_empty/ {
            limit_except GET { }
        }
        location /lmt_post/ {
            limit_except post { deny all; }
        }
        location /lmt_head/ {
            limit_except HEAD { deny all; }
        }
        location /lmt_alias/ {
            alias html/other/;
            limit_except GET { allow all; }
        }
        # the block takes the location's proxy_pass
        location /proxied/ {
            proxy_pass http://127.0.0.1:%%PORT_3%%/back/;
            limit_except GET { allow 127.0.0.2; deny all; }
        }
        # a proxy_pass of its own in the block
        location /lmtpass/ {
            proxy_pass http://127.0.0.1:%%PORT_3%%/back/;
            limit_except GET { proxy_pass http://127.0.0.1:%%PORT_3%%; }
        }
        # an if block proxies as its location does; one that matched after an if with its
        # own proxy_pass, under a location without, has nothing to proxy to: 500
        location /ifpass/ {
            proxy_pass http://127.0.0.1:%%PORT_3%%/back/;
            if (\$arg_x) { }
        }
        location /ifnone/ {
            if (\$arg_a) { proxy_pass http://127.0.0.1:%%PORT_3%%; }
            if (\$arg_b) { }
        }
        # access_log is allowed in the block
        location /lmt_log/ {
            limit_except GET { access_log logs/lmt.log; }
        }
        # ... but not its rewrite directives, which run in the location's conf only
        location /ret/ {
            return 200 "ret\n";
            limit_except GET { }
        }
    }
    server {
        listen 127.0.0.1:%%PORT_3%%;
        location /back/ { return 200 "back \$request_method \$uri\n"; }
        location / { return 200 "other \$request_method \$uri\n"; }
    }
}
EOF
$t->start;

my $port = $t->port(1);
my $sock = $t->prefix . '/access.sock';

sub client {
    my (%o) = @_;
    return IO::Socket::UNIX->new(Peer => $sock, Type => SOCK_STREAM) if $o{unix};
    return IO::Socket::IP->new(PeerHost => '::1', PeerPort => $t->port(2), Proto => 'tcp',
                               Timeout => 5) if $o{ipv6};
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
                                 LocalAddr => $o{from} // '127.0.0.1', Timeout => 5);
}

# The status code (with " body" when body => 1): req($path, %o) with from => '127.0.0.x',
# unix => 1, ipv6 => 1, method => 'POST', headers => [...].
sub req {
    my ($path, %o) = @_;
    my $s = client(%o) or die "connect: $!\n";
    my $method = $o{method} // 'GET';
    my $length = $method eq 'POST' ? "Content-Length: 0\r\n" : '';
    print $s "$method $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n$length"
        . join('', map { "$_\r\n" } @{ $o{headers} // [] }) . "\r\n";
    my $r = $t->read_all($s);
    close $s;
    my ($code) = $r =~ m{^HTTP/1\.1 (\d{3})};
    return $code // 'none' unless $o{body};
    my (undef, $b) = split /\r\n\r\n/, $r, 2;
    return ($code // 'none') . ' ' . ($b // '');
}

# --- inheritance and order ---
is(req('/inherit/f', body => 1), "200 inherit\n", 'inherited: allow 127.0.0.0/24');
is(req('/inherit/f', from => '127.0.0.3'), 403, 'inherited: deny 127.0.0.3 comes first');
is(req('/inherit/f', from => '127.0.1.1'), 403, 'inherited: deny all');
is(req('/inherit/f', unix => 1), 403, 'inherited: deny all takes unix sockets too');
is(req('/order/f', from => '127.0.0.2'), 200, 'first match wins: allow before deny');
is(req('/order/f', from => '127.0.0.3'), 403, 'order: the CIDR deny');
is(req('/order/f', from => '127.0.1.3'), 200, 'order: allow all at the end');
is(req('/order/nested/f', from => '127.0.0.2'), 200, 'a nested location inherits: allow');
is(req('/order/nested/f'), 403, 'a nested location inherits: deny');
is(req('/override/f', from => '127.0.0.3'), 200, 'the rules of a level replace the parent\'s');
is(req('/override/f', unix => 1), 200, 'the rules of a level replace the parent\'s: unix');
is(req('/nothere'), 404, 'no location: the server\'s rules (allowed, then 404)');

# --- CIDR ---
is(req('/cidr/f', from => '127.0.0.3'), 403, '/30 covers .3');
is(req('/cidr/f', from => '127.0.0.4'), 200, '/30 does not cover .4');
is(req('/lowbits/f', from => '127.0.0.9'), 403, 'low bits dropped: 127.0.0.5/8 is 127/8');
is(req('/lowbits/f', unix => 1), 200, 'IPv4 rules only: a unix peer is let on');

# --- unix: ---
is(req('/unix/f', unix => 1), 403, 'deny unix:');
is(req('/unix/f'), 200, 'deny unix: leaves inet alone');
is(req('/allow_unix/f', unix => 1, body => 1), "200 allow_unix\n", 'allow unix:');
is(req('/allow_unix/f'), 403, 'allow unix:, then deny all');

# --- IPv6 ---
is(req('/v6/f'), 200, 'IPv6 rule, IPv4 client');
is(req('/v6only/f'), 200, 'IPv6 rules only: an IPv4 client is let on');
SKIP: {
    skip 'no ::1', 3 unless $have_ipv6;
    is(req('/v6/f', ipv6 => 1), 403, 'deny ::1');
    is(req('/inherit/f', ipv6 => 1), 403, 'deny all takes IPv6');
    is(req('/v6only/f', ipv6 => 1), 200, 'allow ::/0');
}

# --- realip first, IPv4-mapped addresses ---
is(req('/realip/f', headers => ['X-Real-IP: 10.1.2.3']), 403, 'the realip address is checked');
is(req('/realip/f', headers => ['X-Real-IP: 192.0.2.1']), 200, 'a realip address allowed');
is(req('/realip/f'), 200, 'no header: the peer');
is(req('/mapped/f', headers => ['X-Real-IP: ::ffff:10.1.2.3']), 403,
   'IPv4-mapped address, IPv4 rules: matched as IPv4');
is(req('/mapped/f', headers => ['X-Real-IP: ::ffff:192.0.2.1']), 200,
   'IPv4-mapped address outside the rule');
is(req('/mapped6/f', headers => ['X-Real-IP: ::ffff:10.1.2.3']), 403,
   'IPv4-mapped address, IPv6 rules only: matched as IPv6');
is(req('/mapped6/f', headers => ['X-Real-IP: 10.1.2.3']), 200,
   'IPv4 address, IPv6 rules only: let on');

# --- the log line ---
my $before = length $t->error_log;
is(req('/inherit/f', from => '127.0.0.3'), 403, 'denied once more');
like(substr($t->error_log, $before),
     qr/\[error\] \d+#\d+: \*\d+ access forbidden by rule, client: 127\.0\.0\.3, server: localhost, request: "GET \/inherit\/f HTTP\/1\.1", host: "localhost"/,
     'error log: access forbidden by rule');
$before = length $t->error_log;
req('/realip/f', headers => ['X-Real-IP: 10.1.2.3']);
like(substr($t->error_log, $before), qr/access forbidden by rule, client: 10\.1\.2\.3,/,
     'error log: the realip address');

# --- limit_except ---
is(req('/lmt/f', body => 1), "200 lmt\n", 'limit_except GET: GET is not limited');
is(req('/lmt/f', method => 'HEAD'), 200, 'limit_except GET: HEAD is not limited');
is(req('/lmt/f', method => 'POST'), 403, 'limit_except GET: POST is, deny all');
is(req('/lmt/f', method => 'POST', from => '127.0.0.2'), 405,
   'limit_except GET: a POST the block allows reaches the static module (405)');
is(req('/lmt/f', method => 'DELETE', from => '127.0.0.2'), 405, 'DELETE allowed: 405');
is(req('/lmt/f', method => 'PUT'), 403, 'limit_except GET: PUT denied');
is(req('/lmt/f', from => '127.0.0.3'), 403, 'GET: the location\'s rules (the server\'s)');
is(req('/lmt_empty/f', method => 'POST', from => '127.0.0.3'), 403,
   'an empty limit_except block inherits the location\'s rules: deny');
is(req('/lmt_empty/f', method => 'POST'), 405,
   'an empty limit_except block inherits the location\'s rules: allow');
is(req('/lmt_post/f', method => 'POST'), 405, 'limit_except post (any case): POST not limited');
is(req('/lmt_post/f'), 403, 'limit_except POST: GET denied');
is(req('/lmt_post/f', method => 'HEAD'), 403, 'limit_except POST: HEAD denied');
is(req('/lmt_head/f', method => 'HEAD'), 200, 'limit_except HEAD: HEAD not limited');
is(req('/lmt_head/f'), 403, 'limit_except HEAD: GET is (HEAD does not imply GET)');
is(req('/lmt_alias/f', body => 1), "200 other\n", 'alias location with limit_except: GET');
is(req('/lmt_alias/f', method => 'PUT'), 405, 'alias location, limit_except block: PUT');
is(req('/proxied/f', body => 1), "200 back GET /back/f\n", 'proxy_pass, GET: the location');
is(req('/proxied/f', method => 'POST', from => '127.0.0.2', body => 1), "200 back POST /back/f\n",
   'proxy_pass, POST allowed by the block: proxied as the location proxies');
is(req('/proxied/f', method => 'POST'), 403, 'proxy_pass, POST denied by the block');
is(req('/lmtpass/f', body => 1), "200 back GET /back/f\n", 'proxy_pass in limit_except: GET, the location\'s');
is(req('/lmtpass/f', method => 'POST', body => 1), "200 other POST /lmtpass/f\n",
   'proxy_pass in limit_except: POST, the block\'s');
is(req('/ifpass/f?x=1', body => 1), "200 back GET /back/f\n", 'an if block: the location\'s proxy_pass, uri replaced');
is(req('/ifnone/f?a=1', body => 1), "200 other GET /ifnone/f\n", 'proxy_pass inside if');
is(req('/ifnone/f?a=1&b=1'), 500, 'a later if without one: 500');
$t->allow_alerts(qr/no upstream configuration/);
like($t->error_log, qr/\[alert\] .*no upstream configuration/, '... and nginx\'s alert');
is(req('/ret/f', body => 1), "200 ret\n", 'return, GET');
is(req('/ret/f', method => 'POST'), 404,
   'return, POST: the block runs no rewrite directive (nginx: 404 too)');
is(req('/lmt_log/f'), 200, 'access_log in limit_except: GET');
is(req('/lmt_log/f', method => 'POST'), 405, 'access_log in limit_except: POST');
is(req('/lmt_log/f', method => 'PUT'), 405, 'access_log in limit_except: PUT');

is($t->stop, 0, 'stopped');
my @lmt_log = map { m{"(\w+) /lmt_log/f} ? $1 : () } split /\n/, $t->read_file('logs/lmt.log') // '';
is("@lmt_log", 'POST PUT', 'access_log in limit_except: the requests the block applies to');

# --- configuration ---
my $PID = qr/\d+#\d+: /;
sub check_conf {
    my ($http, $loc) = @_;
    $t->write_file('conf/bad.conf', <<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http { $http server { listen 127.0.0.1:%%PORT_1%%; location / { $loc } } }
EOF
    return $t->run('-t', '-c', 'conf/bad.conf');
}
my $r = check_conf('allow 10.0.0.1/8;', '');
is($r->{exit}, 0, 'low bits: a warning only');
like($r->{stderr}, qr/\[warn\] $PID?low address bits of 10\.0\.0\.1\/8 are meaningless in \S+bad\.conf:\d+/,
     'low bits: the warning');
$r = check_conf('deny 2001:db8::1/32;', '');
like($r->{stderr}, qr/\[warn\] $PID?low address bits of 2001:db8::1\/32 are meaningless in /,
     'low bits, IPv6');
$r = check_conf('deny 10.0.0.1/33;', '');
isnt($r->{exit}, 0, '/33 fails');
like($r->{stderr}, qr/\[emerg\] $PID?invalid parameter "10\.0\.0\.1\/33" in \S+bad\.conf:\d+/,
     '/33: invalid parameter');
for my $block ('limit_except GET', 'if ($arg_a)') {
    $r = check_conf('', "$block { proxy_pass http://127.0.0.1:1/x; }");
    like($r->{stderr}, qr/\[emerg\] $PID?"proxy_pass" cannot have URI part in location given by regular expression, or inside named location, or inside "if" statement, or inside "limit_except" block in \S+bad\.conf:\d+/,
         "proxy_pass with a uri in $block: nginx's refusal");
}
$r = check_conf('allow localhost;', '');
like($r->{stderr}, qr/\[emerg\] $PID?invalid parameter "localhost" in /, 'no host names');
$r = check_conf('allow all; deny unix:; allow ::/0; deny 0.0.0.0/0;', 'allow 127.0.0.1; deny all;');
is($r->{exit}, 0, 'all, unix:, /0') or diag($r->{stderr});
$r = check_conf('', 'limit_except GET POST put delete options { allow all; }');
is($r->{exit}, 0, 'limit_except with methods in any case') or diag($r->{stderr});
$r = check_conf('', 'limit_except GET FOO { deny all; }');
like($r->{stderr}, qr/\[emerg\] $PID?invalid method "FOO" in \S+bad\.conf:\d+/, 'invalid method');
$r = check_conf('', 'limit_except TRACE { deny all; }');
like($r->{stderr}, qr/\[emerg\] $PID?invalid method "TRACE" in /, 'TRACE is no method here');
$r = check_conf('', 'limit_except GET { } limit_except POST { }');
like($r->{stderr}, qr/\[emerg\] $PID?"limit_except" directive is duplicate in /, 'duplicate');
$r = check_conf('limit_except GET { }', '');
like($r->{stderr}, qr/\[emerg\] $PID?"limit_except" directive is not allowed here in /,
     'limit_except at http level');
$r = check_conf('', 'limit_except GET { root /tmp; }');
like($r->{stderr}, qr/\[emerg\] $PID?"root" directive is not allowed here in /,
     'root is not allowed in limit_except');
$r = check_conf('', 'limit_except GET { location /x { } }');
like($r->{stderr}, qr/\[emerg\] $PID?"location" directive is not allowed here in /,
     'location is not allowed in limit_except');
$r = check_conf('', 'limit_except { }');
like($r->{stderr}, qr/\[emerg\] $PID?invalid number of arguments in "limit_except" directive in /,
     'limit_except without methods');

$t->done_testing;
