# proxy_pass with variables, evaluated per request: the uri sent (as evaluated, or the
# client's, or the rewritten one, escaped), the Host and $proxy_host/$proxy_port of the
# evaluated url, IP literals and unix sockets connected directly, host names refused as
# nginx 1.22 refuses them without a resolver, and nginx's errors for a bad url.  Every
# expected byte here was first observed with Debian's nginx 1.22 on loopback.
use strict;
use warnings;
use Test::More;
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX ();
use Sluice;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dead_port = $t->port(3);
my $sock = $t->prefix . '/origin.sock';

# --- the origin: answers every request with its head (request line and headers) ---
sub origin {
    my $tcp = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$origin_port", Listen => 64, ReuseAddr => 1)
        or die "origin: $!";
    my $unix = IO::Socket::UNIX->new(Local => $sock, Listen => 64) or die "origin: $!";
    my $sel = IO::Select->new($tcp, $unix);
    $SIG{CHLD} = 'IGNORE';
    while (1) {
        for my $l ($sel->can_read) {
            my $c = $l->accept or next;
            if (fork) { close $c; next; }
            local $SIG{ALRM} = sub { POSIX::_exit(0) };
            alarm 10;
            my $req = '';
            while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or POSIX::_exit(0); }
            my ($head) = split /\r\n\r\n/, $req;
            print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($head) . "\r\n\r\n$head";
            close $c;
            POSIX::_exit(0);
        }
    }
}

my $origin_pid = fork;
if ($origin_pid == 0) { origin(); POSIX::_exit(0); }
END { local $?; if ($origin_pid) { kill 'KILL', $origin_pid; waitpid($origin_pid, 0); } }
$t->wait_for(sub { $t->can_connect($origin_port) && -S $sock }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format vars '\$request_uri|\$status|\$proxy_host|\$proxy_port|\$upstream_addr|\$upstream_status';
    access_log logs/vars.log vars;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        set \$up 127.0.0.1:$origin_port;
        set \$name localhost:$origin_port;
        set \$sock unix:$sock;
        location /nouri/ { proxy_pass http://\$up; }
        location /withuri/ { proxy_pass http://\$up/fixed/p?q=1; }
        location /req/ { proxy_pass http://\$up/base\$request_uri; }
        location /args/ { proxy_pass http://\$up/a/\$arg_p; }
        location ~ ^/re/(.*)\$ { proxy_pass http://\$up/x/\$1; }
        location /qonly/ { proxy_pass http://\$up?z=\$arg_z; }
        location /upper/ { proxy_pass HTTP://\$up; }
        location /hostvars/ { proxy_pass http://\$up; proxy_set_header X-PH \$proxy_host:\$proxy_port; }
        location /rw/ { rewrite ^/rw/(.*)\$ /new/\$1 break; proxy_pass http://\$up; }
        location /rwargs/ { rewrite ^/rwargs/(.*)\$ /new/\$1?k=v break; proxy_pass http://\$up; }
        location /vbrk/ { rewrite ^/vbrk/(.*)\$ /users/\$1 break; proxy_pass http://\$up/fixed/; }
        location /unix/ { proxy_pass http://\$sock; }
        location /unixuri/ { proxy_pass http://\$sock:/su\$uri; }
        location /name/ { proxy_pass http://\$name; }
        location /any/ { proxy_pass \$arg_u; }
        location /dead/ { proxy_pass http://127.0.0.1:\$arg_port; }
        location /v6/ { proxy_pass http://[::1]:\$arg_port; }
        # the same uri rules without variables
        location /brk/ { rewrite ^/brk/(.*)\$ /users/\$1 break; proxy_pass http://127.0.0.1:$origin_port/fixed/; }
        location /spref/ { proxy_pass http://127.0.0.1:$origin_port/echo/; }
        location /lst/ { rewrite ^/lst/(.*)\$ /spref/\$1 last; }
    }
}
EOF
$t->start;

sub get {
    my ($path) = @_;
    return scalar $t->http($port, "GET $path HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n");
}
sub status_of { $_[0] =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 'none' }
sub body_of { my (undef, $b) = split /\r\n\r\n/, $_[0], 2; $b // '' }

# what the origin got: its request line and Host
sub upstream_sees {
    my ($path, $line, $host, $name) = @_;
    my $r = get($path);
    is(status_of($r), 200, "$name: 200");
    my $head = body_of($r);
    like($head, qr{^\Q$line\E\r\n}, "$name: the origin gets \"$line\"");
    like($head, qr{\r\nHost: \Q$host\E(?:\r\n|$)}, "$name: Host: $host");
}

my $o = "127.0.0.1:$origin_port";

# --- the uri: as evaluated, or the client's ---
upstream_sees('/nouri/a%41b/../c?x=1&y', 'GET /nouri/a%41b/../c?x=1&y HTTP/1.0', $o, 'no uri part: the client\'s request-target as it came');
upstream_sees('/withuri/zz?orig=1', 'GET /fixed/p?q=1 HTTP/1.0', $o, 'a uri part replaces the whole uri, args included');
upstream_sees('/req/r?k=1', 'GET /base/req/r?k=1 HTTP/1.0', $o, '$request_uri in the uri part');
upstream_sees('/args/?p=%20a%2Fb', 'GET /a/%20a%2Fb HTTP/1.0', $o, 'a variable\'s bytes go as they are');
upstream_sees('/re/one/two?q=3', 'GET /x/one/two HTTP/1.0', $o, 'a regex capture; no args added');
upstream_sees('/qonly/?z=9', 'GET /?z=9 HTTP/1.0', $o, 'a uri part of only "?args" gets the path "/"');
upstream_sees('/upper/up', 'GET /upper/up HTTP/1.0', $o, 'the scheme in capitals');
upstream_sees('/rw/a%20b?orig=1', 'GET /new/a%20b?orig=1 HTTP/1.0', $o, 'after a rewrite: the new uri, escaped, with the args');
upstream_sees('/rwargs/c?orig=2', 'GET /new/c?k=v&orig=2 HTTP/1.0', $o, 'a rewrite with args');
upstream_sees('/vbrk/s%20t?x=5', 'GET /fixed/ HTTP/1.0', $o, 'a rewrite does not change an evaluated uri part');

# --- the same rules without variables ---
upstream_sees('/spref/a%20b?x=2', 'GET /echo/a%20b?x=2 HTTP/1.0', $o, 'static uri part: the prefix replaced, the rest escaped');
upstream_sees('/brk/a%20b?x=1', 'GET /users/a%20b?x=1 HTTP/1.0', $o, 'static uri part after rewrite ... break: the whole new uri');
upstream_sees('/lst/q%20r?x=4', 'GET /echo/q%20r?x=4 HTTP/1.0', $o, 'static uri part after rewrite ... last');

# --- unix sockets ---
upstream_sees('/unix/u?1', 'GET /unix/u?1 HTTP/1.0', 'localhost', 'unix socket: Host is localhost');
upstream_sees('/unixuri/w?2', 'GET /su/unixuri/w HTTP/1.0', 'localhost', 'unix socket with a uri part');

# --- $proxy_host and $proxy_port ---
like(body_of(get('/hostvars/h')), qr{\r\nX-PH: \Q$o:$origin_port\E\r\n}, '$proxy_host and $proxy_port of the evaluated url');
my $r = get('/nouri');
is(status_of($r), 301, 'a location ending in "/": 301 for the name without it');
like($r, qr{\r\nLocation: http://front\.test:$port/nouri/\r\n}, 'Location');

# --- errors, as nginx 1.22 answers and logs them ---
sub fails {
    my ($path, $status, $log, $name) = @_;
    my $r = get($path);
    is(status_of($r), $status, "$name: $status");
    like($t->error_log, qr{\[error\] \d+#\d+: \*\d+ \Q$log\E, client: 127\.0\.0\.1, server: , request: "GET \Q$path\E HTTP/1\.1", host: "front\.test"\n},
         "$name: logged as nginx");
}
fails('/name/n?1', 502, 'no resolver defined to resolve localhost', 'a host name without a resolver');
fails('/any/?u=ftp://x/y', 500, 'invalid URL prefix in "ftp://x/y"', 'not http://');
fails('/any/?u=http://', 500, 'invalid URL prefix in "http://"', 'no host');
fails('/dead/?port=99999', 500, 'invalid port in upstream "127.0.0.1:99999"', 'port out of range');
fails('/dead/?port=abc', 500, 'invalid port in upstream "127.0.0.1:abc"', 'port not a number');
fails('/any/?u=http://[::1', 500, 'invalid host in upstream "[::1"', 'an unclosed IPv6 literal');
fails('/any/?u=http://unix:', 500, 'no path in the unix domain socket in upstream "unix:"', 'unix: without a path');

$r = get("/dead/d?port=$dead_port");
is(status_of($r), 502, 'connection refused: 502');
like($t->error_log, qr{connect\(\) failed \(111: Connection refused\) while connecting to upstream, client: 127\.0\.0\.1, server: , request: "GET /dead/d\?port=$dead_port HTTP/1\.1", upstream: "http://127\.0\.0\.1:$dead_port/dead/d\?port=$dead_port", host: "front\.test"},
     'refused: logged with the evaluated upstream');
is(status_of(get("/v6/?port=$dead_port")), 502, 'an IPv6 literal is connected directly (refused here)');
$r = get("/any/?u=http://127.0.0.1:$origin_port");
like(body_of($r), qr{^GET /any/\?u=http://127\.0\.0\.1:$origin_port HTTP/1\.0\r\n}, 'the whole url from a variable');

# --- the access log: $proxy_host, $proxy_port, $upstream_* as nginx ---
ok($t->wait_for(sub { ($t->read_file('logs/vars.log') // '') =~ m{^/any/\?u=http://127\.0\.0\.1:$origin_port\|}m }, 5), 'access log written');
my %log = map { my @f = split /\|/, $_, 2; ($f[0] => $f[1]) } split /\n/, $t->read_file('logs/vars.log');
is($log{'/nouri/a%41b/../c?x=1&y'}, "200|$o|$origin_port|$o|200", 'logged: $proxy_host, $proxy_port, $upstream_addr');
is($log{'/unix/u?1'}, "200|localhost||unix:$sock|200", 'logged: a unix socket');
is($log{'/name/n?1'}, "502|localhost:$origin_port|$origin_port|-|-", 'logged: a host name without a resolver: no upstream tried');
is($log{'/any/?u=ftp://x/y'}, '500|||-|-', 'logged: a url that does not evaluate: $proxy_host empty');
is($log{"/v6/?port=$dead_port"}, "502|[::1]:$dead_port|$dead_port|[::1]:$dead_port|502", 'logged: an IPv6 literal keeps its brackets');

$t->done_testing;
