# make install: nginx's layout under PREFIX, staged under DESTDIR; a sluice.conf already
# installed is kept; the installed binary takes the installed configuration (-t).  The
# binary under test is the one installed (SLUICE_BIN), so nothing is rebuilt.
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use Sluice;

my $root = abs_path(dirname(__FILE__) . '/../..');
my $t = Sluice->new;
my $dest = tempdir('sluice-install-XXXXXXXX', TMPDIR => 1, CLEANUP => 1);
my $prefix = "$dest/usr/local/sluice";

sub install {
    my $out = `make -s -C '$root' install DESTDIR='$dest' SLUICE_BIN='${\ $t->binary}' 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = install();
is($rc, 0, 'make install DESTDIR=... exits 0') or diag($out);
for my $f (['sbin/sluice', 0755], ['conf/sluice.conf', 0644], ['conf/sluice.conf.default', 0644],
           ['conf/mime.types', 0644], ['html/index.html', 0644],
           ['share/man/man8/sluice.8', 0644], ['contrib/sluice.service', 0644],
           ['contrib/sluice.logrotate', 0644]) {
    my ($path, $mode) = @$f;
    my @st = stat "$prefix/$path";
    ok(@st && ($st[2] & 07777) == $mode, sprintf("%s installed, mode %04o", $path, $mode));
}
ok(-d "$prefix/logs", 'logs/ made');
like(`cat '$root/contrib/sluice.logrotate'`, qr/-s reopen/, 'logrotate reopens the logs with -s reopen');
like(`cat '$prefix/contrib/sluice.service'`, qr{^ExecStart=/usr/local/sluice/sbin/sluice }m,
     'the systemd unit runs the installed binary');

my $r = `'$prefix/sbin/sluice' -p '$prefix/' -t 2>&1`;
is($? >> 8, 0, 'the installed binary takes the installed configuration') or diag($r);
like($r, qr/test is successful/, '-t: test is successful');

# a second install keeps the configuration an operator edited
open(my $fh, '>>', "$prefix/conf/sluice.conf") or die;
print $fh "# edited\n";
close $fh;
($rc, $out) = install();
is($rc, 0, 'make install again exits 0') or diag($out);
like(`cat '$prefix/conf/sluice.conf'`, qr/# edited\n\z/, 'the edited sluice.conf is kept');

$t->done_testing;
