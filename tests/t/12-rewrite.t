# The rewrite module through real sockets: rewrite and its flags, arguments, captures,
# redirects and their Location values, the ten-change limit, server-level ops, if with each
# kind of condition, set, break, rewrite_log and uninitialized_variable_warn, and the
# configuration errors.  Every expected value was checked against Debian's nginx 1.22 with
# the same configuration (bodies, Location headers and the error log lines): this file passes
# with SLUICE_BINARY=/usr/sbin/nginx too.
use strict;
use warnings;
use Test::More;
use Sluice;

my $t = Sluice->new;
$t->write_file('html/f.txt', "plain file\n");
$t->write_file('html/dir/inside.txt', "inside\n");
$t->write_file('html/x.sh', "#!/bin/sh\n");
chmod 0755, $t->prefix . '/html/x.sh' or die "chmod: $!\n";
symlink('f.txt', $t->prefix . '/html/link') or die "symlink: $!\n";
symlink('nothing', $t->prefix . '/html/dangling') or die "symlink: $!\n";
$t->write_file('other/f.txt', "other root\n");

$t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name localhost;
        root %%PREFIX%%/html;

        rewrite ^/old/(.*)$ /new/$1;
        rewrite ^/gone$ /new/gone permanent;
        rewrite ^/srvlast$ /new/srvlast last;
        rewrite ^/new/srvlast$ /never;
        rewrite ^/srvbreak$ /new/srvbreak break;
        rewrite ^/new/srvbreak$ /never;
        if ($http_x_block) { return 403; }

        location / { return 200 "root location uri=$uri\n"; }
        location /new/ { return 200 "new uri=$uri args=$args\n"; }
        location /capt/ { return 200 "capt uri=$uri 1=$1 2=$2 name=$name\n"; }

        location /flag/none { rewrite ^/flag/none(.*)$ /new/none$1; return 200 "ops go on uri=$uri\n"; }
        location /flag/cont { rewrite ^/flag/cont(.*)$ /new/cont$1; set $x 1; }
        location /flag/last { rewrite ^ /new/last last; return 200 "not reached\n"; }
        location /flag/break { rewrite ^ /f.txt break; return 200 "not reached\n"; }
        location /flag/redirect { rewrite ^/flag/redirect(.*)$ /r$1 redirect; }
        location /flag/permanent { rewrite ^/flag/permanent(.*)$ /p$1 permanent; }
        location /flag/nomatch { rewrite ^/zzz /new/zzz last; return 200 "no match\n"; }

        location /url/ { rewrite ^/url/(.*)$ http://ex.test/$1; }
        location /urlq { rewrite ^/urlq(.*)$ /r$1?y=1 redirect; }
        location /urld { rewrite ^/urld(.*)$ https://ex.test/d$1? last; }
        location /scheme { rewrite ^ $scheme://$host/s2 permanent; }
        location /rru { rewrite ^ $request_uri permanent; }
        location /rcap/ { rewrite ^/rcap/(.*)$ http://ex.test/$1 redirect; }
        location /unesc { rewrite ^ http://ex.test/a%41%2f%20%7e%zz%4zq%25%26%3fZ%41 redirect; }

        location /args/keep { rewrite ^/args/keep(.*)$ /new/k$1 last; }
        location /args/drop { rewrite ^/args/drop(.*)$ /new/d$1? last; }
        location /args/add { rewrite ^/args/add(.*)$ /new/a$1?x=$1 last; }
        location /args/only { rewrite ^ /new/o?x=1? last; }
        location /args/esc/ { rewrite ^/args/esc/(.*)$ /new/e?a=$1 last; }
        location /args/var { set $v "/new/v?b=1"; rewrite ^ $v last; }

        location /cap/ { rewrite ^/cap/(?<name>\w+)/(\d+)$ /capt/$name/$2 last; }
        location /caps/none { rewrite ^/caps/none/(.*)$ /x; rewrite ^/zzz(.) /y; return 200 "[$1]\n"; }
        location /caps/nogroup { rewrite ^/caps/nogroup/(.*)$ /x; rewrite ^/x /y; return 200 "[$1]\n"; }
        location /caps/kept { rewrite ^/caps/kept/(.*)$ /x; return 200 "[$1] uri=$uri\n"; }
        location /lit { rewrite ^ /new/b%20x last; }
        location /zero { rewrite ^ $arg_none last; }
        location /loop { rewrite ^ /loop2 last; }
        location /loop2 { rewrite ^ /loop last; }

        location /t {
            if ($arg_v) { return 200 "var true [$arg_v]\n"; }
            if ($arg_e = abc) { return 200 "equal\n"; }
            if ($arg_n != abc) { return 200 "not equal [$arg_n]\n"; }
            return 200 "none\n";
        }
        location /re {
            if ($arg_a ~ ^(\w+)-(?<tail>\d+)$) { return 200 "re $1 $tail\n"; }
            if ($arg_b ~* ^abc) { return 200 "caseless\n"; }
            if ($arg_c !~ ^x) { return 200 "not re [$1]\n"; }
            if ($arg_d !~* ^x) { return 200 "not caseless\n"; }
            return 200 "none [$1]\n";
        }
        location /file/f { if (-f %%PREFIX%%/html/$arg_p) { return 200 "-f\n"; } return 200 "not -f\n"; }
        location /file/nf { if (!-f %%PREFIX%%/html/$arg_p) { return 200 "!-f\n"; } return 200 "not !-f\n"; }
        location /file/d { if (-d %%PREFIX%%/html/$arg_p) { return 200 "-d\n"; } return 200 "not -d\n"; }
        location /file/nd { if (!-d %%PREFIX%%/html/$arg_p) { return 200 "!-d\n"; } return 200 "not !-d\n"; }
        location /file/e { if (-e %%PREFIX%%/html/$arg_p) { return 200 "-e\n"; } return 200 "not -e\n"; }
        location /file/ne { if (!-e %%PREFIX%%/html/$arg_p) { return 200 "!-e\n"; } return 200 "not !-e\n"; }
        location /file/x { if (-x %%PREFIX%%/html/$arg_p) { return 200 "-x\n"; } return 200 "not -x\n"; }
        location /file/nx { if (!-x %%PREFIX%%/html/$arg_p) { return 200 "!-x\n"; } return 200 "not !-x\n"; }

        location /iflc {
            root %%PREFIX%%/none;
            if ($arg_r) { root %%PREFIX%%/other; add_header X-If yes; }
            rewrite ^ /f.txt break;
        }
        location /vroot/ { root %%PREFIX%%/$arg_d; if ($arg_i) { add_header X-I i; } rewrite ^ /f.txt break; }
        location /al/ { alias %%PREFIX%%/other/; if ($arg_a) { add_header X-A a; } }
        location /iferr { if ($arg_e) { error_page 404 =200 /new/err; } return 404; }
        location /ifrw { if ($arg_w) { rewrite ^ /new/from-if last; } return 200 "ifrw\n"; }

        location /set { set $a "A$arg_q"; set $b $a-$a; return 200 "set $a $b\n"; }
        location /setargs { set $args "new=1"; return 200 "args $args $arg_new\n"; }
        location /setif { set $s yes; if ($s = yes) { return 200 "set then if\n"; } return 200 "no\n"; }
        location /uninit { return 200 "u [$c]\n"; }
        location /uninit/off { uninitialized_variable_warn off; return 200 "u2 [$c]\n"; }
        location /setc { set $c C; return 200 "c $c\n"; }

        location /brk { rewrite ^ /f.txt; break; return 200 "not reached\n"; }
        location /brkif { rewrite ^ /f.txt; if ($arg_z) { break; } return 200 "brkif $uri\n"; }
        location /brkset { set $x 1; break; return 200 "not reached\n"; }
        location /typed/ { return 200 "typed\n"; }
        location /empty404 { return 404 ""; }
        location /empty200 { return 200 ""; }
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name nolocs;
        rewrite ^/(.*)$ /z$1;
        return 200 "nolocs $uri\n";
    }

    server {
        listen 127.0.0.1:%%PORT_1%%;
        server_name logs.test;
        rewrite_log on;
        location /a { rewrite ^/a(.*)$ /b$1 last; }
        location /b { rewrite ^/zzz /x; if ($arg_r ~ ^(y)) { return 200 "b\n"; } return 200 "b $1\n"; }
        location /r { rewrite ^/r(.*)$ /s$1?k=v redirect; }
    }
}
EOF
$t->start;
my $port = $t->port(1);

sub req { my ($raw) = @_; return scalar $t->http($port, $raw); }
sub status_of { my ($resp) = @_; return $resp =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 'none'; }
sub body_of { my ($resp) = @_; my (undef, $b) = split /\r\n\r\n/, $resp, 2; return $b; }
sub location_of { my ($resp) = @_; return $resp =~ m{\r\nLocation: ([^\r]*)\r\n} ? $1 : undef; }
sub get { my ($path, $host, $extra) = @_; $host //= 'localhost'; $extra //= '';
    return req("GET $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n$extra\r\n"); }
sub body { return body_of(get(@_)); }

# --- flags ---
is(body('/flag/none1'), "ops go on uri=/new/none1\n", 'no flag: the next ops run with the new uri');
is(body('/flag/cont1'), "new uri=/new/cont1 args=\n", 'no flag: the location is searched again at the end');
is(body('/flag/last'), "new uri=/new/last args=\n", 'last: no further op, new location');
is(body('/flag/break'), "plain file\n", 'break: ops stop, the location stays (static file)');
is(body('/flag/nomatch'), "no match\n", 'no match: on to the next op');
my $r = get('/flag/redirect1?o=1');
like($r, qr{^HTTP/1\.1 302 Moved Temporarily\r\n}, 'redirect: 302');
is(location_of($r), "http://localhost:$port/r1?o=1", 'redirect: Location made absolute, args kept');
like(body_of($r), qr{<title>302 Found</title>|<title>302 Moved Temporarily</title>}, '302 page');
$r = get('/flag/permanent1');
like($r, qr{^HTTP/1\.1 301 Moved Permanently\r\n}, 'permanent: 301');
is(location_of($r), "http://localhost:$port/p1", 'permanent: Location');

# --- redirects: Location values ---
$r = get('/url/a?o=1');
like($r, qr{^HTTP/1\.1 302 }, 'http:// replacement is a 302');
is(location_of($r), 'http://ex.test/a?o=1', 'http:// replacement: args appended with ?');
is(location_of(get('/urlq1?o=1')), "http://localhost:$port/r1?y=1&o=1", 'replacement with ?args: original args after &');
is(location_of(get('/urld1?o=1')), 'https://ex.test/d1', 'https:// with last is still a 302; trailing ? drops args');
like(get('/urld1'), qr{^HTTP/1\.1 302 }, 'https:// with last: 302');
is(location_of(get('/scheme?q')), 'http://localhost/s2?q', '$scheme://$host replacement, permanent');
like(get('/scheme'), qr{^HTTP/1\.1 301 }, '$scheme replacement with permanent: 301');
is(location_of(get('/rru?x=1')), "http://localhost:$port/rru?x=1?x=1",
    '$request_uri keeps its ? and the args are appended again (nginx)');
is(location_of(get('/rcap/a%20b+c%41%2F?x')), 'http://ex.test/a%20b+cA/?x',
    'captures in a redirect: escaped, then printable escapes decoded');
is(location_of(get('/unesc')), 'http://ex.test/aA/%20~zzq%25&?Z%41',
    'redirect decoding up to %3F: %20 and %25 kept, broken escapes dropped');

# --- arguments ---
is(body('/args/keep1?o=1'), "new uri=/new/k1 args=o=1\n", 'args kept');
is(body('/args/drop1?o=1'), "new uri=/new/d1 args=\n", 'trailing ? drops the args');
is(body('/args/add1?o=1'), "new uri=/new/a1 args=x=1&o=1\n", 'new args, then & and the old ones');
is(body('/args/add1'), "new uri=/new/a1 args=x=1\n", 'new args, no old ones');
is(body('/args/only?o=1'), "new uri=/new/o args=x=1\n", 'new args with trailing ?: old ones dropped');
is(body('/args/esc/a%20b+c?q'), "new uri=/new/e args=a=a%20b%2Bc&q\n",
    'captures in args are escaped when the uri had %XX or +');
is(body('/args/var?q=1'), "new uri=/new/v?b=1 args=q=1\n", 'a ? from a variable stays in the uri');

# --- captures ---
is(body('/cap/foo/12'), "capt uri=/capt/foo/12 1=foo 2=12 name=foo\n", 'numbered and named captures');
is(body('/caps/none/abc'), "[]\n", 'a regex that does not match empties $1');
is(body('/caps/nogroup/abc'), "[]\n", 'a match without groups empties $1 (nginx 1.22)');
is(body('/caps/kept/abc'), "[abc] uri=/x\n", 'captures stay for the next ops');
is(body('/lit'), "new uri=/new/b%20x args=\n", 'the new uri is not decoded');

# --- errors at run time ---
is(status_of(get('/zero')), 500, 'empty rewritten uri: 500');
like($t->error_log, qr{\[error\] \d+#\d+: \*\d+ the rewritten URI has a zero length, client: 127\.0\.0\.1, server: localhost, request: "GET /zero HTTP/1\.1", host: "localhost"},
    'empty rewritten uri: error line');
is(status_of(get('/loop')), 500, 'a last loop ends with 500');
like($t->error_log, qr{\[error\] \d+#\d+: \*\d+ rewrite or internal redirection cycle while processing "/loop2", client: 127\.0\.0\.1, server: localhost, request: "GET /loop HTTP/1\.1"},
    'the ten-change limit: error line');

# --- server level ---
is(body('/old/a'), "new uri=/new/a args=\n", 'server-level rewrite, then the location search');
is(location_of(get('/gone')), "http://localhost:$port/new/gone", 'server-level permanent');
is(body('/srvlast'), "new uri=/new/srvlast args=\n", 'server-level last stops the server ops');
is(body('/srvbreak'), "new uri=/new/srvbreak args=\n", 'server-level break stops the server ops');
is(status_of(get('/x', 'localhost', "X-Block: 1\r\n")), 403, 'server-level if');
is(body('/abc', 'nolocs'), "nolocs /zabc\n", 'server without locations: its ops run once');

# --- if: variables, comparisons, regexes ---
is(body('/t?v=1'), "var true [1]\n", '($var) true');
is(body('/t?v=0'), "not equal []\n", '($var) is false for "0"');
is(body('/t?e=abc'), "equal\n", '($var = value)');
is(body('/t?e=abcd&n=abc'), "none\n", '= and != false');
is(body('/t?n=x'), "not equal [x]\n", '($var != value)');
is(body('/re?a=foo-12'), "re foo 12\n", '~ with numbered and named captures');
is(body('/re?b=ABCd'), "caseless\n", '~* is caseless');
is(body('/re?c=yy'), "not re []\n", '!~');
is(body('/re?c=xx&d=XX'), "none []\n", '!~* false for a caseless match');
is(body('/re?c=x&d=y'), "not caseless\n", '!~*');

# --- if: file tests ---
my %files = (
    'f?p=f.txt' => "-f", 'f?p=dir' => "not -f", 'f?p=link' => "-f", 'f?p=nope' => "not -f",
    'nf?p=dir' => "!-f", 'nf?p=f.txt' => "not !-f",
    'd?p=dir' => "-d", 'd?p=f.txt' => "not -d", 'nd?p=f.txt' => "!-d", 'nd?p=dir' => "not !-d",
    'e?p=dir' => "-e", 'e?p=link' => "-e", 'e?p=dangling' => "not -e", 'ne?p=nope' => "!-e",
    'ne?p=f.txt' => "not !-e",
    'x?p=x.sh' => "-x", 'x?p=f.txt' => "not -x", 'x?p=dir' => "-x", 'nx?p=f.txt' => "!-x",
    'nx?p=x.sh' => "not !-x",
);
for my $q (sort keys %files) {
    is(body("/file/$q"), "$files{$q}\n", "file test /file/$q");
}

# --- if: the block's own configuration ---
$r = get('/iflc?r=1');
is(body_of($r), "other root\n", 'root inside if applies when true');
like($r, qr{\r\nX-If: yes\r\n}, 'add_header inside if');
is(status_of(get('/iflc')), 404, 'the location root when false');
unlike(get('/iflc'), qr{X-If}, 'no header when false');
$r = get('/vroot/x?d=other&i=1');
is(body_of($r), "other root\n", 'if inherits a root with variables');
like($r, qr{\r\nX-I: i\r\n}, 'and its own add_header applies');
is(body('/vroot/x?d=html&i=1'), "plain file\n", 'the root variable is evaluated per request');
$r = get('/al/f.txt?a=1');
is(body_of($r), "other root\n", 'if inherits alias');
like($r, qr{\r\nX-A: a\r\n}, 'if in an alias location: its add_header');
is(status_of(get('/iferr')), 404, 'error_page inside if: not when false');
$r = get('/iferr?e=1');
is(status_of($r) . ' ' . body_of($r), "200 new uri=/new/err args=\n", 'error_page inside if when true');
is(body('/ifrw?w=1'), "new uri=/new/from-if args=w=1\n", 'rewrite last inside if');
is(body('/ifrw'), "ifrw\n", 'if false: block skipped');

# --- set ---
is(body('/set?q=1'), "set A1 A1-A1\n", 'set, and a set variable in another');
is(body('/setargs?o=1'), "args new=1 1\n", 'set $args uses its set handler');
is(body('/setif'), "set then if\n", 'a set variable in a condition');
is(body('/setc'), "c C\n", 'set and return');
is(body('/uninit'), "u []\n", 'a set variable read before any set: empty');
is(body('/uninit/off'), "u2 []\n", 'uninitialized_variable_warn off: empty');
my @warn = $t->error_log =~ /(\[warn\] .*using uninitialized "c" variable.*)/g;
is(scalar @warn, 1, 'one uninitialized warning (not with the warning off)');
like($warn[0] // '', qr{request: "GET /uninit HTTP/1\.1"}, 'the warning names the request');

# --- break ---
is(body('/brk'), "plain file\n", 'break cancels the pending location search');
is(body('/brkif'), "brkif /f.txt\n", 'break in an if not taken');
is(body('/brkif?z=1'), "plain file\n", 'break inside if');
is(status_of(get('/brkset')), 404, 'break stops the ops (static: no such file)');

# --- return: the body's type follows the uri's extension (nginx's default types) ---
like(get('/typed/a.html'), qr{\r\nContent-Type: text/html\r\n}, 'return text: type by extension');
like(get('/typed/a.txt'), qr{\r\nContent-Type: text/plain\r\n}, 'return text: else default_type');

like(body('/empty404'), qr{<title>404 Not Found</title>}, 'return 404 "": the error page');
like(get('/empty200'), qr{^HTTP/1\.1 200 OK\r\n.*Content-Length: 0\r\n}s, 'return 200 "": empty body');

# --- rewrite_log ---
is(body('/a1', 'logs.test'), "b \n", 'rewrite_log server: last then a regex without groups');
is(location_of(get('/r1?o=1', 'logs.test')), "http://logs.test:$port/s1?k=v&o=1", 'redirect');
my $ctx = qr{, client: 127\.0\.0\.1, server: logs\.test, request: "GET /a1 HTTP/1\.1", host: "logs\.test"};
my @lines = grep { /server: logs\.test/ } split /\n/, $t->error_log;
s/^.*?\] \d+#\d+: \*\d+ // for @lines;
is_deeply(\@lines, [
    '"^/a(.*)$" matches "/a1", client: 127.0.0.1, server: logs.test, request: "GET /a1 HTTP/1.1", host: "logs.test"',
    'rewritten data: "/b1", args: "", client: 127.0.0.1, server: logs.test, request: "GET /a1 HTTP/1.1", host: "logs.test"',
    '"^/zzz" does not match "/b1", client: 127.0.0.1, server: logs.test, request: "GET /a1 HTTP/1.1", host: "logs.test"',
    '"^(y)" does not match "", client: 127.0.0.1, server: logs.test, request: "GET /a1 HTTP/1.1", host: "logs.test"',
    '"^/r(.*)$" matches "/r1", client: 127.0.0.1, server: logs.test, request: "GET /r1?o=1 HTTP/1.1", host: "logs.test"',
    'rewritten redirect: "/s1?k=v&o=1", client: 127.0.0.1, server: logs.test, request: "GET /r1?o=1 HTTP/1.1", host: "logs.test"',
], 'rewrite_log lines, in order, at notice') or diag(join "\n", @lines);
like($t->error_log, qr{\[notice\] \d+#\d+: \*\d+ "\^/a\(\.\*\)\$" matches "/a1"$ctx}, 'rewrite_log level is notice');
unlike($t->error_log, qr{matches "/old/a"}, 'no rewrite_log where it is off');

$t->stop;

# --- configuration errors (nginx's messages) ---
my @bad = (
    ['location / { rewrite ^ /x foo; }', 'invalid parameter "foo"'],
    ['location / { rewrite ^ "" last; }', 'empty replacement'],
    ['location / { rewrite a)b /x; }', 'pcre2_compile() failed: unmatched closing parenthesis in "a)b" at ")b"'],
    ['location / { rewrite ^ /x last 1; }', 'invalid number of arguments in "rewrite" directive'],
    ['location / { if $a { } }', 'invalid condition "$a"'],
    ['location / { if (a) { } }', 'invalid condition "a"'],
    ['location / { if ($uri == a) { } }', 'unexpected "==" in condition'],
    ['location / { if ($uri = a b) { } }', 'invalid condition "$uri"'],
    ['location / { if (-z /a) { } }', 'invalid condition "-z"'],
    ['location / { if (-f) { } }', 'invalid condition "-f"'],
    ['location / { if () { } }', 'invalid condition ")"'],
    ['location / { if ($uri) { if ($uri) { } } }', '"if" directive is not allowed here'],
    ['location / { if ($uri) { alias /x; } }', '"alias" directive is not allowed here'],
    ['if ($uri) { root /x; }', '"root" directive is not allowed here'],
    ['location / { if ($uri); }', 'directive "if" has no opening "{"'],
    ['location / { set a b; }', 'invalid variable name "a"'],
    ['location / { set $uri b; }', 'the duplicate "uri" variable'],
    ['location / { if ($uri ~ "(?<host>.)") { } }', 'the duplicate "host" variable'],
    ['location / { break x; }', 'invalid number of arguments in "break" directive'],
    ['location / { rewrite_log maybe; }',
     'invalid value "maybe" in "rewrite_log" directive, it must be "on" or "off"'],
    ['location / { return HTTP://x; }', 'invalid return code "HTTP://x"'],
);
for my $case (@bad) {
    my ($text, $message) = @$case;
    my $file = $t->write_file('conf/bad.conf', "%%TEST_GLOBALS%%\nevents { }\nhttp {\n    server {\n"
        . "        listen 127.0.0.1:%%PORT_1%%;\n        $text\n    }\n}\n");
    my $run = $t->run('-c', 'conf/bad.conf', '-t');
    like($run->{stderr}, qr/\[emerg\] (?:\d+#\d+: )?\Q$message\E in \Q$file\E:10$/m, "config error: $message")
        or diag($run->{stderr});
}
my $good = $t->write_file('conf/good.conf', "%%TEST_GLOBALS%%\nevents { }\nhttp {\n    rewrite_log on;\n"
    . "    server {\n        listen 127.0.0.1:%%PORT_1%%;\n"
    . "        if (\$uri) { rewrite_log on; set \$a b; return 200; rewrite ^ /x; break; }\n"
    . "        location / { if ( \$uri = \"a b\" ) { root /x; limit_rate 1; error_page 404 /x;"
    . " sendfile on; add_header a b; } set \$args b; set \$http_foo x; }\n    }\n}\n");
is($t->run('-c', 'conf/good.conf', '-t')->{exit}, 0, 'directives allowed in if blocks');

$t->done_testing;
