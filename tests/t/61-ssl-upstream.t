# TLS to upstreams: proxy_pass https:// to an address, an upstream group and a url with
# variables, against a TLS origin (a server{} of the same sluice, with a certificate made
# here for origin.test); SNI; verification failing on a wrong name and passing on the right
# one; a session resumed on the next connection; a kept TLS connection reused (the origin's
# $connection stays); a handshake failure going to the next peer (error); a stalled
# handshake ending at proxy_connect_timeout (504, nginx's words).
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use Sluice;

my $t = Sluice->new;
my $conf = $t->prefix . '/conf';
system("cd $conf && openssl req -x509 -newkey rsa:2048 -nodes -keyout origin.key "
       . "-out origin.crt -days 2 -subj /CN=origin.test "
       . "-addext subjectAltName=DNS:origin.test,DNS:*.wild.test >/dev/null 2>&1") == 0
    or die "openssl failed\n";

# a port that takes connections and never answers: a handshake to it stalls
my $mute = IO::Socket::INET->new(Listen => 8, LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Proto => 'tcp', ReuseAddr => 1) or die "listen: $!\n";
my $mute_port = $mute->sockport;

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_2%% ssl;
        ssl_certificate origin.crt;
        ssl_certificate_key origin.key;
        # kept connections end soon after the tests: the origin closes them (close_notify,
        # then FIN) and the proxy's pool lets them go
        keepalive_timeout 1s;
        location / {
            return 200 "origin conn=\$connection sni=\$ssl_server_name reused=\$ssl_session_reused uri=\$uri\\n";
        }
    }
    # a plain HTTP server where TLS is expected: the handshake fails
    server {
        listen 127.0.0.1:%%PORT_3%%;
        location / { return 200 "plain\\n"; }
    }
    upstream tls_group {
        server 127.0.0.1:%%PORT_2%%;
        keepalive 4;
    }
    upstream fallback {
        server 127.0.0.1:%%PORT_3%%;
        server 127.0.0.1:%%PORT_2%%;
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /addr/ { proxy_pass https://127.0.0.1:%%PORT_2%%/; }
        location /sni/ {
            proxy_pass https://127.0.0.1:%%PORT_2%%/;
            proxy_ssl_server_name on;
            proxy_ssl_name origin.test;
        }
        location /good/ {
            proxy_pass https://127.0.0.1:%%PORT_2%%/;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate origin.crt;
            proxy_ssl_name origin.test;
        }
        location /wildcard/ {
            proxy_pass https://127.0.0.1:%%PORT_2%%/;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate origin.crt;
            proxy_ssl_name a.wild.test;
        }
        location /bad/ {
            proxy_pass https://127.0.0.1:%%PORT_2%%/;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate origin.crt;
            proxy_ssl_name wrong.test;
        }
        location /group/ {
            proxy_pass https://tls_group/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location /next/ { proxy_pass https://fallback/; }
        location /var/ {
            set \$target https://127.0.0.1:%%PORT_2%%;
            proxy_pass \$target;
        }
        location /stall/ {
            proxy_pass https://127.0.0.1:$mute_port/;
            proxy_connect_timeout 1s;
        }
    }
}
EOF
$t->start;
my $p = $t->port(1);

sub body { my ($r) = @_; return defined $r && $r =~ /\r\n\r\n(.*)\z/s ? $1 : '' }
sub status { my ($r) = @_; return defined $r && $r =~ m{^HTTP/1\.\d (\d+)} ? $1 : 0 }

my $r = $t->http_get($p, '/addr/x');
like(body($r), qr/^origin conn=\d+ sni= reused=\. uri=\/x$/, 'proxy_pass https:// to an address');
$r = $t->http_get($p, '/addr/y');
like(body($r), qr/reused=r uri=\/y$/, 'proxy_ssl_session_reuse: the next connection resumes');

$r = $t->http_get($p, '/sni/');
like(body($r), qr/sni=origin\.test /, 'proxy_ssl_server_name: SNI is proxy_ssl_name');

$r = $t->http_get($p, '/good/');
is(status($r), 200, 'proxy_ssl_verify: the right name passes');
$r = $t->http_get($p, '/wildcard/');
is(status($r), 200, 'proxy_ssl_verify: a wildcard of the SAN passes');
$r = $t->http_get($p, '/bad/');
is(status($r), 502, 'proxy_ssl_verify: a wrong name fails (502)');
like($t->error_log, qr/upstream SSL certificate does not match "wrong\.test" while SSL handshaking to upstream/,
     'proxy_ssl_verify: logged in nginx\'s words');

# a kept TLS connection serves the next requests: the origin sees one connection
my @conns;
for (1 .. 3) {
    $r = $t->http_get($p, '/group/');
    push @conns, body($r) =~ /conn=(\d+)/ ? $1 : 'none';
}
is(scalar(grep { $_ eq $conns[0] } @conns), 3, 'TLS upstream connection reused from the pool');
like($conns[0], qr/^\d+$/, 'pool: the origin answered');

$r = $t->http_get($p, '/next/');
like(body($r), qr/^origin /, 'a failed handshake is an error: the next peer answers');
like($t->error_log, qr/SSL_do_handshake\(\) failed .* while SSL handshaking to upstream/,
     'the failed handshake is logged');

$r = $t->http_get($p, '/var/z');
like(body($r), qr/uri=\/var\/z$/, 'proxy_pass with variables giving https://');

$r = $t->http_get($p, '/stall/');
is(status($r), 504, 'a stalled handshake ends at proxy_connect_timeout (504)');
like($t->error_log, qr/upstream timed out \(110: Connection timed out\) while SSL handshaking to upstream/,
     'stalled handshake: logged as nginx does');

$t->stop;
close $mute;
$t->done_testing;
