# t/002_test_helpers.pl -- what the other tests rely on in t/lib: polling
# psql across a crash restart or a failover must not die.  $node->psql
# throws "Broken pipe" when psql exits on its failed connection before it
# has read its input (t/031 died that way, exit 32, in a CI run); a large
# query against a stopped server makes that happen every time.
#
# Copyright (c) 2026, dagsched developers
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('helpers');
$node->init;
$node->start;

my ($ret, $out, $err) = DagschedTest::try_psql($node, 'SELECT 40 + 2');
is("$ret/$out", '0/42', 'try_psql on a running server: exit 0 and the output');

$node->stop('immediate');
my $big = "SELECT 1;\n" x 20000;    # more than a pipe's buffer
my ($thrown, $died, $failed) = (0, 0, 0);
for (1 .. 20)
{
	eval { $node->psql('postgres', $big); 1 } or $thrown++;
	eval {
		($ret, $out, $err) = DagschedTest::try_psql($node, $big);
		$failed++ if $ret != 0;
		1;
	} or $died++;
}
note("plain \$node->psql threw $thrown times of 20");
is($died, 0, 'try_psql against a stopped server never dies');
is($failed, 20, '... and reports every attempt as failed');

done_testing();
