# The directories temp files go to are made by the master before any worker starts, and on
# reload, as nginx does (issue 15): mode 0700, given to the workers' user.  Started as root
# with workers as nobody, a prefix owned by root would otherwise refuse them the mkdir(), so
# every spilled request body got 500 and every spilled download was cut.
#
# - any user: `-t` makes the paths (as nginx -t does); a path whose parent is missing stops
#   the start with nginx's [emerg]; levels are taken.
# - root only: `master_process on; user nobody nogroup;` with the temp paths under a prefix
#   owned by root: the directories exist from the start, owned by nobody; a 50 MB upload
#   (request buffering, so through client_body_temp_path) and a 64 MiB download to a client
#   that reads nothing until the origin is done (through proxy_temp_path) both arrive
#   whole; a path added by a reload is made before the new workers start; no [crit].
use strict;
use warnings;
use Test::More;
use Digest::MD5;
use Sluice;
use Origin;

# --- any user: -t, and a path that cannot be made ---
{
    my $t = Sluice->new;
    $t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    client_body_temp_path %%PREFIX%%/body 1 2;
    proxy_temp_path %%PREFIX%%/proxy;
    server { listen 127.0.0.1:%%PORT_1%%; location / { proxy_pass http://127.0.0.1:%%PORT_2%%; } }
}
EOF
    my $r = $t->run('-c', 'conf/sluice.conf', '-t');
    is($r->{exit}, 0, '-t: the configuration is good');
    ok(-d $t->prefix . '/body', '-t makes the configured temp path');
    ok(-d $t->prefix . '/proxy', '-t makes proxy_temp_path');
    is((stat($t->prefix . '/body'))[2] & 07777, 0700, 'mode 0700');

    $t->write_config(<<'EOF');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    proxy_temp_path %%PREFIX%%/no/such;
    server { listen 127.0.0.1:%%PORT_1%%; location / { proxy_pass http://127.0.0.1:%%PORT_2%%; } }
}
EOF
    $r = $t->run('-c', 'conf/sluice.conf');
    is($r->{exit}, 1, 'a temp path whose parent is missing: no start');
    my $prefix = $t->prefix;
    like($r->{stderr} . $t->error_log,
         qr{\[emerg\] .*mkdir\(\) "\Q$prefix\E/no/such" failed \(2: No such file or directory\)},
         "nginx's [emerg] with the path");
    $t->final_checks;
}

SKIP: {
    skip 'started as root only (workers as nobody)', 1 if $> != 0;
    my ($nobody, $nogroup) = ((getpwnam('nobody'))[2], (getgrnam('nogroup'))[2]);
    skip 'no user nobody or group nogroup', 1 if !defined $nobody || !defined $nogroup;

    my $t = Sluice->new;
    my $dir = $t->prefix;
    # a root-owned prefix the workers can walk through, as /usr/local/sluice is
    chmod 0755, $dir;
    my $origin_port = $t->port(2);
    my $log = "$dir/origin.log";
    my $BLOCKS = 1024;
    my $UPLOAD = 50_000_000;

    # /up: reads a Content-Length body and answers with its length and md5;
    # /down?id=ID: 64 MiB, noting when all of it is written
    Origin::scripted(port => $origin_port, lifetime => 120, handler => sub {
        my ($c) = @_;
        my $buf = Origin::read_head($c);
        $buf =~ s/^(.*?)\r\n\r\n//s;
        my $head = $1;
        if ($head =~ m{^GET /down\?id=(\S+) }) {
            Origin::stream_blocks($c, head => "HTTP/1.1 200 OK\r\nContent-Length: "
                                  . ($BLOCKS * 65536) . "\r\nConnection: close\r\n\r\n",
                                  blocks => $BLOCKS, log => $log, id => $1);
            return;
        }
        my ($len) = $head =~ /\r\nContent-Length: (\d+)/i;
        my $md5 = Digest::MD5->new;
        my $got = length $buf;
        $md5->add($buf);
        while ($got < ($len // 0)) {
            my $n = sysread($c, $buf, 1 << 20) or last;
            $got += $n;
            $md5->add($buf);
        }
        my $body = "$got " . $md5->hexdigest . "\n";
        Origin::write_all($c, "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
                          . "\r\nConnection: close\r\n\r\n$body");
    });

    my $conf = <<"EOF";
daemon off;
master_process on;
worker_processes 1;
user nobody nogroup;
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_max_body_size 64m;
    client_body_temp_path %%PREFIX%%/body_temp 1 2;
    PROXY_TEMP_PATH
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location / {
            proxy_pass http://127.0.0.1:$origin_port;
            proxy_buffers 8 16k;
            proxy_busy_buffers_size 32k;
        }
    }
}
EOF
    (my $first = $conf) =~ s{PROXY_TEMP_PATH}{proxy_temp_path %%PREFIX%%/proxy_temp;};
    $t->write_config($first);
    $t->temp_paths('body_temp', 'proxy_temp');
    $t->start;
    my $port = $t->port(1);

    for my $d ('body_temp', 'proxy_temp') {
        my @st = stat "$dir/$d";
        ok(@st && -d _, "$d exists before any request");
        is($st[4], $nobody, "$d belongs to the workers' user");
        is($st[2] & 07777, 0700, "$d: mode 0700");
    }

    # 50 MB up, through the client body temp file
    my $s = $t->connect($port) or die "connect: $!";
    print $s "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: $UPLOAD\r\nConnection: close\r\n\r\n";
    my ($sent, $md5) = (0, Digest::MD5->new);
    while ($sent < $UPLOAD) {
        my $piece = Origin::block(int($sent / 65536));
        $piece = substr($piece, 0, $UPLOAD - $sent) if $sent + length $piece > $UPLOAD;
        Origin::write_all($s, $piece) or last;
        $md5->add($piece);
        $sent += length $piece;
    }
    my ($status, undef, $body) = Origin::parse_response($t->read_all($s, 60));
    close $s;
    is($status, 200, 'upload: 200');
    is($body, "$UPLOAD " . $md5->hexdigest . "\n", 'upload: the origin got all 50 MB, identical');
    like($t->error_log, qr/a client request body is buffered to a temporary file/,
         'upload: the body went through client_body_temp_path');

    # 64 MiB down to a client that reads nothing until the origin is done
    $s = $t->connect($port, rcvbuf => 128 * 1024) or die "connect: $!";
    print $s "GET /down?id=d1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    my $ev;
    $t->wait_for(sub { ($ev) = (Sluice::_slurp($log) =~ /^d1 (all written|cut .*|stuck)$/m) }, 60);
    is($ev, 'all written', 'download: the origin writes everything while the client reads nothing');
    my ($head, $len, $got) = $t->read_response_md5($s);
    close $s;
    like($head, qr{^HTTP/1\.1 200 OK\r\n}, 'download: 200');
    is($len, $BLOCKS * 65536, 'download: all 64 MiB');
    is($got, Origin::blocks_md5($BLOCKS), 'download: bytes identical (md5)');

    # a reload adds a path: made, and given to nobody, before the new workers start
    (my $second = $conf) =~ s{PROXY_TEMP_PATH}{proxy_temp_path %%PREFIX%%/proxy_temp2 1;};
    $t->write_config($second);
    $t->temp_paths('proxy_temp2');
    $t->signal('HUP');
    ok($t->wait_for(sub { -d "$dir/proxy_temp2" }, 10), 'reload: the new temp path is made');
    # made, then given away: the owner is looked at once the new workers run
    $t->wait_for(sub { ((stat "$dir/proxy_temp2")[4] // -1) == $nobody }, 10);
    is((stat "$dir/proxy_temp2")[4], $nobody, 'reload: it belongs to the workers\' user');
    unlike($t->error_log, qr/mkdir\(\)/, 'no mkdir() failure logged');
    $t->done_testing;
}

done_testing() if $> != 0;
