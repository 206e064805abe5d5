# TLS listeners of every address kind (IPv4, IPv6 where the host has it, a unix socket) and
# large bodies over TLS: a static file with sendfile on (read into records instead), a
# proxied response spilled to a temp file, an upload; every byte checked.  A client that
# resets in the middle of its handshake leaves nothing behind (the final descriptor check).
use strict;
use warnings;
use Test::More;
use Digest::MD5 qw(md5_hex);
use IO::Socket::SSL;
use IO::Socket::UNIX;
use Sluice;

my $t = Sluice->new;
my $conf = $t->prefix . '/conf';
system("cd $conf && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
       . "-keyout k.key -out k.crt -days 2 -subj /CN=localhost >/dev/null 2>&1") == 0
    or die "openssl failed\n";
my $ipv6 = IO::Socket::INET->can('new') && eval {
    require IO::Socket::IP;
    IO::Socket::IP->new(Listen => 1, LocalHost => '::1', LocalPort => 0) ? 1 : 0;
};
my $v6_listen = $ipv6 ? 'listen [::1]:%%PORT_3%% ssl;' : '';
my $sock = $t->prefix . '/logs/tls.sock';

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_max_body_size 10m;
    ssl_certificate k.crt;
    ssl_certificate_key k.key;
    server {
        listen 127.0.0.1:%%PORT_1%% ssl;
        $v6_listen
        listen unix:$sock ssl;
        root html;
        client_max_body_size 10m;
        location /proxied/ {
            proxy_pass http://127.0.0.1:%%PORT_2%%/;
            proxy_buffers 2 4k;
            proxy_buffer_size 4k;
            proxy_busy_buffers_size 4k;
            proxy_max_temp_file_size 64m;
        }
        location /upload {
            proxy_pass http://127.0.0.1:%%PORT_2%%/echo;
        }
        location /addr { return 200 "\$scheme \$server_addr\\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        root html;
        location /echo { return 200 "got \$content_length\\n"; }
    }
}
EOF
my $big = join('', map { chr(($_ * 7 + 3) % 251) } 0 .. 65535) x 48;    # 3 MiB
$t->write_file('html/big.bin', $big);
$t->start;
my $p = $t->port(1);

sub tls_request {
    my ($s, $request) = @_;
    return undef if !$s;
    print $s $request;
    my $r = '';
    while (1) {
        my $n = sysread($s, $r, 1 << 20, length $r);
        last if !$n;
    }
    close $s;
    return $r;
}

sub tls4 {
    return IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $p, Timeout => 10,
                                SSL_verify_mode => SSL_VERIFY_NONE);
}

sub body { my ($r) = @_; return defined $r && $r =~ /\r\n\r\n(.*)\z/s ? $1 : '' }

is(body(tls_request(tls4(), "GET /addr HTTP/1.0\r\n\r\n")), "https 127.0.0.1\n", 'IPv4');
SKIP: {
    skip 'no IPv6 on this host', 1 if !$ipv6;
    my $s = IO::Socket::SSL->new(PeerAddr => '::1', PeerPort => $t->port(3), Timeout => 10,
                                 SSL_verify_mode => SSL_VERIFY_NONE);
    is(body(tls_request($s, "GET /addr HTTP/1.0\r\n\r\n")), "https ::1\n", 'IPv6');
}
{
    my $u = IO::Socket::UNIX->new(Peer => $sock, Type => Socket::SOCK_STREAM());
    my $s = $u && IO::Socket::SSL->start_SSL($u, SSL_verify_mode => SSL_VERIFY_NONE);
    like(body(tls_request($s, "GET /addr HTTP/1.0\r\n\r\n")), qr/^https /, 'unix socket');
}

my $r = tls_request(tls4(), "GET /big.bin HTTP/1.0\r\n\r\n");
is(length(body($r)), length($big), 'static file over TLS (sendfile on): every byte');
is(md5_hex(body($r)), md5_hex($big), 'static file over TLS: the right bytes');

$r = tls_request(tls4(), "GET /proxied/big.bin HTTP/1.0\r\n\r\n");
is(md5_hex(body($r)), md5_hex($big), 'proxied through a temp file over TLS: the right bytes');

my $upload = 'u' x (2 * 1024 * 1024);
$r = tls_request(tls4(), "POST /upload HTTP/1.0\r\nContent-Length: " . length($upload)
                         . "\r\n\r\n$upload");
is(body($r), "got " . length($upload) . "\n", 'an upload over TLS') or diag(substr($r // 'undef', 0, 300));

# a client that resets halfway through its hello
{
    my $s = $t->connect($p);
    print $s "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    sleep 0.2;
    setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_LINGER(), pack('ii', 1, 0));
    close $s;
}
is(body(tls_request(tls4(), "GET /addr HTTP/1.0\r\n\r\n")), "https 127.0.0.1\n",
   'still serving after a reset handshake');

$t->stop;
$t->done_testing;
