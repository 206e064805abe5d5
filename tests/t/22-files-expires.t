# Files and their cache headers: $request_filename, the rewrite module's file tests
# (if -f/-d/-e/-x and their negations), try_files, expires, and named captures of location
# and server_name regexes as variables.  Expected output follows nginx 1.22 (Debian's
# 1.22.1): this file passes against it too (SLUICE_BINARY=/usr/sbin/nginx).
use strict;
use warnings;
use Test::More;
use Time::Local qw(timegm);
use Sluice qw(status_of body_of head_of header_of);

my $t = Sluice->new;
my $prefix = $t->prefix;

$t->write_file('html/file.txt', "file\n");
$t->write_file('html/dir/index.html', "index\n");
$t->write_file('html/al/inal.txt', "inal\n");
$t->write_file('html/al/sub/deep.txt', "deep\n");
my $exe = $t->write_file('html/run.sh', "#!/bin/sh\n");
chmod 0755, $exe;
my $MTIME = 1704164645;    # Tue, 02 Jan 2024 03:04:05 GMT
utime($MTIME, $MTIME, $t->write_file('html/ex/old.txt', "old\n"));
my $future = time + 100000;
utime($future, $future, $t->write_file('html/ex/new.txt', "new\n"));

$t->write_config(<<'EOF2');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
        root html;
        location /rf/ { return 200 "$request_filename\n"; }
        location /alias/ { alias html/al/; return 200 "$request_filename\n"; }
        location ~ ^/re/(.*)$ { alias html/al/$1; return 200 "$request_filename\n"; }
        location /test/ {
            alias html/;
            set $r "";
            if (-f $request_filename) { set $r "${r}f"; }
            if (!-f $request_filename) { set $r "${r}!f"; }
            if (-d $request_filename) { set $r "${r}d"; }
            if (!-d $request_filename) { set $r "${r}!d"; }
            if (-e $request_filename) { set $r "${r}e"; }
            if (!-e $request_filename) { set $r "${r}!e"; }
            if (-x $request_filename) { set $r "${r}x"; }
            if (!-x $request_filename) { set $r "${r}!x"; }
            return 200 "$r\n";
        }
        location /tf/ {
            alias html/;
            try_files $uri /fb$uri;
        }
        location / {
            try_files $uri $uri/ /fb$uri?from=$uri;
        }
        location /fb/ { return 200 "fb uri=$uri args=$args\n"; }
        location /dironly/ { try_files /dir/ =404; }
        location /fileasdir/ { try_files /file.txt/ =403; }
        location /dirasfile/ { try_files /dir =404; }
        location /named/ { try_files /nope @back; }
        location @back { return 200 "named uri=$uri\n"; }
        location /code/ { try_files /nope $uri =410; }
        location /noargs/ { try_files /nope /fb/plain; }
        location /first/ { try_files /nope /file.txt /dir/index.html =404; }
        location /tfvar/ { try_files /$arg_f =404; }
        location ~ ^/tre/(.*)$ { alias html/al/; try_files $1 /fb/re; }
        location /changed/ {
            try_files /file.txt =404;
            add_header X-Uri $uri;
            add_header X-Filename $request_filename;
        }
        location ~ ^/nc/(?<first>[^/]+)/(?P<second>.+)$ { return 200 "$first $second $1 $2\n"; }
        location ~ ^/nalias/(?<f>.+)$ { alias html/$f; }
        location /nest/ {
            alias html/al/;
            location ~ \.txt$ { try_files $uri =404; }
            location /nest/sub/ { }
        }
        location /iff/ {
            if (!-e $request_filename) { return 404 "none\n"; }
            if (-d $request_filename) { return 200 "dir\n"; }
        }
    }
    server {
        listen 127.0.0.1:%%PORT_3%%;
        server_name ~^(?<sub>[a-z]+)\.(?P<dom>example\.com)$;
        location / { return 200 "sub=$sub dom=$dom 1=$1\n"; }
        location ~ ^/(?<sub>loc)$ { return 200 "sub=$sub dom=$dom 1=$1\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_3%%;
        server_name other;
        return 200 "other\n";
    }
    server {
        listen 127.0.0.1:%%PORT_2%%;
        root html;
        expires 1h;
        location /ex/ { }
        location /ex/off/ { expires off; alias html/ex/; }
        location /epoch/ { expires epoch; alias html/ex/; }
        location /max/ { expires max; alias html/ex/; }
        location /zero/ { expires 0; alias html/ex/; }
        location /neg/ { expires -1h; alias html/ex/; }
        location /plus/ { expires +90; alias html/ex/; }
        location /mod/ { expires modified 2048; alias html/ex/; }
        location /daily/ { expires @15h30m33s; alias html/ex/; }
        location /var/ { expires $arg_e; alias html/ex/; }
        location /varmod/ { expires modified $arg_e; alias html/ex/; }
        location /ret/ { return 200 "ret\n"; }
        location /redir/ { return 302 /x; }
        location /gone/ { return 410; }
        location /both/ { add_header X-A a; add_header Cache-Control private; return 204; }
        location /ifx/ {
            alias html/ex/;
            if ($arg_x) { expires 30s; }
        }
        location /px/ { proxy_pass http://127.0.0.1:%%PORT_2%%/up/; expires 1h; }
        location /pxm/ { proxy_pass http://127.0.0.1:%%PORT_2%%/lm/; expires modified 2048; }
        location /val/ {
            expires off;
            alias html/ex/;
            add_header Last-Modified "Mon, 28 Sep 1970 06:00:00 GMT";
            add_header ETag '"v1"';
        }
        location /valrm/ { expires off; alias html/ex/; add_header ETag ""; }
        location /valpx/ { expires off; proxy_pass http://127.0.0.1:%%PORT_2%%/val/; proxy_force_ranges on; }
        location /lm/ {
            expires off;
            add_header Last-Modified "Mon, 28 Sep 1970 06:00:00 GMT";
            return 200 "lm\n";
        }
        location /up/ {
            expires off;
            add_header Expires "upstream";
            add_header Cache-Control "private";
            add_header Cache-Control "no-transform";
            return 200 "up\n";
        }
    }
}
EOF2
$t->start;
my $port = $t->port(1);

sub req { my ($raw) = @_; return scalar $t->http($port, $raw); }
sub get { return $t->get_close($port, @_); }

# --- $request_filename ---
is(body_of(get('/rf/x.txt')), "$prefix/html/rf/x.txt\n", '$request_filename: root + uri');
is(body_of(get('/rf/')), "$prefix/html/rf/\n", '$request_filename: a directory uri');
is(body_of(get('/alias/x.txt')), "$prefix/html/al/x.txt\n", '$request_filename: alias');
is(body_of(get('/re/y.txt')), "$prefix/html/al/y.txt\n", '$request_filename: alias with a capture');

# --- if (-f ...) and friends ---
is(body_of(get('/test/file.txt')), "f!de!x\n", '-f on a file');
is(body_of(get('/test/dir')), "!fdex\n", '-d on a directory (searchable: -x too)');
is(body_of(get('/test/nope')), "!f!d!e!x\n", 'nothing there');
is(body_of(get('/test/run.sh')), "f!dex\n", '-x on an executable');
is(body_of(get('/test/file.txt/x')), "!f!d!e!x\n", 'under a file (ENOTDIR)');
my $r = get('/iff/nope');
is(status_of($r) . body_of($r), "404none\n", '!-e: return');
$t->write_file('html/iff/f', "served\n");
is(body_of(get('/iff/')), "dir\n", '-d on the location directory');
is(body_of(get('/iff/f')), "served\n", 'no condition true: static');

# --- try_files ---
is(body_of(get('/file.txt')), "file\n", 'try_files: $uri found');
$r = get('/nothing?a=1');
is(body_of($r), "fb uri=/fb/nothing args=from=/nothing\n", 'fallback uri: internal redirect, its own args');
like(get('/dir'), qr{^HTTP/1\.1 301 .*\r\nLocation: http://localhost:$port/dir/\r\n}s, '$uri/ finds a directory: 301');
is(body_of(get('/dir/')), "index\n", '$uri/: the index');
is(body_of(get('/noargs/x?a=1')), "fb uri=/fb/plain args=\n", 'fallback without "?": args dropped');
is(body_of(get('/tf/file.txt')), "file\n", 'alias: the name loses the location prefix');
is(body_of(get('/tf/none')), "fb uri=/fb/tf/none args=\n", 'alias: fallback');
is(status_of(get('/dironly/')), 301, 'name ending in /: a directory is found, uri /dir: 301');
is(status_of(get('/fileasdir/')), 403, 'a file does not match a name ending in /: =403');
is(status_of(get('/dirasfile/')), 404, 'a directory does not match a plain name');
is(body_of(get('/named/x')), "named uri=/named/x\n", 'fallback @name');
$r = get('/code/x');
is(status_of($r), 410, '=410');
is(body_of(get('/first/')), "file\n", 'first found wins');
is(body_of(get('/tfvar/?f=file.txt')), "file\n", 'variables in a name');
is(status_of(get('/tfvar/?f=nope')), 404, 'variables in a name: not found');
is(body_of(get('/tre/inal.txt')), "inal\n", 'regex location alias');
is(body_of(get('/tre/none')), "fb uri=/fb/re args=\n", 'regex location alias: fallback');
is(body_of(get('/nest/inal.txt')), "inal\n", 'alias inherited by a nested regex location, with try_files');
is(status_of(get('/nest/none.txt')), 404, 'nested, not found: =404');
is(body_of(get('/nest/sub/deep.txt')), "deep\n", 'alias inherited by a nested prefix location');
$r = get('/changed/whatever');
is(body_of($r), "file\n", 'the file found is served');
is(header_of($r, 'X-Uri'), '/file.txt', '$uri is the file found');
is(header_of($r, 'X-Filename'), "$prefix/html/file.txt", '$request_filename follows');

# --- expires ---
my $port2 = $t->port(2);
my %MON = (Jan => 0, Feb => 1, Mar => 2, Apr => 3, May => 4, Jun => 5, Jul => 6, Aug => 7, Sep => 8,
           Oct => 9, Nov => 10, Dec => 11);
sub http_time {
    my ($v) = @_;
    return undef unless defined $v && $v =~ /^\w{3}, (\d\d) (\w{3}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/;
    return timegm($6, $5, $4, $1, $MON{$2}, $3);
}
sub get2 {
    my ($path) = @_;
    return req2("GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}
sub req2 { my ($raw) = @_; return scalar $t->http($port2, $raw); }
sub cc_of { my ($r) = @_; return join('|', head_lines($r, 'Cache-Control')); }
sub head_lines { my ($r, $name) = @_; my ($h) = split /\r\n\r\n/, $r, 2; return $h =~ /\r\n\Q$name\E: ([^\r]*)/gi; }
sub expires_after_date {
    my ($r) = @_;
    my ($d, $e) = (http_time(header_of($r, 'Date')), http_time(header_of($r, 'Expires')));
    return defined $d && defined $e ? $e - $d : 'none';
}

$r = get2('/ex/old.txt');
is(expires_after_date($r), 3600, 'server-level 1h: Expires = Date + 1h');
is(cc_of($r), 'max-age=3600', 'server-level 1h: max-age=3600');
like($r, qr{\r\nETag: [^\r]+\r\nExpires: [^\r]+\r\nCache-Control: max-age=3600\r\nAccept-Ranges: bytes\r\n}, 'header order as nginx');
$r = get2('/ex/off/old.txt');
ok(!defined header_of($r, 'Expires') && !defined header_of($r, 'Cache-Control'), 'expires off: nothing');
$r = get2('/epoch/old.txt');
is(header_of($r, 'Expires'), 'Thu, 01 Jan 1970 00:00:01 GMT', 'epoch: Expires');
is(cc_of($r), 'no-cache', 'epoch: no-cache');
$r = get2('/max/old.txt');
is(header_of($r, 'Expires'), 'Thu, 31 Dec 2037 23:55:55 GMT', 'max: Expires');
is(cc_of($r), 'max-age=315360000', 'max: max-age');
$r = get2('/zero/old.txt');
is(header_of($r, 'Expires'), header_of($r, 'Date'), '0: Expires is the Date');
is(cc_of($r), 'max-age=0', '0: max-age=0');
$r = get2('/neg/old.txt');
is(expires_after_date($r), -3600, 'negative: Expires in the past');
is(cc_of($r), 'no-cache', 'negative: no-cache');
is(cc_of(get2('/plus/old.txt')), 'max-age=90', '+90');
$r = get2('/mod/old.txt');
is(header_of($r, 'Expires'), 'Tue, 02 Jan 2024 03:38:13 GMT', 'modified: mtime + 2048');
is(cc_of($r), 'no-cache', 'modified, already past: no-cache');
$r = get2('/mod/new.txt');
my ($age) = cc_of($r) =~ /^max-age=(\d+)$/;
ok(defined $age && abs($age - (100000 + 2048 - (http_time(header_of($r, 'Date')) - time))) < 10 && abs(http_time(header_of($r, 'Expires')) - ($future + 2048)) == 0,
   'modified, in the future: Expires = mtime + 2048, max-age to it');
$r = get2('/mod/missing');
is(status_of($r), 404, 'a 404');
ok(!defined header_of($r, 'Expires') && !defined header_of($r, 'Cache-Control'), 'no expires on a 404');
$r = get2('/ret/');
is(cc_of($r), 'max-age=3600', 'return 200: without mtime, modified or not, from now');
$r = get2('/daily/old.txt');
my $delta = expires_after_date($r);
ok($delta ne 'none' && $delta > 0 && $delta <= 86400 && cc_of($r) eq "max-age=$delta", '@15h30m33s: the next time of day');
like(header_of($r, 'Expires') // '', qr/ \d\d:30:33 GMT$/, '@15h30m33s: minutes and seconds');
is(cc_of(get2('/var/old.txt?e=120')), 'max-age=120', 'a variable: 120');
is(cc_of(get2('/var/old.txt?e=epoch')), 'no-cache', 'a variable: epoch');
is(header_of(get2('/var/old.txt?e=max'), 'Expires'), 'Thu, 31 Dec 2037 23:55:55 GMT', 'a variable: max');
ok(!defined header_of(get2('/var/old.txt?e=off'), 'Cache-Control'), 'a variable: off');
ok(!defined header_of(get2('/var/old.txt?e=junk'), 'Cache-Control'), 'a variable that does not parse: nothing');
ok(!defined header_of(get2('/var/old.txt'), 'Cache-Control'), 'an empty variable: nothing');
is(header_of(get2('/varmod/old.txt?e=2048'), 'Expires'), 'Tue, 02 Jan 2024 03:38:13 GMT', 'modified with a variable');
ok(!defined header_of(get2('/varmod/old.txt?e=epoch'), 'Expires'), 'modified with a variable: no epoch');
$r = get2('/redir/');
is(cc_of($r), 'max-age=3600', '302 gets it');
ok(!defined header_of(get2('/gone/'), 'Expires'), '410 does not');
$r = get2('/both/');
like($r, qr{\r\nExpires: [^\r]+\r\nCache-Control: max-age=3600\r\nX-A: a\r\nCache-Control: private\r\n}, 'expires before add_header, as nginx');
is(cc_of(get2('/ifx/old.txt?x=1')), 'max-age=30', 'expires in if in location');
is(cc_of(get2('/ifx/old.txt')), 'max-age=3600', 'if false: the location\'s');
$r = get2('/ex/old.txt');
my $lm = header_of($r, 'Last-Modified');
$r = req2("GET /ex/old.txt HTTP/1.1\r\nHost: localhost\r\nIf-Modified-Since: $lm\r\nConnection: close\r\n\r\n");
is(status_of($r) . ' ' . cc_of($r), '304 max-age=3600', '304 gets it');
$r = get2('/px/');
is(cc_of($r), 'max-age=3600', "an upstream's Cache-Control lines: replaced by one");
is(scalar(my @ex = head_lines($r, 'Expires')), 1, 'one Expires line');
is(expires_after_date($r), 3600, "an upstream's Expires: rewritten");
$r = get2('/pxm/');
is(header_of($r, 'Expires'), 'Mon, 28 Sep 1970 06:34:08 GMT', "modified: from an upstream's Last-Modified");
$r = req2("GET /pxm/ HTTP/1.1\r\nHost: localhost\r\nIf-Modified-Since: Mon, 28 Sep 1970 06:00:00 GMT\r\nConnection: close\r\n\r\n");
is(status_of($r), 200, 'a proxied response is not turned into a 304 (no cache)');

# --- add_header Last-Modified / ETag: the response's own validators replaced ---
sub range_req {
    my ($uri, @extra) = @_;
    return req2("GET $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                . join('', map { "$_\r\n" } @extra) . "\r\n");
}
my $LM70 = 'Mon, 28 Sep 1970 06:00:00 GMT';
$r = get2('/val/old.txt');
is(join('|', head_lines($r, 'Last-Modified'), head_lines($r, 'ETag')), "$LM70|\"v1\"",
   'add_header Last-Modified and ETag: one line each, the added values');
$r = range_req('/val/old.txt', 'Range: bytes=1-', "If-Range: $LM70");
is(status_of($r) . ' ' . body_of($r), "206 ld\n", 'If-Range compares with the added Last-Modified');
$r = range_req('/val/old.txt', 'Range: bytes=1-', 'If-Range: "v1"');
is(status_of($r) . ' ' . body_of($r), "206 ld\n", 'If-Range compares with the added ETag');
is(status_of(range_req('/val/old.txt', 'If-None-Match: "v1"')), 200,
   'If-None-Match was answered with the file\'s own ETag, before add_header');
ok(!defined header_of(get2('/valrm/old.txt'), 'ETag'), 'add_header ETag "": no ETag');
$r = range_req('/valpx/old.txt', 'Range: bytes=1-', 'If-Range: "v1"');
is(status_of($r) . ' ' . body_of($r), "206 ld\n",
   'proxy_force_ranges: If-Range against the upstream\'s replaced ETag');
$r = range_req('/valpx/old.txt', 'Range: bytes=1-', "If-Range: $LM70");
is(status_of($r) . ' ' . body_of($r), "206 ld\n",
   'proxy_force_ranges: If-Range against the upstream\'s replaced Last-Modified');

# --- named captures in location and server_name regexes ---
is(body_of(get('/nc/a/b/c')), "a b/c a b/c\n", 'location ~ (?<name>) and (?P<name>): variables');
is(body_of(get('/nalias/file.txt')), "file\n", 'a named capture in alias');
my $port3 = $t->port(3);
sub get3 {
    my ($path, $host) = @_;
    return scalar $t->http($port3, "GET $path HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n");
}
is(body_of(get3('/', 'www.example.com')), "sub=www dom=example.com 1=www\n", 'server_name ~ (?<name>): variables');
is(body_of(get3('/loc', 'abc.example.com')), "sub=loc dom=example.com 1=loc\n", 'a location regex sets them again');
is(body_of(get3('/', 'other')), "other\n", 'another server');

$t->stop;

# --- try_files: configuration errors ---
sub conf_error {
    my ($body) = @_;
    $t->write_config("events {}\nhttp { server { listen 127.0.0.1:%%PORT_1%%; $body } }\n");
    my $res = $t->run('-c', 'conf/sluice.conf', '-t');
    return $res->{stderr};
}
like(conf_error('location / { try_files $uri =4x; }'), qr/\[emerg\] .*invalid code "=4x" in /, 'invalid code');
like(conf_error('location / { try_files $uri =1000; }'), qr/\[emerg\] .*invalid code "=1000" in /, 'code over 999');
like(conf_error('location / { try_files $uri; }'), qr/\[emerg\] .*invalid number of arguments in "try_files" directive/, 'one argument');
like(conf_error('location / { try_files $uri =404; try_files $uri =403; }'), qr/\[emerg\] .*"try_files" directive is duplicate/, 'duplicate');
like(conf_error('try_files $uri =404;'), qr/syntax is ok/, 'server level');
like(conf_error('location ~ (?<host>.+) { }'), qr/\[emerg\] .*the duplicate "host" variable/, 'named capture: a built-in name');
like(conf_error('location ~ (?<x>.+) { return 200 $x; } location ~ ^/(?<x>a) { }'), qr/syntax is ok/, 'named capture: the same name twice');
like(conf_error('location / { return 200 $nope; }'), qr/\[emerg\] .*unknown "nope" variable/, 'unknown variable still');
like(conf_error('expires 1h; expires 2h;'), qr/\[emerg\] .*"expires" directive is duplicate/, 'expires: duplicate');
like(conf_error('expires 1x;'), qr/\[emerg\] .*"expires" directive invalid value/, 'expires: invalid value');
like(conf_error('expires soon 1h;'), qr/\[emerg\] .*"expires" directive invalid value/, 'expires: not "modified"');
like(conf_error('expires modified @1h;'), qr/\[emerg\] .*"expires" directive daily time cannot be used with "modified" parameter/, 'expires: modified @');
like(conf_error('expires @25h;'), qr/\[emerg\] .*"expires" directive daily time value must be less than 24 hours/, 'expires: @25h');
like(conf_error('expires modified max;'), qr/\[emerg\] .*"expires" directive invalid value/, 'expires: modified max');

$t->done_testing;
