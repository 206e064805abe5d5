# The test library cleans up after itself: every scripted origin a test started is stopped
# when the test's process ends, however many there were (END once stopped only the first:
# stop_scripted rebuilt the list END was walking).
use strict;
use warnings;
use Test::More;
use FindBin;
use File::Temp qw(tempfile);

my $lib = "$FindBin::Bin/lib";
my $script = <<'PERL';
use Origin;
use IO::Socket::INET;
my @pids;
for (1 .. 3) {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die;
    my $port = $l->sockport;
    close $l;
    push @pids, Origin::scripted(port => $port, handler => sub { });
}
print "@pids\n";
PERL
my ($fh, $file) = tempfile(UNLINK => 1);
print $fh $script;
close $fh;
# output to a file, not a pipe: an origin left behind would hold a pipe open
my (undef, $outfile) = tempfile(UNLINK => 1);
system("$^X -I$lib $file >$outfile");
open my $in, '<', $outfile or die;
my $out = <$in> // '';
is($?, 0, 'the child test process exits cleanly');
my @pids = split ' ', $out;
is(scalar @pids, 3, 'three scripted origins were started');
my @alive = grep { kill 0, $_ } @pids;
is("@alive", '', 'none of them outlives the process that started it');
kill 'KILL', $_ for @alive;
done_testing;
