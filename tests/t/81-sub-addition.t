# (validated: this file passes with SLUICE_BINARY=/usr/sbin/nginx, Debian's nginx 1.22)
# sub_filter and the addition filter through real sockets, with a scripted origin:
# - sub_filter replaces strings cut by the origin's writes (a match straddling buffers),
#   ignoring case, with variables, once or everywhere, several strings at once; types;
# - add_before_body / add_after_body put their parts in place even when the part before
#   the body finishes last (the origin holds it until the body has been served);
# - both together: the added part follows its own location's filters, not the page's;
# - nothing is left open afterwards.
use strict;
use warnings;
use Test::More;
use Sluice qw(status_of body_of head_of header_of);
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dir = $t->prefix;

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
    if ($path =~ m{^/cut}) {
        # "Hello" cut in three writes, the pattern "hello world" straddling them
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                          . "Transfer-Encoding: chunked\r\n\r\n");
        for my $piece ('<p>say HEL', 'LO WO', 'rld and hello world</p>') {
            Origin::write_all($c, sprintf("%x\r\n%s\r\n", length $piece, $piece));
            select(undef, undef, undef, 0.05);
        }
        Origin::write_all($c, "0\r\n\r\n");
        return;
    }
    my $body;
    if ($path =~ m{^/main/(\w+)}) {
        $body = 'MAIN';
        open(my $fh, '>', "$dir/main-$1") or die;
        close $fh;
    } elsif ($path =~ m{^/before/(\w+)}) {
        wait_file("$dir/main-$1") or return;
        $body = 'BEFORE';
    } else {
        $body = 'AFTER';
    }
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                      . length($body) . "\r\nConnection: close\r\n\r\n$body");
}

Origin::scripted(port => $origin_port, lifetime => 30, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

mkdir "$dir/html";
for (['page.html', 'a foo b FOO c foo'], ['page.txt', 'a foo b'], ['p.html', 'x']) {
    open(my $fh, '>', "$dir/html/$_->[0]") or die;
    print $fh $_->[1];
    close $fh;
}

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    default_type text/html;
    types { text/html html; text/plain txt; }
    root %%PREFIX%%/html;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /cut {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_buffering off;
            sub_filter 'hello world' 'bye';
            sub_filter_once off;
        }
        location /once/ {
            alias %%PREFIX%%/html/;
            sub_filter foo '[\$arg_v]';
        }
        location /all/ {
            alias %%PREFIX%%/html/;
            sub_filter foo 1;
            sub_filter ' b ' ' B ';
            sub_filter_once off;
            sub_filter_types text/plain;
        }
        location /o/ { proxy_pass http://127.0.0.1:$origin_port/; }
        location /add/ {
            proxy_pass http://127.0.0.1:$origin_port/main/;
            add_before_body /o/before/one;
            add_after_body /o/after;
        }
        location /both/ {
            alias %%PREFIX%%/html/;
            add_after_body /o/after;
            sub_filter x y;
        }
    }
}
EOF
$t->start;

sub get {
    my ($uri) = @_;
    return $t->http($port, "GET $uri HTTP/1.0\r\nHost: h\r\n\r\n") // '';
}

{
    my $r = get('/cut');
    is(body_of($r), '<p>say bye and bye</p>', 'sub_filter: matches across the origin\'s writes');
    is(header_of($r, 'Content-Length'), undef, 'sub_filter: no length');
}
is(body_of(get('/once/page.html?v=v1')), 'a [v1] b FOO c foo',
   'sub_filter_once on (default), a replacement with a variable');
is(body_of(get('/all/page.html')), 'a 1 B 1 c 1', 'sub_filter_once off, two strings, any case');
is(body_of(get('/all/page.txt')), 'a 1 b', 'sub_filter_types text/plain');
is(body_of(get('/once/page.txt')), 'a foo b', 'text/plain not filtered by default');
{
    my $r = get('/add/one');
    is(status_of($r), '200', 'addition: answered');
    is(body_of($r), 'BEFOREMAINAFTER',
       'addition: the part before the body stays first though it finished last');
}
is(body_of(get('/both/p.html')), 'yAFTER',
   'with addition, sub_filter changes the body, the part follows its own location');

$t->check_fds;
$t->done_testing;
