# t/040_failover.pl -- primary + streaming standby.  The standby runs no
# scheduler and no workers and creates no runs while in recovery; after the
# primary dies (immediate stop, a task in flight) and the standby is
# promoted, the scheduler starts there without a restart, carries the
# in-flight run to success (the interrupted task retried) and keeps the
# schedule firing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;
use Time::HiRes qw(sleep);

my $primary = DagschedTest->node('primary',
	max_workers => 8,
	allows_streaming => 1);

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

sub psql_on { return $_[0]->safe_psql('postgres', $_[1]); }

sub poll_on
{
	my ($on, $query, $expected, $secs) = @_;
	return DagschedTest::poll_through_restarts($on, $query, $expected,
		$secs || 30);
}

my $dagsched_backends =
  "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'dagsched%'";

is(psql_on($standby, 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');

psql_on($primary, q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule, max_active_runs)
	VALUES ('tick', '* * * * * *', 10);
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('tick', 'one', 'SELECT 1');
	INSERT INTO dagsched.dag (dag_name) VALUES ('manual');
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, retries, retry_delay) VALUES
	  -- attempt 1 must outlive the primary however slow the machine (a 5 s
	  -- sleep could end before the kill under load); the retry is short
	  ('manual', 'nap', $$SELECT pg_sleep(CASE WHEN current_setting('dagsched.attempt')::int = 1
	                                      THEN 300 ELSE 1 END)$$, '{}', 1, '1 second'),
	  ('manual', 'after', 'SELECT 2', '{nap}', 0, '1 second');
	COMMIT;
});
ok(poll_on($primary, "SELECT count(*) >= 3 FROM dagsched.dag_run WHERE dag_name = 'tick'"),
	'primary: the every-second DAG fires');

my $run = psql_on($primary, "SELECT dagsched.trigger('manual')");
like($run, qr/^\d+$/, "primary: manual run $run triggered");
ok( poll_on(
		$primary, qq{SELECT count(*) = 1
		FROM dagsched.task_run r JOIN pg_stat_activity a ON a.pid = r.pid
		WHERE r.run_id = $run AND r.task_name = 'nap' AND r.state = 'running'
		  AND a.wait_event = 'PgSleep'}),
	'primary: task nap is running (sleeping)');

# ---------------------------------------------------------------------
# the standby, in recovery
# ---------------------------------------------------------------------
my $before = psql_on($primary, "SELECT count(*) FROM dagsched.dag_run");
$primary->wait_for_catchup($standby);
my $after = psql_on($primary, "SELECT count(*) FROM dagsched.dag_run");
my $on_standby = psql_on($standby, "SELECT count(*) FROM dagsched.dag_run");
ok($on_standby >= $before && $on_standby <= $after,
	"standby sees the replicated runs ($before <= $on_standby <= $after)");
is(psql_on($standby, "SELECT state FROM dagsched.task_run WHERE run_id = $run AND task_name = 'nap'"),
	'running', 'standby sees nap running (replicated)');

# sample the standby for a while: no scheduler, no worker, no run of its own
my $max_backends = 0;
for (1 .. 15)
{
	my $n = psql_on($standby, $dagsched_backends);
	$max_backends = $n if $n > $max_backends;
	sleep(0.1);
}
is($max_backends, 0, 'standby: no dagsched scheduler or worker process');
# every run on the standby exists on the primary, identical
# one query, one snapshot: replay may add runs between two queries
my ($max_standby, $standby_runs) = split /\|/, psql_on($standby,
	"SELECT coalesce(max(run_id), 0), string_agg(run_id || ':' || dag_name || ':' || logical_time, ',' ORDER BY run_id) FROM dagsched.dag_run"),
  2;
is( psql_on($primary,
		"SELECT string_agg(run_id || ':' || dag_name || ':' || logical_time, ',' ORDER BY run_id) "
		  . "FROM dagsched.dag_run WHERE run_id <= $max_standby"),
	$standby_runs,
	'standby: its runs are exactly the primary\'s (none of its own)');
ok(!grep(/dagsched scheduler started/, split /\n/, slurp_file($standby->logfile)),
	'standby log: the scheduler never started');

# ---------------------------------------------------------------------
# failover
# ---------------------------------------------------------------------
$primary->wait_for_catchup($standby);
is(psql_on($standby, "SELECT state FROM dagsched.task_run WHERE run_id = $run AND task_name = 'nap'"),
	'running', 'nap still in flight when the primary dies');
$primary->stop('immediate');
my $stopped = psql_on($standby, 'SELECT clock_timestamp()');
$standby->promote;
is(psql_on($standby, 'SELECT pg_is_in_recovery()'), 'f', 'standby promoted');
my $promoted = psql_on($standby, 'SELECT clock_timestamp()');

ok( poll_on($standby,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'"),
	'new primary: the scheduler starts without a restart');
is($standby->safe_psql('postgres', 'SELECT pg_postmaster_start_time() < ' . "'$stopped'"),
	't', 'new primary: same postmaster (no restart)');

ok( poll_on($standby,
		"SELECT state IN ('success', 'failed', 'cancelled') FROM dagsched.dag_run WHERE run_id = $run",
		't', 60),
	'new primary: the in-flight manual run ends');
is(psql_on($standby, "SELECT state FROM dagsched.dag_run WHERE run_id = $run"),
	'success', 'the manual run ends success');
is( psql_on($standby,
		"SELECT string_agg(task_name || ':' || state || ':' || attempts, ',' ORDER BY task_name) "
		  . "FROM dagsched.task_run WHERE run_id = $run"),
	'after:success:1,nap:success:2',
	'nap retried after the failover (2 attempts), then after ran');
like( psql_on($standby,
		"SELECT state || ' ' || error FROM dagsched.task_attempt WHERE run_id = $run AND task_name = 'nap' AND attempt = 1"),
	qr/^failed .*server restarted/,
	'nap attempt 1 recorded failed: server restarted while the task was running');

ok( poll_on($standby,
		"SELECT count(*) >= 3 FROM dagsched.dag_run WHERE dag_name = 'tick' "
		  . "AND logical_time > '$promoted'", 't', 20),
	'new primary: the every-second DAG keeps firing');
is( psql_on($standby, q{SELECT count(*) FROM (
	  SELECT dag_name, logical_time FROM dagsched.dag_run WHERE trigger <> 'manual'
	  GROUP BY 1, 2 HAVING count(*) > 1) d}),
	'0', 'no tick has two runs');
ok( poll_on($standby,
		"SELECT count(*) = 0 FROM dagsched.dag_run WHERE dag_name = 'tick' "
		  . "AND logical_time > '$promoted' AND state NOT IN ('success') "
		  . "AND logical_time < now() - interval '3 s'", 't', 20),
	'new primary: its scheduled runs succeed');
is(psql_on($standby, "SELECT count(*) FROM dagsched.task_run WHERE state = 'running' "
	  . "AND pid NOT IN (SELECT pid FROM pg_stat_activity)"),
	'0', 'no task_run left running without a live process');

$standby->stop;
done_testing();
