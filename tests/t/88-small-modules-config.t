# Configuration errors and warnings of the #20 modules (split_clients, geo, valid_referers,
# secure_link, userid, empty_gif, random_index, listen ... proxy_protocol): each with the
# wording and level Debian's nginx 1.22.1 gives the same configuration (checked side by
# side; the test also passes with SLUICE_BINARY=/usr/sbin/nginx).
use strict;
use warnings;
use Test::More;
use Sluice;

my $t = Sluice->new;
# nginx prints "pid#tid: " before the message
my $PID = qr/(?:\d+#\d+: )?/;

sub check_conf {
    my ($http, $server) = @_;
    $server //= '';
    $t->write_file('conf/bad.conf', <<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    $http
    server { listen 127.0.0.1:%%PORT_1%%; $server }
}
EOF
    return $t->run('-t', '-c', 'conf/bad.conf');
}

my @errors = (
    ['split_clients $a $s { 0% a; }', '', 'invalid percent value "0%"'],
    ['split_clients $a $s { 60% a; 50% b; }', '', 'percent total is greater than 100%'],
    ['split_clients $a $s { 5 a; }', '', 'invalid percent value "5"'],
    ['split_clients $a $s { 1.234% a; }', '', 'invalid percent value "1.234%"'],
    ['geo $g { 10.0.0.1/33 a; }', '', 'invalid network "10.0.0.1/33"'],
    ['geo $g { ranges; 10.0.0.5-10.0.0.1 a; }', '', 'invalid range "10.0.0.5-10.0.0.1"'],
    ['geo $g { ranges; 10.0.0.0-10.0.0.9 a; 10.0.0.5-10.0.0.20 b; }', '',
     'range "10.0.0.5-10.0.0.20" overlaps "10.0.0.0-10.0.0.9"'],
    ['geo $g { 10.0.0.1 a; ranges; }', '',
     'the "ranges" directive must be the first directive inside "geo" block'],
    ['geo $g { a b c; }', '', 'invalid number of the geo parameters'],
    ['', 'location / { valid_referers ""; }', 'invalid referer ""'],
    ['', 'location / { valid_referers a.*.b; }', 'invalid hostname or wildcard "a.*.b"'],
    ['', 'location / { secure_link_secret x; secure_link $arg_a; secure_link_md5 x; }',
     '"secure_link_secret" cannot be mixed with "secure_link" and "secure_link_md5"'],
    ['userid_mark ab;', '', '"userid_mark" directive value must be "off" or a single letter, digit or "="'],
    ['userid maybe;', '', 'invalid value "maybe"'],
    ['userid_flags bogus;', '', 'invalid value "bogus"'],
    ['userid_expires soon;', '', '"userid_expires" directive invalid value'],
    ['', 'location / { empty_gif x; }', 'invalid number of arguments in "empty_gif" directive'],
    ['', 'location / { valid_referers a.org a.org; }', 'conflicting parameter "a.org"'],
    ['referer_hash_max_size 1024;', '', '"referer_hash_max_size" directive is not allowed here'],
    # the checks nginx's referer hash makes: a name (or a wildcard's label) longer than a
    # bucket holds, a max_size of 0
    ['', 'location / { valid_referers none ' . ('a' x 47) . '.org; }',
     'could not build referer_hash, you should increase referer_hash_bucket_size: 64'],
    ['', 'location / { valid_referers none ' . ('a' x 47) . '; referer_hash_bucket_size 50; }',
     'could not build referer_hash, you should increase referer_hash_bucket_size: 64'],
    ['', 'location / { valid_referers none www.' . ('a' x 47) . '.*; }',
     'could not build referer_hash, you should increase referer_hash_bucket_size: 64'],
    ['', 'location / { valid_referers none x.org; referer_hash_max_size 0; }',
     'could not build referer_hash, you should increase referer_hash_max_size: 0'],
    ['', 'location / { valid_referers none x.org; referer_hash_bucket_size 65536; }',
     'could not build referer_hash, too large referer_hash_bucket_size: 65536'],
    # as nginx 1.22: a regex is no valid referer for this check
    ['', 'location / { valid_referers none ~foo; }',
     'the "none" or "blocked" referers are specified in the "valid_referers" directive without any valid referer'],
    ['', 'location / { random_index maybe; }',
     'invalid value "maybe" in "random_index" directive, it must be "on" or "off"'],
);
for my $e (@errors) {
    my ($http, $server, $msg) = @$e;
    my $r = check_conf($http, $server);
    isnt($r->{exit}, 0, "fails: $msg");
    like($r->{stderr}, qr/\[emerg\] $PID\Q$msg\E/, "[emerg] $msg");
}

# "none" alone: nginx names no line for it
my $r = check_conf('', 'location / { valid_referers none; }');
like($r->{stderr}, qr/\[emerg\] $PID\Qthe "none" or "blocked" referers are specified in the "valid_referers" directive without any valid referer\E/,
     'none without a valid referer');

# listen: proxy_protocol is a parameter, a misspelling is not
$t->write_file('conf/bad.conf', "%%TEST_GLOBALS%%\nevents {}\nhttp { server { listen 127.0.0.1:%%PORT_1%% proxy_protocolx; } }\n");
$r = $t->run('-t', '-c', 'conf/bad.conf');
like($r->{stderr}, qr/\[emerg\] $PID\Qinvalid parameter "proxy_protocolx"\E/, 'listen: invalid parameter');
$t->write_file('conf/bad.conf', "%%TEST_GLOBALS%%\nevents {}\nhttp { server { listen 127.0.0.1:%%PORT_1%% proxy_protocol; } }\n");
is($t->run('-t', '-c', 'conf/bad.conf')->{exit}, 0, 'listen: proxy_protocol');

my @warnings = (
    ['geo $g { 10.0.0.1 a; 10.0.0.1 b; }', '', 'duplicate network "10.0.0.1", value: "b", old value: "a"'],
    ['geo $g { delete 10.0.0.1; }', '', 'no network "10.0.0.1" to delete'],
    ['geo $g { 10.0.0.1/8 a; }', '', 'low address bits of 10.0.0.1/8 are meaningless'],
    ['geo $g { ranges; 10.0.0.0-10.0.0.9 a; 10.0.0.0-10.0.0.9 b; }', '',
     'duplicate range "10.0.0.0-10.0.0.9", value: "b", old value: "a"'],
    ['geo $g { ranges; delete 10.0.0.0-10.0.0.9; }', '', 'no address range "10.0.0.0-10.0.0.9" to delete'],
    ['', 'location / { valid_referers ' . join(' ', map { "$_.org" } 'a' .. 'i')
         . '; referer_hash_max_size 1; }',
     'could not build optimal referer_hash, you should increase either referer_hash_max_size: 1 '
     . 'or referer_hash_bucket_size: 64; ignoring referer_hash_bucket_size'],
);
for my $w (@warnings) {
    my ($http, $server, $msg) = @$w;
    $r = check_conf($http, $server);
    is($r->{exit}, 0, "a warning only: $msg");
    like($r->{stderr}, qr/\[warn\] $PID\Q$msg\E/, "[warn] $msg");
}

# every directive of the modules is accepted in its contexts
$r = check_conf('split_clients $remote_addr $s { 10% a; * b; } geo $remote_addr $g { default x; proxy 10.0.0.0/8; proxy_recursive; } '
                . 'secure_link $arg_h; secure_link_md5 $uri; '
                . 'userid v1; userid_service 7; userid_name u; userid_domain none; userid_path /; userid_expires max; '
                . 'userid_flags secure httponly samesite=none; userid_p3p none; userid_mark =;',
                'valid_referers none blocked server_names *.a.org ~x; referer_hash_max_size 1024; '
                . 'referer_hash_bucket_size 128; location /g { empty_gif; } '
                . 'location /r/ { random_index on; } location /s { secure_link_secret w; }');
is($r->{exit}, 0, 'every directive accepted') or diag($r->{stderr});

# a bucket size that holds the long name; a server without server_name is named ""
$r = check_conf('', 'location / { valid_referers none ' . ('b' x 60) . '; referer_hash_bucket_size 128; }');
is($r->{exit}, 0, 'referer_hash_bucket_size: a bigger bucket holds a long name') or diag($r->{stderr});
$r = check_conf('', 'location / { valid_referers blocked server_names; }');
is($r->{exit}, 0, 'blocked server_names in a server without names') or diag($r->{stderr});

$t->done_testing;
