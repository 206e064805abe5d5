# The access log: the predefined "combined" format, a custom format of request variables,
# escape=json and escape=none, "access_log off", several access_log at one level, if=,
# buffer= and flush=, "-s reopen" after a rename, and the configuration errors.
#
# Expected lines are nginx 1.22's for the same requests and config (Debian's nginx, checked
# side by side); only the time and the port differ from run to run.
use strict;
use warnings;
use IO::Select;
use Test::More;
use Sluice;

my $t = Sluice->new;
my $prefix = $t->prefix;
my $port = $t->port(1);

$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format custom '$status $body_bytes_sent $request_length "$request_uri" $uri $args '
                      '$arg_a $is_args $host $http_x_test $cookie_c $server_port $remote_addr '
                      '$connection_requests';
    log_format json escape=json '{"ua":"$http_user_agent","x":"$http_x_test",'
                                '"none":"$http_x_none","uri":"$request_uri"}';
    log_format plain escape=none '$http_user_agent|$http_x_test|$http_x_none';
    log_format esc_default '[$uri]';
    log_format esc_json escape=json '[$uri]';
    access_log logs/access.log combined;
    access_log logs/custom.log custom;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name localhost;
        location / { return 200 "ok\n"; }
        location /off { access_log off; return 200 "off\n"; }
        location /json {
            access_log logs/json.log json;
            access_log logs/plain.log plain;
            return 200 "json\n";
        }
        location /if { access_log logs/if.log custom if=$arg_log; return 200 "if\n"; }
        location /esc {
            access_log logs/esc_default.log esc_default;
            access_log logs/esc_json.log esc_json;
            return 200 "esc\n";
        }
        location /buf { access_log logs/buf.log custom buffer=4k flush=1s; return 200 "buf\n"; }
    }
}
EOF

# The lines of a log file (undef-safe), the time of combined lines replaced by TIME.
sub lines {
    my ($name) = @_;
    my $text = $t->read_file("logs/$name") // '';
    return [map { s/\[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]/[TIME]/r } split /^/, $text];
}

# Sends a request and waits for the server to close (Connection: close / HTTP/1.0).
sub request {
    my ($raw) = @_;
    my $resp = $t->http($port, $raw) // '';
    return $resp;
}

# The log line is written when the request ends, just before the close the client sees;
# wait (bounded) until the file has n lines.
sub wait_lines {
    my ($name, $n) = @_;
    return $t->wait_for(sub { @{lines($name)} >= $n });
}

$t->start;

# 1. combined: user from Basic auth, referer, a user agent with '"' and '\' escaped.
my $r1 = "GET /p?x=1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Test \"UA\" \\o/\r\n"
    . "Referer: http://ref/\r\nAuthorization: Basic dXNlcjpwYXNz\r\nConnection: close\r\n\r\n";
like(request($r1), qr/^HTTP\/1\.1 200 /, 'request 1 answered');
# 2. the custom format: decoded $uri, $args, $arg_a, $host lowercased without the port,
#    $cookie_c, a header by name.
my $r2 = "GET /a%20b?a=1&b=2 HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Test: t1\r\n"
    . "Cookie: c=cv; d=4\r\nConnection: close\r\n\r\n";
request($r2);
# 3. HTTP/1.0 without headers: absent values print "-", $is_args is empty, $host is the
#    server_name.
my $r3 = "GET / HTTP/1.0\r\n\r\n";
request($r3);
# 4. access_log off in a location: no line anywhere.
request("GET /off HTTP/1.0\r\n\r\n");

ok(wait_lines('access.log', 3), 'three combined lines') or diag($t->read_file('logs/access.log'));
is_deeply(lines('access.log'), [
    '127.0.0.1 - user [TIME] "GET /p?x=1 HTTP/1.1" 200 3 "http://ref/" '
        . '"Test \x22UA\x22 \x5Co/"' . "\n",
    "127.0.0.1 - - [TIME] \"GET /a%20b?a=1&b=2 HTTP/1.1\" 200 3 \"-\" \"-\"\n",
    "127.0.0.1 - - [TIME] \"GET / HTTP/1.0\" 200 3 \"-\" \"-\"\n",
], 'combined: byte for byte as nginx');
like($t->read_file('logs/access.log') // '',
     qr/^127\.0\.0\.1 - user \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] /,
     'combined: $time_local as 01/Jan/2026:12:00:00 +0000');

my ($l1, $l2) = (length($r1), length($r2));
is_deeply(lines('custom.log'), [
    "200 3 $l1 \"/p?x=1\" /p x=1 - ? localhost - - $port 127.0.0.1 1\n",
    "200 3 $l2 \"/a%20b?a=1&b=2\" /a b a=1&b=2 1 ? example.com t1 cv $port 127.0.0.1 1\n",
    "200 3 18 \"/\" / - -  localhost - - $port 127.0.0.1 1\n",
], 'custom format: the second access_log of the level, byte for byte as nginx')
    or diag($t->read_file('logs/custom.log'));

# 5. escape=json and escape=none, in a location with two access_log lines of its own
#    (which replace the inherited ones).
request("GET /json?q=\"1\" HTTP/1.0\r\nUser-Agent: a\"b\\c\td\xc3\xa9\r\nX-Test: x\ty\r\n\r\n");
ok(wait_lines('json.log', 1), 'json line written');
is($t->read_file('logs/json.log'),
   '{"ua":"a\"b\\\\c\td' . "\xc3\xa9" . '","x":"x\ty","none":"","uri":"/json?q=\"1\""}' . "\n",
   'escape=json: quote, backslash and tab escaped, UTF-8 kept, absent is empty');
is($t->read_file('logs/plain.log'), "a\"b\\c\td\xc3\xa9|x\ty|\n",
   'escape=none: bytes as sent, absent is empty');
is(scalar @{lines('access.log')}, 3, 'a location with its own access_log does not inherit');

# 5b. Every byte value a decoded uri can hold (all but NUL and '/'), escaped by each rule:
#     the line's measured length must be the rendered one (the sanitizer build sees a
#     byte written past it), and the bytes must be nginx's.
{
    my @bytes = grep { $_ != 0 && $_ != 0x2f } 1 .. 255;
    my $path = join '', map { sprintf '%%%02X', $_ } @bytes;
    request("GET /esc/$path HTTP/1.0\r\n\r\n");
    ok(wait_lines('esc_default.log', 1) && wait_lines('esc_json.log', 1), 'escape lines written');
    my %short = (8 => '\b', 9 => '\t', 10 => '\n', 12 => '\f', 13 => '\r', 0x22 => '\"',
                 0x5c => '\\\\');
    my $default = join '', map {
        $_ < 0x20 || $_ == 0x22 || $_ == 0x5c || $_ >= 0x7f ? sprintf('\x%02X', $_) : chr
    } @bytes;
    my $json = join '', map {
        $short{$_} // ($_ < 0x20 ? sprintf('\u%04X', $_) : chr)
    } @bytes;
    is($t->read_file('logs/esc_default.log'), "[/esc/$default]\n", 'default escaping, every byte');
    is($t->read_file('logs/esc_json.log'), "[/esc/$json]\n", 'json escaping, every byte');
}

# 6. if=: a line only when the condition is neither empty nor "0".
my @if = map { "GET /if$_ HTTP/1.0\r\n\r\n" } ('?log=1', '?log=0', '', '?log=yes');
request($_) for @if;
ok(wait_lines('if.log', 2), 'if= lines written');
is_deeply(lines('if.log'), [
    "200 3 @{[length $if[0]]} \"/if?log=1\" /if log=1 - ? localhost - - $port 127.0.0.1 1\n",
    "200 3 @{[length $if[3]]} \"/if?log=yes\" /if log=yes - ? localhost - - $port 127.0.0.1 1\n",
], 'if=: "0" and absent skip the line');

# 7. keepalive: $connection_requests counts the requests of the connection.
{
    my $s = $t->connect($port) or die "connect: $!";
    print $s "GET /k1 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    my $first = '';
    my $deadline = time + 10;
    while ($first !~ /\r\n\r\nok\n\z/ && time < $deadline) {
        last unless IO::Select->new($s)->can_read(1) && sysread($s, $first, 4096, length $first);
    }
    like($first, qr/ok\n\z/, 'keepalive: first response');
    print $s "GET /k2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    $t->read_all($s);
    close $s;
    ok(wait_lines('custom.log', 5), 'keepalive: two more lines');
    my @l = @{lines('custom.log')}[3, 4];
    like($l[0], qr{ "/k1" /k1 .* 1\n\z}, 'keepalive: first request of the connection');
    like($l[1], qr{ "/k2" /k2 .* 2\n\z}, 'keepalive: second request of the connection');
}

# 8. buffer= and flush=: nothing written at once; the flush timer writes it.
request("GET /buf HTTP/1.0\r\n\r\n");
is($t->read_file('logs/buf.log') // '', '', 'buffer=: the line waits in the buffer');
ok($t->wait_for(sub { ($t->read_file('logs/buf.log') // '') ne '' }, 5), 'flush=: then written');
my $lb = length "GET /buf HTTP/1.0\r\n\r\n";
is_deeply(lines('buf.log'), ["200 4 $lb \"/buf\" /buf - -  localhost - - $port 127.0.0.1 1\n"],
          'buffered line as an unbuffered one');

# 9. buffered lines still waiting are written at exit.
request("GET /buf HTTP/1.0\r\n\r\n");
is(scalar @{lines('buf.log')}, 1, 'second buffered line not yet written');
is($t->stop, 0, 'graceful stop');
is(scalar @{lines('buf.log')}, 2, 'exit flushed the buffer');

# 10. -s reopen after a rename: new lines go to a new file.
$t->start;
request("GET /before HTTP/1.0\r\n\r\n");
ok(wait_lines('access.log', 6), 'line before the rename');
rename("$prefix/logs/access.log", "$prefix/logs/access.log.1") or die "rename: $!";
my $r = $t->run('-c', 'conf/sluice.conf', '-s', 'reopen');
is($r->{exit}, 0, '-s reopen: exit 0') or diag($r->{stderr});
ok($t->wait_for(sub { -e "$prefix/logs/access.log" }), '-s reopen: access.log created again');
request("GET /after HTTP/1.0\r\n\r\n");
ok(wait_lines('access.log', 1), 'line after the reopen');
like(lines('access.log')->[0], qr{"GET /after HTTP/1\.0"}, 'the new file has the new line');
unlike($t->read_file('logs/access.log.1'), qr{/after}, 'the renamed file does not');
like($t->read_file('logs/access.log.1'), qr{/before}, 'the renamed file kept the old line');
is($t->stop, 0, 'stop after reopen');

# 10b. a buffered line waiting at the reopen goes to the old (renamed) file, as nginx.
$t->start;
my $before = scalar @{lines('buf.log')};
request("GET /buf HTTP/1.0\r\n\r\n");
rename("$prefix/logs/buf.log", "$prefix/logs/buf.log.1") or die "rename: $!";
$r = $t->run('-c', 'conf/sluice.conf', '-s', 'reopen');
is($r->{exit}, 0, '-s reopen with a buffered line');
ok($t->wait_for(sub { scalar(@{ [ split /\n/, ($t->read_file('logs/buf.log.1') // '') ] }) == $before + 1 }), 'the waiting line was written to the old file before the reopen');
is($t->read_file('logs/buf.log') // '', '', 'nothing of it in the new file');
is($t->stop, 0, 'stop');

# 11. configuration errors, worded as nginx's.
my %bad = (
    'log_format a "$foo"; access_log logs/x a;' => 'unknown "foo" variable',
    'log_format a x; log_format a y;' => 'duplicate "log_format" name "a" in %CONF%:%LINE%',
    'log_format combined x;' => 'duplicate "log_format" name "combined" in %CONF%:%LINE%',
    'access_log logs/x nope;' => 'unknown log format "nope" in %CONF%:%LINE%',
    'access_log logs/x buffer=32k;' => 'unknown log format "buffer=32k" in %CONF%:%LINE%',
    'access_log logs/x combined foo=bar;' => 'invalid parameter "foo=bar" in %CONF%:%LINE%',
    'access_log logs/x combined buffer=abc;' => 'invalid buffer size "abc" in %CONF%:%LINE%',
    'access_log logs/x combined flush=1s;'
        => 'no buffer is defined for access_log "logs/x" in %CONF%:%LINE%',
    'access_log logs/x combined buffer=32k flush=0;' => 'invalid flush time "0" in %CONF%:%LINE%',
    'access_log logs/x combined buffer=8k; access_log logs/x combined buffer=4k;'
        => 'access_log "logs/x" already defined with conflicting parameters in %CONF%:%LINE%',
    'access_log off combined;' => 'invalid parameter "combined" in %CONF%:%LINE%',
    'log_format a escape=foo x;' => 'unknown log format escaping "foo" in %CONF%:%LINE%',
    'log_format a "${foo";' => 'the closing bracket in "foo" variable is missing in %CONF%:%LINE%',
    'log_format a "a$ b";' => 'invalid parameter "$ b" in %CONF%:%LINE%',
    'server { location / { log_format a x; } }'
        => '"log_format" directive is not allowed here in %CONF%:%LINE%',
);
my $conf = "$prefix/conf/bad.conf";
# the globals, then "events { } http { ... }" on the next line
my $line = 1 + (() = $t->test_globals =~ /\n/g);
for my $body (sort keys %bad) {
    $t->write_file('conf/bad.conf', "%%TEST_GLOBALS%%events { } http { $body }\n");
    my $res = $t->run('-t', '-c', 'conf/bad.conf');
    (my $want = $bad{$body}) =~ s/%CONF%/$conf/;
    $want =~ s/%LINE%/$line/;
    isnt($res->{exit}, 0, "-t fails: $body");
    like($res->{stderr}, qr/^sluice: \[emerg\] \Q$want\E$/m, "-t: $want")
        or diag($res->{stderr});
}

$t->done_testing;
