# TLS toward clients, with certificates made here by the openssl command line: a handshake
# with each protocol and both key types (RSA and ECDSA on one server), an old protocol
# refused, SNI choosing between two servers (and their certificates), client certificates
# (required, optional, from an unknown CA), sessions resumed across two workers (shared
# cache without tickets, and tickets), ticket key rotation, a plain HTTP request to the TLS
# port (497's page), a stalled handshake closed after client_header_timeout, and the
# variables.
use strict;
use warnings;
use Test::More;
use IO::Socket::SSL;
use Sluice;

my $t = Sluice->new;
my $conf = $t->prefix . '/conf';

sub openssl {
    my ($args) = @_;
    system("cd $conf && openssl $args >/dev/null 2>&1") == 0 or die "openssl $args failed\n";
}

# a CA, and under it a client; another CA the server does not trust, and its client
openssl('req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca');
openssl('req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -days 2 '
        . '-subj /CN=other-ca');
for my $c (['client', 'ca'], ['stranger', 'other-ca']) {
    my ($name, $ca) = @$c;
    openssl("req -newkey rsa:2048 -nodes -keyout $name.key -out $name.csr -subj /CN=$name");
    openssl("x509 -req -in $name.csr -CA $ca.crt -CAkey $ca.key -CAcreateserial -days 2 "
            . "-out $name.crt");
}
# the servers: a.test with RSA and ECDSA, b.test with ECDSA only
openssl('req -x509 -newkey rsa:2048 -nodes -keyout a-rsa.key -out a-rsa.crt -days 2 '
        . '-subj /CN=a.test-rsa');
openssl('req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout a-ec.key '
        . '-out a-ec.crt -days 2 -subj /CN=a.test-ecdsa');
openssl('req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout b.key '
        . '-out b.crt -days 2 -subj /CN=b.test');
# two ticket keys
openssl('rand -out t1.key 80');
openssl('rand -out t2.key 80');

$t->write_config(<<'EOF');
daemon off;
master_process on;
worker_processes 2;
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_header_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT_1%% ssl;
        server_name a.test;
        ssl_certificate a-rsa.crt;
        ssl_certificate_key a-rsa.key;
        ssl_certificate a-ec.crt;
        ssl_certificate_key a-ec.key;
        location / {
            return 200 "a $scheme $https $ssl_protocol $ssl_cipher sni=$ssl_server_name alpn=$ssl_alpn_protocol\n";
        }
        location /redirect { return 302 /elsewhere; }
    }
    server {
        listen 127.0.0.1:%%PORT_1%% ssl;
        server_name b.test;
        ssl_certificate b.crt;
        ssl_certificate_key b.key;
        location / { return 200 "b $ssl_server_name\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%% ssl;
        ssl_certificate b.crt;
        ssl_certificate_key b.key;
        ssl_client_certificate ca.crt;
        ssl_verify_client on;
        location / { return 200 "verified $ssl_client_verify $ssl_client_s_dn $ssl_client_i_dn\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_3%% ssl;
        ssl_certificate b.crt;
        ssl_certificate_key b.key;
        ssl_client_certificate ca.crt;
        ssl_verify_client optional;
        location / { return 200 "optional $ssl_client_verify\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_4%% ssl;
        ssl_certificate b.crt;
        ssl_certificate_key b.key;
        ssl_session_cache shared:S:1m;
        ssl_session_tickets off;
        location / { return 200 "$ssl_session_reused $pid\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_5%% ssl;
        ssl_certificate b.crt;
        ssl_certificate_key b.key;
        ssl_session_ticket_key t1.key;
        location / { return 200 "$ssl_session_reused $pid\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_6%% ssl;
        ssl_certificate b.crt;
        ssl_certificate_key b.key;
        ssl_session_ticket_key t2.key;
        ssl_session_ticket_key t1.key;
        location / { return 200 "$ssl_session_reused $pid\n"; }
    }
}
EOF
$t->start;
my @p = map { $t->port($_) } 1 .. 6;

# One request over TLS; (response, socket info) or (undef, error).
sub tls_get {
    my ($port, %opt) = @_;
    my $host = delete $opt{host} // 'a.test';
    my $path = delete $opt{path} // '/';
    my @tls = $opt{SSL_reuse_ctx} ? () : (SSL_verify_mode => SSL_VERIFY_NONE,
                                          SSL_alpn_protocols => ['http/1.1']);
    my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10,
                                 SSL_hostname => $host, @tls, %opt);
    return (undef, $SSL_ERROR || $!) if !$s;
    my %info = (version => $s->get_sslversion, cipher => $s->get_cipher,
                cn => $s->peer_certificate('cn'), reused => $s->get_session_reused);
    print $s "GET $path HTTP/1.0\r\nHost: $host\r\n\r\n";
    my $r = '';
    while (1) {
        my $n = sysread($s, $r, 65536, length $r);
        last if !$n;
    }
    close $s;
    return ($r, \%info);
}

# A client context that keeps its sessions, for the connections that share it.
sub client_ctx {
    return IO::Socket::SSL::SSL_Context->new(SSL_verify_mode => SSL_VERIFY_NONE,
                                             SSL_session_cache_size => 16, @_);
}

sub body { my ($r) = @_; return defined $r && $r =~ /\r\n\r\n(.*)\z/s ? $1 : '' }

# Each protocol, each key type.
for my $case (['TLSv1_2', 'ECDHE-RSA-AES128-GCM-SHA256', 'a.test-rsa'],
              ['TLSv1_2', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'a.test-ecdsa']) {
    my ($proto, $cipher, $cn) = @$case;
    my ($r, $i) = tls_get($p[0], SSL_version => $proto, SSL_cipher_list => $cipher);
    like(body($r), qr/^a https on TLSv1\.2 \Q$cipher\E sni=a\.test alpn=http\/1\.1$/,
         "$proto $cipher: variables");
    is($i->{cn}, $cn, "$proto $cipher: the certificate of that key type");
}
my ($r, $i) = tls_get($p[0], SSL_version => 'TLSv1_3');
like(body($r), qr/^a https on TLSv1\.3 TLS_\S+ sni=a\.test alpn=http\/1\.1$/, 'TLSv1.3');
is($i->{version}, 'TLSv1_3', 'TLSv1.3 negotiated');
($r, my $err) = tls_get($p[0], SSL_version => 'TLSv1_1', SSL_cipher_list => 'DEFAULT@SECLEVEL=0');
ok(!defined $r, 'TLSv1.1 is not among the default protocols');

# SNI picks the server and its certificate.
($r, $i) = tls_get($p[0], host => 'b.test');
is(body($r), "b b.test\n", 'SNI: b.test answered by its server');
is($i->{cn}, 'b.test', 'SNI: with its certificate');
($r, $i) = tls_get($p[0], host => 'unknown.test', SSL_version => 'TLSv1_2',
                   SSL_cipher_list => 'ECDHE-RSA-AES128-GCM-SHA256');
like(body($r), qr/^a /, 'SNI: an unknown name gets the default server');

# Absolute redirects say https.
($r) = tls_get($p[0], path => '/redirect');
like($r, qr{\r\nLocation: https://a\.test:$p[0]/elsewhere\r\n}, 'Location: https://');

# Client certificates.
($r) = tls_get($p[1]);
like($r, qr{^HTTP/1\.1 400 .*No required SSL certificate was sent}s, 'verify on: no certificate, 496 page');
($r) = tls_get($p[1], SSL_cert_file => "$conf/client.crt", SSL_key_file => "$conf/client.key");
is(body($r), "verified SUCCESS CN=client CN=test-ca\n", 'verify on: a good certificate');
($r) = tls_get($p[1], SSL_cert_file => "$conf/stranger.crt", SSL_key_file => "$conf/stranger.key");
like($r, qr{^HTTP/1\.1 400 .*The SSL certificate error}s, 'verify on: an unknown CA, 495 page');
like($t->error_log, qr/client SSL certificate verify error: \(\d+:[^)]+\) while reading client request headers/,
     'verify on: the verdict logged as nginx does');
($r) = tls_get($p[2]);
is(body($r), "optional NONE\n", 'verify optional: no certificate is fine');
($r) = tls_get($p[2], SSL_cert_file => "$conf/client.crt", SSL_key_file => "$conf/client.key");
is(body($r), "optional SUCCESS\n", 'verify optional: a good certificate');

# Sessions resumed whichever worker answers: the shared cache (tickets off), then tickets
# (over TLSv1.2, whose tickets a client may use again: OpenSSL's client takes a TLSv1.3
# ticket once, and then needs the one the resumed handshake brought).
for my $case ([$p[3], 'shared cache', 'TLSv1_3'], [$p[4], 'tickets', 'TLSv1_2']) {
    my ($port, $what, $version) = @$case;
    my $ctx = client_ctx(SSL_version => $version);
    my (%pids, $resumed, $full) = ((), 0, 0);
    for my $n (1 .. 30) {
        my ($res) = tls_get($port, SSL_reuse_ctx => $ctx, SSL_session_key => "k$port");
        my ($mark, $pid) = split ' ', body($res);
        $pids{$pid}++ if $pid;
        $mark eq "r" ? $resumed++ : $full++;
        last if keys %pids > 1 && $n > 4;
    }
    is($full, 1, "$what: one full handshake");
    ok($resumed >= 4, "$what: the others resumed");
    cmp_ok(scalar keys %pids, '>', 1, "$what: by both workers");
}

# Ticket keys: a ticket of t1 is taken by the server whose first key is t2 and t1 after it.
{
    my $ctx = client_ctx();
    my ($r1) = tls_get($p[4], SSL_reuse_ctx => $ctx, SSL_session_key => 'rotate');
    like(body($r1), qr/^\. /, 'ticket key rotation: a full handshake first');
    my ($r2) = tls_get($p[5], SSL_reuse_ctx => $ctx, SSL_session_key => 'rotate');
    like(body($r2), qr/^r /, 'ticket key rotation: the older key still decrypts');
}

# A reload: new workers with new contexts (the old ones freed), and sessions resumed across
# it: from the shared cache (kept by the new configuration), from a ticket key file.
{
    my $ctx = client_ctx(SSL_version => 'TLSv1_2');
    my $cache_ctx = client_ctx();
    my ($cached) = tls_get($p[3], SSL_reuse_ctx => $cache_ctx, SSL_session_key => 'cache');
    like(body($cached), qr/^\. /, 'reload: a session in the shared cache');
    my ($before) = tls_get($p[4], SSL_reuse_ctx => $ctx, SSL_session_key => 'reload');
    my ($mark, $old_pid) = split ' ', body($before);
    $t->signal('HUP');
    my $new_pid;
    ok($t->wait_for(sub {
        my ($res) = tls_get($p[0], host => 'b.test', path => '/');
        my ($x) = tls_get($p[4], SSL_version => 'TLSv1_2');
        (undef, $new_pid) = split ' ', body($x);
        return $new_pid && $new_pid ne $old_pid && body($res) eq "b b.test\n";
    }), 'reload: the new workers answer over TLS');
    my ($after) = tls_get($p[4], SSL_reuse_ctx => $ctx, SSL_session_key => 'reload');
    like(body($after), qr/^r /, 'reload: a ticket of the key file is still taken');
    my ($again) = tls_get($p[3], SSL_reuse_ctx => $cache_ctx, SSL_session_key => 'cache');
    like(body($again), qr/^r /, 'reload: the shared cache kept its sessions');
}

# Plain HTTP to the TLS port.
$r = $t->http($p[0], "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
like($r, qr{^HTTP/1\.1 400 Bad Request\r\n}, 'plain HTTP: 400');
like($r, qr{<title>400 The plain HTTP request was sent to HTTPS port</title>}, 'plain HTTP: 497 page');
like($t->error_log, qr/\[info\] .*client sent plain HTTP request to HTTPS port while reading client request headers/,
     'plain HTTP: logged as nginx does');

# A handshake that stalls is closed after client_header_timeout.
{
    my $s = $t->connect($p[0]);
    print $s "\x16\x03\x01\x00";
    my ($data, $eof) = $t->read_all($s, 8);
    ok($eof, 'stalled handshake: closed');
    close $s;
}
sleep 0.2;
like($t->error_log, qr/client timed out \(110: Connection timed out\) while SSL handshaking/,
     'stalled handshake: logged as nginx does');

$t->stop;
$t->done_testing;
