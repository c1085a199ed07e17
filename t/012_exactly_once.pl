# t/012_exactly_once.pl -- a SQL task killed with SIGKILL mid-attempt: the
# postmaster restarts every process, the attempt's transaction rolls back,
# the scheduler records the interrupted attempt as failed and retries it,
# and the task's effects land exactly once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

# The claim of an attempt commits synchronously, like every dagsched commit
# (synchronous_commit is left at its default, on): a crash after the claim
# always finds the attempt "running" and counts it.  Both scenarios below
# rely on that.
my $node = DagschedTest->node('once',
	max_workers => 8,
	conf => "restart_after_crash = on\n");

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{
	CREATE TABLE t (id serial, run_id bigint);
	CREATE TABLE flush_marker (x int);
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('once');
	INSERT INTO dagsched.task (dag_name, task_name, command, retries, retry_delay)
	VALUES ('once', 'ins',
	  $$INSERT INTO t(run_id) VALUES (current_setting('dagsched.run_id')::bigint);
	    SELECT pg_sleep(CASE WHEN current_setting('dagsched.attempt') = '1' THEN 60 ELSE 0 END)$$,
	  1, '1 second');
	COMMIT;
});

my $run = sql("SELECT dagsched.trigger('once')");
ok($run =~ /^\d+$/, "run $run created");

# the attempt is running, its INSERT done (uncommitted), and it sleeps
ok( $node->poll_query_until(
		'postgres', qq{
		SELECT count(*) = 1
		FROM dagsched.task_run r JOIN pg_stat_activity a ON a.pid = r.pid
		WHERE r.run_id = $run AND r.task_name = 'ins' AND r.state = 'running'
		  AND a.wait_event = 'PgSleep'}),
	'task attempt 1 is running and sleeping');
my $pid = sql(
	"SELECT pid FROM dagsched.task_run WHERE run_id = $run AND task_name = 'ins'");
ok($pid =~ /^\d+$/ && $pid > 0, "task pid $pid known");
is(sql("SELECT count(*) FROM t"), '0',
	'the first attempt\'s insert is not visible before it commits');

# The claim was flushed when it committed; one more synchronous commit makes
# sure nothing else of the set-up is still in flight when the worker dies.
sql('INSERT INTO flush_marker VALUES (1)');

# SIGKILL the worker: the postmaster restarts all processes
ok(kill('KILL', $pid), "sent SIGKILL to worker $pid");

# the server comes back
ok($node->poll_query_until('postgres', 'SELECT 1', '1'),
	'server accepts connections again after the crash restart');

ok( $node->poll_query_until(
		'postgres',
		"SELECT state IN ('success', 'failed', 'cancelled') FROM dagsched.dag_run WHERE run_id = $run"
	),
	'the run ends after the restart');

is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run"),
	'success', 'run ends success');
is( sql(
		"SELECT state || '/' || attempts FROM dagsched.task_run WHERE run_id = $run AND task_name = 'ins'"
	),
	'success/2',
	'task succeeded on attempt 2');
is( sql(
		"SELECT string_agg(attempt || ':' || state, ',' ORDER BY attempt) FROM dagsched.task_attempt WHERE run_id = $run AND task_name = 'ins'"
	),
	'1:failed,2:success',
	'attempt history: 1 failed, 2 succeeded');
like(
	sql(
		"SELECT error FROM dagsched.task_attempt WHERE run_id = $run AND task_name = 'ins' AND attempt = 1"
	),
	qr/server restarted|terminated/,
	'attempt 1 failed because the server restarted');
is( sql(
		"SELECT pid = $pid FROM dagsched.task_attempt WHERE run_id = $run AND task_name = 'ins' AND attempt = 1"
	),
	't',
	'attempt 1 records the killed worker pid');
is(sql("SELECT count(*) FROM t WHERE run_id = $run"),
	'1', 'exactly one row for the run: attempt 1\'s insert was rolled back');
is(sql("SELECT count(*) FROM t"), '1', 'no other rows in t');
is( sql(
		"SELECT count(*) FROM dagsched.task_run WHERE state = 'running'"),
	'0',
	'no task_run is left running');
is( sql(
		"SELECT finished_at IS NOT NULL FROM dagsched.dag_run WHERE run_id = $run"
	),
	't',
	'run has finished_at');

# the crash restart is in the log, and the scheduler came back
my $log = slurp_file($node->logfile);
like($log, qr/terminated by signal 9/, 'server log shows the SIGKILLed worker');
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'"
	),
	'scheduler running again after the restart');


###########################################################################
# The same crash, this time at once after the claim: the attempt has barely
# started (its claim is on disk: it committed synchronously).
#
# DESIGN.md: task_run.attempts counts the attempts started, and a crash
# loses nothing.  The attempt that was running when the server crashed must
# be recorded as failed ('server restarted') and count against retries
# (retries = 0 here: the task fails, the run fails).  Otherwise a task that
# brings the server down right after it starts runs again and again,
# whatever its retries say.
###########################################################################
{
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('crashy');
		INSERT INTO dagsched.task (dag_name, task_name, command, retries, retry_delay)
		VALUES ('crashy', 'quick', 'SELECT pg_sleep(60)', 0, '1 second');
		COMMIT;
	});
	my $run = sql("SELECT dagsched.trigger('crashy')");
	ok( $node->poll_query_until(
			'postgres', qq{
			SELECT count(*) = 1
			FROM dagsched.task_run r JOIN pg_stat_activity a ON a.pid = r.pid
			WHERE r.run_id = $run AND r.state = 'running'
			  AND a.wait_event = 'PgSleep'}),
		'crashy: attempt 1 is running');
	my $pid = sql("SELECT pid FROM dagsched.task_run WHERE run_id = $run");
	ok(kill('KILL', $pid), "crashy: sent SIGKILL to worker $pid at once");
	ok($node->poll_query_until('postgres', 'SELECT 1', '1'),
		'crashy: server accepts connections again');

	# with retries = 0 the interrupted attempt ends the task: failed
	my $ended = 0;
	for (my $i = 0; $i < 150; $i++)
	{
		$ended = 1
		  if sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run") ne
		  'running';
		last if $ended;
		select(undef, undef, undef, 0.1);
	}
	ok($ended, 'crashy: the run ends within 15 s of the restart');
	is( sql(
			"SELECT state || '/' || attempts FROM dagsched.task_run WHERE run_id = $run"
		),
		'failed/1',
		'crashy: the interrupted attempt counts: task failed after 1 attempt');
	like(
		sql(
			"SELECT coalesce(string_agg(attempt || ':' || state || ':' || error, ','), '') FROM dagsched.task_attempt WHERE run_id = $run"
		),
		qr/^1:failed:.*(server restarted|terminated)/,
		'crashy: attempt history records the interrupted attempt');
	is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run"),
		'failed', 'crashy: run failed');

	# clean up whatever is still running
	$node->psql('postgres', "SELECT dagsched.cancel($run)");
	ok( $node->poll_query_until(
			'postgres',
			"SELECT count(*) = 0 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
		),
		'crashy: nothing left sleeping');
}

$node->stop;
done_testing();
