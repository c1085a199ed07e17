# t/045_mapped.pl -- mapped tasks (issue 16): a task's map_over query, run
# when the task is ready, makes one instance of the task per row.
#
# Over generate_series with 0 (skipped), 1 and 5,000 instances, and over an
# upstream task's result (a JSON array) with SQL and shell instances: the
# instances, each map_index once, map_item()/$DAGSCHED_MAP_ITEM, the
# downstream task after all of them, result() of the mapped task as the
# array of the instances' results in map_index order.  A failing instance
# fails the task (downstream upstream_failed); retry() re-runs only that
# instance.  An immediate shutdown mid-run loses no instance and runs none
# twice.  map_over returning more rows than dagsched.max_map_instances, a
# map_over error, validation of map_over, and map_item()/map_index() outside
# a task.
#
# Run it alone: PROVE_TESTS=t/045_mapped.pl SKIP_REGRESS=1 bash scripts/test.sh
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = DagschedTest->node('mapped', max_workers => 4,
	conf => "dagsched.worker_idle_timeout = 60\n");

sub sql { return DagschedTest::sql($node, @_) }

sql(q{
CREATE TABLE mlog (run_id bigint, task text, idx int, item jsonb,
				   at timestamptz DEFAULT clock_timestamp());
GRANT ALL ON mlog TO PUBLIC;
CREATE TABLE after_log (run_id bigint, seen bigint, res jsonb,
						at timestamptz DEFAULT clock_timestamp());
CREATE TABLE fixed (ok boolean);

INSERT INTO dagsched.dag (dag_name) VALUES ('series');
INSERT INTO dagsched.task (dag_name, task_name, command, map_over, depends_on) VALUES
  ('series', 'm',
   $$INSERT INTO mlog (run_id, task, idx, item)
	   VALUES (current_setting('dagsched.run_id')::bigint, 'm',
			   dagsched.map_index(), dagsched.map_item());
	 SELECT dagsched.set_result(to_jsonb((dagsched.map_item()->>'g')::int * 2))$$,
   $$SELECT g FROM generate_series(1, (current_setting('dagsched.params')::jsonb->>'n')::int) g$$,
   '{}'),
  ('series', 'after',
   $$INSERT INTO after_log (run_id, seen, res)
	 SELECT current_setting('dagsched.run_id')::bigint,
			(SELECT count(*) FROM mlog
			  WHERE run_id = current_setting('dagsched.run_id')::bigint),
			dagsched.result('m')$$,
   NULL, '{m}');
});

# a column of the mapped task's own row (map_index NULL), not its instances'
sub node_field
{
	my ($run, $task, $col) = @_;
	return sql("SELECT $col FROM dagsched.task_run WHERE run_id = $run "
		  . "AND task_name = '$task' AND map_index IS NULL");
}

# the instances of m in run $run: count, distinct map_index, min, max
sub instances
{
	my ($run, $task) = @_;
	$task //= 'm';
	return sql("SELECT count(*), count(DISTINCT map_index), min(map_index), max(map_index) "
		  . "FROM dagsched.task_run WHERE run_id = $run AND task_name = '$task' "
		  . "AND map_index IS NOT NULL");
}

# ------------------------------------------------------------ 0 instances
my $r0 = DagschedTest::trigger($node, 'series', '{"n": 0}');
is(DagschedTest::wait_run($node, $r0), 'success', 'n=0: the run succeeds');
is(node_field($r0, 'm', 'state || coalesce(map_index::text, \'\')'),
	'skipped', 'n=0: the mapped task is skipped');
is(node_field($r0, 'm', 'output'),
	'skipped: map_over returned no row', 'n=0: output says why');
is(instances($r0), '0|0||', 'n=0: no instance');
is(DagschedTest::task_field($node, $r0, 'after', 'state'),
	'skipped', 'n=0: all_success below a skipped mapped task is skipped');

# ------------------------------------------------------------ 1 instance
my $r1 = DagschedTest::trigger($node, 'series', '{"n": 1}');
is(DagschedTest::wait_run($node, $r1), 'success', 'n=1: the run succeeds');
is(instances($r1), '1|1|0|0', 'n=1: one instance, map_index 0');
is(sql("SELECT idx || ' ' || item::text FROM mlog WHERE run_id = $r1"),
	'0 {"g": 1}', 'n=1: map_index() and map_item() (the row as JSON)');
is(sql("SELECT seen || ' ' || res::text FROM after_log WHERE run_id = $r1"),
	'1 [2]', 'n=1: downstream ran after the instance; result() is a one-element array');
is(node_field($r1, 'm', 'state || \' \' || map_count'),
	'success 1', 'n=1: the mapped task succeeded with map_count 1');

# ------------------------------------------------------------ 5,000 instances
my $r5 = DagschedTest::trigger($node, 'series', '{"n": 5000}');
is(DagschedTest::wait_run($node, $r5, '600 s'), 'success', 'n=5000: the run succeeds');
is(instances($r5), '5000|5000|0|4999', 'n=5000: 5,000 instances, map_index 0..4999');
is(sql("SELECT count(*), count(DISTINCT idx) FROM mlog WHERE run_id = $r5"),
	'5000|5000', 'n=5000: each map_index ran exactly once');
is(sql("SELECT count(*) FROM mlog WHERE run_id = $r5 AND (item->>'g')::int <> idx + 1"),
	'0', 'n=5000: each instance saw its own row');
is(sql("SELECT seen, jsonb_array_length(res) FROM after_log WHERE run_id = $r5"),
	'5000|5000', 'n=5000: downstream saw all 5,000 done; result() has 5,000 elements');
is(sql("SELECT bool_and(e::int = 2 * o) FROM after_log a, "
	  . "jsonb_array_elements_text(a.res) WITH ORDINALITY AS x(e, o) WHERE a.run_id = $r5"),
	't', 'n=5000: result() is in map_index order');
is(sql("SELECT a.started_at >= max(i.finished_at) FROM dagsched.task_run a, dagsched.task_run i "
	  . "WHERE a.run_id = $r5 AND a.task_name = 'after' AND i.run_id = $r5 "
	  . "AND i.task_name = 'm' AND i.map_index IS NOT NULL GROUP BY a.started_at"),
	't', 'n=5000: downstream started after the last instance finished');
is(sql("SELECT count(*) FROM dagsched.task_attempt WHERE run_id = $r5 AND task_name = 'm'"),
	'5001', 'n=5000: one attempt per instance, one for the mapped task');
like(sql("SELECT dagsched.graph(NULL, $r5)"),
	qr/"m" \[label="m \[mapped\]\\n[^"]*\\n5000 instances: 5000 success"/,
	'graph(): the mapped task is one node labelled with its instances by state');
is(sql("SELECT count(*) FROM regexp_matches(dagsched.graph(NULL, $r5), '\"m\" \\[', 'g')"),
	'1', 'graph(): one node for the 5,000 instances');
like(sql("SELECT dagsched.gantt($r5)"), qr/^    m\[4999\] :done, /m,
	'gantt(): a bar per instance');
is(sql("SELECT runs || ' ' || successes FROM dagsched.task_stats "
	  . "WHERE dag_name = 'series' AND task_name = 'm'"),
	'2 2', 'task_stats: the mapped task counts once per run it ran in');

# ------------------------------------------------------------ over a result
sql(q{
INSERT INTO dagsched.dag (dag_name) VALUES ('over');
INSERT INTO dagsched.task (dag_name, task_name, kind, command, map_over, depends_on) VALUES
  ('over', 'list', 'sql', $$SELECT dagsched.set_result('["a", "b", "c"]')$$, NULL, '{}'),
  ('over', 'each', 'sql',
   $$INSERT INTO mlog (run_id, task, idx, item)
	   VALUES (current_setting('dagsched.run_id')::bigint, 'each',
			   dagsched.map_index(), dagsched.map_item())$$,
   $$SELECT value FROM jsonb_array_elements(dagsched.result('list'))$$, '{list}'),
  ('over', 'each_sh', 'shell',
   $$printf '{"i": %s, "item": %s}' "$DAGSCHED_MAP_INDEX" "$DAGSCHED_MAP_ITEM" > "$DAGSCHED_RESULT_FILE"$$,
   $$SELECT value FROM jsonb_array_elements(dagsched.result('list'))$$, '{list}'),
  ('over', 'join', 'sql',
   $$INSERT INTO after_log (run_id, seen, res)
	 SELECT current_setting('dagsched.run_id')::bigint, 0, dagsched.result('each_sh')$$,
   NULL, '{each,each_sh}');
});
my $ro = DagschedTest::trigger($node, 'over');
is(DagschedTest::wait_run($node, $ro), 'success', 'over a result: the run succeeds');
is(sql("SELECT string_agg(idx || '=' || (item->>'value'), ',' ORDER BY idx) "
	  . "FROM mlog WHERE run_id = $ro AND task = 'each'"),
	'0=a,1=b,2=c', 'over a result: one SQL instance per array element, in order');
is(sql("SELECT res::text FROM after_log WHERE run_id = $ro"),
	'[{"i": 0, "item": {"value": "a"}}, {"i": 1, "item": {"value": "b"}}, {"i": 2, "item": {"value": "c"}}]',
	'shell instances got $DAGSCHED_MAP_ITEM and $DAGSCHED_MAP_INDEX; result() of them in order');

# ------------------------------------------------------------ a pool of 1
# the mapped task waiting for its instances holds no slot: they run one at a time
sql(q{
INSERT INTO dagsched.pool (pool_name, slots) VALUES ('one', 1);
INSERT INTO dagsched.dag (dag_name) VALUES ('pooled');
INSERT INTO dagsched.task (dag_name, task_name, command, map_over, pool) VALUES
  ('pooled', 'm', 'SELECT pg_sleep(0.05)', 'SELECT g FROM generate_series(1, 6) g', 'one');
});
my $rp = DagschedTest::trigger($node, 'pooled');
is(DagschedTest::wait_run($node, $rp), 'success', 'pool of 1: the mapped task\'s instances all ran');
is(sql("SELECT count(*) FROM dagsched.task_run a JOIN dagsched.task_run b "
	  . "ON b.run_id = a.run_id AND b.task_name = a.task_name AND a.map_index < b.map_index "
	  . "AND a.started_at < b.finished_at AND b.started_at < a.finished_at "
	  . "WHERE a.run_id = $rp"),
	'0', 'pool of 1: no two instances overlapped');

# ------------------------------------------------------------ failure, retry
sql(q{
INSERT INTO dagsched.dag (dag_name) VALUES ('flaky');
INSERT INTO dagsched.task (dag_name, task_name, command, map_over, depends_on) VALUES
  ('flaky', 'm',
   $$INSERT INTO mlog (run_id, task, idx) VALUES
	   (current_setting('dagsched.run_id')::bigint, 'flaky', dagsched.map_index());
	 SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM fixed)
			THEN 1 / (dagsched.map_index() - 3) END;
	 SELECT dagsched.set_result(to_jsonb(dagsched.map_index()))$$,
   'SELECT g FROM generate_series(1, 5) g', '{}'),
  ('flaky', 'after', 'SELECT dagsched.set_result(dagsched.result(''m''))', NULL, '{m}');
});
my $rf = DagschedTest::trigger($node, 'flaky');
is(DagschedTest::wait_run($node, $rf), 'failed', 'a failing instance fails the run');
is(sql("SELECT string_agg(map_index || ':' || state, ',' ORDER BY map_index) "
	  . "FROM dagsched.task_run WHERE run_id = $rf AND task_name = 'm' AND map_index IS NOT NULL"),
	'0:success,1:success,2:success,3:failed,4:success', 'only instance 3 failed');
like(node_field($rf, 'm', 'state || \' \' || error'),
	qr/^failed 1 of 5 instances failed; the first, map_index 3: 22012: division by zero/,
	'the mapped task failed, its error names the failed instance');
is(DagschedTest::task_field($node, $rf, 'after', 'state'),
	'upstream_failed', 'all_success below it: upstream_failed');
sql("INSERT INTO fixed VALUES (true)");
my $reset = sql("SELECT dagsched.retry($rf)");
is(DagschedTest::wait_run($node, $rf), 'success', 'after retry() the run succeeds');
is($reset, '3', 'retry() reset the mapped task, its failed instance and the task below');
is(sql("SELECT string_agg(idx::text, ',' ORDER BY idx) FROM mlog WHERE run_id = $rf"),
	'0,1,2,3,4', 'each instance\'s effects landed once: only instance 3 ran again');
is(sql("SELECT string_agg(map_index || ':' || attempt || ':' || state, ',' ORDER BY map_index, attempt) "
	  . "FROM dagsched.task_attempt WHERE run_id = $rf AND task_name = 'm' AND map_index IS NOT NULL"),
	'0:1:success,1:1:success,2:1:success,3:1:failed,3:2:success,4:1:success',
	'attempts: instance 3 twice, the others once');
is(DagschedTest::task_field($node, $rf, 'after', 'result::text'),
	'[0, 1, 2, 3, 4]', 'the downstream read the whole array, kept results included');

# ------------------------------------------------------------ restart mid-run
sql(q{
INSERT INTO dagsched.dag (dag_name) VALUES ('long');
INSERT INTO dagsched.task (dag_name, task_name, command, map_over, retries, retry_delay) VALUES
  ('long', 'm',
   $$INSERT INTO mlog (run_id, task, idx) VALUES
	   (current_setting('dagsched.run_id')::bigint, 'long', dagsched.map_index());
	 SELECT pg_sleep(0.3)$$,
   'SELECT g FROM generate_series(1, 40) g', 5, '1 second');
});
my $rl = DagschedTest::trigger($node, 'long');
ok( DagschedTest::poll_within($node,
		"SELECT count(*) >= 4 FROM mlog WHERE run_id = $rl", 120),
	'restart: some instances done');
ok( DagschedTest::poll_within($node,
		"SELECT count(*) > 0 FROM dagsched.task_run WHERE run_id = $rl "
		  . "AND map_index IS NOT NULL AND state = 'running'", 60),
	'restart: instances are running');
$node->stop('immediate');
$node->start;
is(DagschedTest::wait_run($node, $rl, '300 s'), 'success', 'restart: the run succeeds after the restart');
is(sql("SELECT count(*), count(DISTINCT idx), min(idx), max(idx) FROM mlog WHERE run_id = $rl"),
	'40|40|0|39', 'restart: every instance ran exactly once (none lost, none twice)');
ok(sql("SELECT count(*) FROM dagsched.task_attempt WHERE run_id = $rl AND task_name = 'm' "
	  . "AND map_index IS NOT NULL AND error LIKE '%server restarted%'") > 0,
	'restart: the interrupted instances were recorded as failed attempts and retried');

# ------------------------------------------------------------ limits, errors
sql(q{
INSERT INTO dagsched.dag (dag_name) VALUES ('huge');
INSERT INTO dagsched.task (dag_name, task_name, command, map_over) VALUES
  ('huge', 'm', 'SELECT 1', 'SELECT g FROM generate_series(1, 10001) g');
INSERT INTO dagsched.dag (dag_name) VALUES ('broken');
INSERT INTO dagsched.task (dag_name, task_name, command, map_over) VALUES
  ('broken', 'm', 'SELECT 1', 'SELECT 1 / 0 AS x');
});
my $rh = DagschedTest::trigger($node, 'huge');
is(DagschedTest::wait_run($node, $rh), 'failed', 'too many rows: the run fails');
like(node_field($rh, 'm', 'error'),
	qr/^54000: map_over of task "m" returned 10001 rows, more than dagsched.max_map_instances \(10000\)/,
	'too many rows: the error names the count and the limit');
is(instances($rh), '0|0||', 'too many rows: no instance made');
my $rb = DagschedTest::trigger($node, 'broken');
is(DagschedTest::wait_run($node, $rb), 'failed', 'map_over error: the run fails');
like(node_field($rb, 'm', 'error'),
	qr/^22012: division by zero/, 'map_over error: the task fails with it');

# ------------------------------------------------------------ validation
my ($ret, $out, $err) = $node->psql('postgres',
	"INSERT INTO dagsched.task (dag_name, task_name, command, map_over) "
	  . "VALUES ('huge', 'v1', 'SELECT 1', 'SELEC g FROM x')");
like($err, qr/syntax error at or near "SELEC"/, 'validation: the parser\'s message');
($ret, $out, $err) = $node->psql('postgres',
	"INSERT INTO dagsched.task (dag_name, task_name, command, map_over) "
	  . "VALUES ('huge', 'v2', 'SELECT 1', 'SELECT 1; SELECT 2')");
like($err, qr/map_over of task "v2" of DAG "huge" must be a single query/,
	'validation: two statements refused');
($ret, $out, $err) = $node->psql('postgres',
	"INSERT INTO dagsched.task (dag_name, task_name, command, map_over) "
	  . "VALUES ('huge', 'v3', 'SELECT 1', 'DELETE FROM mlog RETURNING idx')");
like($err, qr/must be a single query/, 'validation: a DELETE refused');
($ret, $out, $err) = $node->psql('postgres',
	"UPDATE dagsched.task SET map_over = 'SELECT (' WHERE dag_name = 'huge'");
like($err, qr/syntax error at end of input/, 'validation at UPDATE');
is(sql("SELECT count(*) FROM dagsched.task WHERE task_name LIKE 'v_' "
	  . "OR map_over = 'SELECT ('"), '0', 'validation: nothing refused was stored');

# ------------------------------------------------------------ outside a task
($ret, $out, $err) = $node->psql('postgres',
	"SET dagsched.run_id = '$r5'; SELECT dagsched.map_item()");
like($err, qr/dagsched.map_item\(\) can only be called by a task dagsched is running/,
	'map_item() outside a task fails, even with dagsched.run_id set');
($ret, $out, $err) = $node->psql('postgres', "SELECT dagsched.map_index()");
like($err, qr/dagsched.map_index\(\) can only be called by a task/,
	'map_index() outside a task fails');

done_testing();
