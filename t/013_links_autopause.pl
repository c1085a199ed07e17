# t/013_links_autopause.pl -- DAG-to-DAG triggers (upstream_dags), a task
# in another database of the cluster, auto-pause after consecutive
# failures, and a run triggered from a table trigger (committed: a run;
# rolled back: none).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $node = DagschedTest->node('links');

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub wait_run
{
	my ($run) = @_;
	return sql("SELECT dagsched.wait($run, '60 s')");
}

# ---------------------------------------------------------------- DAG-to-DAG
# inserted downstream first: the links are checked at commit
sql(q{
BEGIN;
INSERT INTO dagsched.dag (dag_name, upstream_dags) VALUES ('down', '{up}');
INSERT INTO dagsched.dag (dag_name) VALUES ('up');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
  ('up', 'u', 'SELECT 1'),
  ('down', 'd', $$CREATE TABLE IF NOT EXISTS seen (params jsonb);
                 INSERT INTO seen VALUES (current_setting('dagsched.params')::jsonb)$$);
COMMIT;
});

my $up = sql("SELECT dagsched.trigger('up')");
is(wait_run($up), 'success', 'upstream run succeeds');
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM dagsched.dag_run WHERE dag_name = 'down' AND state = 'success'"),
	'a successful upstream run starts one downstream run');
is( sql("SELECT trigger FROM dagsched.dag_run WHERE dag_name = 'down'"),
	'upstream', "the downstream run's trigger is 'upstream'");
is( sql(
		"SELECT d.logical_time = u.logical_time FROM dagsched.dag_run d, dagsched.dag_run u "
		  . "WHERE d.dag_name = 'down' AND u.run_id = $up"),
	't', 'the downstream run stands for the same logical time');
is(sql("SELECT params->>'upstream_run_id' FROM seen"),
	$up, 'the task sees the upstream run id in its params');
is(sql("SELECT params->>'upstream_dag' FROM seen"),
	'up', 'the task sees the upstream DAG in its params');

# a failed upstream run starts nothing
sql("UPDATE dagsched.task SET command = 'SELECT 1/0' WHERE dag_name = 'up'");
my $up2 = sql("SELECT dagsched.trigger('up')");
is(wait_run($up2), 'failed', 'upstream run fails');
is(sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'down'"),
	'1', 'a failed upstream run starts no downstream run');

# cycles between DAGs are refused at commit, and nothing changes
my ($ret, $out, $err) = $node->psql('postgres',
	"UPDATE dagsched.dag SET upstream_dags = '{down}' WHERE dag_name = 'up'");
isnt($ret, 0, 'a cycle between DAGs is refused');
like($err, qr/cycle/, 'the error says cycle');
like($err, qr/up -> down -> up|down -> up -> down/, 'the error shows the cycle as a path');
is(sql("SELECT upstream_dags FROM dagsched.dag WHERE dag_name = 'up'"),
	'{}', 'the refused change left the DAG as it was');
($ret, $out, $err) = $node->psql('postgres',
	"INSERT INTO dagsched.dag (dag_name, upstream_dags) VALUES ('x', '{nope}')");
like($err, qr/runs after unknown DAG "nope"/, 'an unknown upstream DAG is named');

# ---------------------------------------------------------------- other database
sql('CREATE DATABASE other');
$node->safe_psql('other', 'CREATE TABLE o (who text, sess text, run bigint)');
sql(q{
INSERT INTO dagsched.dag (dag_name) VALUES ('odb');
INSERT INTO dagsched.task (dag_name, task_name, command, database, depends_on) VALUES
  ('odb', 'a', $$INSERT INTO o VALUES (current_user, session_user,
                 current_setting('dagsched.run_id')::bigint)$$, 'other', '{}'),
  ('odb', 'b', 'SELECT 1/0', 'other', '{a}');
});
my $orun = sql("SELECT dagsched.trigger('odb')");
is(wait_run($orun), 'failed', 'run with tasks in another database ends');
is( sql("SELECT state FROM dagsched.task_run WHERE run_id = $orun AND task_name = 'a'"),
	'success', 'task in another database succeeds');
is($node->safe_psql('other', "SELECT count(*) FROM o WHERE run = $orun"),
	'1', 'its effect landed in the other database');
like(sql("SELECT error FROM dagsched.task_run WHERE run_id = $orun AND task_name = 'b'"),
	qr/^22012: division by zero/, "a failure there is recorded with its SQLSTATE");

# ---------------------------------------------------------------- auto-pause
sql(q{
INSERT INTO dagsched.dag (dag_name, max_consecutive_failures, max_active_runs)
VALUES ('flaky', 2, 5);
INSERT INTO dagsched.task (dag_name, task_name, command)
VALUES ('flaky', 't', 'SELECT 1/0');
});
my $f1 = sql("SELECT dagsched.trigger('flaky')");
is(wait_run($f1), 'failed', 'first run fails');
is(sql("SELECT paused FROM dagsched.dag WHERE dag_name = 'flaky'"),
	'f', 'one failure does not pause the DAG');
my $f2 = sql("SELECT dagsched.trigger('flaky')");
is(wait_run($f2), 'failed', 'second run fails');
ok( $node->poll_query_until('postgres',
		"SELECT paused FROM dagsched.dag WHERE dag_name = 'flaky'"),
	'two consecutive failures pause the DAG');
like(sql("SELECT paused_reason FROM dagsched.dag WHERE dag_name = 'flaky'"),
	qr/2 consecutive runs failed.*run $f2/, 'paused_reason says why and names the last run');
sql("UPDATE dagsched.dag SET paused = false WHERE dag_name = 'flaky'");
is(sql("SELECT paused_reason IS NULL FROM dagsched.dag WHERE dag_name = 'flaky'"),
	't', 'unpausing clears the reason');

# a success in between resets the count
sql("UPDATE dagsched.task SET command = 'SELECT 1' WHERE dag_name = 'flaky'");
is(wait_run(sql("SELECT dagsched.trigger('flaky')")), 'success', 'a run succeeds');
sql("UPDATE dagsched.task SET command = 'SELECT 1/0' WHERE dag_name = 'flaky'");
is(wait_run(sql("SELECT dagsched.trigger('flaky')")), 'failed', 'then one fails');
is(sql("SELECT paused FROM dagsched.dag WHERE dag_name = 'flaky'"),
	'f', 'one failure after a success does not pause');

# ---------------------------------------------------------------- from data
sql(q{
CREATE TABLE batches (id int);
INSERT INTO dagsched.dag (dag_name) VALUES ('on_batch');
INSERT INTO dagsched.task (dag_name, task_name, command)
VALUES ('on_batch', 't', $$SELECT current_setting('dagsched.params')::jsonb->>'batch'$$);
CREATE FUNCTION batch_landed() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM dagsched.trigger('on_batch', jsonb_build_object('batch', NEW.id));
  RETURN NEW;
END $f$;
CREATE TRIGGER batch_landed AFTER INSERT ON batches
  FOR EACH ROW EXECUTE FUNCTION batch_landed();
});
sql('BEGIN; INSERT INTO batches VALUES (1); ROLLBACK;');
is(sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'on_batch'"),
	'0', 'a rolled-back batch creates no run');
sql('INSERT INTO batches VALUES (2)');
my $brun = sql("SELECT run_id FROM dagsched.dag_run WHERE dag_name = 'on_batch'");
is(wait_run($brun), 'success', 'a committed batch creates a run that succeeds');
is(sql("SELECT params->>'batch' FROM dagsched.dag_run WHERE run_id = $brun"),
	'2', 'the run carries the batch in its params');

# ------------------------------------------- downstream DAG, idle workers
# When an upstream run ends, every first task of the downstream DAG's new run
# starts at once on an idle worker: the tasks queued by the downstream run
# wake the idle workers (they used to be lost, and all but one of the tasks
# waited for some other wake-up -- here, for the first one to finish).
sql(q{
BEGIN;
INSERT INTO dagsched.dag (dag_name) VALUES ('warm');
INSERT INTO dagsched.task (dag_name, task_name, command)
SELECT 'warm', 'w' || i, 'SELECT pg_sleep(0.5)' FROM generate_series(1, 4) i;
INSERT INTO dagsched.dag (dag_name) VALUES ('fan_up');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('fan_up', 'u', 'SELECT 1');
INSERT INTO dagsched.dag (dag_name, upstream_dags) VALUES ('fan_down', '{fan_up}');
INSERT INTO dagsched.task (dag_name, task_name, command)
SELECT 'fan_down', 'd' || i, 'SELECT pg_sleep(3)' FROM generate_series(1, 3) i;
COMMIT;
});
is(wait_run(sql("SELECT dagsched.trigger('warm')")), 'success',
	'warm-up: four tasks ran side by side');
ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) >= 4 FROM pg_stat_activity
		WHERE backend_type = 'dagsched worker' AND wait_event = 'Extension'}),
	'at least four workers wait idle');
my $up = sql("SELECT dagsched.trigger('fan_up')");
is(wait_run($up), 'success', 'upstream run succeeds');
ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) = 1 FROM dagsched.dag_run
		WHERE dag_name = 'fan_down' AND state IN ('success', 'failed', 'cancelled')}),
	'the downstream run ends');
my $down = sql("SELECT run_id FROM dagsched.dag_run WHERE dag_name = 'fan_down'");
is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $down"), 'success',
	'the downstream run succeeds');
diag('first tasks of the downstream run started '
	  . sql("SELECT string_agg(round(extract(epoch FROM t.started_at - u.finished_at) * 1000)::text, ', ' ORDER BY t.task_name) "
		  . "FROM dagsched.task_run t, dagsched.dag_run u WHERE t.run_id = $down AND u.run_id = $up")
	  . ' ms after the upstream run ended');
is( sql("SELECT max(started_at) < min(finished_at) FROM dagsched.task_run WHERE run_id = $down"),
	't',
	'all three first tasks of the downstream run started before any of them ended (idle workers were woken)');

$node->stop;
done_testing();
