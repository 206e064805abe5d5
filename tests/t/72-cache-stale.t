# Expired cache entries: stale answers and revalidation.
# - proxy_cache_use_stale error: the origin gone, an expired entry is served (STALE);
# - proxy_cache_use_stale http_500: a 500 from the origin is replaced by the stale entry;
# - without use_stale, the failure reaches the client (502 / the 500);
# - proxy_cache_revalidate: the origin is asked with If-None-Match / If-Modified-Since from
#   the stored response; its 304 serves the stored body (REVALIDATED) and renews it (HIT
#   afterwards, the origin not asked again); a 200 replaces it;
# - Cache-Control: stale-if-error does not make an entry answer an origin's 500 (a status
#   is served stale only when use_stale lists it, as nginx >= 1.19.3);
# - proxy_cache_use_stale updating: while one request refreshes, the others get the stale
#   entry (UPDATING).
use strict;
use warnings;
use Test::More;
use Sluice;
use Origin;

my $t = Sluice->new;
my $port = $t->port(1);
my $origin_port = $t->port(2);
my $dead_port = $t->port(3);
my $dir = $t->prefix;
my $lm = 'Sun, 06 Nov 1994 08:49:37 GMT';

sub mode { open(my $fh, '>', "$dir/mode") or die; print $fh $_[0]; close $fh; }
sub current_mode { open(my $fh, '<', "$dir/mode") or return 'ok'; my $m = <$fh>; return $m // 'ok'; }

sub serve {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or return; }
    my ($uri) = $req =~ m{^\w+ (\S+) };
    open(my $log, '>>', "$dir/requests") or die;
    my ($inm) = $req =~ /^If-None-Match: (.*?)\r$/mi;
    my ($ims) = $req =~ /^If-Modified-Since: (.*?)\r$/mi;
    print $log "$uri inm=" . ($inm // '-') . " ims=" . ($ims // '-') . "\n";
    close $log;
    my $mode = current_mode();
    if ($mode eq '500') {
        return Origin::write_all($c, "HTTP/1.1 500 Oops\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops");
    }
    if ($mode eq '304' && ($inm || $ims)) {
        return Origin::write_all($c, "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n");
    }
    select(undef, undef, undef, 0.8) if $uri =~ m{^/u/} && $mode eq 'slow';
    my $cc = $uri =~ /sie/ ? "Cache-Control: max-age=1, stale-if-error=3600\r\n" : '';
    my $body = "body $uri $mode";
    Origin::write_all($c, "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nLast-Modified: $lm\r\n$cc"
                      . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body");
}

Origin::scripted(port => $origin_port, lifetime => 30, handler => \&serve);
$t->wait_for(sub { $t->can_connect($origin_port) }, 10) or die "origin did not start";

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    proxy_temp_path %%PREFIX%%/proxy_temp;
    proxy_cache_path %%PREFIX%%/cache keys_zone=z:1m;
    upstream flaky { server 127.0.0.1:$origin_port max_fails=0; }
    server {
        listen 127.0.0.1:%%PORT_1%%;
        proxy_cache z;
        proxy_cache_valid 200 1s;
        add_header X-Cache \$upstream_cache_status always;
        location /s/ { proxy_pass http://flaky; proxy_cache_use_stale error timeout http_500; }
        location /n/ { proxy_pass http://flaky; }
        location /sie/ { proxy_pass http://flaky; }
        location /r/ { proxy_pass http://flaky; proxy_cache_revalidate on; }
        location /u/ { proxy_pass http://flaky; proxy_cache_use_stale updating; }
        location /dead/ { proxy_pass http://127.0.0.1:$dead_port; proxy_cache_use_stale error;
                          proxy_cache_key \$uri; }
        location /fill/ { proxy_pass http://flaky/dead/; proxy_cache_key /dead/\$arg_k; }
    }
}
EOF
$t->temp_paths('proxy_temp');
$t->start;

sub get {
    my ($uri) = @_;
    my $r = $t->http($port, "GET $uri HTTP/1.0\r\nHost: front.test\r\n\r\n") // '';
    return join ' ', Sluice::status_of($r =~ s{^HTTP/1\.0}{HTTP/1.1}r),
        Sluice::header_of($r, 'X-Cache') // '-', Sluice::body_of($r);
}

sub requests {
    open(my $fh, '<', "$dir/requests") or return ();
    return map { chomp; $_ } <$fh>;
}

mode('ok');
is(get('/s/a'), '200 MISS body /s/a ok', 'use_stale: stored');
is(get('/n/a'), '200 MISS body /n/a ok', 'no use_stale: stored');
is(get('/sie/a'), '200 MISS body /sie/a ok', 'stale-if-error: stored');
is(get('/r/a'), '200 MISS body /r/a ok', 'revalidate: stored');
is(get('/fill/?k=x'), '200 MISS body /dead/?k=x ok', 'an entry for the dead origin stored');
is(get('/u/a'), '200 MISS body /u/a ok', 'updating: stored');
select(undef, undef, undef, 2.2);

# --- stale on errors ---
mode('500');
is(get('/s/a'), '200 STALE body /s/a ok', 'http_500: the stale entry answers');
is(get('/n/a'), '500 EXPIRED oops', 'without use_stale the 500 passes');
is(get('/sie/a'), '500 EXPIRED oops', 'stale-if-error does not answer a 500');
is(get('/dead/x'), '200 STALE body /dead/?k=x ok', 'error: the origin down, the stale entry answers');
mode('ok');
is(get('/s/a'), '200 EXPIRED body /s/a ok', 'the origin back: refreshed');
is(get('/s/a'), '200 HIT body /s/a ok', 'and cached again');

# --- updating: while one request refreshes, the others get the stale entry ---
mode('slow');
{
    my $first = $t->connect($port);
    syswrite($first, "GET /u/a HTTP/1.0\r\nHost: front.test\r\n\r\n");
    # the refresh has reached the origin (which holds it a moment)
    $t->wait_for(sub { (grep { m{^/u/a } } requests()) >= 2 }, 10);
    is(get('/u/a'), '200 UPDATING body /u/a ok', 'updating: the stale entry while it is refreshed');
    my $r = $t->read_all($first);
    is(Sluice::header_of($r, 'X-Cache') . ' ' . Sluice::body_of($r), 'EXPIRED body /u/a slow',
       'updating: the refreshing request got the new response');
    is(get('/u/a'), '200 HIT body /u/a slow', 'updating: then the new entry');
}
mode('ok');

# --- revalidation ---
mode('304');
unlink "$dir/requests";
is(get('/r/a'), '200 REVALIDATED body /r/a ok', 'a 304 revalidates the stored body');
my ($line) = requests();
is($line, "/r/a inm=\"v1\" ims=$lm", 'the origin was asked with the stored validators');
is(get('/r/a'), '200 HIT body /r/a ok', 'renewed: a HIT');
is(scalar(requests()), 1, 'without asking the origin again');
select(undef, undef, undef, 2.2);
mode('ok');
is(get('/r/a'), '200 EXPIRED body /r/a ok', 'a 200 to the revalidation replaces the entry');

$t->done_testing;
