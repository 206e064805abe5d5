# proxy_limit_rate (the speed of reading a buffered response from the upstream; a size or
# variables, as nginx 1.27, here $upstream_http_x_rate), limit_rate
# and X-Accel-Limit-Rate (the speed of sending it to the client) on proxied responses.
#
# The rates are checked from below only (a throttled response cannot arrive sooner than its
# budget allows: nginx's budget is the rate times the seconds started since the response
# began, so 300 KB at 100 KB/s need at least two second boundaries, more than one second).
# Validated against Debian's nginx 1.22.1 (SLUICE_BINARY=/usr/sbin/nginx): same bytes, same
# lower bounds; there, too, proxy_limit_rate does not slow an unbuffered response.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time);
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $N = 300 * 1024;

# --- the origin: /big/N answers N bytes, /xlr/N the same with X-Accel-Limit-Rate, /rate/N
# and /norate/N with X-Rate: 100k or 0 ---
Origin::scripted(port => $origin_port, lifetime => 20, handler => sub {
    my ($c) = @_;
    my ($kind, $n) = Origin::read_head($c) =~ m{^GET /(\w+)/(\d+)} or return;
    my $xa = $kind eq 'xlr' ? "X-Accel-Limit-Rate: 102400\r\n"
           : $kind eq 'rate' ? "X-Rate: 100k\r\n"
           : $kind eq 'norate' ? "X-Rate: 0\r\n" : '';
    print $c "HTTP/1.1 200 OK\r\n${xa}Content-Length: $n\r\nConnection: close\r\n\r\n"
        . ('x' x $n);
});
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format lr '\$uri \$status rate=\$limit_rate sent=\$body_bytes_sent';
    access_log logs/access.log lr;
    proxy_temp_path proxy_temp;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /free/ { proxy_pass http://127.0.0.1:$origin_port/big/; }
        location /plr/ { proxy_limit_rate 100k; proxy_pass http://127.0.0.1:$origin_port/big/; }
        location /plroff/ {
            proxy_limit_rate 100k; proxy_buffering off;
            proxy_pass http://127.0.0.1:$origin_port/big/;
        }
        location /plrvar/ {
            proxy_limit_rate \$upstream_http_x_rate;
            proxy_pass http://127.0.0.1:$origin_port/rate/;
        }
        location /plrvar0/ {
            proxy_limit_rate \$upstream_http_x_rate;
            proxy_pass http://127.0.0.1:$origin_port/norate/;
        }
        location /lr/ { limit_rate 100k; proxy_pass http://127.0.0.1:$origin_port/big/; }
        location /xlr/ { proxy_pass http://127.0.0.1:$origin_port/xlr/; }
        location /xlrign/ {
            proxy_ignore_headers X-Accel-Limit-Rate;
            proxy_pass http://127.0.0.1:$origin_port/xlr/;
        }
    }
}
EOF
mkdir $t->prefix . '/proxy_temp';
$t->start;

# Fetches uri; returns (body length, whether the head is a 200 with the right length,
# seconds taken).
sub fetch {
    my ($uri) = @_;
    my $start = time;
    my $r = $t->http($port, "GET $uri HTTP/1.0\r\nHost: a\r\n\r\n", timeout => 15) // '';
    my $took = time - $start;
    my ($head, $body) = split /\r\n\r\n/, $r, 2;
    $body //= '';
    my $ok = ($head // '') =~ m{^HTTP/1\.1 200 OK\r\n.*Content-Length: $N\r\n}s
        && $body eq 'x' x $N;
    return ($ok, $took);
}

my @log;
my ($ok, $took) = fetch("/free/$N");
ok($ok, 'no limit: the whole body');
push @log, "/free/$N 200 rate=0 sent=$N";

($ok, $took) = fetch("/plr/$N");
ok($ok, 'proxy_limit_rate: the whole body');
cmp_ok($took, '>', 1, "proxy_limit_rate 100k: $N bytes take more than a second");
push @log, "/plr/$N 200 rate=0 sent=$N";   # reading is limited, not $limit_rate

($ok, $took) = fetch("/plrvar/$N");
ok($ok, 'proxy_limit_rate from the response header: the whole body');
cmp_ok($took, '>', 1, "proxy_limit_rate \$upstream_http_x_rate (100k): $N bytes take more than a second");
push @log, "/plrvar/$N 200 rate=0 sent=$N";

($ok, $took) = fetch("/plrvar0/$N");
ok($ok, 'proxy_limit_rate from the response header, 0: the whole body');
push @log, "/plrvar0/$N 200 rate=0 sent=$N";

($ok, $took) = fetch("/plroff/$N");
ok($ok, 'proxy_limit_rate with proxy_buffering off: the whole body');
push @log, "/plroff/$N 200 rate=0 sent=$N";

($ok, $took) = fetch("/lr/$N");
ok($ok, 'limit_rate on a buffered proxied response: the whole body');
cmp_ok($took, '>', 1, "limit_rate 100k, buffered proxied: $N bytes take more than a second");
push @log, "/lr/$N 200 rate=102400 sent=$N";

($ok, $took) = fetch("/xlr/$N");
ok($ok, 'X-Accel-Limit-Rate: the whole body');
cmp_ok($took, '>', 1, "X-Accel-Limit-Rate 102400: $N bytes take more than a second");
push @log, "/xlr/$N 200 rate=102400 sent=$N";

($ok, $took) = fetch("/xlrign/$N");
ok($ok, 'proxy_ignore_headers X-Accel-Limit-Rate: the whole body');
push @log, "/xlrign/$N 200 rate=0 sent=$N";

$t->wait_for(sub { (($t->read_file('logs/access.log') // '') =~ tr/\n//) >= @log }, 5);
is_deeply([split /\n/, $t->read_file('logs/access.log') // ''], \@log,
          'access log: $limit_rate of each');
unlike($t->error_log, qr/timed out/, 'no pause taken for a timeout');

is($t->stop, 0, 'graceful stop');
$t->done_testing;
