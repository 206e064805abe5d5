# OCSP stapling from ssl_stapling_file: a CA and its OCSP answer for the server's
# certificate made with the openssl command line; a client asking for the status
# (openssl s_client -status) gets the response, one that does not ask gets none, and a
# certificate without a file is warned about at start-up.  Fetched from a responder
# (ssl_stapling_responder, a scripted one here that logs what it is asked): the first
# handshake starts the fetch, a later one gets the answer (also with ssl_stapling_verify
# and the signer trusted); a certificate whose issuer is neither in its chain nor trusted
# is warned about; a "revoked" answer and a responder answering 404 staple nothing.
use strict;
use warnings;
use Test::More;
use Sluice;
use Origin;

my $t = Sluice->new;
my $conf = $t->prefix . '/conf';

sub openssl {
    my ($args) = @_;
    system("cd $conf && openssl $args >/dev/null 2>&1") == 0 or die "openssl $args failed\n";
}

openssl('req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=ocsp-ca');
openssl('req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=stapled');
openssl('x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 '
        . '-out server.crt');
my $serial = `cd $conf && openssl x509 -in server.crt -noout -serial`;
$serial =~ s/^serial=//;
chomp $serial;
$t->write_file('conf/index.txt', "V\t301231000000Z\t\t$serial\tunknown\t/CN=stapled\n");
openssl('ocsp -index index.txt -rsigner ca.crt -rkey ca.key -CA ca.crt -issuer ca.crt '
        . '-cert server.crt -respout resp.der -ndays 1');
$t->write_file('conf/index-revoked.txt',
               "R\t301231000000Z\t250101000000Z\t$serial\tunknown\t/CN=stapled\n");
openssl('ocsp -index index-revoked.txt -rsigner ca.crt -rkey ca.key -CA ca.crt -issuer ca.crt '
        . '-cert server.crt -respout revoked.der -ndays 1');
# a CA the answers are not signed by: what ssl_stapling_verify trusts in one server
openssl('req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 -subj /CN=other');
$t->write_file('conf/chain.crt', $t->read_file('conf/server.crt') . $t->read_file('conf/ca.crt'));

# the responder: "/good/..." and "/revoked/..." answer with those files, anything else 404;
# each request's first line goes to a file
my $responder_port = $t->port(9);
my $asked = $t->prefix . '/asked';
Origin::scripted(port => $responder_port, handler => sub {
    my ($c) = @_;
    my $head = Origin::read_head($c);
    my ($line) = $head =~ /^([^\r\n]*)/;
    open my $log, '>>', $asked or die; print $log "$line\n"; close $log;
    my ($kind) = $line =~ m{^GET /(good|revoked)/\S+ HTTP/1\.0$};
    if (!$kind) {
        print $c "HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\n";
        return;
    }
    my $der = $t->read_file('conf/' . ($kind eq 'good' ? 'resp.der' : 'revoked.der'));
    print $c "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\n"
        . "Content-Length: " . length($der) . "\r\n\r\n" . $der;
});

$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_1%% ssl;
        ssl_certificate server.crt;
        ssl_certificate_key server.key;
        ssl_stapling on;
        ssl_stapling_file resp.der;
        location / { return 200 "stapled\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%% ssl;
        ssl_certificate server.crt;
        ssl_certificate_key server.key;
        ssl_stapling on;
        location / { return 200 "none\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_3%% ssl;
        ssl_certificate chain.crt;
        ssl_certificate_key server.key;
        ssl_stapling on;
        ssl_stapling_responder http://127.0.0.1:%%PORT_9%%/good;
        location / { return 200 "fetched\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_4%% ssl;
        ssl_certificate chain.crt;
        ssl_certificate_key server.key;
        ssl_stapling on;
        ssl_stapling_verify on;
        ssl_trusted_certificate ca.crt;
        ssl_stapling_responder http://127.0.0.1:%%PORT_9%%/good/;
        location / { return 200 "verified\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_5%% ssl;
        ssl_certificate server.crt;
        ssl_certificate_key server.key;
        ssl_stapling on;
        ssl_trusted_certificate other.crt;
        ssl_stapling_responder http://127.0.0.1:%%PORT_9%%/good/;
        location / { return 200 "untrusted\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_6%% ssl;
        ssl_certificate chain.crt;
        ssl_certificate_key server.key;
        ssl_stapling on;
        ssl_stapling_responder http://127.0.0.1:%%PORT_9%%/revoked/;
        location / { return 200 "revoked\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_7%% ssl;
        ssl_certificate chain.crt;
        ssl_certificate_key server.key;
        ssl_stapling on;
        ssl_stapling_responder http://127.0.0.1:%%PORT_9%%/missing/;
        location / { return 200 "missing\n"; }
    }
}
EOF
$t->start;

sub status {
    my ($port, $ask) = @_;
    return `echo | openssl s_client -connect 127.0.0.1:$port $ask 2>&1`;
}

my $out = status($t->port(1), '-status');
like($out, qr/OCSP Response Status: successful/, 'stapled: the file\'s response');
like($out, qr/Cert Status: good/, 'stapled: the certificate is good');
unlike(status($t->port(1), ''), qr/OCSP response:/, 'not asked: nothing stapled');
like(status($t->port(2), '-status'), qr/OCSP response: no response sent/,
     'no file: nothing stapled');
like($t->error_log, qr/\[warn\] .*"ssl_stapling" ignored, no OCSP responder URL in the certificate "\/CN=stapled"/,
     'no file: warned at start-up');

# --- fetched: the first handshake of each server starts its fetch ---
my %first;
$first{$_} = status($t->port($_), '-status') for 3 .. 7;
like($first{3}, qr/OCSP response: no response sent/, 'fetched: the first handshake goes without');
# each answer has come once the responder was asked and the error of a bad one logged
# (or a later handshake shows the staple): polled, not timed
sub fetched {
    my ($port, $want) = @_;
    for (1 .. 100) {
        my $out = status($port, '-status');
        return $out if $out =~ $want;
        select undef, undef, undef, 0.1;
    }
    return status($port, '-status');
}
my $out3 = fetched($t->port(3), qr/Cert Status: good/);
like($out3, qr/OCSP Response Status: successful.*Cert Status: good/s, 'fetched: stapled from the responder');
like(fetched($t->port(4), qr/Cert Status: good/), qr/Cert Status: good/, 'verify: a trusted signer');
sub logged {
    my ($re) = @_;
    for (1 .. 100) {
        return 1 if $t->error_log =~ $re;
        select undef, undef, undef, 0.1;
    }
    return 0;
}
like($t->error_log, qr/\[warn\] .*"ssl_stapling" ignored, issuer certificate not found for certificate "\/CN=stapled"/,
     'no issuer in the chain or the trusted store: warned');
like(status($t->port(5), '-status'), qr/OCSP response: no response sent/, 'no issuer: nothing stapled');
ok(logged(qr/certificate status "revoked" in the OCSP response/), 'revoked: logged');
like(status($t->port(6), '-status'), qr/OCSP response: no response sent/, 'revoked: nothing stapled');
ok(logged(qr/OCSP responder sent unexpected status line "HTTP\/1\.0 404 Not Found"/), '404: logged');
like(status($t->port(7), '-status'), qr/OCSP response: no response sent/, '404: nothing stapled');
my @asked = split /\n/, $t->read_file('asked') // '';
like($asked[0] // '', qr{^GET /(?:good|revoked|missing)/[A-Za-z0-9%]+ HTTP/1\.0$}, 'the request: GET path/base64');
is(scalar(grep { m{^GET /good/} } @asked), 2, 'one fetch per server: no fetch while one is under way or the answer is fresh');

$t->stop;
$t->done_testing;
