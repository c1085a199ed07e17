# t/019_sensors.pl -- sensors (issue 17): kind 'sensor' pokes a boolean
# query every poke_interval until it returns true or its timeout passes.
# Between pokes it holds no worker: with dagsched.max_workers = 1 another
# DAG's tasks run and finish while a sensor waits, and no backend runs the
# sensor's query meanwhile.  A poke is not an attempt; a poke's error fails
# it like any SQL error (retries apply); cancel() and the run's deadline
# work on a waiting sensor.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $node = DagschedTest->node('sensors', max_workers => 1);

sub sql { return $node->safe_psql('postgres', $_[0]); }

my $REC =
  q{INSERT INTO ran VALUES (current_setting('dagsched.run_id')::bigint, current_setting('dagsched.task_name'), clock_timestamp())};
my $SENSE = q{SELECT EXISTS (SELECT FROM loads WHERE day = current_date)};
sql(q{CREATE TABLE ran (run_id bigint, task text, at timestamptz)});
sql(q{CREATE TABLE loads (day date)});

# ---- a sensor released by an INSERT while another DAG uses the only worker

sql(qq{
	INSERT INTO dagsched.dag (dag_name) VALUES ('waiter');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, poke_interval, timeout)
	VALUES ('waiter', 's', 'sensor', \$\$$SENSE\$\$, '0.5 s', '5 min');
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
	VALUES ('waiter', 'after', \$\$$REC\$\$, '{s}');
	INSERT INTO dagsched.dag (dag_name) VALUES ('busy');
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	  ('busy', 'b1', \$\$SELECT pg_sleep(0.3); $REC\$\$, '{}'),
	  ('busy', 'b2', \$\$SELECT pg_sleep(0.3); $REC\$\$, '{b1}'),
	  ('busy', 'b3', \$\$SELECT pg_sleep(0.3); $REC\$\$, '{b2}');
});

my $rw = DagschedTest::trigger($node, 'waiter');
ok( DagschedTest::poll_within(
		$node,
		qq{SELECT state = 'sensing' FROM dagsched.task_run WHERE run_id = $rw AND task_name = 's'},
		60),
	'the sensor waits in state sensing after a false poke');
is( sql(qq{SELECT pid IS NULL AND next_poke_at > last_poke_at AND pokes >= 1
		   FROM dagsched.task_run WHERE run_id = $rw AND task_name = 's'}),
	't', 'a waiting sensor holds no worker (pid NULL), its next poke is due later');

# Between two looks at the row that find it sensing with the same poke
# count, nothing ran its query: pg_stat_activity, read in between, shows no
# backend running it.  (A poke's claim commits before its query starts.)
my $quiet = 0;
my $looks = 0;
my $deadline = time() + 60;
while (!$quiet && time() < $deadline)
{
	my ($before, $active, $after) = split /\n/, sql(qq{
		SELECT state || ':' || pokes FROM dagsched.task_run WHERE run_id = $rw AND task_name = 's';
		SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = \$\$$SENSE\$\$;
		SELECT state || ':' || pokes FROM dagsched.task_run WHERE run_id = $rw AND task_name = 's';});
	$looks++;
	next unless $before eq $after && $before =~ /^sensing:/;
	is($active, '0', "between pokes no backend runs the sensor's query ($before)");
	$quiet = 1;
}
ok($quiet, "found the sensor between two pokes ($looks looks)");

my $rb = DagschedTest::trigger($node, 'busy');
is(DagschedTest::wait_run($node, $rb), 'success',
	"the other DAG's tasks run on the only worker while the sensor waits");
is( sql(qq{SELECT state IN ('sensing', 'queued', 'running') FROM dagsched.task_run
		   WHERE run_id = $rw AND task_name = 's'}),
	't', 'the sensor is still waiting');

# release it no earlier than 2 s after its first poke
ok( DagschedTest::poll_within(
		$node,
		qq{SELECT clock_timestamp() - started_at >= interval '2 s' AND pokes >= 2
		   FROM dagsched.task_run WHERE run_id = $rw AND task_name = 's'},
		60),
	'the sensor keeps poking (2 s, 2 pokes at least)');
sql(q{INSERT INTO loads VALUES (current_date)});
is(DagschedTest::wait_run($node, $rw), 'success', 'the INSERT releases the sensor');

is( sql(qq{SELECT max(at) < (SELECT finished_at FROM dagsched.task_run
							  WHERE run_id = $rw AND task_name = 's')
		   FROM ran WHERE run_id = $rb}),
	't', "the other DAG's tasks finished before the sensor succeeded");
is(sql(qq{SELECT count(*) FROM ran WHERE run_id = $rb}), '3', 'all three of them');
is( sql(qq{SELECT (SELECT at FROM ran WHERE run_id = $rw AND task = 'after') >= finished_at
		   FROM dagsched.task_run WHERE run_id = $rw AND task_name = 's'}),
	't', 'the downstream task ran after the sensor');
my ($pokes, $attempts, $output, $timed) = split /\|/, sql(qq{
	SELECT pokes, attempts, output,
	       last_poke_at BETWEEN started_at AND finished_at AND next_poke_at IS NULL
	  FROM dagsched.task_run WHERE run_id = $rw AND task_name = 's'});
cmp_ok($pokes, '>=', 3, "the sensor was poked $pokes times");
is($attempts, '1', 'pokes are not attempts: attempts = 1');
is($output, "sensor: true at poke $pokes", 'its output names the poke that found it true');
is($timed, 't', 'task_run shows the last poke time');
is( sql(qq{SELECT count(*) || ':' || max(attempt) || ':' || max(state)
		   FROM dagsched.task_attempt WHERE run_id = $rw AND task_name = 's'}),
	'1:1:success', 'one task_attempt row: the final outcome');

# ---- a sensor timing out ---------------------------------------------------

sql(q{
	INSERT INTO dagsched.dag (dag_name) VALUES ('never');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, poke_interval, timeout)
	VALUES ('never', 's', 'sensor', 'SELECT false', '0.2 s', '1.5 s');
});
my $rn = DagschedTest::trigger($node, 'never');
is(DagschedTest::wait_run($node, $rn), 'failed', 'a sensor that stays false fails');
my ($state, $error, $n, $att, $span) = split /\|/, sql(qq{
	SELECT state, error, pokes, attempts, finished_at - started_at >= interval '1.5 s'
	  FROM dagsched.task_run WHERE run_id = $rn AND task_name = 's'});
is($state, 'failed', 'its state is failed');
like($error, qr/sensor timed out after 00:00:01\.5/, 'its error says: sensor timed out after 1.5 s');
cmp_ok($n, '>=', 2, "it was poked $n times");
is($att, '1', 'one attempt');
is($span, 't', 'not before its timeout');
is( sql(qq{SELECT count(*) || ':' || max(state) FROM dagsched.task_attempt
		   WHERE run_id = $rn AND task_name = 's'}),
	'1:failed', 'one task_attempt row, failed');

# ---- a poke's error fails it like any SQL error; retries apply ------------

sql(q{
	INSERT INTO dagsched.dag (dag_name) VALUES ('broken');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, retries, retry_delay)
	VALUES ('broken', 's', 'sensor', 'SELECT 1 / 0 = 1', 1, '0.1 s');
});
my $rx = DagschedTest::trigger($node, 'broken');
is(DagschedTest::wait_run($node, $rx), 'failed', "a poke's error fails the sensor");
is( sql(qq{SELECT attempts || ':' || (error LIKE '22012: division by zero%')
		   FROM dagsched.task_run WHERE run_id = $rx AND task_name = 's'}),
	'2:true', 'after its retry, with the error of the query');

# ---- cancel() of a waiting sensor ------------------------------------------

sql(q{
	INSERT INTO dagsched.dag (dag_name) VALUES ('cancelme');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, poke_interval)
	VALUES ('cancelme', 's', 'sensor', 'SELECT NULL::boolean', '1 hour');
});
my $rc = DagschedTest::trigger($node, 'cancelme');
ok( DagschedTest::poll_within(
		$node,
		qq{SELECT state = 'sensing' FROM dagsched.task_run WHERE run_id = $rc AND task_name = 's'},
		60),
	'a sensor whose query returns NULL waits');
sql(qq{SELECT dagsched.cancel($rc)});
is(DagschedTest::wait_run($node, $rc), 'cancelled', 'cancel() ends its run');
is( sql(qq{SELECT state || ':' || (next_poke_at IS NULL) || ':' || attempts
		   FROM dagsched.task_run WHERE run_id = $rc AND task_name = 's'}),
	'cancelled:true:0', 'the waiting sensor is cancelled, no poke due, no attempt');

# ---- a worker lost in the middle of a poke: the sensor is poked again ------
#
# The poke's transaction rolled back with the worker; it was no attempt, so
# the sensor goes on sensing (no failed attempt, retries 0 notwithstanding)
# and succeeds when its condition holds.

sql(q{CREATE TABLE slow_poke (x int); INSERT INTO slow_poke VALUES (1)});
sql(q{CREATE TABLE released (x int)});
sql(q{
	INSERT INTO dagsched.dag (dag_name) VALUES ('lost');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, poke_interval, timeout, retries)
	VALUES ('lost', 's', 'sensor',
	  $$SELECT CASE WHEN EXISTS (SELECT FROM slow_poke) THEN pg_sleep(300) IS NULL
	               ELSE EXISTS (SELECT FROM released) END$$,
	  '0.2 s', '10 min', 0);
});
my $rlost = DagschedTest::trigger($node, 'lost');
ok( DagschedTest::poll_within(
		$node,
		q{SELECT count(*) = 1 FROM pg_stat_activity
		  WHERE backend_type = 'dagsched worker' AND wait_event = 'PgSleep'},
		60),
	'a poke is in progress (sleeping)');
my $wpid = sql(q{SELECT pid FROM pg_stat_activity
	WHERE backend_type = 'dagsched worker' AND wait_event = 'PgSleep'});
sql(q{DELETE FROM slow_poke});
is(sql("SELECT pg_terminate_backend($wpid)"), 't', "the poking worker $wpid is terminated");
ok( DagschedTest::poll_within(
		$node,
		qq{SELECT pokes >= 2 FROM dagsched.task_run WHERE run_id = $rlost AND task_name = 's'},
		60),
	'the sensor is poked again after the lost poke');
is( sql(qq{SELECT state FROM dagsched.task_run WHERE run_id = $rlost AND task_name = 's'}),
	'sensing', 'and goes on sensing, not failed');
sql(q{INSERT INTO released VALUES (1)});
is(DagschedTest::wait_run($node, $rlost), 'success', 'then succeeds once its condition holds');
is( sql(qq{SELECT attempts || ':' || (SELECT string_agg(state, ',') FROM dagsched.task_attempt a
			 WHERE a.run_id = t.run_id AND a.task_name = t.task_name)
		   FROM dagsched.task_run t WHERE run_id = $rlost AND task_name = 's'}),
	'1:success', 'with one attempt, its success: the lost poke was no attempt');

# ---- the run's deadline is flagged while its sensor waits ------------------

sql(q{
	INSERT INTO dagsched.dag (dag_name, deadline) VALUES ('late', '1 s');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, poke_interval)
	VALUES ('late', 's', 'sensor', 'SELECT false', '0.3 s');
});
my $rl = DagschedTest::trigger($node, 'late');
ok( DagschedTest::poll_within(
		$node,
		qq{SELECT missed_deadline FROM dagsched.dag_run WHERE run_id = $rl}, 60),
	'a run whose sensor waits is flagged missed_deadline');
is( sql(qq{SELECT r.state || ':' || t.state IN ('running:sensing', 'running:queued', 'running:running')
		   FROM dagsched.dag_run r JOIN dagsched.task_run t USING (run_id) WHERE run_id = $rl}),
	't', 'while the sensor goes on waiting');
sql(qq{SELECT dagsched.cancel($rl)});
is(DagschedTest::wait_run($node, $rl), 'cancelled', 'and cancel() stops it');

# ---- retry() of a run starts the sensor's wait afresh ----------------------

sql(q{UPDATE dagsched.task SET timeout = '1 min', poke_interval = '0.2 s' WHERE dag_name = 'never'});
sql(q{UPDATE dagsched.task SET command = 'SELECT true' WHERE dag_name = 'never'});
sql(qq{SELECT dagsched.retry($rn)});
is(DagschedTest::wait_run($node, $rn), 'success', 'retry() of the timed-out sensor, now true, succeeds');
is( sql(qq{SELECT pokes || ':' || attempts || ':' || (error IS NULL)
		   FROM dagsched.task_run WHERE run_id = $rn AND task_name = 's'}),
	'1:2:true', 'poked once more, as its second attempt');

done_testing();
