# t/001_install.pl -- the library preloads, the extension installs, the
# scheduler comes up, and the server log stays free of FATAL and PANIC.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $node = DagschedTest->node('main',
	max_worker_processes => 8);

for my $table (qw(dag task dag_run task_run))
{
	is( $node->safe_psql(
			'postgres', "SELECT to_regclass('dagsched.$table') IS NOT NULL"),
		't',
		"table dagsched.$table exists");
}

is( $node->safe_psql(
		'postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'dagsched'"),
	'0.2',
	'extension version 0.2 installed');

# the static background worker registered by the preloaded library
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE backend_type = 'dagsched scheduler'"),
	'dagsched scheduler is running');

# a DAG can be defined (validated at commit) and is visible to SELECT
$node->safe_psql(
	'postgres', q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('smoke', NULL);
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	  ('smoke', 'a', 'SELECT 1', '{}'),
	  ('smoke', 'b', 'SELECT 2', '{a}');
	COMMIT;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM dagsched.task'),
	'2', 'tasks defined');

# still alive after all that
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server still answers');

my $log = slurp_file($node->logfile);
unlike($log, qr/\b(FATAL|PANIC):/, 'server log has no FATAL or PANIC');

# a clean shutdown: nothing crashes on the way down (a fast shutdown logs
# "FATAL: terminating background worker ... due to administrator command"
# and "exited with exit code 1" for background workers, which is fine)
$node->stop;
$log = slurp_file($node->logfile);
unlike($log, qr/\bPANIC:|terminated by signal/,
	'clean shutdown: no PANIC, no process crashed');

done_testing();
