# Upstream groups behind proxy_pass (issue #5): what happens when a server fails.  Scripted
# origins: a and b answer 200 with their name, e answers 502, d reads the request and closes
# without a byte, h never answers, f fails at first and is healed later; R1..R3 are ports
# where nothing listens (connection refused).  Each scenario has its own upstream block, so
# failures marked in one do not leak into another.  Checked: proxy_next_upstream (refused,
# timeout, http_502, off), proxy_next_upstream_tries and _timeout, the non-idempotent rule
# (POST, PATCH not retried after the request went out; PUT, DELETE, GET are), max_fails and
# fail_timeout (skipped, then one probe, then back), backup, max_conns under concurrency,
# "no live upstreams", and $upstream_addr / $upstream_status listing every attempt.
#
# Validated against Debian's nginx 1.22.1: every expected status, body, $upstream_addr,
# $upstream_status and log line below is what it produced.  To rerun against nginx:
#   SLUICE_BINARY=/usr/sbin/nginx prove -v -I tests/t/lib tests/t/36-upstream-next.t
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use Sluice;
use Origin;

my $t = Sluice->new;

my %origin;
my %mode = (a => 'ok', b => 'ok', e => '502', d => 'drop', h => 'hang', f => 'drop', r => 'reset');
my %slot = (a => 11, b => 12, e => 13, d => 14, h => 15, f => 16, r => 17);
for my $name (sort keys %slot) {
    $origin{$name} = Origin->start($t, name => $name, port => $t->port($slot{$name}),
                                   mode => $mode{$name});
}
# "127.0.0.1:PORT" => the name used in the expectations below
my %name_of = map { ('127.0.0.1:' . $t->port($slot{$_}) => $_) } keys %slot;
$name_of{'127.0.0.1:' . $t->port(20 + $_)} = "R$_" for 1 .. 3;

$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format up '$arg_n $status|$upstream_addr|$upstream_status';
    access_log logs/up.log up;
    log_format len '$arg_n $upstream_response_length|$upstream_bytes_received';
    access_log logs/len.log len;

    # a=11 b=12 e=13 d=14 h=15 f=16 r=17; R1..R3=21..23 refuse
    upstream ref     { server 127.0.0.1:%%PORT_21%%; server 127.0.0.1:%%PORT_11%%; }
    upstream nextoff { server 127.0.0.1:%%PORT_21%%; server 127.0.0.1:%%PORT_11%%; }
    upstream to      { server 127.0.0.1:%%PORT_15%%; server 127.0.0.1:%%PORT_11%%; }
    upstream rst     { server 127.0.0.1:%%PORT_17%%; server 127.0.0.1:%%PORT_11%%; }
    upstream e502    { server 127.0.0.1:%%PORT_13%%; server 127.0.0.1:%%PORT_11%%; }
    upstream e502n   { server 127.0.0.1:%%PORT_13%%; server 127.0.0.1:%%PORT_11%%; }
    upstream all502  { server 127.0.0.1:%%PORT_13%%; server 127.0.0.1:%%PORT_13%%; }
    upstream tries   { server 127.0.0.1:%%PORT_21%%; server 127.0.0.1:%%PORT_22%%; server 127.0.0.1:%%PORT_23%%; }
    upstream tries0  { server 127.0.0.1:%%PORT_21%%; server 127.0.0.1:%%PORT_22%%; server 127.0.0.1:%%PORT_23%%; }
    upstream nut     { server 127.0.0.1:%%PORT_15%%; server 127.0.0.1:%%PORT_21%%; server 127.0.0.1:%%PORT_11%%; }
    upstream nut0    { server 127.0.0.1:%%PORT_15%%; server 127.0.0.1:%%PORT_21%%; server 127.0.0.1:%%PORT_11%%; }
    upstream post    { server 127.0.0.1:%%PORT_14%%; server 127.0.0.1:%%PORT_11%%; }
    upstream postni  { server 127.0.0.1:%%PORT_14%%; server 127.0.0.1:%%PORT_11%%; }
    upstream postw   { server 127.0.0.1:%%PORT_14%%; server 127.0.0.1:%%PORT_11%%; }
    upstream putw    { server 127.0.0.1:%%PORT_14%%; server 127.0.0.1:%%PORT_11%%; }
    upstream putp    { server 127.0.0.1:%%PORT_14%%; server 127.0.0.1:%%PORT_11%%; }
    upstream patch   { server 127.0.0.1:%%PORT_14%%; server 127.0.0.1:%%PORT_11%%; }
    upstream put     { server 127.0.0.1:%%PORT_14%%; server 127.0.0.1:%%PORT_11%%; }
    upstream delete  { server 127.0.0.1:%%PORT_14%%; server 127.0.0.1:%%PORT_11%%; }
    upstream get     { server 127.0.0.1:%%PORT_14%%; server 127.0.0.1:%%PORT_11%%; }
    upstream mf      { server 127.0.0.1:%%PORT_14%% max_fails=2 fail_timeout=60s; server 127.0.0.1:%%PORT_11%%; }
    upstream rec     { server 127.0.0.1:%%PORT_16%% max_fails=1 fail_timeout=2s; server 127.0.0.1:%%PORT_11%%; }
    upstream bk      { server 127.0.0.1:%%PORT_11%%; server 127.0.0.1:%%PORT_12%% backup; }
    upstream bkref   { server 127.0.0.1:%%PORT_21%%; server 127.0.0.1:%%PORT_12%% backup; }
    upstream bkdown  { server 127.0.0.1:%%PORT_11%% down; server 127.0.0.1:%%PORT_12%% backup; }
    upstream bktwo   { server 127.0.0.1:%%PORT_21%%; server 127.0.0.1:%%PORT_11%%; server 127.0.0.1:%%PORT_12%% backup; }
    upstream bksole  { server 127.0.0.1:%%PORT_22%%; server 127.0.0.1:%%PORT_14%% backup; }
    upstream mc      { server 127.0.0.1:%%PORT_11%% max_conns=1; server 127.0.0.1:%%PORT_12%% max_conns=1; }
    upstream mcb     { server 127.0.0.1:%%PORT_11%% max_conns=1; server 127.0.0.1:%%PORT_12%% backup; }
    upstream nl      { server 127.0.0.1:%%PORT_21%%; server 127.0.0.1:%%PORT_22%%; }
    upstream single  { server 127.0.0.1:%%PORT_21%%; }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        proxy_read_timeout 1s;
        location /ref/ { proxy_pass http://ref; }
        location /nextoff/ { proxy_pass http://nextoff; proxy_next_upstream off; }
        location /to/ { proxy_pass http://to; }
        location /rst/ { proxy_pass http://rst; }
        location /e502/ { proxy_pass http://e502; }
        location /e502n/ { proxy_pass http://e502n; proxy_next_upstream error timeout http_502; }
        location /all502/ { proxy_pass http://all502; proxy_next_upstream error timeout http_502; }
        location /tries/ { proxy_pass http://tries; proxy_next_upstream_tries 2; }
        location /tries0/ { proxy_pass http://tries0; }
        location /nut/ { proxy_pass http://nut; proxy_next_upstream_timeout 500ms; }
        location /nut0/ { proxy_pass http://nut0; }
        location /post/ { proxy_pass http://post; }
        location /postni/ { proxy_pass http://postni; proxy_next_upstream error timeout non_idempotent; }
        location /postw/ { proxy_pass http://postw; proxy_request_buffering off;
                           proxy_next_upstream error timeout non_idempotent; }
        location /putw/ { proxy_pass http://putw; proxy_request_buffering off; }
        location /putp/ { proxy_pass http://putp; proxy_request_buffering off; }
        location /patch/ { proxy_pass http://patch; }
        location /put/ { proxy_pass http://put; }
        location /delete/ { proxy_pass http://delete; }
        location /get/ { proxy_pass http://get; }
        location /mf/ { proxy_pass http://mf; }
        location /rec/ { proxy_pass http://rec; }
        location /bk/ { proxy_pass http://bk; }
        location /bkref/ { proxy_pass http://bkref; }
        location /bkdown/ { proxy_pass http://bkdown; }
        location /bktwo/ { proxy_pass http://bktwo; }
        location /bksole/ { proxy_pass http://bksole; }
        location /mc/ { proxy_pass http://mc; }
        location /mcb/ { proxy_pass http://mcb; }
        location /nl/ { proxy_pass http://nl; }
        location /single/ { proxy_pass http://single; }
    }
}
EOF
$t->start;
my $port = $t->port(1);

# "127.0.0.1:P1, 127.0.0.1:P2" as "R1, a" (other values, such as a group name, as they are)
sub names {
    my ($list) = @_;
    return join ', ', map { $name_of{$_} // $_ } split /, /, $list // '';
}

# A request with a unique n=N in its query; the answer and its access log line, summed up
# as "STATUS BODY | UPSTREAM_ADDR | UPSTREAM_STATUS", BODY being the origin's body or "-"
# for the server's own error page.
my $n = 0;
sub send_request {
    my ($method, $uri, $body) = @_;
    $n++;
    my $s = Origin::client($port) or return (undef, $n);
    print $s "$method $uri" . ($uri =~ /\?/ ? '&' : '?') . "n=$n HTTP/1.0\r\nHost: localhost\r\n"
        . (defined $body ? 'Content-Length: ' . length($body) . "\r\n" : '') . "\r\n"
        . ($body // '');
    return ($s, $n);
}

sub finish {
    my ($s, $id) = @_;
    return "no connection (request $id)" unless $s;
    my ($status, undef, $body) = Origin::parse_response(scalar $t->read_all($s));
    # nginx writes the log line of a request whose body it read only once its lingering
    # close is over: close our end first.
    close $s;
    my (undef, $addr, $ustatus) = Origin::log_fields($t, 'logs/up.log', $id);
    $body = '-' unless $body =~ /^[a-z]( \d{3})?$/;
    return "$status $body | " . names($addr) . ' | ' . ($ustatus // 'no log line');
}

sub req {
    my ($method, $uri, $body) = @_;
    return finish(send_request($method, $uri, $body));
}

sub get { req('GET', $_[0]) }

# error log lines of request n=$id
sub log_of {
    my ($id) = @_;
    return grep { /request: "\w+ [^" ]*[?&]n=$id[ &]/ } split /\n/, $t->error_log;
}

sub uris_of {
    my ($origin, $re) = @_;
    return scalar grep { $_ =~ $re } $origin{$origin}->request_uris;
}

# --- proxy_next_upstream error timeout (the default) ---
is(get('/ref/'), '200 a | R1, a | 502, 200', 'refused: the next server answers; both attempts listed');
my $ref_id = $n;
my @l = log_of($ref_id);
like($l[0] // '', qr{\[error\] .*connect\(\) failed \(111: Connection refused\) while connecting to upstream, client: 127\.0\.0\.1, server: , request: "GET /ref/\?n=$ref_id HTTP/1\.0", upstream: "http://127\.0\.0\.1:\d+/ref/\?n=$ref_id", host: "localhost"$},
     'refused: logged at error as nginx');
like($l[1] // '', qr{\[warn\] .*upstream server temporarily disabled while connecting to upstream, client: 127\.0\.0\.1, },
     'refused: the server is disabled (max_fails=1 by default), logged at warn');
is(scalar @l, 2, 'refused: two log lines');
is(get('/ref/'), '200 a | a | 200', 'refused: the disabled server is not tried again');
is(get('/nextoff/'), '502 - | R1 | 502', 'proxy_next_upstream off: the refused attempt is the answer');

is(get('/to/'), '200 a | h, a | 504, 200', 'timeout (proxy_read_timeout): the next server answers; 504 listed');
@l = log_of($n);
like($l[0] // '', qr{\[warn\] .*upstream server temporarily disabled while reading response header from upstream, },
     'timeout: the server disabled first, as nginx logs it');
like($l[1] // '', qr{\[error\] .*upstream timed out \(110: Connection timed out\) while reading response header from upstream, client: 127\.0\.0\.1, },
     'timeout logged as nginx');

# an upstream's reset is an error on an upstream connection (info only on a client's)
is(get('/rst/'), '200 a | r, a | 502, 200', 'reset: the next server answers');
like(join("\n", log_of($n)), qr{\[error\] .*recv\(\) failed \(104: Connection reset by peer\) while reading response header from upstream, client: 127\.0\.0\.1, },
     'reset: logged at error, as nginx');

# --- http_502 ---
is(get('/e502/'), '502 e 502 | e | 502', 'a 502 without http_502: passed to the client as it came');
is(get('/e502n/'), '200 a | e, a | 502, 200', 'a 502 with http_502: the next server answers');
{
    my ($len, $received) = Origin::log_fields($t, 'logs/len.log', $n);
    is($len, '0, 1', '$upstream_response_length: 0 for the answer not relayed, the body of the one relayed');
    like($received, qr/^[1-9]\d*, [1-9]\d*$/, '$upstream_bytes_received: both answers counted');
}
is(get('/all502/'), '502 e 502 | e, e | 502, 502',
   'http_502 and every server answers 502: the last 502 is passed to the client as it came');

# --- proxy_next_upstream_tries ---
is(get('/tries/'), '502 - | R1, R2 | 502, 502', 'tries 2 with three refusing servers: 502 after two attempts');
is(scalar(grep { /connect\(\) failed/ } log_of($n)), 2, 'tries 2: two connect() failures logged');
is(get('/tries0/'), '502 - | R1, R2, R3 | 502, 502, 502', 'no tries limit: every server is tried');

# --- proxy_next_upstream_timeout ---
is(get('/nut/'), '504 - | h | 504',
   'next_upstream_timeout 500ms, first server timed out after 1s: no further attempt, 504');
is(get('/nut0/'), '200 a | h, R1, a | 504, 502, 200', 'without it: timeout, refused, then the answer');

# --- non-idempotent requests ---
is(req('POST', '/post/', 'abc'), '502 - | d | 502',
   'POST sent, then the server closed without answering: not retried, 502');
like(join("\n", log_of($n)), qr{\[error\] .*upstream prematurely closed connection while reading response header from upstream, },
     'logged as nginx');
is(req('POST', '/postni/', 'abc'), '200 a | d, a | 502, 200', 'with non_idempotent: the POST goes to the next server');
ok(grep({ m{^POST /postni/\?n=$n$} } $origin{a}->request_uris), 'the retried POST reached a');
is(req('PATCH', '/patch/', 'abc'), '502 - | d | 502', 'PATCH: not retried either');
is(req('PUT', '/put/', 'abc'), '200 a | d, a | 502, 200', 'PUT: retried');
is(req('DELETE', '/delete/'), '200 a | d, a | 502, 200', 'DELETE: retried');
# proxy_request_buffering off: a body that came whole with the header is handled as if
# buffered, so the request can be sent again (nginx); one still arriving cannot
is(req('POST', '/postw/', 'abc'), '200 a | d, a | 502, 200',
   'request buffering off, POST whole with its header, non_idempotent: retried');
ok(grep({ m{^POST /postw/\?n=$n$} } $origin{a}->request_uris), 'the retried POST reached a');
is(req('PUT', '/putw/', 'abc'), '200 a | d, a | 502, 200', 'request buffering off, PUT whole with its header: retried');
{
    $n++;
    my $s = Origin::client($port);
    print $s "PUT /putp/?n=$n HTTP/1.0\r\nHost: localhost\r\nContent-Length: 6\r\n\r\nabc";
    select(undef, undef, undef, 0.3);
    print $s "def";
    is(finish($s, $n), '502 - | d | 502', 'request buffering off, PUT body in two parts: not retried once sent');
}
is(get('/get/'), '200 a | d, a | 502, 200', 'GET: retried');

# --- max_fails=2 fail_timeout=60s: after two failures the server is skipped untried ---
{
    my @got = map { get('/mf/') } 1 .. 8;
    is_deeply(\@got, ['200 a | d, a | 502, 200', '200 a | a | 200', '200 a | d, a | 502, 200',
                      ('200 a | a | 200') x 5],
              'max_fails=2: round robin reaches d twice, then d is skipped');
    is(uris_of('d', qr{^GET /mf/}), 2, 'max_fails=2: d saw exactly two requests');
    my @warn = grep { m{upstream server temporarily disabled.*/mf/} } split /\n/, $t->error_log;
    is(scalar @warn, 1, 'max_fails=2: "temporarily disabled" once, at the second failure');
    like($warn[0] // '', qr{request: "GET /mf/\?n=@{[$n - 5]} }, 'at the second failure');
}

# --- max_fails=1 fail_timeout=2s: one probe after fail_timeout, then healed ---
{
    my $t0 = time;
    is(get('/rec/'), '200 a | f, a | 502, 200', 'fail_timeout: f fails and is disabled');
    my $second = get('/rec/');
    SKIP: {
        skip 'too slow to see the fail_timeout window', 1 if time - $t0 >= 2;
        is($second, '200 a | a | 200', 'fail_timeout: f skipped');
    }
    # until fail_timeout has passed f gets nothing; then one request tries it (bounded wait)
    my ($probe, $before_probe, $probe_done);
    for (1 .. 150) {
        $before_probe = time;
        my $r = get('/rec/');
        if ($r ne '200 a | a | 200') {
            ($probe, $probe_done) = ($r, time);
            last;
        }
        select(undef, undef, undef, 0.1);
    }
    is($probe, '200 a | f, a | 502, 200', 'fail_timeout passed: f is probed once (still failing)');
    ok(defined $probe_done && $probe_done - $t0 > 2, 'the probe came only after fail_timeout');
    my @after = map { get('/rec/') } 1 .. 3;
    SKIP: {
        skip 'too slow to see the window after the probe', 2 if time - $before_probe >= 2;
        is_deeply(\@after, [('200 a | a | 200') x 3], 'the failed probe disables f again');
        is(uris_of('f', qr{^GET /rec/}), 2, 'f saw two requests: the first and the probe');
    }
    $origin{f}->set_mode('ok');
    my $healed;
    for (1 .. 150) {
        my $r = get('/rec/');
        if ($r ne '200 a | a | 200') {
            $healed = $r;
            last;
        }
        select(undef, undef, undef, 0.1);
    }
    is($healed, '200 f | f | 200', 'f healed: the next probe succeeds');
    my @next = map { get('/rec/') } 1 .. 4;
    ok(grep({ $_ eq '200 f | f | 200' } @next) && grep({ $_ eq '200 a | a | 200' } @next),
       'f back in the rotation') or diag explain \@next;
}

# --- backup ---
is(join(' ; ', map { get('/bk/') } 1 .. 3), join(' ; ', ('200 a | a | 200') x 3),
   'backup: not used while the primary answers');
is(uris_of('b', qr{^GET /bk/}), 0, 'backup: it saw no request');
is(get('/bkref/'), '200 b | R1, b | 502, 200', 'backup: used when the primary fails');
is(get('/bkref/'), '200 b | b | 200', 'backup: used while the primary is disabled');
is(get('/bkdown/'), '200 b | b | 200', 'backup: used when the primary is down');
is(get('/bktwo/'), '200 a | R1, a | 502, 200', 'backup: a failed primary is replaced by another primary first');
is(get('/bktwo/'), '200 a | a | 200', 'backup: not used while a primary is left');
# a lone backup is no lone server: its failure disables it like any other
is(get('/bksole/'), '502 - | R2, d | 502, 502', 'lone backup: tried after the primary, fails too');
is(get('/bksole/'), '502 - | bksole | 502', 'lone backup: disabled as well, "no live upstreams"');
is(uris_of('d', qr{^GET /bksole/}), 1, 'lone backup: it saw one request');

# --- max_conns ---
{
    # two requests held at the origins fill both servers (max_conns=1 each); the third and
    # fourth find no server: 502 at once, "no live upstreams"
    my @held;
    for my $i (1 .. 2) {
        push @held, [send_request('GET', '/mc/?hold=mc-go')];
        my $id = $held[-1][1];
        ok($t->wait_for(sub { grep { /n=$id$/ } map { $_->request_uris } @origin{qw(a b)} }, 10),
           "max_conns: held request $i reached an origin");
    }
    my @excess = map { req('GET', '/mc/') } 3 .. 4;
    is_deeply(\@excess, [('502 - | mc | 502') x 2],
              'max_conns: with both servers full the excess gets 502; $upstream_addr is the group name');
    like(join("\n", log_of($n)), qr{\[error\] .*no live upstreams while connecting to upstream, client: 127\.0\.0\.1, server: , request: "GET /mc/\?n=$n HTTP/1\.0", upstream: "http://mc/mc/\?n=$n", host: "localhost"},
         'max_conns: "no live upstreams" logged as nginx');
    $t->write_file('mc-go', '');
    is_deeply([map { finish(@$_) } @held], ['200 a | a | 200', '200 b | b | 200'],
              'max_conns: the held requests complete, one on each server');
    is($origin{a}->max_concurrent, 1, 'max_conns: never more than one request at a time on a');
    is($origin{b}->max_concurrent, 1, 'max_conns: never more than one request at a time on b');
    is(join(' ; ', map { get('/mc/') } 1 .. 2), '200 b | b | 200 ; 200 a | a | 200',
       'max_conns: both servers are free again once their requests are done');

    my $held = [send_request('GET', '/mcb/?hold=mcb-go')];
    my $id = $held->[1];
    ok($t->wait_for(sub { grep { /n=$id$/ } $origin{a}->request_uris }, 10), 'max_conns with a backup: a holds a request');
    is_deeply([map { get('/mcb/') } 1 .. 2], [('200 b | b | 200') x 2], 'max_conns: the overflow goes to the backup');
    $t->write_file('mcb-go', '');
    is(finish(@$held), '200 a | a | 200', 'max_conns with a backup: the held request completes');
}

# --- no live upstreams ---
is(get('/nl/'), '502 - | R1, R2 | 502, 502', 'all servers refuse: 502, both attempts listed');
is(get('/nl/'), '502 - | nl | 502', 'all disabled: 502 at once, $upstream_addr is the group name');
@l = log_of($n);
is(scalar @l, 1, 'all disabled: one log line');
like($l[0] // '', qr{\[error\] \d+#\d+: \*\d+ no live upstreams while connecting to upstream, client: 127\.0\.0\.1, server: , request: "GET /nl/\?n=$n HTTP/1\.0", upstream: "http://nl/nl/\?n=$n", host: "localhost"$},
     'all disabled: "no live upstreams" logged at error as nginx');
is(get('/nl/'), '502 - | nl | 502', 'all disabled: still (fail_timeout is 10s)');
is(get('/single/'), '502 - | R1 | 502', 'a group of one: refused');
is(get('/single/'), '502 - | R1 | 502', 'a group of one is never disabled: tried again');
like(join("\n", log_of($n)), qr{connect\(\) failed \(111: Connection refused\)}, 'a group of one: connect() failed again');

is($t->stop, 0, 'graceful stop');
$t->done_testing;
