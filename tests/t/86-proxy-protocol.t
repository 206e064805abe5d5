# listen ... proxy_protocol: the PROXY protocol header (v1 text, v2 binary) read before the
# first request, its variables ($proxy_protocol_addr, _port, _server_addr, _server_port,
# $proxy_protocol_tlv_*), real_ip_header proxy_protocol with set_real_ip_from, and what a
# malformed header does: the connection closes with nginx's log line and nothing else is
# affected (a connection opened before it is still served, no descriptor is left).
use strict;
use warnings;
use Test::More;
use IO::Socket::SSL;
use Sluice qw(status_of body_of header_of);

my $t = Sluice->new;
# a certificate for the TLS listener, made by the openssl command line
mkdir $t->prefix . '/conf';
system('cd ' . $t->prefix . '/conf && openssl req -x509 -newkey rsa:2048 -nodes -keyout t.key'
       . ' -out t.crt -days 2 -subj /CN=localhost >/dev/null 2>&1') == 0 or die "openssl failed\n";
$t->write_file('html/index.html', "home\n");
$t->write_file('html/deny/f', "open\n");
$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format pp '$remote_addr:$remote_port $proxy_protocol_addr';
    access_log logs/access.log pp;
    root html;
    add_header X-PP "$proxy_protocol_addr!$proxy_protocol_port";
    add_header X-PPS "$proxy_protocol_server_addr!$proxy_protocol_server_port";
    add_header X-IP "$remote_addr!$remote_port";
    add_header X-TLV "$proxy_protocol_tlv_alpn|$proxy_protocol_tlv_0xe0|$proxy_protocol_tlv_ssl_verify|$proxy_protocol_tlv_ssl_version";
    server {
        listen 127.0.0.1:%%PORT_1%% proxy_protocol;
        location / { }
    }
    # realip at the server level: the post-read phase applies it before any "return"
    server {
        listen 127.0.0.1:%%PORT_3%% proxy_protocol;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location /real { return 200 "$remote_addr $realip_remote_addr\n"; }
        location /deny/ { deny 192.0.2.1; }
    }
    server {
        listen 127.0.0.1:%%PORT_4%% proxy_protocol;
        set_real_ip_from 10.0.0.1;
        real_ip_header proxy_protocol;
        location / { return 200 "$remote_addr\n"; }
    }
    # TLS: the header comes before the handshake
    server {
        listen 127.0.0.1:%%PORT_5%% ssl proxy_protocol;
        ssl_certificate t.crt;
        ssl_certificate_key t.key;
        location / { return 200 "tls $proxy_protocol_addr:$proxy_protocol_port $https\n"; }
    }
    # the same server without the header: a PROXY line there is a bad request line
    server {
        listen 127.0.0.1:%%PORT_2%%;
        location / { }
    }
}
EOF
$t->start;
my ($p1, $p2, $p3, $p4) = map { $t->port($_) } 1 .. 4;

my $GET = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
my $tcp4 = "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\n";
my $tcp6 = "PROXY TCP6 2001:Db8::1 2001:Db8::2 1234 80\r\n";

sub v2 {
    my ($cmd, $fam, $addrs, $tlvs) = @_;
    $addrs //= '';
    $tlvs //= '';
    return "\r\n\r\n\0\r\nQUIT\n" . pack('CCn', $cmd, $fam, length($addrs . $tlvs)) . $addrs . $tlvs;
}
my $v2addr4 = pack('C4C4nn', 192, 0, 2, 1, 192, 0, 2, 2, 123, 5678);
my $ssl = pack('CN', 1, 255) . pack('Cn', 0x21, 7) . 'TLSv1.3';
my $tlvs = pack('Cn', 0x01, 2) . 'h2' . pack('Cn', 0xe0, 3) . 'abc' . pack('Cn', 0x20, length $ssl) . $ssl;

# ---- v1 ----
my $r = $t->http($p1, $tcp4 . $GET);
is(status_of($r), 200, 'v1 TCP4: served');
is(body_of($r), "home\n", 'v1 TCP4: the request after the header');
is(header_of($r, 'X-PP'), '192.0.2.1!123', 'v1 TCP4: $proxy_protocol_addr and _port');
is(header_of($r, 'X-PPS'), '192.0.2.2!5678', 'v1 TCP4: the server address and port');
like(header_of($r, 'X-IP'), qr/^127\.0\.0\.1!\d+$/, 'v1 TCP4: $remote_addr stays the peer');

$r = $t->http($p1, $tcp6 . $GET);
is(header_of($r, 'X-PP'), '2001:Db8::1!1234', 'v1 TCP6: the address as sent');
is(header_of($r, 'X-PPS'), '2001:Db8::2!80', 'v1 TCP6: the server address');

for my $unknown ("PROXY UNKNOWN\r\n", "PROXY UNKNOWN 1 2 3 4 5 6\r\n") {
    $r = $t->http($p1, $unknown . $GET);
    is(status_of($r), 200, "UNKNOWN: served (" . length($unknown) . " bytes)");
    is(header_of($r, 'X-PP'), '!', 'UNKNOWN: no address');
}

# the header and the request in pieces: each is awaited
{
    my $s = $t->connect($p1);
    for my $piece ('PROX', 'Y TCP4 192.0.2.1 ', "192.0.2.2 123 5678\r", "\n", "GET / HTTP/1.0\r\n", "\r\n") {
        print $s $piece;
        select(undef, undef, undef, 0.05);
    }
    $r = $t->read_all($s);
    is(header_of($r, 'X-PP'), '192.0.2.1!123', 'v1 in pieces: read whole');
    close $s;
}

# keepalive: the header is read once, its addresses stay for every request
{
    my $s = $t->connect($p1);
    print $s $tcp4 . "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    $r = $t->read_all($s);
    my @pp = $r =~ /X-PP: ([^\r]*)/g;
    is_deeply(\@pp, ['192.0.2.1!123', '192.0.2.1!123'], 'keepalive: two requests, one header');
    close $s;
}

# ---- v2 ----
$r = $t->http($p1, v2(0x21, 0x11, $v2addr4) . $GET);
is(header_of($r, 'X-PP'), '192.0.2.1!123', 'v2 PROXY TCP4: the address');
is(header_of($r, 'X-PPS'), '192.0.2.2!5678', 'v2 PROXY TCP4: the server address');
my $v2addr6 = pack('n8n8nn', 0x2001, 0xdb8, 0, 0, 0, 0, 0, 1, 0x2001, 0xdb8, 0, 0, 0, 0, 0, 2, 8080, 443);
$r = $t->http($p1, v2(0x21, 0x21, $v2addr6) . $GET);
is(header_of($r, 'X-PP'), '2001:db8::1!8080', 'v2 PROXY TCP6');
$r = $t->http($p1, v2(0x20, 0x00) . $GET);
is(status_of($r), 200, 'v2 LOCAL: served');
is(header_of($r, 'X-PP'), '!', 'v2 LOCAL: no address');
$r = $t->http($p1, v2(0x21, 0x11, $v2addr4, $tlvs) . $GET);
is(header_of($r, 'X-TLV'), 'h2|abc|255|TLSv1.3', 'v2 TLVs: by name, by number, inside ssl');
is(header_of($r, 'X-PP'), '192.0.2.1!123', 'v2 TLVs: skipped to the request');
# a header larger than the 1k header buffer (TLVs of 3000 bytes)
$r = $t->http($p1, v2(0x21, 0x11, $v2addr4, pack('Cn', 0xe1, 3000) . ('x' x 3000)) . $GET);
is(status_of($r), 200, 'v2 with 3000 bytes of TLVs: served');

# ---- realip ----
$r = $t->http($p3, $tcp4 . "GET /real HTTP/1.0\r\n\r\n");
is(body_of($r), "192.0.2.1 127.0.0.1\n", 'real_ip_header proxy_protocol: $remote_addr');
is(header_of($r, 'X-IP'), '192.0.2.1!123', 'realip: $remote_port from the header');
$r = $t->http($p3, $tcp4 . "GET /deny/f HTTP/1.0\r\n\r\n");
is(status_of($r), 403, 'realip: access sees the address of the header');
$r = $t->http($p3, $tcp6 . "GET /deny/f HTTP/1.0\r\n\r\n");
is(status_of($r), 200, 'realip: another address is allowed');
$r = $t->http($p4, $tcp4 . "GET /untrusted HTTP/1.0\r\n\r\n");
is(body_of($r), "127.0.0.1\n", 'realip: an untrusted peer keeps its address');
$r = $t->http($p3, "PROXY UNKNOWN\r\nGET /real HTTP/1.0\r\n\r\n");
is(body_of($r), "127.0.0.1 127.0.0.1\n", 'realip: UNKNOWN keeps the peer');

# ---- TLS under the header ----
sub tls_get {
    my ($header) = @_;
    my $s = $t->connect($t->port(5)) or return undef;
    print $s $header;
    IO::Socket::SSL->start_SSL($s, SSL_verify_mode => SSL_VERIFY_NONE, Timeout => 10) or return undef;
    print $s "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my $r = '';
    while (my $n = sysread($s, my $buf, 65536)) { $r .= $buf; }
    close $s;
    return $r;
}
is(body_of(tls_get($tcp4)), "tls 192.0.2.1:123 on\n", 'TLS: v1 header, then the handshake');
is(body_of(tls_get(v2(0x21, 0x11, $v2addr4, $tlvs))), "tls 192.0.2.1:123 on\n", 'TLS: v2 header with TLVs');
{
    my $before = length $t->error_log;
    my $s = $t->connect($t->port(5));
    print $s "PROXY TCP9 x\r\n";
    my ($got, $eof) = $t->read_all($s, 5);
    ok($eof && $got eq '', 'TLS: a broken header closes before any handshake');
    close $s;
    like(substr($t->error_log, $before), qr/broken header: "PROXY TCP9 x" while reading PROXY protocol/,
         'TLS: nginx\'s line');
}

# without proxy_protocol on the listen, the line is a bad request
$r = $t->http($p2, $tcp4 . $GET);
is(status_of($r), 400, 'no proxy_protocol on the listen: 400');

# ---- malformed headers ----
my $idle = $t->connect($p1);
print $idle $tcp4 . "GET / HTTP/1.1\r\nHost: a\r\n";   # a request in progress meanwhile
my @broken = (
    [ 'plain request', $GET, qr/broken header: "GET \/ HTTP\/1.0" while reading PROXY protocol, client: 127\.0\.0\.1/ ],
    [ 'v1 wrong protocol', "PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n$GET", qr/broken header: "PROXY TCP5 / ],
    [ 'v1 bad address', "PROXY TCP4 192.0.2.300 192.0.2.2 1 2\r\n$GET", qr/broken header: "PROXY TCP4 192\.0\.2\.300/ ],
    [ 'v1 bad port', "PROXY TCP4 192.0.2.1 192.0.2.2 1 65536\r\n$GET", qr/broken header: "PROXY TCP4 192\.0\.2\.1 192\.0\.2\.2 1 65536"/ ],
    [ 'v1 too long', 'PROXY UNKNOWN ' . ('a' x 200) . "\r\n$GET", qr/broken header: "PROXY UNKNOWN a{93}"/ ],
    [ 'v1 truncated', 'PROXY TCP4 192.0.2.1 19', qr/broken header: "PROXY TCP4 192\.0\.2\.1 19"/ ],
    [ 'v2 truncated', substr(v2(0x21, 0x11, $v2addr4), 0, 20), qr/header is too large/ ],
    [ 'v2 too long', "\r\n\r\n\0\r\nQUIT\n" . pack('CCn', 0x21, 0x11, 5000) . $v2addr4, qr/header is too large/ ],
    [ 'v2 wrong version', "\r\n\r\n\0\r\nQUIT\n" . pack('CCn', 0x31, 0x11, 12) . $v2addr4, qr/unknown PROXY protocol version: 3/ ],
    [ 'v2 wrong signature', "\r\n\r\n\0\r\nQUIX\n" . pack('CCn', 0x21, 0x11, 12) . $v2addr4, qr/broken header: ""/ ],
);
for my $case (@broken) {
    my ($name, $bytes, $log) = @$case;
    my $before = length $t->error_log;
    my $s = $t->connect($p1);
    print $s $bytes;
    shutdown($s, 1) if $name =~ /truncated/;
    my ($got, $eof) = $t->read_all($s, 5);
    is($got, '', "$name: nothing answered");
    ok($eof, "$name: the connection is closed");
    close $s;
    like(substr($t->error_log, $before), $log, "$name: nginx's log line");
}
print $idle "Connection: close\r\n\r\n";
$r = $t->read_all($idle);
is(header_of($r, 'X-PP'), '192.0.2.1!123', 'a connection open meanwhile is still served');
close $idle;
$t->check_fds;

$t->stop;
like($t->read_file('logs/access.log'), qr/^192\.0\.2\.1:123 192\.0\.2\.1$/m, 'access log: the realip address');
$t->done_testing;
