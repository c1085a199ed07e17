# t/092_readme.pl -- the README's quick start runs as written when pasted
# into psql on the demo's cluster.
#
# The cluster is set up as scripts/demo.sh sets it up (library preloaded,
# catalog in postgres, CREATE EXTENSION, examples/demo.sql run); then the
# first SQL block under "## Quick start" in README.md goes to psql verbatim,
# stopping at the first error.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $readme = slurp_file('README.md');
my ($quick) = $readme =~ /^## Quick start\n(.*?)^## /ms;
ok(defined $quick, 'README.md has a Quick start section');
my ($sql) = ($quick // '') =~ /^```sql\n(.*?)^```/ms;
ok(defined $sql && $sql =~ /dagsched\.trigger/,
	'its first sql block triggers a run');

my $node = DagschedTest->node('demo', max_worker_processes => 16);

# what make demo does before you paste anything (its working directory is
# the cluster's, for the shell task's published.log)
my ($out, $err) = ('', '');
my $rc = $node->psql(
	'postgres', slurp_file('examples/demo.sql'),
	stdout => \$out,
	stderr => \$err,
	on_error_stop => 1);
is($rc, 0, 'examples/demo.sql runs (as make demo runs it)')
  or diag("stderr: $err");

# the quick start, pasted
($out, $err) = ('', '');
$rc = $node->psql(
	'postgres', $sql,
	stdout => \$out,
	stderr => \$err,
	on_error_stop => 1,
	extra_params => [ '-a', '-P', 'pager=off' ]);
is($rc, 0, 'the quick start runs without an error') or diag("stderr: $err");
unlike($err, qr/ERROR|WARNING/, 'and says nothing alarming')
  or diag("stderr: $err");
note($out);

my $run = $node->safe_psql('postgres',
	"SELECT max(run_id) FROM dagsched.dag_run WHERE dag_name = 'daily_report'");
is( $node->safe_psql(
		'postgres', "SELECT state FROM dagsched.dag_run WHERE run_id = $run"),
	'success',
	'the quick start run succeeded');
is( $node->safe_psql(
		'postgres', qq{
		SELECT string_agg(task_name || ':' || state, ',' ORDER BY task_name)
		FROM dagsched.task_run WHERE run_id = $run}),
	'aggregate:success,load_customers:success,load_orders:success',
	'all three tasks succeeded');
like($out, qr/^\s*success\s*$/m, 'wait() printed success');
like($out, qr/^\s*1000\s*\|\s*750750\.0\s*$/m,
	'report.daily shows what the README says (1000 orders, 750750.0)');

$node->stop;
done_testing();
