# The realip module: set_real_ip_from, real_ip_header, real_ip_recursive, $realip_remote_addr
# and $realip_remote_port.  Clients connect from different 127.0.0.x addresses (and ::1, and a
# unix socket) with X-Real-IP / X-Forwarded-For; every expected value below is what Debian's
# nginx 1.22.1 answered to the same request with the same configuration (the test also passes
# with SLUICE_BINARY=/usr/sbin/nginx).
use strict;
use warnings;
use Test::More;
use IO::Select;
use IO::Socket::INET;
use IO::Socket::IP;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time);
use Sluice;

my $t = Sluice->new;
my $have_ipv6 = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1,
                                    Proto => 'tcp') ? 1 : 0;
my $ECHO = 'return 200 "$remote_addr $remote_port $realip_remote_addr $realip_remote_port\n";';
my $ipv6_server = !$have_ipv6 ? '' : <<"EOF";
    server {
        listen [::1]:%%PORT_7%%;
        set_real_ip_from ::1/128;
        set_real_ip_from 2001:db8::/32;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / { $ECHO }
    }
EOF
$t->write_file('html/loc/f', "file\n");
$t->write_file('html/plain/f', "plain\n");
$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format rip '\$remote_addr \$remote_port \$realip_remote_addr \$realip_remote_port "\$http_x_forwarded_for"';
    access_log logs/access.log rip;
    root html;

    # the default header, X-Real-IP
    server {
        listen 127.0.0.1:%%PORT_1%%;
        set_real_ip_from 127.0.0.0/24;
        location / { $ECHO }
        location /xff { return 200 "\$proxy_add_x_forwarded_for\\n"; }
        # realip already applied at the server level is not applied again
        location /loc/ { set_real_ip_from 127.0.0.0/8; real_ip_header X-Forwarded-For; }
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        set_real_ip_from 127.0.0.0/24;
        set_real_ip_from 10.0.0.0/8;
        set_real_ip_from 2001:db8::/32;
        real_ip_header X-Forwarded-For;
        location / { $ECHO }
    }
    server {
        listen 127.0.0.1:%%PORT_3%%;
        set_real_ip_from 127.0.0.0/24;
        set_real_ip_from 10.0.0.0/8;
        set_real_ip_from 2001:db8::/32;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / { $ECHO }
    }
    # realip only in locations: it applies in their preaccess phase
    server {
        listen 127.0.0.1:%%PORT_4%%;
        access_log logs/loc.log rip;
        location / { $ECHO }
        location /loc/ { set_real_ip_from 127.0.0.1; }
        location /ret { set_real_ip_from 127.0.0.1; $ECHO }
        location /redir/ { error_page 404 = /loc/f; }
        location /both/ {
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Forwarded-For;
            error_page 404 = /plain/f;
        }
        location /plain/ { }
    }
    server {
        listen 127.0.0.1:%%PORT_5%%;
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Client;
        location / { $ECHO }
    }
    server {
        listen 127.0.0.1:%%PORT_6%%;
        set_real_ip_from 127.0.0.1;
        real_ip_header x-forwarded-for;
        location / { $ECHO }
    }
    server {
        listen unix:%%PREFIX%%/realip.sock;
        set_real_ip_from unix:;
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / { $ECHO }
    }
    server {
        listen 127.0.0.1:%%PORT_8%%;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location / { $ECHO }
    }
    server {
        listen 127.0.0.1:%%PORT_9%%;
        set_real_ip_from 127.0.0.1;
        set_real_ip_from 10.0.0.0/8;
        real_ip_recursive on;
        location / { $ECHO }
    }
$ipv6_server}
EOF
$t->start;

# A client socket: from => '127.0.0.5' binds the source address; ipv6 => 1 goes to [::1];
# unix => path.
sub client {
    my (%o) = @_;
    return IO::Socket::UNIX->new(Peer => $o{unix}, Type => SOCK_STREAM) if $o{unix};
    return IO::Socket::IP->new(PeerHost => '::1', PeerPort => $o{port}, Proto => 'tcp',
                               Timeout => 5) if $o{ipv6};
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $o{port}, Proto => 'tcp',
                                 LocalAddr => $o{from} // '127.0.0.1', Timeout => 5);
}

sub request_text {
    my ($path, @headers) = @_;
    return "GET $path HTTP/1.1\r\nHost: localhost\r\n" . join('', map { "$_\r\n" } @headers);
}

# One request with Connection: close; returns (body, the client's own port).
sub get {
    my ($port, $path, @headers) = @_;
    my %o = (port => $port);
    while (@headers && ref $headers[0] eq 'HASH') {
        %o = (%o, %{shift @headers});
    }
    my $s = client(%o) or die "connect: $!\n";
    print $s request_text($path, @headers) . "Connection: close\r\n\r\n";
    my $r = $t->read_all($s);
    my $sport = $o{unix} ? '' : $s->sockport;
    close $s;
    my (undef, $body) = split /\r\n\r\n/, $r, 2;
    return ($body // '', $sport);
}

# The echo of a request whose address did not change, and of one that took addr/port.
sub same { my ($addr, $port) = @_; return "$addr $port $addr $port\n"; }
sub real { my ($addr, $port, $peer, $pport) = @_; return "$addr $port $peer $pport\n"; }

my ($p1, $p2, $p3, $p4, $p5, $p6, $p8, $p9) = map { $t->port($_) } 1 .. 6, 8, 9;
my ($b, $sp);

# --- X-Real-IP (the default) ---
($b, $sp) = get($p1, '/');
is($b, same('127.0.0.1', $sp), 'no header: the peer');
($b, $sp) = get($p1, '/', { from => '127.0.0.5' }, 'X-Real-IP: 1.2.3.4');
is($b, real('1.2.3.4', '', '127.0.0.5', $sp), 'X-Real-IP from a trusted peer: no port');
($b, $sp) = get($p1, '/', { from => '127.0.0.5' }, 'X-Real-IP: 1.2.3.4:5678');
is($b, real('1.2.3.4', '5678', '127.0.0.5', $sp), 'X-Real-IP addr:port sets the port');
($b, $sp) = get($p1, '/', { from => '127.0.1.5' }, 'X-Real-IP: 1.2.3.4');
is($b, same('127.0.1.5', $sp), 'peer outside set_real_ip_from: unchanged');
($b, $sp) = get($p1, '/', 'X-Real-IP: garbage');
is($b, same('127.0.0.1', $sp), 'not an address: unchanged');
($b, $sp) = get($p1, '/', 'X-Real-IP: [::1]:80');
is($b, real('::1', '80', '127.0.0.1', $sp), 'X-Real-IP [v6]:port');
($b, $sp) = get($p1, '/', 'X-Real-IP: 2001:db8::1');
is($b, real('2001:db8::1', '', '127.0.0.1', $sp), 'X-Real-IP IPv6');
($b, $sp) = get($p1, '/', 'X-Real-IP: 1.2.3.4, 5.6.7.8');
is($b, real('5.6.7.8', '', '127.0.0.1', $sp), 'X-Real-IP is read as a list too: the last');
($b, $sp) = get($p1, '/', 'X-Real-IP: 1.2.3.4', 'X-Real-IP: 5.6.7.8');
is($b, real('1.2.3.4', '', '127.0.0.1', $sp), 'two X-Real-IP lines: the first');
($b) = get($p1, '/xff', 'X-Real-IP: 1.2.3.4', 'X-Forwarded-For: 9.9.9.9');
is($b, "9.9.9.9, 1.2.3.4\n", '$proxy_add_x_forwarded_for appends the real address');
($b, $sp) = get($p1, '/loc/f', 'X-Real-IP: 1.2.3.4', 'X-Forwarded-For: 5.5.5.5');
is($b, "file\n", 'a location with its own realip config');

# --- X-Forwarded-For, not recursive: the last address ---
my @xff = (
    ['1.1.1.1, 2.2.2.2, 127.0.0.9', '127.0.0.9', 'the last address, even a trusted one'],
    ['1.1.1.1,2.2.2.2', '2.2.2.2', 'comma without space'],
    ['1.1.1.1 2.2.2.2', '2.2.2.2', 'a space separates too'],
    ['1.1.1.1, junk', undef, 'the last one malformed: unchanged'],
    ['junk, 1.1.1.1', '1.1.1.1', 'a malformed one before the last: ignored'],
    ['1.1.1.1, ', '1.1.1.1', 'trailing separators skipped'],
    [',', undef, 'only separators: unchanged'],
    ['1.1.1.1:99', '1.1.1.1 99', 'addr:port'],
    ['1.1.1.1:0', undef, 'port 0: unchanged'],
    ['1.1.1.1:65536', undef, 'port 65536: unchanged'],
    ['[2001:db8::5]:99', '2001:db8::5 99', '[v6]:port'],
    ['2001:db8::5', '2001:db8::5', 'IPv6'],
    ['[::1]', undef, 'brackets without a port: unchanged'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4', 'IPv4-mapped IPv6'],
    ['01.1.1.1', '1.1.1.1', 'leading zeros in an octet (nginx accepts them)'],
    ['1.1.1.256', undef, 'octet over 255: unchanged'],
    ['255.255.255.255', undef, '255.255.255.255: unchanged (as nginx)'],
    ['::100', '::0.0.1.0', 'printed as nginx prints it'],
    ['1.1.1', undef, 'three octets: unchanged'],
    ['fe80::1%lo', undef, 'zone index: unchanged'],
    ['unix:', undef, 'unix: unchanged'],
);
for my $c (@xff) {
    my ($value, $want, $name) = @$c;
    ($b, $sp) = get($p2, '/', "X-Forwarded-For: $value");
    my ($addr, $port) = split / /, $want // '';
    is($b, defined $want ? real($addr, $port // '', '127.0.0.1', $sp) : same('127.0.0.1', $sp),
       "X-Forwarded-For \"$value\": $name");
}
($b, $sp) = get($p2, '/', 'X-Forwarded-For: 1.1.1.1', 'X-Forwarded-For: 2.2.2.2');
is($b, real('2.2.2.2', '', '127.0.0.1', $sp), 'two lines: the last address of the last line');
($b, $sp) = get($p2, '/', 'X-Forwarded-For: 1.1.1.1', 'X-Forwarded-For: junk');
is($b, same('127.0.0.1', $sp), 'two lines, the last malformed: unchanged');
($b, $sp) = get($p2, '/', { from => '127.0.1.1' }, 'X-Forwarded-For: 1.1.1.1');
is($b, same('127.0.1.1', $sp), 'untrusted peer: unchanged');

# --- X-Forwarded-For, recursive: the rightmost untrusted address ---
my @rec = (
    ['1.1.1.1, 2.2.2.2, 127.0.0.9', '2.2.2.2', 'the rightmost untrusted'],
    ['1.1.1.1, 10.2.2.2, 127.0.0.9', '1.1.1.1', 'trusted ones skipped'],
    ['10.1.1.1, 10.2.2.2, 127.0.0.9', '10.1.1.1', 'all trusted: the leftmost'],
    ['1.1.1.1, junk, 10.0.0.1', '10.0.0.1', 'a malformed one stops the walk'],
    ['1.1.1.1, 10.0.0.1:55', '1.1.1.1', 'a port on a trusted one'],
    ['1.1.1.1:66, 10.0.0.1:55', '1.1.1.1 66', 'the port of the one taken'],
    ['1.1.1.1, , 10.0.0.1', '1.1.1.1', 'empty elements skipped'],
    [', 10.0.0.1', '10.0.0.1', 'a leading separator is an empty element: stops'],
    [',10.0.0.1', undef, 'the first byte is part of the element (nginx): unchanged'],
    ['1.1.1.1, ::ffff:10.0.0.1', '1.1.1.1', 'a mapped address matches IPv4 networks'],
    ['1.1.1.1, 2001:db8::7, 10.0.0.1', '1.1.1.1', 'IPv6 networks'],
);
for my $c (@rec) {
    my ($value, $want, $name) = @$c;
    ($b, $sp) = get($p3, '/', "X-Forwarded-For: $value");
    my ($addr, $port) = split / /, $want // '';
    is($b, defined $want ? real($addr, $port // '', '127.0.0.1', $sp) : same('127.0.0.1', $sp),
       "recursive \"$value\": $name");
}
my @rec_lines = (
    [['1.1.1.1', '10.0.0.2'], '1.1.1.1', 'the walk goes on to the line before'],
    [['1.1.1.1', '2.2.2.2'], '2.2.2.2', 'stops at the last line\'s untrusted address'],
    [['1.1.1.1', 'junk'], undef, 'the last line malformed: unchanged'],
    [['junk', '10.0.0.2'], '10.0.0.2', 'a malformed line before: the last address read'],
    [['10.0.0.3, junk', '10.0.0.2'], '10.0.0.2', 'malformed inside the line before'],
    [['1.1.1.1', '', '10.0.0.2'], '10.0.0.2', 'an empty line stops the walk'],
);
for my $c (@rec_lines) {
    my ($lines, $want, $name) = @$c;
    ($b, $sp) = get($p3, '/', map { "X-Forwarded-For: $_" } @$lines);
    is($b, defined $want ? real($want, '', '127.0.0.1', $sp) : same('127.0.0.1', $sp),
       "recursive, lines " . join(' | ', @$lines) . ": $name");
}
($b, $sp) = get($p9, '/', 'X-Real-IP: 1.1.1.1, 10.0.0.1');
is($b, real('1.1.1.1', '', '127.0.0.1', $sp), 'recursive X-Real-IP list');

# --- realip configured in locations: the preaccess phase ---
($b, $sp) = get($p4, '/ret', 'X-Real-IP: 1.2.3.9');
is($b, same('127.0.0.1', $sp), 'a location answering by return never reaches preaccess');
($b, $sp) = get($p4, '/', 'X-Real-IP: 1.2.3.9');
is($b, same('127.0.0.1', $sp), 'no realip config: unchanged');
my $err_before = $t->error_log;
is((get($p4, '/loc/f', 'X-Real-IP: 1.2.3.4'))[0], "file\n", 'static file in a realip location');
is((get($p4, '/loc/f', { from => '127.0.0.2' }, 'X-Real-IP: 1.2.3.6'))[0], "file\n",
   'untrusted peer');
get($p4, '/loc/nofile', 'X-Real-IP: 1.2.3.5');
is((get($p4, '/redir/nofile', 'X-Real-IP: 1.2.3.8'))[0], "file\n",
   'applied in the location an internal redirect lands in');
is((get($p4, '/both/nofile', 'X-Forwarded-For: 1.2.3.7'))[0], "plain\n",
   'kept through an internal redirect');
ok($t->wait_for(sub { ($t->read_file('logs/loc.log') // '') =~ tr/\n// >= 7 }),
   'location requests logged');
my @loc = split /\n/, $t->read_file('logs/loc.log');
like($loc[2], qr/^1\.2\.3\.4  127\.0\.0\.1 \d+ "-"$/, 'access log: the real address');
like($loc[3], qr/^127\.0\.0\.2 (\d+) 127\.0\.0\.2 \1 "-"$/, 'access log: untrusted unchanged');
like($loc[4], qr/^1\.2\.3\.5  127\.0\.0\.1 \d+ "-"$/, 'access log: a 404');
like($loc[5], qr/^1\.2\.3\.8  127\.0\.0\.1 \d+ "-"$/, 'access log: after the redirect');
like($loc[6], qr/^1\.2\.3\.7  127\.0\.0\.1 \d+ "1\.2\.3\.7"$/, 'access log: kept after it');
like($t->error_log, qr/\Q"\E[^"]*html\/loc\/nofile\Q" failed (2: No such file or directory), client: 1.2.3.5, server: , request: "GET \/loc\/nofile HTTP\/1.1", host: "localhost"\E/,
     'error log: client is the real address');

# --- other headers ---
($b, $sp) = get($p5, '/', 'x-client: 1.2.3.4');
is($b, real('1.2.3.4', '', '127.0.0.1', $sp), 'real_ip_header X-Client (any case)');
($b, $sp) = get($p5, '/', 'X-Client: 1.2.3.4', 'X-Client: 5.6.7.8');
is($b, real('1.2.3.4', '', '127.0.0.1', $sp), 'a named header: its first line');
($b, $sp) = get($p5, '/', 'X-Client: junk', 'X-Client: 5.6.7.8');
is($b, same('127.0.0.1', $sp), 'a named header: the first line malformed');
($b, $sp) = get($p5, '/', 'X-Real-IP: 5.6.7.8');
is($b, same('127.0.0.1', $sp), 'a named header: X-Real-IP not read');
($b, $sp) = get($p6, '/', 'X-Forwarded-For: 1.1.1.1', 'X-Forwarded-For: 2.2.2.2');
is($b, real('1.1.1.1', '', '127.0.0.1', $sp),
   '"x-forwarded-for" in lower case is a named header: its first line');
($b, $sp) = get($p8, '/', 'X-Real-IP: 1.1.1.1');
is($b, same('127.0.0.1', $sp), 'proxy_protocol on a listener without it: unchanged');

# --- keepalive: the address is the peer's again for the next request ---
# One response (status line to the end of its Content-Length body), read with a deadline.
sub read_response {
    my ($s) = @_;
    my $sel = IO::Select->new($s);
    my $r = '';
    my $deadline = time + 10;
    while (time < $deadline) {
        if ($r =~ /\A(.*?\r\n\r\n)/s) {
            my ($head, $len) = ($1, $r =~ /\r\nContent-Length: (\d+)\r\n/ ? $1 : 0);
            return $r if length($r) >= length($head) + $len;
        }
        last unless $sel->can_read(1) && sysread($s, $r, 65536, length $r);
    }
    return $r;
}

sub from5_lines { return grep { /127\.0\.0\.5/ } split /\n/, $t->read_file('logs/access.log') // '' }
my $from5_before = () = from5_lines();
for my $pipelined (0, 1) {
    my $s = client(port => $p1, from => '127.0.0.5');
    my @reqs = (request_text('/', 'X-Real-IP: 1.2.3.4:99') . "\r\n",
                request_text('/') . "\r\n",
                request_text('/', 'X-Real-IP: 5.6.7.8', 'Connection: close') . "\r\n");
    my $sport = $s->sockport;
    my $r = '';
    if ($pipelined) {
        print $s join('', @reqs);
        $r = $t->read_all($s);
    } else {
        for my $q (@reqs) {
            print $s $q;
            $r .= read_response($s);
        }
    }
    close $s;
    my @bodies = $r =~ /\r\n\r\n([^\r]*?\n)(?=HTTP\/|\z)/g;
    my $how = $pipelined ? 'pipelined' : 'keepalive';
    is_deeply(\@bodies, [real('1.2.3.4', '99', '127.0.0.5', $sport),
                         same('127.0.0.5', $sport),
                         real('5.6.7.8', '', '127.0.0.5', $sport)],
              "$how: the next request starts from the peer's address");
}
# the six lines of the two connections above (each logs when its request ends)
ok($t->wait_for(sub { my $n = () = from5_lines(); $n >= $from5_before + 6 }),
   'keepalive requests logged');
my @acc = from5_lines();
my @ka = @acc[-6 .. -1];
like($ka[0], qr/^1\.2\.3\.4 99 127\.0\.0\.5 \d+ "-"$/, 'access log: first request');
like($ka[1], qr/^127\.0\.0\.5 (\d+) 127\.0\.0\.5 \1 "-"$/, 'access log: second request restored');
like($ka[2], qr/^5\.6\.7\.8  127\.0\.0\.5 \d+ "-"$/, 'access log: third request');

# --- a unix socket ---
my $sock = $t->prefix . '/realip.sock';
($b) = get(0, '/', { unix => $sock }, 'X-Forwarded-For: 1.2.3.12, 127.0.0.1');
is($b, "1.2.3.12  unix: \n", 'set_real_ip_from unix: trusts a unix-socket peer');
($b) = get(0, '/', { unix => $sock });
is($b, "unix:  unix: \n", 'unix socket without the header');
($b) = get(0, '/', { unix => $sock }, 'X-Forwarded-For: 1.2.3.12, unix:');
is($b, "unix:  unix: \n", '"unix:" in the header is no address');

# --- IPv6 ---
SKIP: {
    skip '::1 is not available', 4 unless $have_ipv6;
    my $p7 = $t->port(7);
    ($b, $sp) = get($p7, '/', { ipv6 => 1 }, 'X-Forwarded-For: 1.1.1.1, 2001:db8::9');
    is($b, real('1.1.1.1', '', '::1', $sp), 'a client on ::1 trusted by ::1/128, recursive');
    ($b, $sp) = get($p7, '/', { ipv6 => 1 }, 'X-Forwarded-For: 2001:db9::1, 2001:db8::9');
    is($b, real('2001:db9::1', '', '::1', $sp), 'IPv6 outside 2001:db8::/32 stops the walk');
    ($b, $sp) = get($p7, '/', { ipv6 => 1 }, 'X-Forwarded-For: [2001:db8::3]:77');
    is($b, real('2001:db8::3', '77', '::1', $sp), '[v6]:port from a v6 peer');
    ($b, $sp) = get($p7, '/', { ipv6 => 1 }, 'X-Forwarded-For: junk');
    is($b, same('::1', $sp), 'v6 peer, malformed header: unchanged');
}
is($t->stop, 0, 'stopped');

# --- configuration errors, worded as nginx -t words them ---
# (nginx itself prints "pid#tid: " before the message: the test also runs against it)
my $PID = qr/\d+#\d+: /;
sub check_conf {
    my ($directives) = @_;
    $t->write_file('conf/bad.conf', <<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http { $directives server { listen 127.0.0.1:%%PORT_1%%; } }
EOF
    return $t->run('-t', '-c', 'conf/bad.conf');
}
my $r = check_conf('set_real_ip_from 10.0.0.1/33;');
isnt($r->{exit}, 0, '/33: fails');
like($r->{stderr}, qr/\[emerg\] $PID?host not found in set_real_ip_from "10\.0\.0\.1\/33" in \S+bad\.conf:\d+/,
     '/33: host not found, as nginx');
$r = check_conf('set_real_ip_from ::1/129;');
like($r->{stderr}, qr/\[emerg\] $PID?host not found in set_real_ip_from "::1\/129" in /, '/129');
$r = check_conf('set_real_ip_from 10.0.0.1/8;');
is($r->{exit}, 0, 'low bits: a warning only');
like($r->{stderr}, qr/\[warn\] $PID?low address bits of 10\.0\.0\.1\/8 are meaningless in \S+bad\.conf:\d+/,
     'low bits: the warning');
$r = check_conf('set_real_ip_from ::1/64;');
like($r->{stderr}, qr/\[warn\] $PID?low address bits of ::1\/64 are meaningless in /, 'low bits, IPv6');
$r = check_conf('set_real_ip_from 127.0.0.1; set_real_ip_from localhost; set_real_ip_from unix:;'
                . ' set_real_ip_from ::/0; set_real_ip_from 0.0.0.0/0;');
is($r->{exit}, 0, 'addresses, a host name, unix:, /0') or diag($r->{stderr});
$r = check_conf('set_real_ip_from unix:/x;');
like($r->{stderr}, qr/host not found in set_real_ip_from "unix:\/x"/, 'unix: takes no path');
$r = check_conf('real_ip_header X-Real-IP; real_ip_header X-Forwarded-For;');
like($r->{stderr}, qr/"real_ip_header" directive is duplicate in /, 'real_ip_header duplicate');
$r = check_conf('real_ip_recursive yes;');
like($r->{stderr}, qr/invalid value "yes" in "real_ip_recursive" directive, it must be "on" or "off"/,
     'real_ip_recursive yes');
$r = check_conf('real_ip_header proxy_protocol; set_real_ip_from 127.0.0.1;');
is($r->{exit}, 0, 'proxy_protocol is accepted');

$t->done_testing;
