# t/014_resume.pl -- fix, then resume, as a user would: retry(run_id) with
# the tasks' current definitions (each attempt keeps the one it ran), the
# re-evaluation of trigger rules that fired on the old outcome (all_done),
# retry(run_id, task_name, downstream) to re-run one task and what is below
# it (Airflow's clear), mark(run_id, task_name, state) (Airflow's mark
# success/failed), and run ids that refused calls do not consume.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = DagschedTest->node('resume', max_worker_processes => 16, max_workers => 4);

sub sql { return $node->safe_psql('postgres', $_[0]); }

# run SQL; returns (exit code, stdout, stderr)
sub try_sql { my ($ret, $out, $err) = $node->psql('postgres', $_[0]); return ($ret, $out, $err); }

sub wait_run
{
	my ($run) = @_;
	return sql("SELECT dagsched.wait($run, '60 s')");
}

sub states
{
	my ($run) = @_;
	return sql(
		"SELECT string_agg(task_name || '=' || state, ',' ORDER BY task_name)
		   FROM dagsched.task_run WHERE run_id = $run");
}

sub ran
{
	my ($run, $task) = @_;
	return sql("SELECT count(*) FROM log WHERE run_id = $run AND task = '$task'");
}

sql(q{CREATE TABLE log (task text, run_id bigint, attempt int)});
my $log = q{INSERT INTO log VALUES (current_setting('dagsched.task_name'),
  current_setting('dagsched.run_id')::bigint, current_setting('dagsched.attempt')::int)};

###########################################################################
# fix and retry: the task runs its new command; its history keeps the old
###########################################################################
my $run;
{
	sql(qq{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('fix');
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, trigger_rule) VALUES
		  ('fix', 'a', \$\$$log\$\$, '{}', 'all_success'),
		  ('fix', 'b', 'SELECT 1/0', '{a}', 'all_success'),
		  ('fix', 'c', \$\$$log\$\$, '{b}', 'all_success'),
		  ('fix', 'd', \$\$$log\$\$, '{b}', 'all_done');
		COMMIT;
	});
	$run = sql("SELECT dagsched.trigger('fix')");
	is(wait_run($run), 'failed', 'fix: the run fails');
	is(states($run), 'a=success,b=failed,c=upstream_failed,d=success',
		'fix: b failed, c did not run, d (all_done) ran');

	# the fix, and edits that must not reach the run's graph
	sql(q{
		BEGIN;
		UPDATE dagsched.task SET command = 'SELECT 2', timeout = '30 s', retries = 1,
		       retry_delay = '2 s'
		 WHERE dag_name = 'fix' AND task_name = 'b';
		UPDATE dagsched.task SET depends_on = '{a}', trigger_rule = 'all_success'
		 WHERE dag_name = 'fix' AND task_name = 'd';
		DELETE FROM dagsched.task WHERE dag_name = 'fix' AND task_name = 'c';
		INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('fix', 'e', 'SELECT 3');
		COMMIT;
	});
	is(sql("SELECT dagsched.retry($run)"), '3',
		'fix: retry() resets b, c (below it) and d (all_done fired on the old outcome)');
	is(wait_run($run), 'success', 'fix: the resumed run succeeds with the fixed command');
	is(states($run), 'a=success,b=success,c=success,d=success',
		'fix: every task succeeded; the run keeps its four tasks (no e)');
	is( sql(
			"SELECT command || '|' || retries || '|' || timeout || '|' || retry_delay
			   FROM dagsched.task_run WHERE run_id = $run AND task_name = 'b'"),
		'SELECT 2|1|00:00:30|00:00:02',
		'fix: task_run holds the current definition of b');
	is( sql(
			"SELECT string_agg(attempt || ':' || state || ':' || command || ':' || coalesce(timeout::text, '-'), ','
			                   ORDER BY attempt)
			   FROM dagsched.task_attempt WHERE run_id = $run AND task_name = 'b'"),
		'1:failed:SELECT 1/0:-,2:success:SELECT 2:00:00:30',
		'fix: each attempt keeps the definition it ran');
	is( sql(
			"SELECT depends_on::text || '|' || trigger_rule FROM dagsched.task_run
			  WHERE run_id = $run AND task_name = 'd'"),
		'{b}|all_done', "fix: the run's graph stays as it was (d still below b, all_done)");
	is(ran($run, 'c'), '1', 'fix: c, deleted from the DAG since, ran with its recorded definition');
	is(ran($run, 'd'), '2', 'fix: d (all_done) ran again after b was fixed');
	is(ran($run, 'a'), '1', 'fix: a (success) did not run again');
	is( sql(
			"SELECT string_agg(attempt || ':' || command, ',' ORDER BY attempt)
			   FROM dagsched.task_attempt WHERE run_id = $run AND task_name = 'c'"),
		"1:$log", 'fix: the deleted task ran what the run recorded');
}

###########################################################################
# clear: re-run one task of a finished run, with or without what is below
###########################################################################
{
	my ($ret, $out, $err) = try_sql("SELECT dagsched.retry($run, 'nope')");
	like($err, qr/run $run has no task "nope"/, 'clear: unknown task refused');
	($ret, $out, $err) = try_sql("SELECT dagsched.retry(-5, 'a')");
	like($err, qr/run -5 does not exist/, 'clear: unknown run refused');

	is(sql("SELECT dagsched.retry($run, 'a')"), '4',
		'clear: a and everything below it (b, c, d) are reset');
	is(wait_run($run), 'success', 'clear: the run succeeds again');
	is(ran($run, 'a') . ran($run, 'c') . ran($run, 'd'), '223',
		'clear: a, c and d ran once more');
	is(sql("SELECT attempts FROM dagsched.task_run WHERE run_id = $run AND task_name = 'b'"),
		'3', 'clear: b ran a third attempt');

	is(sql("SELECT dagsched.retry($run, 'c', downstream => false)"), '1',
		'clear without downstream: only c');
	is(wait_run($run), 'success', 'clear without downstream: the run succeeds');
	is(ran($run, 'a') . ran($run, 'c') . ran($run, 'd'), '233',
		'clear without downstream: only c ran');

	# refused while the run is running
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('slow');
		INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
		  ('slow', 's', 'SELECT pg_sleep(60)');
		COMMIT;
	});
	my $slow = sql("SELECT dagsched.trigger('slow')");
	ok($node->poll_query_until('postgres',
			"SELECT state = 'running' FROM dagsched.task_run WHERE run_id = $slow"),
		'clear: the slow task runs');
	($ret, $out, $err) = try_sql("SELECT dagsched.retry($slow, 's')");
	like($err, qr/run $slow is still running/, 'clear: refused while the run is running');

	# refused for a run the caller may not see
	sql('CREATE ROLE mallory LOGIN');
	($ret, $out, $err) = $node->psql('postgres', "SELECT dagsched.retry($run, 'a')",
		extra_params => [ '-U', 'mallory' ]);
	like($err, qr/run $run does not exist/, "clear: refused for someone else's run");
	($ret, $out, $err) = $node->psql('postgres', "SELECT dagsched.mark($run, 'a', 'failed')",
		extra_params => [ '-U', 'mallory' ]);
	like($err, qr/run $run does not exist/, "mark: refused for someone else's run");

	# mark: a running task cannot be marked (cancel it instead)
	($ret, $out, $err) = try_sql("SELECT dagsched.mark($slow, 's', 'success')");
	like($err, qr/task "s" of run $slow is running/, 'mark: refused for a running task');
	sql("SELECT dagsched.cancel($slow)");
	is(wait_run($slow), 'cancelled', 'the slow run is cancelled');
}

###########################################################################
# mark: set a task by hand; downstream and the run follow
###########################################################################
{
	sql(qq{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('m');
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
		  ('m', 'x', 'SELECT 1/0', '{}'),
		  ('m', 'y', \$\$$log\$\$, '{x}'),
		  ('m', 'z', \$\$$log\$\$, '{y}');
		COMMIT;
	});
	my $m = sql("SELECT dagsched.trigger('m')");
	is(wait_run($m), 'failed', 'mark: the run fails');
	my ($ret, $out, $err) = try_sql("SELECT dagsched.mark($m, 'x', 'done')");
	like($err, qr/invalid state "done"/, 'mark: an unknown state is refused');

	sql("SELECT dagsched.mark($m, 'x', 'success')");
	is(wait_run($m), 'success', 'mark success: y and z run, the run succeeds');
	is(states($m), 'x=success,y=success,z=success', 'mark success: states');
	is( sql(
			"SELECT attempt || '|' || state || '|' || marked_by || '|' || output
			   FROM dagsched.task_attempt WHERE run_id = $m AND task_name = 'x' AND attempt = 2"),
		'2|success|postgres|manual: marked success by postgres',
		'mark success: recorded as an attempt, with who and "manual"');
	is(ran($m, 'y') . ran($m, 'z'), '11', 'mark success: y and z ran once');

	sql("SELECT dagsched.mark($m, 'y', 'failed')");
	is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $m"), 'failed',
		'mark failed: the run follows at once');
	is(states($m), 'x=success,y=failed,z=success',
		'mark failed: z, which ran, keeps its outcome');
	like(sql("SELECT error FROM dagsched.task_run WHERE run_id = $m AND task_name = 'y'"),
		qr/^manual: marked failed by postgres/, 'mark failed: error says manual');

	# a pending task of a running run: marked skipped, its downstream follows
	sql(q{
		CREATE TABLE gate (i int);
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('p');
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
		  ('p', 'first', 'SELECT count(*) FROM gate', '{}'),
		  ('p', 'mid', 'SELECT 1', '{first}'),
		  ('p', 'last', 'SELECT 1', '{mid}');
		COMMIT;
	});
	my $gate = $node->background_psql('postgres');
	$gate->query_safe('BEGIN; LOCK TABLE gate');
	my $p = sql("SELECT dagsched.trigger('p')");
	ok($node->poll_query_until('postgres',
			"SELECT state = 'running' FROM dagsched.task_run WHERE run_id = $p AND task_name = 'first'"),
		'mark pending: the first task runs (blocked on the gate)');
	sql("SELECT dagsched.mark($p, 'mid', 'skipped')");
	is(states($p), 'first=running,last=skipped,mid=skipped',
		'mark pending: mid skipped, last follows');
	$gate->query_safe('COMMIT');
	$gate->quit;
	is(wait_run($p), 'success', 'mark pending: the run ends success (success and skips)');
	is(states($p), 'first=success,last=skipped,mid=skipped',
		'mark pending: first finished, the marks held');
}

###########################################################################
# run ids: a refused call consumes none
###########################################################################
{
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name, schedule, paused) VALUES ('bf', '0 * * * *', true);
		INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('bf', 't', 'SELECT 1');
		INSERT INTO dagsched.dag (dag_name) VALUES ('empty');
		COMMIT;
	});
	my $seq = q{SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('dagsched.dag_run', 'run_id')), 0)};
	my $before = sql($seq);
	my ($ret, $out, $err) = try_sql(
		"SELECT count(*) FROM dagsched.backfill('bf', now() - interval '3 years', now())");
	like($err, qr/would create more than 10000 runs/, 'backfill of more than 10,000 runs is refused');
	is(sql($seq), $before, 'the refused backfill consumed no run id');
	($ret, $out, $err) = try_sql("SELECT dagsched.trigger('empty')");
	like($err, qr/has no tasks/, 'trigger of a DAG without tasks is refused');
	is(sql($seq), $before, 'the refused trigger consumed no run id');

	my $from = sql("SELECT date_trunc('hour', now()) - interval '5 hours'");
	is(sql("SELECT count(*) FROM dagsched.backfill('bf', '$from', '$from'::timestamptz + interval '3 hours')"),
		'3', 'backfill of three ticks');
	my $after3 = sql($seq);
	is($after3, $before + 3, 'three runs, three run ids');
	is(sql("SELECT count(*) FROM dagsched.backfill('bf', '$from', '$from'::timestamptz + interval '3 hours')"),
		'0', 'backfill again: the ticks have their runs');
	is(sql($seq), $after3, 'ticks skipped because they have runs consume no run id');
}

$node->stop;
done_testing();
