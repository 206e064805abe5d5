# Upstream groups behind proxy_pass (issue #5): which server each balancing method picks,
# checked with three scripted origins (a, b, c) that answer with their own name.
#   - round robin: smooth weighted round robin, exact sequences (5,1,1 gives a a b a c a a);
#     a "down" server is never picked;
#   - least_conn: a server holding a request is avoided while the other is idle; ties go
#     round robin;
#   - hash $arg_k: the same key always goes to the same server, exact mapping; an empty key
#     goes round robin; weights and "down" servers;
#   - ip_hash: by the first three bytes of the client address (clients bind 127.0.N.1 and
#     127.0.0.N), exact mapping; a "down" server moves only its own clients;
#   - hash $arg_k consistent: stable per key, and with one of three servers removed (a second
#     configuration started after the first) only the keys of the removed server move.
#
# Validated against Debian's nginx 1.22.1: every expected sequence and mapping below is what
# it produced (they do not depend on the ports, except for "consistent", whose ring is made
# from the addresses, so only its properties are checked).  To rerun against nginx:
#   SLUICE_BINARY=/usr/sbin/nginx prove -v -I tests/t/lib tests/t/35-upstream-balancing.t
use strict;
use warnings;
use Test::More;
use Sluice;
use Origin;

my $t = Sluice->new;

my %origin = map { $_->[0] => Origin->start($t, name => $_->[0], port => $t->port($_->[1])) }
    [a => 11], [b => 12], [c => 13];

my $upstreams = <<'EOF';
    upstream w511 {
        server 127.0.0.1:%%PORT_11%% weight=5;
        server 127.0.0.1:%%PORT_12%%;
        server 127.0.0.1:%%PORT_13%%;
    }
    upstream w111 { server 127.0.0.1:%%PORT_11%%; server 127.0.0.1:%%PORT_12%%; server 127.0.0.1:%%PORT_13%%; }
    upstream w32 { server 127.0.0.1:%%PORT_11%% weight=3; server 127.0.0.1:%%PORT_12%% weight=2; }
    upstream wdown { server 127.0.0.1:%%PORT_11%%; server 127.0.0.1:%%PORT_12%% down; server 127.0.0.1:%%PORT_13%%; }
    upstream lc { least_conn; server 127.0.0.1:%%PORT_11%%; server 127.0.0.1:%%PORT_12%%; }
    upstream lcw { least_conn; server 127.0.0.1:%%PORT_11%% weight=2; server 127.0.0.1:%%PORT_12%%; }
    upstream h { hash $arg_k; server 127.0.0.1:%%PORT_11%%; server 127.0.0.1:%%PORT_12%%; server 127.0.0.1:%%PORT_13%%; }
    upstream hw { hash $arg_k; server 127.0.0.1:%%PORT_11%% weight=2; server 127.0.0.1:%%PORT_12%%; server 127.0.0.1:%%PORT_13%% down; }
    upstream ip { ip_hash; server 127.0.0.1:%%PORT_11%%; server 127.0.0.1:%%PORT_12%%; server 127.0.0.1:%%PORT_13%%; }
    upstream ipdown { ip_hash; server 127.0.0.1:%%PORT_11%%; server 127.0.0.1:%%PORT_12%% down; server 127.0.0.1:%%PORT_13%%; }
EOF

my $locations = <<'EOF';
        location /w511 { proxy_pass http://w511; }
        location /w111 { proxy_pass http://w111; }
        location /w32 { proxy_pass http://w32; }
        location /wdown { proxy_pass http://wdown; }
        location /lc { proxy_pass http://lc; }
        location /lcw { proxy_pass http://lcw; }
        location /hw { proxy_pass http://hw; }
        location /h { proxy_pass http://h; }
        location /ipdown { proxy_pass http://ipdown; }
        location /ip { proxy_pass http://ip; }
        location /ch { proxy_pass http://ch; }
EOF

sub config {
    my ($chash_servers) = @_;
    $t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
$upstreams
    upstream ch {
        hash \$arg_k consistent;
$chash_servers
    }
    server {
        listen 127.0.0.1:%%PORT_1%%;
$locations
    }
}
EOF
}

my $port = $t->port(1);

# The answering origin's name for a GET (the status if it is not 200), from $src if given.
sub who {
    my ($uri, $src) = @_;
    my $s = Origin::client($port, $src) or return "no connection from " . ($src // 'default');
    print $s "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my ($status, undef, $body) = Origin::parse_response(scalar $t->read_all($s));
    close $s;
    return $status eq '200' ? $body : $status;
}

sub seq {
    my ($uri, $n) = @_;
    return join '', map { who($uri) } 1 .. $n;
}

config(join "\n", map { "        server 127.0.0.1:%%PORT_$_%%;" } 11, 12, 13);
$t->start;

# --- smooth weighted round robin ---
is(seq('/w511', 70), 'aabacaa' x 10, 'weights 5,1,1: a a b a c a a, ten times over');
is(seq('/w111', 9), 'abc' x 3, 'equal weights: a b c in turn');
is(seq('/w32', 10), 'ababa' x 2, 'weights 3,2: a b a b a, repeating');
is(seq('/wdown', 6), 'ac' x 3, 'a "down" server is never picked');

# --- least_conn ---
{
    # a request held by the first pick; while it is held the idle server gets every request
    my $s = Origin::client($port);
    print $s "GET /lc?hold=lc-go HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my $holder = sub { join '', grep { grep { /hold=lc-go/ } $origin{$_}->request_uris } qw(a b) };
    ok($t->wait_for($holder, 10), 'least_conn: the held request reached an origin');
    is($holder->(), 'a', 'least_conn: the first pick (a tie) is the first server, a');
    is(seq('/lc', 6), 'bbbbbb', 'least_conn: while a holds a request, every request goes to idle b');
    $t->write_file('lc-go', '');
    my ($status, undef, $body) = Origin::parse_response(scalar $t->read_all($s));
    is("$status $body", '200 a', 'least_conn: the held request completes from a');
    is(seq('/lc', 6), 'bababa', 'least_conn: with no request in progress, ties go round robin');
    is(seq('/lcw', 9), 'aba' x 3, 'least_conn with weights 2,1 and nothing in progress: a b a');
}

# --- hash $arg_k ---
my $h40 = 'bcbabaaccacaccbcabbcbbcabbbbcabbacbbbbbc';
for my $round (1 .. 3) {
    is(join('', map { who("/h?k=$_") } 1 .. 40), $h40,
       "hash \$arg_k, keys 1..40, round $round: the same server for each key (nginx's mapping)");
}
is(seq('/h', 6), 'abc' x 2, 'hash with an empty key: round robin');
is(join('', map { who("/hw?k=$_") } 1 .. 40), 'aabbaaaaaabaaaababaaabaabaaaaaaabbaaaaab',
   'hash with weights 2,1 and a "down" server: the mapping nginx makes');

# --- ip_hash ---
my $ip30 = 'cab' x 10;
for my $round (1 .. 2) {
    is(join('', map { who('/ip', "127.0.$_.1") } 0 .. 29), $ip30,
       "ip_hash, clients 127.0.0.1 .. 127.0.29.1, round $round: nginx's mapping");
}
is(join('', map { who('/ip', "127.0.0.$_") } 1 .. 20), 'c' x 20,
   'ip_hash: clients of one /24 (127.0.0.1 .. 127.0.0.20) all go to the same server');
is(join('', map { who('/ip', "127.$_.0.1") } 0 .. 30), 'cbacbacbacbacbacbacbcbacbacbacb',
   'ip_hash, clients 127.0.0.1 .. 127.30.0.1: nginx\'s mapping');
{
    my $down = join('', map { who('/ipdown', "127.0.$_.1") } 0 .. 29);
    is($down, 'caacaacaacaacaccaccaccaccaccac', 'ip_hash with b "down": nginx\'s mapping');
    my @moved = grep { substr($down, $_, 1) ne substr($ip30, $_, 1) } 0 .. 29;
    is_deeply([map { substr($ip30, $_, 1) } @moved], [('b') x 10],
              'ip_hash with b "down": only the clients of b moved');
}

# --- hash consistent: stable, and removing one server of three moves only its keys ---
my @keys = map { "key$_" } 1 .. 200;
my %first;
$first{$_} = who("/ch?k=$_") for @keys;
my %again = map { $_ => who("/ch?k=$_") } @keys;
is_deeply(\%again, \%first, 'hash consistent: 200 keys, the same server each time');
my %count;
$count{$first{$_}}++ for @keys;
ok(!grep({ !$count{$_} } qw(a b c)),
   'hash consistent: every server has keys (' . join(',', map { $count{$_} // 0 } qw(a b c)) . ')');
is($t->stop, 0, 'stopped (three servers)');

config(join "\n", map { "        server 127.0.0.1:%%PORT_$_%%;" } 11, 12);
$t->start;
my %second = map { $_ => who("/ch?k=$_") } @keys;
my @moved = grep { $second{$_} ne $first{$_} } @keys;
is_deeply([grep { $first{$_} ne 'c' } @moved], [], 'c removed: no key of a or b moved');
is_deeply([grep { $second{$_} !~ /^[ab]$/ } @keys], [], 'c removed: every key answered by a or b');
is(scalar @moved, $count{c}, 'c removed: exactly the keys of c moved');
cmp_ok(scalar @moved, '<=', 100, 'c removed: no more than half of the keys moved ('
       . scalar(@moved) . ' of 200)');
is_deeply({ map { $_ => who("/ch?k=$_") } @keys }, \%second, 'two servers: stable too');

is($t->stop, 0, 'graceful stop');
$t->done_testing;
