# Files and their cache headers: $request_filename, the rewrite module's file tests
# (if -f/-d/-e/-x and their negations), try_files, expires, and named captures of location
# and server_name regexes as variables.  Expected output follows nginx 1.22 (Debian's
# 1.22.1): this file passes against it too (SLUICE_BINARY=/usr/sbin/nginx).
use strict;
use warnings;
use Test::More;
use Sluice;

my $t = Sluice->new;
my $prefix = $t->prefix;

$t->write_file('html/file.txt', "file\n");
$t->write_file('html/dir/index.html', "index\n");
$t->write_file('html/al/inal.txt', "inal\n");
my $exe = $t->write_file('html/run.sh', "#!/bin/sh\n");
chmod 0755, $exe;

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
        location /iff/ {
            if (!-e $request_filename) { return 404 "none\n"; }
            if (-d $request_filename) { return 200 "dir\n"; }
        }
    }
}
EOF2
$t->start;
my $port = $t->port(1);

sub req { my ($raw) = @_; return scalar $t->http($port, $raw); }
sub get {
    my ($path, @headers) = @_;
    my $h = join('', map { "$_\r\n" } @headers);
    return req("GET $path HTTP/1.1\r\nHost: localhost\r\n${h}Connection: close\r\n\r\n");
}
sub status_of { my ($r) = @_; return $r =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 'none'; }
sub body_of { my ($r) = @_; my (undef, $b) = split /\r\n\r\n/, $r, 2; return $b // ''; }
sub header { my ($r, $name) = @_; my ($h) = split /\r\n\r\n/, $r, 2; return "$h\r\n" =~ /\r\n\Q$name\E: ([^\r]*)\r\n/i ? $1 : undef; }

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
$r = get('/changed/whatever');
is(body_of($r), "file\n", 'the file found is served');
is(header($r, 'X-Uri'), '/file.txt', '$uri is the file found');
is(header($r, 'X-Filename'), "$prefix/html/file.txt", '$request_filename follows');

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

$t->done_testing;
