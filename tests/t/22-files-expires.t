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

$t->stop;
$t->done_testing;
