# (validated: this file passes with SLUICE_BINARY=/usr/sbin/nginx, Debian's nginx 1.22)
# Two small things of #20 an operator can see:
# - ssi_min_file_chunk: a static document parsed by SSI with sendfile on comes out byte for
#   byte whatever the bound, and its long unchanged runs (longer than the bound) leave by
#   sendfile() from the file, where a bound above them keeps everything in memory (writev).
#   The system calls are watched with strace when it is there and may attach; without it
#   those checks are skipped, the bytes are still checked.
# - random(3) is seeded per worker after the fork: two workers of one master answer
#   random_index with different sequences of picks (unseeded, both draw the same one).
use strict;
use warnings;
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
use Sluice qw(status_of body_of header_of);

# --- ssi_min_file_chunk ---------------------------------------------------------------------

my $t = Sluice->new;
my $port = $t->port(1);
my $dir = $t->prefix;

srand(7);
my $text = join '', map { ('a' .. 'j', "\n")[int rand 11] } 1 .. 20000;
$t->write_file('html/doc.html', substr($text, 0, 9000) . '<!--#echo var="nothing" default="ECHO" -->'
               . substr($text, 9000) . '<!--#set var="v" value="1" -->END');
my $expect = substr($text, 0, 9000) . 'ECHO' . substr($text, 9000) . 'END';

$t->write_config(<<"EOF");
%%TEST_GLOBALS%%
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_1%%;
        root $dir/html;
        sendfile on;
        output_buffers 1 4k;
        location / { ssi on; ssi_min_file_chunk 1k; }
        location /mem/ { alias $dir/html/; ssi on; ssi_min_file_chunk 100k; }
        location /small/ { alias $dir/html/; ssi on; ssi_min_file_chunk 0; }
    }
}
EOF
$t->start;

# The sendfile() and writev() calls of the server while $code runs, or undef when strace
# cannot watch it.
sub traced {
    my ($pid, $code) = @_;
    my $strace = (grep { -x "$_/strace" } split /:/, $ENV{PATH})[0];
    return ($code->(), undef) unless $strace;
    my $out = "$dir/strace.out";
    my $err = "$dir/strace.err";
    unlink $out, $err;
    my $tracer = fork // die;
    if (!$tracer) {
        open(STDERR, '>', $err) or POSIX::_exit(1);
        { exec("$strace/strace", "-p", $pid, "-e", "trace=sendfile,writev", "-o", $out) };
        POSIX::_exit(1);
    }
    my $attached = $t->wait_for(sub {
        (-e $err && $t->read_file('strace.err') =~ /attached/) || waitpid($tracer, WNOHANG) });
    my @r = $code->();
    kill 'INT', $tracer;
    waitpid($tracer, 0);
    return (@r, undef) unless $attached && -e $out && $t->read_file('strace.out') ne '';
    return (@r, $t->read_file('strace.out'));
}

my ($r, $trace) = traced($t->pid, sub { $t->http_get($port, '/doc.html') });
is(status_of($r), '200', 'ssi_min_file_chunk 1k: 200');
ok(body_of($r) eq $expect, 'the document, byte for byte');
SKIP: {
    skip 'strace cannot watch the server', 1 unless defined $trace;
    like($trace, qr/sendfile\(/, 'its long unchanged runs leave by sendfile');
}
($r, $trace) = traced($t->pid, sub { $t->http_get($port, '/mem/doc.html') });
ok(body_of($r) eq $expect, 'ssi_min_file_chunk 100k: the same bytes');
SKIP: {
    skip 'strace cannot watch the server', 2 unless defined $trace;
    unlike($trace, qr/sendfile\(/, 'no run is that long: no sendfile');
    like($trace, qr/writev\(/, 'all from memory');
}
($r) = traced($t->pid, sub { $t->http_get($port, '/small/doc.html') });
ok(body_of($r) eq $expect, 'ssi_min_file_chunk 0: the same bytes');
$t->final_checks;

# --- random(3) per worker ----------------------------------------------------------------

my $w = Sluice->new;
my $wport = $w->port(1);
my $wdir = $w->prefix;
$w->write_file("html/r/f$_", "$_") for 10 .. 59;
# workers started as root run as nobody: they must reach the files
chmod 0755, $wdir, "$wdir/html", "$wdir/html/r";
$w->write_config(<<"EOF");
daemon off;
master_process on;
worker_processes 2;
error_log logs/error.log info;
pid logs/sluice.pid;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_1%% reuseport;
        root $wdir/html;
        location /r/ { random_index on; add_header X-Pid \$pid; }
    }
}
EOF
$w->start;

# Requests on new connections (reuseport spreads them over the workers) until each of the
# two workers has made 8 picks: the sequence of files each one picked.
my %picks;
for (1 .. 400) {
    my $res = $w->http_get($wport, '/r/');
    my $pid = header_of($res, 'X-Pid') // next;
    push @{$picks{$pid}}, body_of($res) if @{$picks{$pid} // []} < 8;
    last if keys %picks == 2 && !grep { @$_ < 8 } values %picks;
}
my @seqs = map { join ',', @$_ } values %picks;
SKIP: {
    skip 'the requests all went to one worker', 2 unless @seqs == 2 && !grep { tr/,// < 7 } @seqs;
    pass('both workers answered');
    isnt($seqs[0], $seqs[1], 'each worker picks its own random sequence');
}
$w->done_testing;
