# t/010_engine.pl -- the run engine end to end, on a live cluster:
# parallelism and dependency order, failures with SQLSTATE, retries with
# their delays, timeouts, cancel, wait(), task context, run snapshots,
# resume with retry(), pg_stat_activity reporting and max_active_runs.
#
# Tasks in another database (task.database) are not covered here yet (TODO);
# schedules are covered by the cron tests.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = DagschedTest->node('engine',
	max_workers => 8);

sub sql { return $node->safe_psql('postgres', $_[0]); }

# trigger in its own transaction; wait() must come in a later one
sub trigger
{
	my ($dag, $params) = @_;
	$params = defined $params ? "'$params'::jsonb" : "'{}'::jsonb";
	return sql("SELECT dagsched.trigger('$dag', $params)");
}

sub wait_run
{
	my ($run, $timeout) = @_;
	$timeout //= '60 s';
	return sql("SELECT dagsched.wait($run, '$timeout')");
}

# poll a boolean query until it returns 't' or $secs pass; returns true on
# success.  Used where the deadline itself is what is being tested.
sub poll_within
{
	my ($query, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		return 1 if sql($query) eq 't';
		usleep(50_000);
	}
	return sql($query) eq 't';
}

sub task_field
{
	my ($run, $task, $col) = @_;
	return sql(
		"SELECT $col FROM dagsched.task_run WHERE run_id = $run AND task_name = '$task'"
	);
}

sql(q{CREATE TABLE log (dag text, task text, run_id bigint,
                        at timestamptz DEFAULT clock_timestamp())});

# a command that records that it ran
sub logcmd
{
	my ($extra) = @_;
	my $c =
	  "INSERT INTO log(dag, task, run_id) VALUES (current_setting('dagsched.dag_name'), "
	  . "current_setting('dagsched.task_name'), current_setting('dagsched.run_id')::bigint)";
	return defined $extra ? "$extra; $c" : $c;
}

# the scheduler is up
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'"
	),
	'scheduler visible in pg_stat_activity as "dagsched scheduler"');

###########################################################################
# diamond: a and b run side by side, c after both
###########################################################################
{
	my $cmd_ab = logcmd('SELECT pg_sleep(1)');
	my $cmd_c  = logcmd();
	sql(qq{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('diamond');
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
		  ('diamond', 'a', \$\$$cmd_ab\$\$, '{}'),
		  ('diamond', 'b', \$\$$cmd_ab\$\$, '{}'),
		  ('diamond', 'c', \$\$$cmd_c\$\$, '{a,b}');
		COMMIT;
	});
	my $run = trigger('diamond');
	is(wait_run($run), 'success', 'diamond: run ends success');
	is( sql(
			"SELECT string_agg(task_name || '=' || state, ',' ORDER BY task_name) FROM dagsched.task_run WHERE run_id = $run"
		),
		'a=success,b=success,c=success',
		'diamond: every task succeeded');
	is( sql(q{SELECT a.started_at < b.finished_at AND b.started_at < a.finished_at
	          FROM dagsched.task_run a, dagsched.task_run b
	          WHERE a.run_id = } . $run . q{ AND b.run_id = a.run_id
	            AND a.task_name = 'a' AND b.task_name = 'b'}),
		't',
		'diamond: a and b overlap in time');
	is( sql(q{SELECT c.started_at >= greatest(a.finished_at, b.finished_at)
	          FROM dagsched.task_run a, dagsched.task_run b, dagsched.task_run c
	          WHERE a.run_id = } . $run . q{ AND b.run_id = a.run_id AND c.run_id = a.run_id
	            AND a.task_name = 'a' AND b.task_name = 'b' AND c.task_name = 'c'}),
		't',
		'diamond: c starts after both a and b finished');
	is( sql(
			"SELECT string_agg(task, ',' ORDER BY task) FROM log WHERE run_id = $run"
		),
		'a,b,c',
		'diamond: each task ran once');
	is( sql(
			"SELECT started_at IS NOT NULL AND finished_at IS NOT NULL AND finished_at >= started_at FROM dagsched.dag_run WHERE run_id = $run"
		),
		't',
		'diamond: dag_run.started_at and finished_at set');
	is( sql(
			"SELECT bool_and(attempts = 1 AND pid IS NOT NULL AND error IS NULL) FROM dagsched.task_run WHERE run_id = $run"
		),
		't',
		'diamond: one attempt each, pid recorded, no error');

	# wait() on a finished run returns at once
	my $t0 = time();
	is(wait_run($run, '30 s'), 'success', 'wait: finished run gives success');
	cmp_ok(time() - $t0, '<', 5, 'wait: finished run returns at once');
}

###########################################################################
# fan-out of 100 into one sink; chain of 50
###########################################################################
{
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('fan');
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
		  SELECT 'fan', 'f' || lpad(i::text, 3, '0'), 'SELECT ' || i, '{}'
		  FROM generate_series(1, 100) i;
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
		  SELECT 'fan', 'sink', 'SELECT 0', array_agg('f' || lpad(i::text, 3, '0'))
		  FROM generate_series(1, 100) i;
		COMMIT;
	});
	my $run = trigger('fan');
	is(wait_run($run), 'success', 'fan-out: run ends success');
	is( sql(
			"SELECT count(*) FILTER (WHERE state = 'success') || '/' || count(*) FROM dagsched.task_run WHERE run_id = $run"
		),
		'101/101',
		'fan-out: all 101 tasks succeeded');
	is( sql(qq{SELECT s.started_at >= (SELECT max(finished_at) FROM dagsched.task_run
	                                    WHERE run_id = $run AND task_name <> 'sink')
	           FROM dagsched.task_run s WHERE s.run_id = $run AND s.task_name = 'sink'}),
		't',
		'fan-out: sink starts after the last of the 100 finished');

	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('chain');
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
		  SELECT 'chain', 'c' || lpad(i::text, 2, '0'), 'SELECT ' || i,
		         CASE WHEN i = 1 THEN '{}'::text[]
		              ELSE ARRAY['c' || lpad((i - 1)::text, 2, '0')] END
		  FROM generate_series(1, 50) i;
		COMMIT;
	});
	$run = trigger('chain');
	is(wait_run($run), 'success', 'chain: run ends success');
	is( sql(
			"SELECT count(*) FROM dagsched.task_run WHERE run_id = $run AND state = 'success'"
		),
		'50',
		'chain: all 50 tasks succeeded');
	is( sql(qq{SELECT count(*) FROM dagsched.task_run t
	           JOIN dagsched.task_run p ON p.run_id = t.run_id
	            AND p.task_name = t.depends_on[1]
	           WHERE t.run_id = $run AND t.started_at >= p.finished_at}),
		'49',
		'chain: each task starts after its predecessor finished');
}

###########################################################################
# failure with SQLSTATE, downstream upstream_failed
###########################################################################
{
	my $after = logcmd();
	sql(qq{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('failing');
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
		  ('failing', 'bad', 'SELECT 1/0', '{}'),
		  ('failing', 'after', \$\$$after\$\$, '{bad}');
		COMMIT;
	});
	my $run = trigger('failing');
	is(wait_run($run), 'failed', 'failure: run ends failed');
	is(task_field($run, 'bad', 'state'), 'failed', 'failure: task failed');
	like(
		task_field($run, 'bad', 'error'),
		qr/^22012: division by zero/,
		'failure: error holds SQLSTATE and message');
	is(task_field($run, 'after', 'state'),
		'upstream_failed', 'failure: downstream is upstream_failed');
	is(task_field($run, 'after', 'attempts'),
		'0', 'failure: downstream never started');
	is(sql("SELECT count(*) FROM log WHERE run_id = $run"),
		'0', 'failure: downstream did not run');
	is( sql(
			"SELECT state || ' ' || error FROM dagsched.task_attempt WHERE run_id = $run AND task_name = 'bad'"
		),
		'failed 22012: division by zero',
		'failure: attempt history records the failure');
}

###########################################################################
# retries with retry_delay (doubling)
###########################################################################
{
	my $cmd = logcmd(
		# fails (division by zero) on attempts 1 and 2; not "CASE ... THEN
		# 1/0": the planner folds that constant and fails every attempt
		q{SELECT 1 / (current_setting('dagsched.attempt')::int / 3)});
	sql(qq{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('retrying');
		INSERT INTO dagsched.task (dag_name, task_name, command, retries, retry_delay)
		VALUES ('retrying', 'flaky', \$\$$cmd\$\$, 2, '1 second');
		COMMIT;
	});
	my $run = trigger('retrying');
	is(wait_run($run), 'success', 'retries: run ends success');
	is(task_field($run, 'flaky', 'state'), 'success', 'retries: task success');
	is(task_field($run, 'flaky', 'attempts'), '3', 'retries: attempts = 3');
	is( sql(
			"SELECT string_agg(attempt || ':' || state, ',' ORDER BY attempt) FROM dagsched.task_attempt WHERE run_id = $run AND task_name = 'flaky'"
		),
		'1:failed,2:failed,3:success',
		'retries: attempt history has 2 failures then a success');
	is( sql(
			"SELECT bool_and(error LIKE '22012:%') FROM dagsched.task_attempt WHERE run_id = $run AND state = 'failed'"
		),
		't',
		'retries: failed attempts keep their error');
	is( sql(qq{SELECT a2.started_at - a1.finished_at >= interval '0.89 s'
	           FROM dagsched.task_attempt a1, dagsched.task_attempt a2
	           WHERE a1.run_id = $run AND a2.run_id = $run
	             AND a1.attempt = 1 AND a2.attempt = 2}),
		't',
		'retries: attempt 2 starts at least ~0.9 s after attempt 1 failed');
	is( sql(qq{SELECT a3.started_at - a2.finished_at >= interval '1.79 s'
	           FROM dagsched.task_attempt a2, dagsched.task_attempt a3
	           WHERE a2.run_id = $run AND a3.run_id = $run
	             AND a2.attempt = 2 AND a3.attempt = 3}),
		't',
		'retries: the delay doubles (attempt 3 at least ~1.8 s after attempt 2)');
	is(sql("SELECT count(*) FROM log WHERE run_id = $run"),
		'1', 'retries: only the successful attempt left its effect');
	is(task_field($run, 'flaky', 'error'), '',
		'retries: task_run.error cleared on success');
}

###########################################################################
# timeout
###########################################################################
{
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('slow');
		INSERT INTO dagsched.task (dag_name, task_name, command, timeout)
		VALUES ('slow', 'sleepy', 'SELECT pg_sleep(30)', '1 second');
		COMMIT;
	});
	my $t0  = time();
	my $run = trigger('slow');
	is(wait_run($run, '25 s'), 'failed', 'timeout: run ends failed');
	cmp_ok(time() - $t0, '<', 10, 'timeout: failed within a few seconds');
	is(task_field($run, 'sleepy', 'state'), 'failed', 'timeout: task failed');
	like(task_field($run, 'sleepy', 'error'),
		qr/timed out/, 'timeout: error says the task timed out');
	is( sql(
			"SELECT finished_at - started_at < interval '5 s' FROM dagsched.task_run WHERE run_id = $run AND task_name = 'sleepy'"
		),
		't',
		'timeout: the attempt was cut short');
}

###########################################################################
# timeout vs cancel is decided by the worker's own timer, not by the text of
# the error (which lc_messages translates): a task that raises
# query_canceled itself, with the English words in its message, failed --
# it did not time out; and a timed-out task says so whatever lc_messages is.
###########################################################################
{
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('fake_timeout');
		INSERT INTO dagsched.task (dag_name, task_name, command, timeout)
		VALUES ('fake_timeout', 'raiser',
		  $q$DO $$BEGIN RAISE EXCEPTION 'canceling statement due to statement timeout'
		      USING ERRCODE = 'query_canceled'; END $$$q$, '30 seconds');
		INSERT INTO dagsched.dag (dag_name) VALUES ('slow_lc');
		INSERT INTO dagsched.task (dag_name, task_name, command, timeout)
		VALUES ('slow_lc', 'sleepy',
		  $$SET lc_messages = 'C'; SELECT pg_sleep(30)$$, '1 second');
		COMMIT;
	});
	my $run = trigger('fake_timeout');
	is(wait_run($run), 'failed', 'query_canceled raised by the task: run fails');
	is( task_field($run, 'raiser', 'error'),
		'57014: canceling statement due to statement timeout',
		'query_canceled raised by the task is recorded as its own error, not as a timeout');

	$run = trigger('slow_lc');
	is(wait_run($run, '25 s'), 'failed', 'timeout with lc_messages set by the task: run fails');
	like(task_field($run, 'sleepy', 'error'),
		qr/^57014: task timed out after 1000 ms$/,
		'timeout with lc_messages set by the task: error says the task timed out');
}

###########################################################################
# a long task: wait() timing out, retry() refused, pg_stat_activity, cancel
###########################################################################
{
	my $down = logcmd();
	sql(qq{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('long');
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
		  ('long', 'sleeper', 'SELECT pg_sleep(60)', '{}'),
		  ('long', 'down', \$\$$down\$\$, '{sleeper}');
		COMMIT;
	});
	my $run = trigger('long');
	ok( poll_within(
			"SELECT state = 'running' AND pid IS NOT NULL FROM dagsched.task_run WHERE run_id = $run AND task_name = 'sleeper'",
			30),
		'long: task running');

	# wait: the timeout passes first
	my $t0 = time();
	is(wait_run($run, '1 s'), 'running',
		'wait: returns running when the timeout passes first');
	my $took = time() - $t0;
	ok($took >= 0.9 && $took < 10, "wait: waited about the timeout ($took s)");

	# retry() refuses a run in flight
	my ($ret, $out, $err) =
	  $node->psql('postgres', "SELECT dagsched.retry($run)");
	isnt($ret, 0, 'retry: refused on a running run');
	like($err, qr/still running/, 'retry: error says the run is still running');

	# pg_stat_activity
	is( sql(
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'"
		),
		'1',
		'pg_stat_activity: one dagsched scheduler');
	cmp_ok(
		sql(
			"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'dagsched worker'"
		),
		'>=', 1,
		'pg_stat_activity: dagsched worker present');
	my $pid = task_field($run, 'sleeper', 'pid');
	is( sql(
			"SELECT backend_type || '|' || state || '|' || query FROM pg_stat_activity WHERE pid = $pid"
		),
		'dagsched worker|active|SELECT pg_sleep(60)',
		'pg_stat_activity: the worker shows the running task SQL');

	# cancel
	sql("SELECT dagsched.cancel($run)");
	ok( poll_within(
			"SELECT bool_and(state = 'cancelled') FROM dagsched.task_run WHERE run_id = $run",
			2.5),
		'cancel: all task_run rows cancelled within ~2 s');
	is( sql(
			"SELECT string_agg(task_name || '=' || state, ',' ORDER BY task_name) FROM dagsched.task_run WHERE run_id = $run"
		),
		'down=cancelled,sleeper=cancelled',
		'cancel: task states');
	is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run"),
		'cancelled', 'cancel: run cancelled');
	is(wait_run($run, '10 s'), 'cancelled', 'cancel: wait() returns cancelled');
	ok( poll_within(
			q{SELECT count(*) = 0 FROM pg_stat_activity
			  WHERE state = 'active' AND query LIKE '%pg_sleep(60)%'
			    AND pid <> pg_backend_pid()},
			2),
		'cancel: no backend runs pg_sleep(60) anymore');
	is(sql("SELECT count(*) FROM log WHERE run_id = $run"),
		'0', 'cancel: downstream never ran');
	is( sql(
			"SELECT finished_at IS NOT NULL FROM dagsched.dag_run WHERE run_id = $run"
		),
		't',
		'cancel: run has finished_at');
}

# wait on an unknown run
{
	my ($ret, $out, $err) =
	  $node->psql('postgres', "SELECT dagsched.wait(987654321, '1 s')");
	isnt($ret, 0, 'wait: unknown run id is an error');
	like($err, qr/run 987654321 does not exist/,
		'wait: error names the missing run');
}

###########################################################################
# context settings
###########################################################################
{
	sql(q{
		CREATE TABLE ctx (run_id text, logical_time text, dag text, task text,
		                  k text, attempt text, usr text);
		CREATE ROLE alice LOGIN;
		GRANT INSERT ON ctx TO alice;
	});
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name, owner) VALUES ('ctxdag', 'alice');
		INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
		  ('ctxdag', 'probe', $$INSERT INTO ctx VALUES (
		      current_setting('dagsched.run_id'),
		      current_setting('dagsched.logical_time'),
		      current_setting('dagsched.dag_name'),
		      current_setting('dagsched.task_name'),
		      current_setting('dagsched.params')::jsonb ->> 'k',
		      current_setting('dagsched.attempt'),
		      current_user)$$);
		COMMIT;
	});
	my $run = trigger('ctxdag', '{"k": "v"}');
	is(wait_run($run), 'success', 'context: run ends success');
	is( sql("SELECT run_id || '|' || dag || '|' || task || '|' || k || '|' || attempt || '|' || usr FROM ctx"),
		"$run|ctxdag|probe|v|1|alice",
		'context: run_id, dag_name, task_name, params, attempt and owner seen by the task'
	);
	is( sql(
			"SELECT c.logical_time::timestamptz = r.logical_time FROM ctx c, dagsched.dag_run r WHERE r.run_id = $run"
		),
		't',
		'context: logical_time matches the run');
	is(sql("SELECT params->>'k' FROM dagsched.dag_run WHERE run_id = $run"),
		'v', 'context: params stored on the run');
}

###########################################################################
# editing a DAG during a run does not change that run
###########################################################################
{
	sql(q{
		CREATE TABLE edit_log (what text);
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('edited');
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
		  ('edited', 'first', 'SELECT pg_sleep(3)', '{}'),
		  ('edited', 'second', $$INSERT INTO edit_log VALUES ('old')$$, '{first}');
		COMMIT;
	});
	my $run = trigger('edited');
	ok( poll_within(
			"SELECT state = 'running' FROM dagsched.task_run WHERE run_id = $run AND task_name = 'first'",
			30),
		'edit: first task running');
	sql(q{UPDATE dagsched.task SET command = $$INSERT INTO edit_log VALUES ('new')$$
	      WHERE dag_name = 'edited' AND task_name = 'second'});
	is(task_field($run, 'first', 'state'),
		'running', 'edit: the DAG was edited while the run was in flight');
	is(wait_run($run), 'success', 'edit: run ends success');
	is( task_field($run, 'second', 'command'),
		q{INSERT INTO edit_log VALUES ('old')},
		'edit: task_run keeps the command as it was when the run was created');
	is(sql("SELECT string_agg(what, ',') FROM edit_log"),
		'old', 'edit: the old command is what ran');
	is( task_field($run, 'second', 'kind') . '|'
		  . task_field($run, 'second', 'depends_on'),
		'sql|{first}',
		'edit: task_run snapshots kind and depends_on');
}

###########################################################################
# resume a failed run with retry()
###########################################################################
{
	my $a = logcmd();
	my $c = logcmd();
	sql(qq{
		CREATE TABLE flags (flag int);
		INSERT INTO flags VALUES (0);
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('resumable');
		INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
		  ('resumable', 'a', \$\$$a\$\$, '{}'),
		  ('resumable', 'b', 'SELECT 1/(SELECT flag FROM flags)', '{a}'),
		  ('resumable', 'c', \$\$$c\$\$, '{b}');
		COMMIT;
	});
	my $run = trigger('resumable');
	is(wait_run($run), 'failed', 'resume: first try fails');
	is( sql(
			"SELECT string_agg(task_name || '=' || state, ',' ORDER BY task_name) FROM dagsched.task_run WHERE run_id = $run"
		),
		'a=success,b=failed,c=upstream_failed',
		'resume: a succeeded, b failed, c upstream_failed');
	sql('UPDATE flags SET flag = 1');
	is(sql("SELECT dagsched.retry($run)"), '2', 'resume: retry() resets b and c');
	is(wait_run($run), 'success', 'resume: run ends success');
	is( sql(
			"SELECT string_agg(task_name || '=' || state || '/' || attempts, ',' ORDER BY task_name) FROM dagsched.task_run WHERE run_id = $run"
		),
		'a=success/1,b=success/2,c=success/1',
		'resume: a kept (1 attempt), b ran again (2 attempts), c ran');
	is( sql(
			"SELECT string_agg(task || ':' || n, ',' ORDER BY task) FROM (SELECT task, count(*) n FROM log WHERE run_id = $run GROUP BY task) s"
		),
		'a:1,c:1',
		'resume: a was not re-run, c ran once');
	is( sql(
			"SELECT finished_at IS NOT NULL FROM dagsched.dag_run WHERE run_id = $run"
		),
		't',
		'resume: run has finished_at again');
}

###########################################################################
# max_active_runs
###########################################################################
{
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name, max_active_runs) VALUES ('single', 1);
		INSERT INTO dagsched.task (dag_name, task_name, command)
		VALUES ('single', 'work', 'SELECT pg_sleep(2)');
		COMMIT;
	});
	my $run1 = trigger('single');
	my $run2 = trigger('single');
	is( sql(
			"SELECT string_agg(state, ',' ORDER BY run_id) FROM dagsched.dag_run WHERE run_id IN ($run1, $run2)"
		),
		'running,queued',
		'max_active_runs: the second run is queued while the first runs');
	is(task_field($run2, 'work', 'state'),
		'pending', 'max_active_runs: the queued run has not started its task');
	is(wait_run($run2), 'success', 'max_active_runs: second run ends success');
	is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run1"),
		'success', 'max_active_runs: first run ends success');
	is( sql(qq{SELECT t2.started_at >= t1.finished_at
	           FROM dagsched.task_run t1, dagsched.task_run t2
	           WHERE t1.run_id = $run1 AND t2.run_id = $run2}),
		't',
		'max_active_runs: task time ranges do not overlap');
	is( sql(qq{SELECT r2.started_at >= r1.finished_at
	           FROM dagsched.dag_run r1, dagsched.dag_run r2
	           WHERE r1.run_id = $run1 AND r2.run_id = $run2}),
		't',
		'max_active_runs: the second run started after the first ended');

	# a cancelled run frees its slot too: the queued run starts
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name, max_active_runs) VALUES ('single_cancel', 1);
		INSERT INTO dagsched.task (dag_name, task_name, command)
		VALUES ('single_cancel', 'work', 'SELECT pg_sleep(30)');
		COMMIT;
	});
	$run1 = trigger('single_cancel');
	$run2 = trigger('single_cancel');
	ok( poll_within(
			"SELECT state = 'running' FROM dagsched.task_run WHERE run_id = $run1",
			30),
		'max_active_runs/cancel: first run\'s task running');
	is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run2"),
		'queued', 'max_active_runs/cancel: second run queued');
	sql("SELECT dagsched.cancel($run1)");
	is(wait_run($run1, '10 s'), 'cancelled',
		'max_active_runs/cancel: first run cancelled');
	ok( poll_within(
			"SELECT state = 'running' FROM dagsched.task_run WHERE run_id = $run2",
			10),
		'max_active_runs/cancel: the queued run starts once the first is cancelled'
	);
	sql("SELECT dagsched.cancel($run2)");
	is(wait_run($run2, '10 s'), 'cancelled',
		'max_active_runs/cancel: second run cancelled');

	# a run resumed by retry() is in flight again: it respects the limit
	sql(q{
		CREATE TABLE mr (flag int, secs int);
		INSERT INTO mr VALUES (0, 30);
		BEGIN;
		INSERT INTO dagsched.dag (dag_name, max_active_runs) VALUES ('single_retry', 1);
		INSERT INTO dagsched.task (dag_name, task_name, command)
		VALUES ('single_retry', 'work',
		        'SELECT 1/(SELECT flag FROM mr); SELECT pg_sleep((SELECT secs FROM mr))');
		COMMIT;
	});
	$run1 = trigger('single_retry');
	is(wait_run($run1), 'failed', 'max_active_runs/retry: first run fails');
	sql('UPDATE mr SET flag = 1');
	$run2 = trigger('single_retry');
	ok( poll_within(
			"SELECT state = 'running' FROM dagsched.task_run WHERE run_id = $run2",
			30),
		'max_active_runs/retry: second run\'s task running');
	is(sql("SELECT dagsched.retry($run1)"), '1',
		'max_active_runs/retry: retry() resets the failed task');
	is( sql(
			"SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'single_retry' AND state = 'running'"
		),
		'1',
		'max_active_runs/retry: still one run in flight (the resumed run waits queued)'
	);
	is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run1"),
		'queued', 'max_active_runs/retry: the resumed run is queued');
	sql("SELECT dagsched.cancel($run1)");
	sql("SELECT dagsched.cancel($run2)");
	is( sql(
			"SELECT string_agg(state, ',' ORDER BY run_id) FROM dagsched.dag_run WHERE run_id IN ($run1, $run2)"
		),
		'cancelled,cancelled',
		'max_active_runs/retry: both runs cancelled');
	ok( poll_within(
			q{SELECT count(*) = 0 FROM pg_stat_activity
			  WHERE state = 'active' AND query LIKE '%pg_sleep((SELECT secs%'
			    AND pid <> pg_backend_pid()},
			5),
		'max_active_runs/retry: nothing left sleeping');
}

# nothing left running anywhere
is( sql(
		"SELECT count(*) FROM dagsched.task_run WHERE state IN ('running', 'queued', 'pending', 'retry_wait')"
	),
	'0',
	'no task left unfinished');

my $log = slurp_file($node->logfile);
unlike($log, qr/\bPANIC:|terminated by signal/, 'no PANIC, no crash');

$node->stop;
done_testing();
