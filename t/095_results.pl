# t/095_results.pl -- task results (issue 16): set_result() from SQL tasks
# and $DAGSCHED_RESULT_FILE from shell tasks, read downstream by result()
# and $DAGSCHED_RESULTS_FILE; the last call wins, a rolled-back
# subtransaction's call does not; results commit with the task (a failed
# attempt's result is gone); size limit and invalid JSON fail the task;
# retry() keeps the results of what it does not re-run; outside a task the
# functions fail, and dagsched.run_id set by hand reads no other run (two
# roles, row-level security).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $node = DagschedTest->node('results');

sub sql { DagschedTest::sql($node, @_) }
sub field { DagschedTest::task_field($node, @_) }

sub run_dag
{
	my ($dag) = @_;
	my $run = DagschedTest::trigger($node, $dag);
	return ($run, DagschedTest::wait_run($node, $run, '90 s'));
}

# ------------------------------------------------ SQL and shell, both ways
sql(q{
	CREATE TABLE seen (task text, a jsonb, b jsonb, none jsonb);
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('flow');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, depends_on) VALUES
	  ('flow', 'sql_a', 'sql',
	   $$SELECT dagsched.set_result('{"n": 1}');
	     SELECT dagsched.set_result(jsonb_build_object('rows', 42, 'quote', 'it''s'))$$,
	   '{}'),
	  ('flow', 'quiet', 'sql', 'SELECT 1', '{}'),
	  ('flow', 'sh_b', 'shell',
	   'printf ''{"from": "shell", "up": %s}'' "$(cat "$DAGSCHED_RESULTS_FILE")" > "$DAGSCHED_RESULT_FILE"',
	   '{sql_a}'),
	  ('flow', 'sql_c', 'sql',
	   $$INSERT INTO seen SELECT 'sql_c', dagsched.result('sql_a'),
	       dagsched.result('sh_b'), dagsched.result('quiet')$$,
	   '{sh_b,quiet}'),
	  ('flow', 'sh_d', 'shell', 'cat "$DAGSCHED_RESULTS_FILE"', '{sh_b,sql_a,quiet}'),
	  ('flow', 'subxact', 'sql',
	   $$DO $do$ BEGIN
	       PERFORM dagsched.set_result('"kept"');
	       BEGIN
	         PERFORM dagsched.set_result('"rolled back"');
	         RAISE EXCEPTION 'undo';
	       EXCEPTION WHEN raise_exception THEN NULL;
	       END;
	     END $do$ $$, '{}'),
	  ('flow', 'cleared', 'sql',
	   $$SELECT dagsched.set_result('1'); SELECT dagsched.set_result(NULL)$$, '{}');
	COMMIT;
});
my ($run, $state) = run_dag('flow');
is($state, 'success', 'the results DAG succeeds');
is(field($run, 'sql_a', 'result'), '{"rows": 42, "quote": "it\'s"}',
	'a SQL task result: the last set_result() wins');
is(sql("SELECT result FROM dagsched.task_attempt WHERE run_id = $run AND task_name = 'sql_a'"),
	'{"rows": 42, "quote": "it\'s"}', 'the attempt records the result too');
is(field($run, 'quiet', 'result'), '', 'a task that set none has NULL');
is(field($run, 'sh_b', 'result'),
	'{"up": {"sql_a": {"rows": 42, "quote": "it\'s"}}, "from": "shell"}',
	'a shell task read its upstream result from $DAGSCHED_RESULTS_FILE and wrote its own');
is(sql("SELECT a->>'rows', b->>'from', b #>> '{up,sql_a,quote}', none IS NULL FROM seen WHERE task = 'sql_c'"),
	"42|shell|it's|t", 'SQL downstream reads a SQL and a shell result; NULL for none');
is(sql("SELECT (output::jsonb) = jsonb_build_object('sql_a', '{\"rows\": 42, \"quote\": \"it''s\"}'::jsonb, "
	  . "'sh_b', (SELECT result FROM dagsched.task_run WHERE run_id = $run AND task_name = 'sh_b'), 'quiet', NULL) "
	  . "FROM dagsched.task_run WHERE run_id = $run AND task_name = 'sh_d'"),
	't', 'shell downstream gets a JSON object of its upstream results (null for none)');
is(field($run, 'subxact', 'result'), '"kept"',
	'a set_result() in a rolled-back subtransaction is undone');
is(field($run, 'cleared', 'result'), '', 'set_result(NULL) clears the result');

# ------------------------------------------------ failures
sql(q{
	CREATE SEQUENCE tries;
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('bad');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, retries, retry_delay) VALUES
	  ('bad', 'unknown', 'sql', $$SELECT dagsched.result('nope')$$, 0, '1 s'),
	  ('bad', 'huge', 'sql', $$SELECT dagsched.set_result(to_jsonb(repeat('x', 2000000)))$$, 0, '1 s'),
	  ('bad', 'sh_huge', 'shell',
	   'head -c 1500000 /dev/zero | tr ''\0'' 1 > "$DAGSCHED_RESULT_FILE"', 0, '1 s'),
	  ('bad', 'sh_invalid', 'shell', 'echo ''[1, '' > "$DAGSCHED_RESULT_FILE"', 0, '1 s'),
	  ('bad', 'once', 'sql',
	   $$SELECT dagsched.set_result(to_jsonb(nextval('tries')));
	     SELECT 1 / (currval('tries') - 1)$$, 1, '1 s');
	COMMIT;
});
($run, $state) = run_dag('bad');
is($state, 'failed', 'the DAG of failing result tasks fails');
like(field($run, 'unknown', 'error'), qr/task "nope" is not in run $run/,
	'result() of a task not in the run names it');
like(field($run, 'huge', 'error'), qr/54000: task result of \d+ bytes exceeds dagsched.max_result_size \(1048576 bytes\)/,
	'a SQL result above dagsched.max_result_size fails the task');
like(field($run, 'sh_huge', 'error'), qr/result in \$DAGSCHED_RESULT_FILE of 1500000 bytes exceeds dagsched.max_result_size/,
	'a shell result above dagsched.max_result_size fails the task');
like(field($run, 'sh_invalid', 'error'),
	qr/22P02: invalid result in \$DAGSCHED_RESULT_FILE: invalid input syntax for type json/,
	'invalid JSON from a shell task fails it, naming the problem');
is(field($run, 'once', 'state') . ' ' . field($run, 'once', 'result'), 'success 2',
	'the result of a failed attempt is rolled back with it');
is(sql("SELECT string_agg(attempt || ':' || state || ':' || coalesce(result::text, 'null'), ',' ORDER BY attempt) "
	  . "FROM dagsched.task_attempt WHERE run_id = $run AND task_name = 'once'"),
	'1:failed:null,2:success:2', 'per attempt: the failed one has none, the successful one its own');

# ------------------------------------------------ retry keeps results
sql(q{
	CREATE TABLE gate (open boolean);
	INSERT INTO gate VALUES (false);
	CREATE TABLE got (v jsonb);
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('again');
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	  ('again', 'first', $$SELECT dagsched.set_result(to_jsonb(nextval('tries')))$$, '{}'),
	  ('again', 'flaky', $$SELECT 1 / open::int FROM gate$$, '{first}'),
	  ('again', 'last', $$INSERT INTO got SELECT dagsched.result('first')$$, '{flaky}');
	COMMIT;
});
($run, $state) = run_dag('again');
is($state, 'failed', 'the run fails at the closed gate');
my $first = field($run, 'first', 'result');
sql('UPDATE gate SET open = true');
is(sql("SELECT dagsched.retry($run)"), '2', 'retry() re-runs the failed task and its downstream');
is(DagschedTest::wait_run($node, $run, '90 s'), 'success', 'the retried run succeeds');
is(field($run, 'first', 'result'), $first, 'retry() keeps the result of a task it did not re-run');
is(sql('SELECT v::text FROM got'), $first, 'the re-run downstream read the kept result');

# ------------------------------------------------ only inside a task; two roles
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT dagsched.set_result('1')});
like($err, qr/dagsched.set_result\(\) can only be called by a task dagsched is running/,
	'set_result() outside a task fails');
($ret, $out, $err) = $node->psql('postgres',
	"SET dagsched.run_id = '$run'; SELECT dagsched.result('first')");
like($err, qr/dagsched.result\(\) can only be called by a task dagsched is running/,
	'result() with dagsched.run_id set by hand fails');

sql(q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
	CREATE TABLE bob_saw (what text, v text);
	GRANT INSERT ON bob_saw TO bob;
	SET ROLE alice;
	INSERT INTO dagsched.dag (dag_name) VALUES ('alice_dag');
	INSERT INTO dagsched.task (dag_name, task_name, command)
	  VALUES ('alice_dag', 'secret', $$SELECT dagsched.set_result('"alice only"')$$);
	RESET ROLE;
});
my $arun = sql("SET ROLE alice; SELECT dagsched.trigger('alice_dag')");
is(DagschedTest::wait_run($node, $arun), 'success', "alice's run succeeds");
is(field($arun, 'secret', 'result'), '"alice only"', "alice's task set its result");

sql(qq{
	SET ROLE bob;
	INSERT INTO dagsched.dag (dag_name) VALUES ('bob_dag');
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	  ('bob_dag', 'steal', \$\$SET dagsched.run_id = '$arun';
	      INSERT INTO bob_saw SELECT 'result', dagsched.result('secret')::text\$\$),
	  ('bob_dag', 'peek', \$\$INSERT INTO bob_saw SELECT 'rows', count(*)::text
	      FROM dagsched.task_run WHERE run_id = $arun\$\$),
	  ('bob_dag', 'write', \$\$SET dagsched.run_id = '$arun';
	      SET dagsched.task_name = 'secret';
	      SELECT dagsched.set_result('"bob was here"')\$\$);
	RESET ROLE;
});
my $brun = sql("SET ROLE bob; SELECT dagsched.trigger('bob_dag')");
is(DagschedTest::wait_run($node, $brun), 'failed', "bob's run fails at 'steal'");
like(field($brun, 'steal', 'error'), qr/task "secret" is not in run $brun/,
	"bob's task setting dagsched.run_id to alice's run still reads only its own run");
is(sql("SELECT v FROM bob_saw WHERE what = 'rows'"), '0',
	"row-level security hides alice's task_run rows from bob's task");
is(field($brun, 'write', 'result'), '"bob was here"', "bob's set_result() lands on bob's own task");
is(field($arun, 'secret', 'result'), '"alice only"', "alice's result is untouched");
is(sql("SELECT count(*) FROM bob_saw WHERE what = 'result'"), '0', 'nothing of alice was read');
is(sql("SET ROLE bob; SELECT count(*) FROM dagsched.task_run WHERE run_id = $arun"), '0',
	"bob's session sees none of alice's results");
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE bob; SET dagsched.run_id = '$arun'; SELECT dagsched.set_result('1')");
like($err, qr/can only be called by a task dagsched is running/,
	"bob's session with dagsched.run_id set by hand cannot write a result");

done_testing();
