# auth_basic with every password hash nginx reads ({PLAIN}, {SHA}, {SSHA}, $apr1$, and
# crypt(3)'s $1$, $5$, $6$, $2y$, DES), the file read on every request, satisfy any/all with
# allow/deny, auth_basic inside limit_except, auth_delay, $remote_user, and the log lines.
# The test also passes with SLUICE_BINARY=/usr/sbin/nginx (Debian's nginx 1.22.1), which
# puts the realm into the challenge as it is, quotes unescaped.
use strict;
use warnings;

use Digest::SHA qw(sha1);
use MIME::Base64 qw(encode_base64);
use Test::More;
use Sluice;

my $t = Sluice->new;

sub openssl_passwd {
    my @args = @_;
    my $h = qx(openssl passwd @args);
    chomp $h;
    return $h;
}

my $ssha_salt = 'pepper';
my %hashes = (
    plain => '{PLAIN}pw-plain',
    sha   => '{SHA}' . encode_base64(sha1('pw-sha'), ''),
    ssha  => '{SSHA}' . encode_base64(sha1('pw-ssha' . $ssha_salt) . $ssha_salt, ''),
    apr1  => openssl_passwd('-apr1', '-salt', 'abcdefgh', 'pw-apr1'),
    md5   => openssl_passwd('-1', '-salt', 'saltsalt', 'pw-md5'),
    sha256 => openssl_passwd('-5', '-salt', 'saltsalt', 'pw-sha256'),
    sha512 => openssl_passwd('-6', '-salt', 'saltsalt', 'pw-sha512'),
    bcrypt => crypt('pw-bcrypt', '$2y$05$abcdefghijklmnopqrstuu'),
    des   => crypt('pw-des', 'ab'),
);
like($hashes{apr1}, qr/^\$apr1\$abcdefgh\$/, 'openssl made an apr1 hash');
like($hashes{bcrypt}, qr/^\$2y\$05\$/, 'libcrypt made a bcrypt hash');
$t->write_file('conf/htpasswd', "# users\n\n"
               . join('', map { "$_:$hashes{$_}:comment\n" } sort keys %hashes)
               . "last:{PLAIN}no-newline");
$t->write_file('html/index.html', "index\n");
$t->write_file('html/any/f', "any\n");
$t->write_file('html/all/f', "all\n");
$t->write_file('html/lmt/f', "lmt\n");
$t->write_file('html/delay/f', "delay\n");
$t->write_file('html/var/f', "var\n");
$t->write_file('html/off/f', "off\n");
$t->write_file('html/missing/f', "missing\n");

$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    root html;
    log_format u '$uri $status "$remote_user"';
    access_log logs/access.log u;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        listen 127.0.0.2:%%PORT_1%%;
        server_name localhost;
        auth_basic "the \"realm\"";
        auth_basic_user_file htpasswd;

        location / { }
        location /any/ { satisfy any; allow 127.0.0.2; deny all; }
        location /all/ { satisfy all; allow 127.0.0.2; deny all; }
        location /lmt/ {
            auth_basic off;
            limit_except GET { auth_basic "writers"; auth_basic_user_file htpasswd; }
        }
        location /delay/ { auth_delay 1ms; }
        location /var/ { auth_basic "$arg_realm"; auth_basic_user_file $arg_file; }
        location /off/ { auth_basic off; }
        location /missing/ { auth_basic_user_file nowhere; }
    }
}
EOF
$t->start;

# (status, WWW-Authenticate) for $path with user:password (undef: no credentials)
sub req {
    my ($path, $cred, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port(1),
                                  LocalAddr => $o{from} // '127.0.0.1', Proto => 'tcp')
        or die "connect: $!";
    my $auth = defined $cred ? 'Authorization: Basic ' . encode_base64($cred, '') . "\r\n" : '';
    my $method = $o{method} // 'GET';
    print $s "$method $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        . ($method eq 'POST' ? "Content-Length: 0\r\n" : '') . "$auth\r\n";
    my $r = $t->read_all($s);
    return (Sluice::status_of($r), Sluice::header_of($r, 'WWW-Authenticate'));
}

for my $user (sort keys %hashes) {
    is((req('/', "$user:pw-$user"))[0], 200, "$user: the right password");
    my @wrong = req('/', "$user:wrong");
    is("@wrong[0,1]", '401 Basic realm="the "realm""', "$user: a wrong password is 401");
}
is((req('/', 'last:no-newline'))[0], 200, 'the last line without a newline');
is((req('/', 'nobody:pw'))[0], 401, 'an unknown user');
is((req('/', undef))[0], 401, 'no credentials');
is((req('/', ':pw-plain'))[0], 401, 'an empty user');
is((req('/', 'plain:pw-plain:more'))[0], 401, 'the password is all after the first colon');
is((req('/', '# users:x'))[0], 401, 'a comment line is no user');

# satisfy any: the address or the password; satisfy all: both
is((req('/any/f', undef, from => '127.0.0.2'))[0], 200, 'any: allowed address, no password');
my @any = req('/any/f', undef);
is("@any[0,1]", '401 Basic realm="the "realm""', 'any: neither: 401 with the challenge');
is((req('/any/f', 'plain:pw-plain'))[0], 200, 'any: denied address, right password');
is((req('/any/f', 'plain:bad'))[0], 401, 'any: denied address, wrong password');
is((req('/all/f', undef, from => '127.0.0.2'))[0], 401, 'all: allowed address, no password');
is((req('/all/f', 'plain:pw-plain', from => '127.0.0.2'))[0], 200, 'all: both');
is((req('/all/f', 'plain:pw-plain'))[0], 403, 'all: denied address, right password');

# auth_basic in limit_except: only the methods it applies to ask for a password
is((req('/lmt/f', undef))[0], 200, 'limit_except: GET needs none');
my @post = req('/lmt/f', undef, method => 'POST');
is("@post[0,1]", '401 Basic realm="writers"', 'limit_except: POST is challenged');
is((req('/lmt/f', 'plain:pw-plain', method => 'POST'))[0], 405, 'limit_except: POST let on');

# variables in the realm and the file; "off" as a value turns the check off
my @var = req('/var/f?realm=r1&file=htpasswd', undef);
is("@var[0,1]", '401 Basic realm="r1"', 'a realm from a variable');
is((req('/var/f?realm=r1&file=htpasswd', 'plain:pw-plain'))[0], 200, 'a file from a variable');
is((req('/var/f?realm=off&file=htpasswd', undef))[0], 200, 'a realm evaluating to off');
is((req('/off/f', undef))[0], 200, 'auth_basic off');

# the file is read per request: a user added now is known at once
$t->write_file('conf/htpasswd', "late:{PLAIN}pw-late\n");
is((req('/', 'late:pw-late'))[0], 200, 'the file is read on every request');
is((req('/missing/f', 'late:pw-late'))[0], 403, 'a missing file is 403');
is((req('/delay/f', 'late:bad'))[0], 401, 'auth_delay: still 401');

is($t->stop, 0, 'graceful stop');
my $err = $t->error_log;
like($err, qr/\[error\] \d+#\d+: \*\d+ user "plain": password mismatch, client: 127\.0\.0\.1, server: localhost, request: "GET \/ HTTP\/1\.1", host: "localhost"/,
     'password mismatch logged');
like($err, qr/\[error\] .* user "nobody" was not found in "\S+\/conf\/htpasswd"/, 'unknown user logged');
like($err, qr/\[info\] .* no user\/password was provided for basic authentication/,
     'no credentials logged');
like($err, qr/\[error\] .* open\(\) "\S+\/conf\/nowhere" failed \(2: No such file or directory\)/,
     'missing file logged');
like($err, qr/\[info\] .* delaying unauthorized request/, 'auth_delay logged');
like($err, qr/\[error\] .* access forbidden by rule, client: 127\.0\.0\.1, server: localhost, request: "GET \/all\/f /,
     'satisfy all: the refusal logged');
my $log = $t->read_file('logs/access.log');
like($log, qr{^/index.html 200 "plain"$}m, '$remote_user');
like($log, qr{^/ 401 "-"$}m, '$remote_user without credentials');

$t->done_testing;
