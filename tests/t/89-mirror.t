# (validated: this file passes with SLUICE_BINARY=/usr/sbin/nginx, Debian's nginx 1.22)
# mirror: copies of requests to a scripted mirror origin, as nginx's mirror module.
# - each mirror gets the request's method, arguments and (mirror_request_body on) body;
#   with mirror_request_body off it gets no body and starts without waiting for it;
# - several mirror lines make several copies; "mirror off" inside turns them off;
# - a body too large for memory (in a temp file) reaches the request and every mirror whole;
# - the client's response is the application's, whatever the mirror does: a mirror held
#   by its origin does not hold the response back (the connection closes once it ends), a
#   mirror whose origin closes without answering or refuses the connection changes nothing;
# - on a keepalive connection the next request is served once the mirror is done;
# - log_subrequest on logs the mirror's own line; the main request is logged once.
use strict;
use warnings;
use Test::More;
use IO::Select;
use Digest::MD5 qw(md5_hex);
use Sluice qw(status_of body_of header_of);
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $app_port = $t->port(2);
my $mirror_port = $t->port(3);
my $down_port = $t->port(4);
my $dir = $t->prefix;

# The request head and its body (Content-Length), read whole.
sub read_request {
    my ($c) = @_;
    my $req = Origin::read_head($c);
    my ($head, $body) = split /\r\n\r\n/, $req, 2;
    my ($len) = $head =~ /^Content-Length: (\d+)\r?$/mi;
    while (defined $len && length($body) < $len) {
        sysread($c, $body, 65536, length $body) or last;
    }
    return ($head, $body);
}

# A long body is shown by its length and MD5.
sub show { my ($b) = @_; return length($b) > 64 ? 'len=' . length($b) . ' md5=' . md5_hex($b) : $b; }

sub append {
    my ($file, $line) = @_;
    open(my $fh, '>>', "$dir/$file") or die;
    print $fh "$line\n";
    close $fh;
}

sub app {
    my ($c) = @_;
    my ($head, $body) = read_request($c);
    my ($method, $uri) = $head =~ m{^(\w+) (\S+)};
    my $out = "APP $method $uri body=" . show($body);
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: " . length($out)
                      . "\r\nConnection: close\r\n\r\n$out");
}

# Logs what each copy brought; /hold waits for the test's "release" file, /fail closes
# without an answer.
sub mirror {
    my ($c) = @_;
    my ($head, $body) = read_request($c);
    my ($method, $uri) = $head =~ m{^(\w+) (\S+)};
    my $cl = $head =~ /^Content-Length: (\d+)\r?$/mi ? $1 : '-';
    append('copies', "$method $uri cl=$cl body=" . show($body));
    return if $uri =~ m{^/fail};
    if ($uri =~ m{^/hold}) {
        select(undef, undef, undef, 0.05) until -e "$dir/release";
    }
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nmirror");
}

my @origins = (Origin::scripted(port => $app_port, lifetime => 30, handler => \&app),
               Origin::scripted(port => $mirror_port, lifetime => 30, handler => \&mirror));
$t->wait_for(sub { $t->can_connect($app_port) && $t->can_connect($mirror_port) }, 10)
    or die "origins did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format main "main \$request_method \$uri \$status";
    log_format sub "sub \$request_method \$uri?\$args \$status";
    access_log logs/access.log main;
    client_body_temp_path %%PREFIX%%/body_temp;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        mirror /copy;
        location / {
            proxy_pass http://127.0.0.1:$app_port;
        }
        location /off/ {
            mirror off;
            proxy_pass http://127.0.0.1:$app_port;
        }
        location /two/ {
            mirror /copy;
            mirror /copy2;
            proxy_pass http://127.0.0.1:$app_port;
        }
        location /big/ {
            client_body_buffer_size 1k;
            client_max_body_size 1m;
            mirror /copy;
            mirror /copy2;
            proxy_pass http://127.0.0.1:$app_port;
        }
        location /nobody/ {
            mirror /copy-nobody;
            mirror_request_body off;
            proxy_pass http://127.0.0.1:$app_port;
        }
        location /slow/ {
            mirror /hold;
            proxy_pass http://127.0.0.1:$app_port;
        }
        location /failing/ {
            mirror /fail;
            mirror /down;
            proxy_pass http://127.0.0.1:$app_port;
        }
        location /copy {
            internal;
            proxy_pass http://127.0.0.1:$mirror_port;
            log_subrequest on;
            access_log logs/mirror.log sub;
        }
        location /copy-nobody {
            internal;
            proxy_pass http://127.0.0.1:$mirror_port;
            proxy_set_header Content-Length "";
        }
        location /hold {
            internal;
            proxy_pass http://127.0.0.1:$mirror_port;
        }
        location /fail {
            internal;
            proxy_pass http://127.0.0.1:$mirror_port;
        }
        location /down {
            internal;
            proxy_pass http://127.0.0.1:$down_port;
        }
    }
}
EOF
$t->temp_paths('body_temp');
$t->start;

sub copies {
    open(my $fh, '<', "$dir/copies") or return ();
    return map { chomp; $_ } <$fh>;
}

sub post {
    my ($uri, $body) = @_;
    return $t->http($port, "POST $uri HTTP/1.0\r\nHost: h\r\nContent-Length: "
                    . length($body) . "\r\n\r\n$body") // '';
}

# Reads one response (head and Content-Length body) from $s without waiting for EOF.
sub read_response {
    my ($s) = @_;
    my ($r, $sel) = ('', IO::Select->new($s));
    while ($sel->can_read(10)) {
        sysread($s, $r, 65536, length $r) or last;
        my ($head, $body) = split /\r\n\r\n/, $r, 2;
        next unless defined $body;
        my ($len) = $head =~ /\r\nContent-Length: (\d+)/i;
        last if defined $len && length($body) >= $len;
    }
    return $r;
}

{
    my $r = post('/a?id=1', 'payload-1');
    is(body_of($r), 'APP POST /a?id=1 body=payload-1', 'the request gets the application\'s answer');
    $t->wait_for(sub { grep { m{^POST /copy\?id=1 } } copies() }, 10);
    is_deeply([grep { /id=1/ } copies()], ['POST /copy?id=1 cl=9 body=payload-1'],
              'one copy: same method, arguments and body');
}
{
    my $r = post('/off/b?id=2', 'payload-2');
    is(body_of($r), 'APP POST /off/b?id=2 body=payload-2', 'mirror off: answered');
}
{
    my $r = post('/two/c?id=3', 'payload-3');
    is(body_of($r), 'APP POST /two/c?id=3 body=payload-3', 'two mirrors: answered');
    $t->wait_for(sub { (grep { /id=3/ } copies()) >= 2 }, 10);
    is_deeply([sort grep { /id=3/ } copies()],
              ['POST /copy2?id=3 cl=9 body=payload-3', 'POST /copy?id=3 cl=9 body=payload-3'],
              'two mirrors: two copies');
}
{
    my $r = post('/nobody/d?id=4', 'payload-4');
    is(body_of($r), 'APP POST /nobody/d?id=4 body=payload-4',
       'mirror_request_body off: the request keeps its body');
    $t->wait_for(sub { grep { /id=4/ } copies() }, 10);
    is_deeply([grep { /id=4/ } copies()], ['POST /copy-nobody?id=4 cl=- body='],
              'mirror_request_body off: the copy has no body');
}
is(scalar(grep { /id=2/ } copies()), 0, 'mirror off: no copy');
{
    my $body = join '', map { chr(65 + $_ % 26) } 1 .. 300000;
    my $show = 'len=300000 md5=' . md5_hex($body);
    my $r = post('/big/h?id=9', $body);
    is(body_of($r), "APP POST /big/h?id=9 body=$show", 'a body in a temp file: the request has it');
    $t->wait_for(sub { (grep { /id=9/ } copies()) >= 2 }, 10);
    is_deeply([sort grep { /id=9/ } copies()],
              ["POST /copy2?id=9 cl=300000 body=$show", "POST /copy?id=9 cl=300000 body=$show"],
              'a body in a temp file: each mirror has it whole');
}

# a mirror held by its origin does not hold the response back
{
    my $s = $t->connect($port);
    print $s "POST /slow/e?id=5 HTTP/1.0\r\nHost: h\r\nContent-Length: 9\r\n\r\npayload-5";
    $t->wait_for(sub { grep { m{^POST /hold\?id=5 } } copies() }, 10);
    my $r = read_response($s);
    is(body_of($r), 'APP POST /slow/e?id=5 body=payload-5',
       'a held mirror: the response came while the mirror waits');
    open(my $fh, '>', "$dir/release") or die;
    close $fh;
    my ($rest, $eof) = $t->read_all($s);
    ok($eof && $rest eq '', 'the connection closes once the mirror is done, nothing more sent');
}

# failing mirrors change nothing
{
    my $r = post('/failing/f?id=6', 'payload-6');
    is(status_of($r =~ s{^HTTP/1\.0}{HTTP/1.1}r), '200', 'failing mirrors: the request is answered');
    is(body_of($r), 'APP POST /failing/f?id=6 body=payload-6', 'failing mirrors: its body');
    like($t->error_log, qr/upstream prematurely closed connection.*subrequest: "\/fail"/,
         'the mirror closed without an answer: logged');
    like($t->error_log, qr/connect\(\) failed .*subrequest: "\/down"/, 'the refused mirror: logged');
}

# keepalive: the next request on the connection after the mirror
{
    my $s = $t->connect($port);
    print $s "GET /g?id=7 HTTP/1.1\r\nHost: h\r\n\r\n";
    my $r1 = read_response($s);
    print $s "GET /g?id=8 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    my $r2 = $t->read_all($s);
    is(body_of($r1), 'APP GET /g?id=7 body=', 'keepalive: the first request');
    is(body_of($r2), 'APP GET /g?id=8 body=', 'keepalive: the next one after its mirror');
    $t->wait_for(sub { (grep { /id=[78] / } copies()) >= 2 }, 10);
    is(scalar(grep { m{^GET /copy\?id=[78] cl=- body=$} } copies()), 2, 'keepalive: both mirrored');
}

$t->check_fds;
$t->stop;
my @main = split /\n/, $t->read_file('logs/access.log');
is(scalar(grep { /^main POST \/a 200$/ } @main), 1, 'the main request is logged once');
is(scalar(grep { /copy/ } @main), 0, 'no mirror line in the main log');
my $sub = $t->read_file('logs/mirror.log');
like($sub, qr{^sub POST /copy\?id=1 200$}m, 'log_subrequest on: the mirror\'s own line');
unlike($sub, qr{copy-nobody|/hold}, 'log_subrequest off elsewhere: no line');
$t->done_testing;
Origin::stop_scripted($_) for @origins;
