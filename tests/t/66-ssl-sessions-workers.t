# TLS sessions across workers (two workers, reuseport sockets so both get connections):
# - session tickets without ssl_session_ticket_key, with a shared session cache: the keys
#   live in the cache, so a ticket one worker issued resumes on the other; they rotate every
#   ssl_session_timeout (a TLSv1.2 ticket's key name changes once the timeout has passed;
#   the keys belong to the cache, so that server has a cache of its own);
# - proxy_ssl_session_reuse to an upstream group with a shared zone: the session one worker
#   got from the TLS origin is offered by the other worker's first connection (the origin,
#   a Perl TLS server, says whether each handshake was resumed); a group without a zone
#   keeps sessions per worker, so each worker's first connection is a full handshake.
use strict;
use warnings;
use Test::More;
use IO::Socket::SSL;
use Sluice;
use Origin;

my $t = Sluice->new;
my $conf = $t->prefix . '/conf';
my $user = $> == 0 ? 'user root;' : '';

sub openssl {
    my ($args) = @_;
    system("cd $conf && openssl $args >/dev/null 2>&1") == 0 or die "openssl $args failed\n";
}
openssl('req -x509 -newkey rsa:2048 -nodes -keyout server.key -out server.crt -days 2 '
        . '-subj /CN=localhost');

# the TLS origin: one context made before the connections' processes fork, so its ticket
# keys are the same in all of them; the body says whether the handshake resumed
my $origin_ctx = IO::Socket::SSL::SSL_Context->new(
    SSL_server => 1, SSL_cert_file => "$conf/server.crt", SSL_key_file => "$conf/server.key")
    or die "origin context: $SSL_ERROR";
for my $n (8, 9) {
    Origin::scripted(port => $t->port($n), handler => sub {
        my ($c) = @_;
        IO::Socket::SSL->start_SSL($c, SSL_server => 1, SSL_reuse_ctx => $origin_ctx) or return;
        Origin::read_head($c);
        my $body = ($c->get_session_reused ? 'resumed' : 'full') . "\n";
        print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
            . "\r\nConnection: close\r\n\r\n$body";
        $c->close(SSL_fast_shutdown => 1);
    });
}

$t->write_config(<<"EOF");
daemon off;
master_process on;
worker_processes 2;
$user
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    access_log off;
    ssl_certificate server.crt;
    ssl_certificate_key server.key;
    ssl_session_cache shared:SSL:1m;
    upstream zoned {
        zone ups 64k;
        server 127.0.0.1:%%PORT_8%%;
    }
    upstream unzoned {
        server 127.0.0.1:%%PORT_9%%;
    }
    server {
        listen 127.0.0.1:%%PORT_1%% ssl reuseport;
        # TLSv1.2: its ticket comes inside the handshake, so the client has it when the
        # connection is up (a TLSv1.3 ticket arrives after it, and the client's session
        # cache may not hold it yet when the next connection starts)
        ssl_protocols TLSv1.2;
        location / { return 200 "\$pid\\n"; }
        location /zoned { proxy_pass https://zoned; add_header X-Pid \$pid; }
        location /unzoned { proxy_pass https://unzoned; add_header X-Pid \$pid; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%% ssl reuseport;
        ssl_protocols TLSv1.2;
        ssl_session_cache shared:ROTATED:1m;
        ssl_session_timeout 3s;
        location / { return 200 "\$pid\\n"; }
    }
}
EOF
$t->start;

sub tls_get {
    my ($port, $path, %opt) = @_;
    my $s = IO::Socket::SSL->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10,
                                 SSL_verify_mode => SSL_VERIFY_NONE, %opt)
        or return (undef, 0);
    my $reused = $s->get_session_reused;
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my $r = '';
    while (1) {
        my $n = sysread($s, $r, 65536, length $r);
        last if !$n;
    }
    close $s;
    return ($r, $reused);
}

# --- tickets: issued by one worker, resumed by the other ---
my $ctx = IO::Socket::SSL::SSL_Context->new(SSL_verify_mode => SSL_VERIFY_NONE,
                                            SSL_session_cache_size => 16);
my ($r, $reused) = tls_get($t->port(1), '/', SSL_reuse_ctx => $ctx);
my ($first) = ($r // '') =~ /\r\n\r\n(\d+)/;
ok($first && !$reused, 'first connection: a full handshake, a ticket');
my ($other, $other_reused);
for (1 .. 60) {
    ($r, $reused) = tls_get($t->port(1), '/', SSL_reuse_ctx => $ctx);
    my ($pid) = ($r // '') =~ /\r\n\r\n(\d+)/;
    if ($pid && $pid != $first) {
        ($other, $other_reused) = ($pid, $reused);
        last;
    }
}
ok($other, 'the other worker served a connection');
ok($other_reused, 'the other worker resumed the session (shared ticket keys)');

# --- rotation: the ticket key's name (TLSv1.2 ticket, first 16 bytes) changes ---
sub ticket_key_name {
    my $file = $t->prefix . '/sess.pem';
    unlink $file;
    system("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | openssl s_client -connect 127.0.0.1:"
           . $t->port(2) . " -tls1_2 -ign_eof -sess_out $file >/dev/null 2>&1");
    my $text = `openssl sess_id -in $file -noout -text 2>/dev/null`;
    my ($dump) = $text =~ /TLS session ticket:\n((?:\s+[0-9a-f]{4} - .*\n)+)/;
    return '' if !$dump;
    my @bytes = $dump =~ /(?:^|[\s-])([0-9a-f]{2})(?=[\s-])/g;
    return join '', @bytes[0 .. 15];
}
my $key = ticket_key_name();
ok(length $key == 32, 'a ticket with a key name');
is(ticket_key_name(), $key, 'within the timeout: the same key');
select undef, undef, undef, 3.5;
my $next = ticket_key_name();
ok(length $next == 32 && $next ne $key, 'after the timeout: a new key');

# --- upstream sessions in the group's shared zone ---
sub first_per_worker {
    my ($path) = @_;
    my %seen;
    for (1 .. 60) {
        my ($resp) = tls_get($t->port(1), $path);
        my ($pid) = ($resp // '') =~ /^X-Pid: (\d+)/mi;
        my ($how) = ($resp // '') =~ /\r\n\r\n(resumed|full)/;
        next if !$pid || !$how;
        $seen{$pid} //= $how;
        last if keys %seen == 2;
    }
    return map { $seen{$_} } sort keys %seen;
}
my @zoned = first_per_worker('/zoned');
is(scalar @zoned, 2, 'zone: both workers reached the origin');
is(scalar(grep { $_ eq 'resumed' } @zoned), 1,
   'zone: the second worker\'s first connection resumed the first worker\'s session');
my @unzoned = first_per_worker('/unzoned');
is(scalar @unzoned, 2, 'no zone: both workers reached the origin');
is(scalar(grep { $_ eq 'full' } @unzoned), 2, 'no zone: each worker starts with a full handshake');

$t->stop;
$t->done_testing;
