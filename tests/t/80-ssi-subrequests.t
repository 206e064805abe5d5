# (validated: this file passes with SLUICE_BINARY=/usr/sbin/nginx, Debian's nginx 1.22)
# Subrequests and SSI, through real sockets with sluice's own config and a scripted origin:
# - include output appears in document order whatever order the parts finish in: a slow
#   proxied include (the origin holds it until the fast one has been served) stays before
#   a fast one;
# - nesting stops at nginx's depth ("subrequests cycle while processing"), the page still
#   answered with the error message in place of the part that could not be made;
# - include set= collects a body in memory, bounded by subrequest_output_buffer_size: over
#   it, "too big subrequest response" and the response is cut (not complete-looking);
# - $uri is the subrequest's, $request_uri the client's; only the main request is logged;
# - echo (encodings, default), set, if/elif/else with regex captures, config, block/stub,
#   wait, $date_gmt; ssi_types, ssi_silent_errors, ssi_last_modified, ssi_value_length;
# - a big proxied include through the proxy's temp file leaves no descriptor, no temp file.
use strict;
use warnings;
use Test::More;
use Digest::MD5 qw(md5_hex);
use Sluice qw(status_of body_of head_of header_of);
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;
my $big = join('', map { sprintf("%07d\n", $_) } 1 .. 40000);

sub wait_file {
    my ($f) = @_;
    for (1 .. 400) {
        return 1 if -e $f;
        select(undef, undef, undef, 0.025);
    }
    return 0;
}

sub serve {
    my ($c) = @_;
    my $req = Origin::read_head($c) // return;
    my ($path) = $req =~ m{^GET (\S+) };
    my $body;
    if ($path =~ m{^/slow\?id=(\w+)}) {
        # held until the fast part of the same page has been served
        wait_file("$dir/fast-$1") or return;
        $body = 'SLOW';
    } elsif ($path =~ m{^/fast\?id=(\w+)}) {
        $body = 'FAST';
        open(my $fh, '>', "$dir/fast-$1") or die;
        close $fh;
    } elsif ($path =~ m{^/big}) {
        $body = $big;
    } else {
        $body = 'ORIGIN';
    }
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
                      . "\r\nConnection: close\r\n\r\n$body");
}

Origin::scripted(port => $origin_port, lifetime => 30, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

mkdir "$dir/html";
mkdir "$dir/html/dir";
my %files = (
    'order.html' => 'A<!--# include virtual="/o/slow?id=$arg_id" -->B'
                    . '<!--# include virtual="/o/fast?id=$arg_id" -->C',
    'loop.html' => 'L<!--# include virtual="/loop.html" -->',
    'set.html' => '[<!--# include virtual="/part.html" set="v" -->'
                  . '<!--# echo var="v" -->]',
    'setbig.html' => '[<!--# include virtual="/small/big.txt" set="v" -->'
                     . '<!--# echo var="v" -->]',
    'part.html' => 'PART',
    'vars.html' => '<!--# include virtual="/uri?x=1" -->',
    'echo.html' => '<!--# set var="a" value="<b>&amp;" -->'
                   . '1<!--# echo var="a" -->2<!--# echo var="a" encoding="none" -->'
                   . '<!--# set var="u" value="a b<" -->'
                   . '3<!--# echo var="u" encoding="url" -->4<!--# echo var="nope" -->'
                   . '5<!--# echo var="nope" default="dflt" -->6<!--# echo var="arg_q" -->'
                   . '7<!--# echo var="arg_q" encoding="entity" -->',
    'if.html' => '<!--# if expr="$arg_a = /^(\w+)-(\w+)/" -->'
                 . 'IF:<!--# echo var="1" -->+<!--# echo var="2" -->'
                 . '<!--# elif expr="$arg_b != no" -->ELIF'
                 . '<!--# else -->ELSE<!--# endif -->.',
    'config.html' => '<!--# config errmsg="OOPS" --><!--# nonsense -->'
                     . '<!--# config timefmt="%Y" --><!--# echo var="date_gmt" -->',
    'stub.html' => '<!--# block name="one" -->STUB<!--# endblock -->'
                   . '<!--# include virtual="/empty.html" stub="one" -->|'
                   . '<!--# include virtual="/part.html" stub="one" -->',
    'empty.html' => '',
    'wait.html' => '<!--# include virtual="/dir/rel.html" wait="yes" -->W',
    'dir/rel.html' => 'R<!--# include virtual="part.html" -->',
    'dir/part.html' => 'DIRPART',
    'silent.html' => 'a<!--# nonsense -->b',
    'long.html' => '<!--# set var="x" value="0123456789abcdef" -->[<!--# echo var="x" -->]',
    'text.txt' => 'T<!--# echo var="arg_q" -->',
    'lm.html' => 'plain',
    'bigpage.html' => '<<!--# include virtual="/o/big" -->>',
);
for my $f (keys %files) {
    open(my $fh, '>', "$dir/html/$f") or die;
    print $fh $files{$f};
    close $fh;
}
open(my $bf, '>', "$dir/html/big.txt") or die;
print $bf 'x' x 100;
close $bf;

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format sr '\$uri \$request_uri';
    access_log %%PREFIX%%/logs/access.log sr;
    proxy_temp_path %%PREFIX%%/proxy_temp;
    root %%PREFIX%%/html;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        ssi on;
        location /o/ {
            proxy_pass http://127.0.0.1:$origin_port/;
            proxy_buffers 4 4k;
            proxy_buffer_size 4k;
        }
        location /small/ { alias %%PREFIX%%/html/; subrequest_output_buffer_size 16; }
        location = /uri { return 200 "uri=\$uri request_uri=\$request_uri args=\$args"; }
        location /silent.html { ssi_silent_errors on; }
        location /long.html { ssi_value_length 8; }
        location /text.txt { ssi_types text/plain; }
        location /lm.html { ssi_last_modified on; }
    }
}
EOF
$t->temp_paths('proxy_temp');
$t->start;

sub get {
    my ($uri) = @_;
    my $r = $t->http($port, "GET $uri HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") // '';
    return $r;
}

sub dechunk {
    my ($b) = @_;
    my $out = '';
    while ($b =~ s/^([0-9a-f]+)\r\n//i) {
        my $n = hex $1;
        return ($out, 1) if $n == 0;
        $out .= substr($b, 0, $n, '');
        $b =~ s/^\r\n//;
    }
    return ($out, 0);
}

sub page {
    my ($uri) = @_;
    my $r = get($uri);
    my ($body, $complete) = dechunk(body_of($r));
    return wantarray ? ($body, $complete, $r) : $body;
}

# --- document order ---
{
    my ($b, $complete, $r) = page('/order.html?id=one');
    is(status_of($r), '200', 'order: 200');
    is($b, 'ASLOWBFASTC', 'order: the slow part stays before the fast one that finished first');
    ok($complete, 'order: the chunked response ends with its last chunk');
    like(head_of($r), qr/Transfer-Encoding: chunked/, 'order: no Content-Length, chunked');
    unlike(head_of($r), qr/Content-Length/i, 'order: the origin\'s lengths do not leak');
}

# --- limits ---
{
    my ($b, $complete, $r) = page('/loop.html');
    is(status_of($r), '200', 'depth: the page is answered');
    my $l = () = $b =~ /L/g;
    is($l, 52, 'depth: the main document and 51 levels, as nginx');
    like($b, qr/\[an error occurred while processing the directive\]$/,
         'depth: the error message takes the place of the part too deep');
    like($t->error_log, qr/\[error\].*subrequests cycle while processing "\/loop\.html"/,
         'depth: logged as nginx');
}

# --- in-memory bodies ---
is(page('/set.html'), '[PART]', 'include set=: the body in a variable');
{
    my ($b, $complete, $r) = page('/setbig.html');
    ok(!$complete, 'include set= over subrequest_output_buffer_size: the response is cut');
    like($t->error_log, qr/\[error\].*too big subrequest response: 100/,
         'over the limit: logged as nginx');
}

# --- variables and the log ---
is(page('/vars.html?main=1'), 'uri=/uri request_uri=/vars.html?main=1 args=x=1',
   '$uri and $args are the subrequest\'s, $request_uri the client\'s');

# --- commands ---
is(page('/echo.html?q=%3Cq%3E'), '1&lt;b&gt;&amp;amp;2<b>&amp;3a%20b%3C4(none)5dflt6%253Cq%253E7%3Cq%3E',
   'echo: entity (default), none, url encodings, each staying until the next; (none); default');
is(page('/if.html?a=x-y'), 'IF:x+y.', 'if: regex with captures');
is(page('/if.html?b=yes'), 'ELIF.', 'elif');
is(page('/if.html?b=no'), 'ELSE.', 'else');
{
    my $b = page('/config.html');
    my $year = (gmtime)[5] + 1900;
    like($b, qr/^OOPS\d{4}$/, 'config errmsg and timefmt');
    ok($b =~ /(\d{4})$/ && abs($1 - $year) <= 1, 'config timefmt: $date_gmt formatted');
}
is(page('/stub.html'), 'STUB|PART', 'block and stub: the stub for an empty include only');
is(page('/wait.html'), 'RDIRPARTW', 'wait, and a relative include from the document\'s dir');
is(page('/silent.html'), 'ab', 'ssi_silent_errors on: no message');
is(page('/long.html'), '[an error occurred while processing the directive][(none)]',
   'ssi_value_length: a longer value is an error');
is(page('/text.txt?q=t'), 'Tt', 'ssi_types text/plain');
{
    my $r = get('/lm.html');
    like(head_of($r), qr/Last-Modified/, 'ssi_last_modified on: kept');
    like(head_of($r), qr/ETag: W\//, 'ssi_last_modified on: a weak ETag');
    $r = get('/part.html');
    unlike(head_of($r), qr/Last-Modified|ETag|Accept-Ranges/, 'ssi: validators removed');
}

# --- a big proxied include, through the temp file ---
{
    my ($b, $complete) = page('/bigpage.html');
    ok($complete, 'big include: complete');
    is(md5_hex($b), md5_hex("<$big>"), 'big include: the bytes in place');
}

$t->check_fds;

# --- the access log: the main requests only ---
{
    $t->stop;
    my @lines = split /\n/, $t->read_file('logs/access.log');
    ok(!grep({ !m{^/\S+\.(html|txt) /} } @lines), 'access log: no subrequest line')
        or diag(join("\n", @lines));
    ok(grep({ $_ eq '/vars.html /vars.html?main=1' } @lines), 'access log: the main line');
}

$t->done_testing;
