# Certificates chosen per handshake and client certificates checked with OCSP, with
# certificates made by the test (openssl command line).
# - ssl_certificate $ssl_server_name.crt: SNI picks the pair; a name without files fails
#   the handshake (logged at error, not crit); without a cache a renewed file is picked up
#   by the next handshake, with ssl_certificate_cache the pair loaded first is kept.
# - ssl_certificate "data:...": the PEM inline.
# - ssl_ocsp leaf with ssl_ocsp_responder (a scripted responder answering "good" or
#   "revoked" by path, or 404): $ssl_client_verify says SUCCESS or FAILED:<reason>, and a
#   revoked certificate gets nginx's 400 "The SSL certificate error" page; with
#   ssl_ocsp_cache the second handshake is answered from the cache (the responder is asked
#   once); a resumed session is checked again.
# - sendfile on with "ssl_conf_command Options KTLS": a file body arrives whole, through
#   SSL_sendfile() where the kernel has the tls module (kernel TLS), else through records
#   (this test cannot tell which; the kernel's offer is noted).
use strict;
use warnings;
use Test::More;
use IO::Socket::SSL;
use Digest::MD5 qw(md5_hex);
use Sluice;
use Origin;

my $t = Sluice->new;
my $conf = $t->prefix . '/conf';

sub openssl {
    my ($args) = @_;
    system("cd $conf && openssl $args >/dev/null 2>&1") == 0 or die "openssl $args failed\n";
}

for my $name (qw(one two)) {
    openssl("req -x509 -newkey rsa:2048 -nodes -keyout $name.key -out $name.crt -days 2 "
            . "-subj /CN=$name");
}
# the files the cached and the uncached server read: renewed later in the test
for my $copy (qw(fresh cached)) {
    $t->write_file("conf/$copy.crt", $t->read_file('conf/one.crt'));
    $t->write_file("conf/$copy.key", $t->read_file('conf/one.key'));
}
chmod 0644, glob("$conf/*.key");

# a CA, a client certificate, and the CA's OCSP answers for it: good and revoked
openssl('req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=client-ca');
openssl('req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client');
openssl('x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 '
        . '-out client.crt');
my $serial = `cd $conf && openssl x509 -in client.crt -noout -serial`;
$serial =~ s/^serial=//;
chomp $serial;
$t->write_file('conf/index.txt', "V\t301231000000Z\t\t$serial\tunknown\t/CN=client\n");
openssl('ocsp -index index.txt -rsigner ca.crt -rkey ca.key -CA ca.crt -issuer ca.crt '
        . '-cert client.crt -respout good.der -ndays 1');
$t->write_file('conf/index-revoked.txt',
               "R\t301231000000Z\t250101000000Z\t$serial\tunknown\t/CN=client\n");
openssl('ocsp -index index-revoked.txt -rsigner ca.crt -rkey ca.key -CA ca.crt -issuer ca.crt '
        . '-cert client.crt -respout revoked.der -ndays 1');

my $responder_port = $t->port(9);
my $asked = $t->prefix . '/asked';
Origin::scripted(port => $responder_port, handler => sub {
    my ($c) = @_;
    my $head = Origin::read_head($c);
    my ($line) = $head =~ /^([^\r\n]*)/;
    open my $log, '>>', $asked or die; print $log "$line\n"; close $log;
    my ($kind) = $line =~ m{^GET /(good|revoked)\w*/\S+ HTTP/1\.0$};
    if (!$kind) {
        print $c "HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\n";
        return;
    }
    my $der = $t->read_file("conf/$kind.der");
    print $c "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n"
        . "Content-Length: " . length($der) . "\r\n\r\n" . $der;
});

# a file body of 1 MiB and a bit, not a multiple of a record
my $big = join '', map { sprintf "%07d\n", $_ } 1 .. 131200;
$t->write_file('html/big.bin', $big);

my $inline_cert = $t->read_file('conf/two.crt');
my $inline_key = $t->read_file('conf/two.key');

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    ssl_session_cache shared:SSL:1m;
    add_header X-Verify "\$ssl_client_verify:\$ssl_session_reused" always;
    server {
        listen 127.0.0.1:%%PORT_1%% ssl;
        server_name localhost;
        ssl_certificate \$ssl_server_name.crt;
        ssl_certificate_key \$ssl_server_name.key;
        location / { return 200 "sni \$ssl_server_name\\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%% ssl;
        ssl_certificate "data:$inline_cert";
        ssl_certificate_key "data:$inline_key";
        location / { return 200 "inline\\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_3%% ssl;
        ssl_certificate \$ssl_server_name.crt;
        ssl_certificate_key \$ssl_server_name.key;
        ssl_certificate_cache max=4 valid=1h;
        location / { return 200 "cached\\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_4%% ssl;
        ssl_certificate one.crt;
        ssl_certificate_key one.key;
        ssl_verify_client on;
        ssl_client_certificate ca.crt;
        ssl_ocsp leaf;
        ssl_ocsp_responder http://127.0.0.1:%%PORT_9%%/good/;
        location / { return 200 "good\\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_5%% ssl;
        ssl_certificate one.crt;
        ssl_certificate_key one.key;
        ssl_verify_client on;
        ssl_client_certificate ca.crt;
        ssl_ocsp on;
        ssl_ocsp_responder http://127.0.0.1:%%PORT_9%%/revoked/;
        location / { return 200 "revoked\\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_6%% ssl;
        ssl_certificate one.crt;
        ssl_certificate_key one.key;
        ssl_verify_client optional;
        ssl_client_certificate ca.crt;
        ssl_ocsp leaf;
        ssl_ocsp_responder http://127.0.0.1:%%PORT_9%%/missing/;
        location / { return 200 "missing\\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_7%% ssl;
        ssl_certificate one.crt;
        ssl_certificate_key one.key;
        ssl_verify_client on;
        ssl_client_certificate ca.crt;
        ssl_ocsp leaf;
        ssl_ocsp_responder http://127.0.0.1:%%PORT_9%%/goodcached/;
        ssl_ocsp_cache shared:OCSP:1m;
        location / { return 200 "cache\\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_10%% ssl;
        ssl_certificate one.crt;
        ssl_certificate_key one.key;
        ssl_conf_command Options KTLS;
        sendfile on;
        root %%PREFIX%%/html;
    }
}
EOF
$t->start;

# One request over TLS: (response, peer certificate's CN) or (undef, error).
sub tls_get {
    my ($port, $host, %opt) = @_;
    my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10,
                                 SSL_hostname => $host, SSL_verify_mode => SSL_VERIFY_NONE,
                                 %opt);
    return (undef, $SSL_ERROR || $!) if !$s;
    my $cn = $s->peer_certificate('cn');
    print $s "GET / HTTP/1.0\r\nHost: $host\r\n\r\n";
    my $r = '';
    while (1) {
        my $n = sysread($s, $r, 65536, length $r);
        last if !$n;
    }
    close $s;
    return ($r, $cn);
}

sub client { return (SSL_cert_file => "$conf/client.crt", SSL_key_file => "$conf/client.key", @_) }
sub asked { return scalar grep { m{^GET /$_[0]/} } split /\n/, ($t->read_file('asked') // '') }

# --- certificates named by variables ---
my ($r, $cn) = tls_get($t->port(1), 'one');
is($cn, 'one', 'SNI "one": one.crt');
like($r, qr/sni one$/, 'SNI "one": the request is served');
(undef, $cn) = tls_get($t->port(1), 'two');
is($cn, 'two', 'SNI "two": two.crt');
($r, my $err) = tls_get($t->port(1), 'nx');
ok(!defined $r, 'SNI "nx": no such files, the handshake fails');
like($t->error_log, qr/\[error\] .*cannot load certificate ".*\/nx\.crt": BIO_new_file\(\) failed/,
     'the missing file is logged at error');
unlike($t->error_log, qr/\[crit\]/, 'the failed handshake is not logged at crit');

(undef, $cn) = tls_get($t->port(2), 'any');
is($cn, 'two', 'data: certificate and key');

# renewed files: the uncached server reads them again, the cached one keeps its pair
(undef, $cn) = tls_get($t->port(1), 'fresh');
is($cn, 'one', 'no cache: the first pair');
(undef, $cn) = tls_get($t->port(3), 'cached');
is($cn, 'one', 'cache: the first pair');
for my $copy (qw(fresh cached)) {
    $t->write_file("conf/$copy.crt", $t->read_file('conf/two.crt'));
    $t->write_file("conf/$copy.key", $t->read_file('conf/two.key'));
}
(undef, $cn) = tls_get($t->port(1), 'fresh');
is($cn, 'two', 'no cache: a renewed certificate is read by the next handshake');
(undef, $cn) = tls_get($t->port(3), 'cached');
is($cn, 'one', 'cache: the loaded pair stays while valid');

# --- OCSP checks of client certificates ---
($r) = tls_get($t->port(4), 'localhost', client());
like($r, qr/^HTTP\/1\.1 200 .*X-Verify: SUCCESS:\./s, 'good: served, SUCCESS');
is(asked('good'), 1, 'good: the responder was asked');
($r) = tls_get($t->port(5), 'localhost', client());
like($r, qr/^HTTP\/1\.1 400 .*X-Verify: FAILED:certificate revoked:.*The SSL certificate error/s,
     'revoked: 400 "The SSL certificate error"');
like($t->error_log, qr/\[info\] .*client SSL certificate verify error: certificate revoked/,
     'revoked: logged as nginx');
($r) = tls_get($t->port(6), 'localhost', client());
like($r, qr/X-Verify: FAILED:certificate status request failed/,
     'no answer: FAILED:certificate status request failed');
like($t->error_log, qr/OCSP responder sent unexpected status line "HTTP\/1\.0 404 Not Found"/,
     'no answer: the responder\'s 404 logged');
($r) = tls_get($t->port(6), 'localhost');
like($r, qr/^HTTP\/1\.1 200 .*X-Verify: NONE/s, 'no client certificate: nothing to check');

# the cache: asked once for two handshakes
($r) = tls_get($t->port(7), 'localhost', client());
like($r, qr/X-Verify: SUCCESS/, 'cache: first handshake asks');
($r) = tls_get($t->port(7), 'localhost', client());
like($r, qr/X-Verify: SUCCESS/, 'cache: second handshake');
is(asked('goodcached'), 1, 'cache: the responder was asked once');

# a resumed session is checked again
my $ctx = IO::Socket::SSL::SSL_Context->new(SSL_verify_mode => SSL_VERIFY_NONE,
                                            SSL_session_cache_size => 16, client());
($r) = tls_get($t->port(4), 'localhost', SSL_reuse_ctx => $ctx);
like($r, qr/X-Verify: SUCCESS:\./, 'session: full handshake');
($r) = tls_get($t->port(4), 'localhost', SSL_reuse_ctx => $ctx);
like($r, qr/X-Verify: SUCCESS:r/, 'session: resumed, and SUCCESS');
is(asked('good'), 3, 'session: the resumed handshake asked the responder again');

# --- sendfile with kernel TLS asked for ---
my $ulp = -r '/proc/sys/net/ipv4/tcp_available_ulp'
    ? $t->read_file('/proc/sys/net/ipv4/tcp_available_ulp') // '' : '';
note($ulp =~ /\btls\b/ ? 'the kernel offers TLS: SSL_sendfile() is used'
                        : 'no kernel TLS here: records written by OpenSSL');
my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $t->port(10), Timeout => 10,
                             SSL_verify_mode => SSL_VERIFY_NONE);
print $s "GET /big.bin HTTP/1.0\r\nHost: localhost\r\n\r\n";
$r = '';
while (1) {
    my $n = sysread($s, $r, 65536, length $r);
    last if !$n;
}
close $s;
my ($head, $body) = split /\r\n\r\n/, $r, 2;
like($head, qr/Content-Length: ${\ length $big}/, 'kTLS asked: the file\'s length');
is(md5_hex($body // ''), md5_hex($big), 'kTLS asked: the file\'s bytes');

$t->stop;
$t->done_testing;
