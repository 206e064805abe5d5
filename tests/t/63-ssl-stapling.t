# OCSP stapling from ssl_stapling_file: a CA and its OCSP answer for the server's
# certificate made with the openssl command line; a client asking for the status
# (openssl s_client -status) gets the response, one that does not ask gets none, and a
# certificate without a file is warned about at start-up.
use strict;
use warnings;
use Test::More;
use Sluice;

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

$t->stop;
$t->done_testing;
