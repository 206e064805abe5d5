# $request_body, as nginx: the body a proxied request read into memory; not found when it
# went to a temp file (larger than client_body_buffer_size), empty when nobody read it.  Sending it
# upstream leaves it whole (the proxy sends copies of its buffers), so a header filter, the
# log and proxy_set_body see all of it.  Passes against Debian's nginx 1.22 too.
use strict;
use warnings;
use Test::More;
use Sluice;

my $t = Sluice->new;
$t->write_config(<<'EOF2');
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    log_format body '$uri|$request_body';
    access_log logs/body.log body;
    client_body_temp_path %%PREFIX%%/client_temp;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        location /body {
            add_header X-Body $request_body;
            proxy_pass http://127.0.0.1:%%PORT_1%%/empty;
        }
        location /small {
            client_body_buffer_size 16;
            add_header X-Body $request_body;
            proxy_pass http://127.0.0.1:%%PORT_1%%/empty;
        }
        location /set {
            proxy_set_body "[$request_body]";
            proxy_pass http://127.0.0.1:%%PORT_1%%/echo;
        }
        location /echo {
            add_header X-Got $request_body;
            proxy_pass http://127.0.0.1:%%PORT_1%%/empty;
        }
        location /return {
            add_header X-Body "[$request_body]";
            return 204;
        }
        location /empty { return 204; }
    }
}
EOF2
$t->temp_paths('client_temp');
$t->start;
my $port = $t->port(1);

sub post {
    my ($uri, $body) = @_;
    return $t->http($port, "POST $uri HTTP/1.0\r\nHost: t\r\nContent-Length: " . length($body)
                    . "\r\n\r\n$body");
}

like(post('/body', 'hello'), qr/\r\nX-Body: hello\r\n/, 'the body read into memory');
{
    # the body after the header, so it is read into the 16-byte buffer and spills (one that
    # came whole with the header stays where it is, in memory, as nginx keeps it)
    my $s = $t->connect($port);
    print $s "POST /small HTTP/1.0\r\nHost: t\r\nContent-Length: 100\r\n\r\n";
    select(undef, undef, undef, 0.3);
    print $s 'x' x 100;
    unlike(scalar $t->read_all($s), qr/X-Body:/, 'a body in a temp file: not found');
}
like(post('/set', 'abc'), qr/\r\nX-Got: \[abc\]\r\n/, 'proxy_set_body with $request_body');
like(post('/return', 'unread'), qr/\r\nX-Body: \[\]\r\n/, 'a body nobody read: empty');
$t->stop;
like($t->read_file('logs/body.log'), qr{^/body\|hello$}m, 'the log sees the whole body after it was sent');

$t->done_testing;
