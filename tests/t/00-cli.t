# The command line: -v -V -h -t -T -q -g -c -e, config errors worded as nginx's.
use strict;
use warnings;

use Test::More;
use Sluice;

my $t = Sluice->new;
my $prefix = $t->prefix;
my $conf = "$prefix/conf/sluice.conf";
my $version = 'nginx version: nginx/1.22.1 (sluice/0.1.0)';

my $good = <<'EOF';
%%TEST_GLOBALS%%
events {
    worker_connections 64;
}

http {
    server {
        listen 127.0.0.1:%%PORT_1%%;
    }
}
EOF

sub tested_ok {
    my ($r, $file, $name) = @_;
    is($r->{exit}, 0, "$name: exit 0");
    like($r->{stderr}, qr/^sluice: the configuration file \Q$file\E syntax is ok$/m,
         "$name: syntax is ok");
    like($r->{stderr}, qr/^sluice: configuration file \Q$file\E test is successful$/m,
         "$name: test is successful");
}

sub tested_bad {
    my ($r, $message, $file, $name) = @_;
    is($r->{exit}, 1, "$name: exit 1");
    like($r->{stderr}, qr/\[emerg\] \Q$message\E$/m, "$name: message")
        or diag("stderr: $r->{stderr}");
    like($r->{stderr}, qr/^sluice: configuration file \Q$file\E test failed$/m,
         "$name: test failed");
}

# -v, -V, -h, -?
my $r = $t->run('-v');
is($r->{exit}, 0, '-v: exit 0');
like($r->{stderr}, qr/^\Q$version\E$/m, '-v: version on stderr');

$r = $t->run('-V');
is($r->{exit}, 0, '-V: exit 0');
my @lines = split /\n/, $r->{stderr};
is($lines[0], $version, '-V: version first');
like($lines[1] // '', qr/^built by \S/, '-V: built by');
my ($i) = grep { $lines[$_] =~ /^configure arguments:/ } 0 .. $#lines;
ok(defined $i && $i > 1, '-V: configure arguments after built by');
my $args = defined $i ? $lines[$i] : '';
unlike($args, qr/ --without-http_ssi_module/, '-V: ssi is built');
unlike($args, qr/--without-http-cache/, '-V: the proxy cache is built');
# not built by default in nginx, so named when present (Debian's nginx -V names it too)
like($args, qr/ --with-http_realip_module(?: |$)/, '-V: --with-http_realip_module');
unlike($args, qr/ --without-http_realip_module/, '-V: realip is not among the missing');

# -V says exactly what is built (nginx's test suite picks its files from it): the arguments
# are these, and each is true of the binary.
my @missing = qw(autoindex fastcgi uwsgi scgi grpc memcached browser);
is($args, 'configure arguments: --prefix=' . ($args =~ /--prefix=(\S+)/)[0]
          . ' --with-http_ssl_module --with-http_realip_module --with-http_addition_module'
          . ' --with-http_sub_module --with-http_gzip_static_module --with-http_auth_request_module'
          . ' --with-http_random_index_module --with-http_secure_link_module'
          . ' --with-http_slice_module --with-http_stub_status_module'
          . join('', map { " --without-http_${_}_module" } @missing),
   '-V: exactly the modules built');
like($args, qr/ --with-http_ssl_module(?: |$)/, '-V: --with-http_ssl_module');
like($r->{stderr}, qr/^built with OpenSSL 3\.\S+/m, '-V: built with OpenSSL, as nginx says it');
like($r->{stderr}, qr/^TLS SNI support enabled$/m, '-V: TLS SNI support enabled');
for my $m (qw(v2 gunzip dav)) {
    unlike($args, qr/--with-http_${m}_module/, "-V: no --with-http_${m}_module");
}
unlike($args, qr/--with-(?:stream|mail)/, '-V: no stream, no mail');
for my $m (qw(map rewrite proxy access upstream_hash upstream_ip_hash upstream_least_conn
              upstream_random upstream_keepalive upstream_zone gzip mirror)) {
    unlike($args, qr/--without-http_${m}_module/, "-V: http_${m} is built");
}
# a directive of each module -V calls missing is unknown to the binary ...
my %directive = (
    autoindex => 'autoindex on;',
    fastcgi => 'fastcgi_pass 127.0.0.1:1;',
    uwsgi => 'uwsgi_pass 127.0.0.1:1;', scgi => 'scgi_pass 127.0.0.1:1;',
    grpc => 'grpc_pass 127.0.0.1:1;', memcached => 'memcached_pass 127.0.0.1:1;',
    browser => 'ancient_browser x;',
);
is_deeply([sort keys %directive], [sort @missing], '-V: a directive for each missing module');
for my $m (@missing) {
    my ($name) = $directive{$m} =~ /^(\w+)/;
    $t->write_config("events {}\nhttp {\n    server {\n        location / { $directive{$m} }\n"
                     . "    }\n}\n");
    my $r = $t->run('-t');
    like($r->{stderr}, qr/\Qunknown directive "$name" in $conf:4\E/,
         "-V: http_${m} missing, \"$name\" unknown");
}
# ... and each module it calls built takes its directives.
$t->write_config("events {}\nhttp {\n    map \$uri \$m { default 1; }\n"
                 . "    upstream u { hash \$uri; keepalive 2; zone u 64k; server 127.0.0.1:1; }\n"
                 . "    upstream v { ip_hash; server 127.0.0.1:1; }\n"
                 . "    upstream w { least_conn; server 127.0.0.1:1; }\n"
                 . "    upstream x { random; server 127.0.0.1:1; }\n"
                 . "    real_ip_header X-Real-IP;\n    allow 127.0.0.1;\n    charset utf-8;\n"
                 . "    limit_req_zone \$binary_remote_addr zone=r:64k rate=1r/s;\n"
                 . "    limit_req zone=r;\n"
                 . "    limit_conn_zone \$binary_remote_addr zone=c:64k;\n    limit_conn c 1;\n"
                 . "    auth_basic x;\n    auth_basic_user_file htpasswd;\n    satisfy any;\n"
                 . "    split_clients \$uri \$sc { 50% a; * b; }\n"
                 . "    server {\n        listen 127.0.0.1:%%PORT_1%%;\n"
                 . "        location / { set \$a 1; proxy_pass http://u; gzip on; gzip_static on; }\n"
                 . "        location /s { stub_status; }\n"
                 . "        location /gif { empty_gif; }\n"
                 . "        location /rnd/ { random_index on; }\n"
                 . "        location /ref { valid_referers none x.org; }\n"
                 . "        location /uid { userid on; }\n"
                 . "    }\n}\n");
tested_ok($t->run('-t'), $conf, '-V: the modules it calls built are');

for my $flag ('-h', '-?') {
    $r = $t->run($flag);
    is($r->{exit}, 0, "$flag: exit 0");
    like($r->{stderr}, qr/^\QUsage: sluice [-?hvVtTq] [-s signal] [-p prefix]\E/m, "$flag: usage");
}

# -t, -q -t
$t->write_config($good);
tested_ok($t->run('-t'), $conf, '-t');

$r = $t->run('-q', '-t');
is($r->{exit}, 0, '-q -t: exit 0');
is($r->{stderr} . $r->{stdout}, '', '-q -t: nothing printed');

# Bad configs: [name, config, message, line].
my @bad = (
    ['unknown directive', "events {}\n\nfoo;\n", 'unknown directive "foo"', 3],
    ['no argument', "worker_processes;\nevents {}\n",
     'invalid number of arguments in "worker_processes" directive', 1],
    ['missing }', "events {\n    worker_connections 64;\n",
     'unexpected end of file, expecting "}"', 3],
    ['missing } without last newline', "events {\n    worker_connections 64;",
     'unexpected end of file, expecting "}"', 2],
    ['duplicate', "pid a.pid;\npid b.pid;\nevents {}\n", '"pid" directive is duplicate', 2],
    ['wrong context', "worker_connections 10;\nevents {}\n",
     '"worker_connections" directive is not allowed here', 1],
    ['listen outside server', "events {}\nhttp {\n    listen 127.0.0.1:%%PORT_1%%;\n}\n",
     '"listen" directive is not allowed here', 3],
    ['bad size', "events {}\nhttp {\n    client_header_buffer_size 1x;\n}\n",
     '"client_header_buffer_size" directive invalid value', 3],
    ['bad time', "events {}\nhttp {\n    client_header_timeout 5y5;\n}\n",
     '"client_header_timeout" directive invalid value', 3],
    ['bad flag', "daemon maybe;\nevents {}\n",
     'invalid value "maybe" in "daemon" directive, it must be "on" or "off"', 1],
    ['bad subrequest_output_buffer_size', "events {}\nhttp {\n    subrequest_output_buffer_size 1x;\n}\n",
     '"subrequest_output_buffer_size" directive invalid value', 3],
    ['subrequest_output_buffer_size in if',
     "events {}\nhttp {\n    server {\n        location / { if (\$uri) { subrequest_output_buffer_size 8k; } }\n    }\n}\n",
     '"subrequest_output_buffer_size" directive is not allowed here', 4],
);
for my $b (@bad) {
    my ($name, $text, $message, $line) = @$b;
    $t->write_config($text);
    tested_bad($t->run('-t'), "$message in $conf:$line", $conf, "-t $name");
}

# include: relative to the config's directory, and a glob; -T dumps every file read.
my %files = (
    'conf/sluice.conf' => "%%TEST_GLOBALS%%\ninclude events.conf;\n\nhttp {\n"
        . "    include servers/*.conf;\n}\n",
    'conf/events.conf' => "events {\n    worker_connections 64;\n}\n",
    'conf/servers/a.conf' => "server {\n    listen 127.0.0.1:%%PORT_1%%;\n}\n",
    'conf/servers/b.conf' => "server {\n    listen 127.0.0.1:%%PORT_2%%;\n}\n",
);
my %text = map { $_ => $t->read_file($t->write_file($_, $files{$_})) } sort keys %files;
tested_ok($t->run('-t'), $conf, '-t with includes');

$r = $t->run('-T');
tested_ok($r, $conf, '-T');
my @at;
for my $f (sort keys %files) {
    my $pos = index($r->{stdout}, "# configuration file $prefix/$f:\n$text{$f}");
    ok($pos >= 0, "-T: dumps $f") or diag("stdout: $r->{stdout}");
    push @at, $pos if $f eq 'conf/sluice.conf';
}
is($at[0], 0, '-T: main file first');

$t->write_file('conf/servers/b.conf', "server {\n    listen;\n}\n");
tested_bad($t->run('-t'), 'invalid number of arguments in "listen" directive'
           . " in $prefix/conf/servers/b.conf:2", $conf, 'error in an included file');

# -g
$t->write_config($good);
tested_ok($t->run('-g', 'worker_processes 1;', '-t'), $conf, '-g');
tested_bad($t->run('-g', 'foo;', '-t'), 'unknown directive "foo" in command line', $conf,
           '-g error');
# The -g directives come first: a "pid" in the file is the duplicate.
tested_bad($t->run('-g', 'pid logs/g.pid;', '-t'), "\"pid\" directive is duplicate in $conf:4",
           $conf, '-g duplicate');

# -c relative to the prefix, and absolute
my $other = $t->write_file('conf/other.conf', $good);
tested_ok($t->run('-c', 'conf/other.conf', '-t'), $other, '-c relative');
tested_ok($t->run('-c', $other, '-t'), $other, '-c absolute');

# A missing config file.
my $none = "$prefix/conf/none.conf";
my $missing = "open() \"$none\" failed (2: No such file or directory)";
$r = $t->run('-c', 'conf/none.conf');
is($r->{exit}, 1, 'missing config: exit 1');
like($r->{stderr}, qr/\Q$missing\E/, 'missing config: message');
tested_bad($t->run('-c', 'conf/none.conf', '-t'), $missing, $none, '-t missing config');

# -e: errors go to that file.
$t->write_config("events {}\n\nfoo;\n");
unlink("$prefix/logs/error.log");
$r = $t->run('-e', 'logs/other.log', '-t');
is($r->{exit}, 1, '-e: exit 1');
like($t->read_file('logs/other.log') // '',
     qr/\[emerg\] .*\Qunknown directive "foo" in $conf:3\E/, '-e: error in that file');
unlike($t->error_log, qr/unknown directive/, '-e: not in the default error log');

$t->done_testing;
