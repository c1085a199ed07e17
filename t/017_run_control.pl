# t/017_run_control.pl -- control of when and how many runs and tasks go
# (issue 17): one-off runs scheduled ahead with trigger(..., at), deadlines
# (missed_deadline, one NOTIFY, dag_stats), and dagsched.max_workers lowered
# by a reload taking effect at once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $node = DagschedTest->node('control', max_workers => 4);

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{CREATE TABLE ran (run_id bigint, task text, at timestamptz)});
sql(q{
	INSERT INTO dagsched.dag (dag_name) VALUES ('later');
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	  ('later', 'a', $$INSERT INTO ran VALUES (current_setting('dagsched.run_id')::bigint, 'a', clock_timestamp())$$);
});

# ---- one-off runs: trigger(dag, params, at) -------------------------------

my ($run, $at) = split /\|/, sql(q{
	SELECT r, r2 FROM (SELECT clock_timestamp() + interval '2 s' AS r2) x,
	LATERAL dagsched.trigger('later', '{"k": 1}', x.r2) AS r});
is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run"),
	'scheduled', 'a run triggered 2 s ahead is created now, scheduled');
is(sql("SELECT logical_time = '$at' AND started_at IS NULL FROM dagsched.dag_run WHERE run_id = $run"),
	't', 'its logical_time is "at", it has not started');
is(sql("SELECT string_agg(state, ',') FROM dagsched.task_run WHERE run_id = $run"),
	'pending', 'its tasks wait pending');
is(DagschedTest::wait_run($node, $run, '30 s'), 'success',
	'the scheduled run runs and succeeds');
is(sql("SELECT started_at >= logical_time FROM dagsched.dag_run WHERE run_id = $run"),
	't', 'it started no earlier than "at"');
is(sql("SELECT bool_and(r.at >= '$at') AND count(*) = 1 FROM ran r WHERE run_id = $run"),
	't', 'its task ran once, no earlier than "at"');

# a time in the past, or NULL, means now
my $now_run = sql(q{SELECT dagsched.trigger('later', '{}', now() - interval '1 h')});
is(DagschedTest::wait_run($node, $now_run), 'success', 'a past "at" runs now');
my $null_run = sql(q{SELECT dagsched.trigger('later', '{}', NULL)});
is(DagschedTest::wait_run($node, $null_run), 'success', 'a NULL "at" runs now');
is(sql(q{SELECT dagsched.trigger(NULL, '{}') IS NULL}), 't',
	'a NULL DAG name gives NULL, as when trigger() was STRICT');

# cancel() works on a scheduled run; it never starts
my $far = sql(q{SELECT dagsched.trigger('later', '{}', now() + interval '3 s')});
sql("SELECT dagsched.cancel($far)");
is(sql("SELECT state || ',' || (finished_at IS NOT NULL) FROM dagsched.dag_run WHERE run_id = $far"),
	'cancelled,true', 'cancel() ends a scheduled run');
is(sql("SELECT string_agg(state, ',') FROM dagsched.task_run WHERE run_id = $far"),
	'cancelled', 'its tasks are cancelled');
sleep(4);	# past its "at": it must not have come back to life
is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $far"),
	'cancelled', 'a cancelled scheduled run stays cancelled after its time');
is(sql("SELECT count(*) FROM ran WHERE run_id = $far"), '0',
	'its task never ran');

my ($ok, $out, $err) = (0, '', '');
$node->psql('postgres', q{SELECT dagsched.trigger('later', '{}', 'infinity')},
	stderr => \$err);
like($err, qr/cannot be scheduled at "infinity"/, 'an infinite "at" is refused');

# ---- deadlines ------------------------------------------------------------

sql(q{
	INSERT INTO dagsched.dag (dag_name, deadline) VALUES ('late', '1 second');
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	  ('late', 'slow', 'SELECT pg_sleep(3)');
	INSERT INTO dagsched.dag (dag_name, deadline) VALUES ('in_time', '1 hour');
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	  ('in_time', 'quick', 'SELECT 1');
});
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN dagsched');

my $late = DagschedTest::trigger($node, 'late');
my $in_time = DagschedTest::trigger($node, 'in_time');
is(sql("SELECT deadline_at = logical_time + interval '1 second' FROM dagsched.dag_run WHERE run_id = $late"),
	't', 'a run keeps its deadline: logical_time + dag.deadline');
ok( DagschedTest::poll_within(
		$node,
		"SELECT missed_deadline AND state = 'running' FROM dagsched.dag_run WHERE run_id = $late",
		30),
	'the run still running at its deadline is flagged missed_deadline');
is(DagschedTest::wait_run($node, $late), 'success', 'and still runs to its end');
is(DagschedTest::wait_run($node, $in_time), 'success', 'the quick run succeeds');
is(sql("SELECT missed_deadline FROM dagsched.dag_run WHERE run_id = $in_time"),
	'f', 'a run finished before its deadline is not flagged');

my $heard = '';
my $until = time() + 10;
while (time() < $until)
{
	$heard .= $listener->query_safe('SELECT 1') . "\n";
	last if $heard =~ /"event": "run", "run_id": $late, "state": "success"/;
	sleep 1;
}
$listener->quit;
my @deadline_events = $heard =~ /"event": "deadline", "run_id": $late,/g;
is(scalar(@deadline_events), 1, 'one deadline notification for the late run')
  or diag($heard);
like(
	$heard,
	qr/payload "\{"event": "deadline", "run_id": $late, "state": "running"\}"/,
	'its payload: event kind, run id, state only');
unlike($heard, qr/"event": "deadline", "run_id": $in_time\b/,
	'none for the run that made it');
is(sql("SELECT missed_deadlines_last_day FROM dagsched.dag_stats WHERE dag_name = 'late'"),
	'1', 'dag_stats counts the missed deadline');
is(sql("SELECT missed_deadlines_last_day FROM dagsched.dag_stats WHERE dag_name = 'in_time'"),
	'0', 'and none for the DAG that made it');

$node->psql('postgres',
	q{UPDATE dagsched.dag SET deadline = '-1 s' WHERE dag_name = 'late'},
	stderr => \$err);
like($err, qr/dag_deadline_check/, 'a negative deadline is refused');

# ---- lowering dagsched.max_workers by reload ------------------------------

sql(q{
	INSERT INTO dagsched.dag (dag_name) VALUES ('wide');
	INSERT INTO dagsched.task (dag_name, task_name, command)
	SELECT 'wide', 't' || i, 'SELECT pg_sleep(1.5)' FROM generate_series(1, 8) i;
});
my $wide = DagschedTest::trigger($node, 'wide');
ok( DagschedTest::poll_within(
		$node,
		"SELECT count(*) = 4 FROM dagsched.task_run WHERE run_id = $wide AND state = 'running'",
		30),
	'with max_workers = 4, four tasks run at once');
sql(q{ALTER SYSTEM SET dagsched.max_workers = 2; SELECT pg_reload_conf();});
my $reloaded = sql(q{SELECT clock_timestamp()});
ok(DagschedTest::poll_within($node, q{SELECT current_setting('dagsched.max_workers') = '2'}, 10),
	'the reload is seen');
is(DagschedTest::wait_run($node, $wide), 'success', 'the run succeeds');
# at the start of every task started after the reload, at most two tasks ran
is( sql(qq{
	SELECT coalesce(max((SELECT count(*) FROM dagsched.task_run o
						  WHERE o.run_id = $wide AND o.started_at <= s.started_at
							AND o.finished_at > s.started_at)), 0)
	  FROM dagsched.task_run s
	 WHERE s.run_id = $wide AND s.started_at > '$reloaded'}),
	'2',
	'after the reload, never more than two tasks at once');
is(sql(qq{SELECT count(*) FROM dagsched.task_run WHERE run_id = $wide AND started_at > '$reloaded'}),
	'4', 'the four other tasks ran after the reload');
ok( DagschedTest::poll_within(
		$node,
		q{SELECT count(*) <= 2 FROM pg_stat_activity WHERE backend_type = 'dagsched worker'},
		10),
	'the surplus workers have exited (not after the idle timeout of 60 s)');
sql(q{ALTER SYSTEM RESET dagsched.max_workers; SELECT pg_reload_conf();});

done_testing();
