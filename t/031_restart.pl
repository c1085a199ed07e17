# t/031_restart.pl -- the schedule across a stopped server (catchup on and
# off), a scheduler killed with SIGTERM (restarted alone) and SIGKILL (crash
# restart of every process), and an immediate shutdown in the middle of a
# 50-task run: the run resumes, interrupted tasks are retried, and every
# SQL task's effects land exactly once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;
use Time::HiRes qw(sleep);

my $node = DagschedTest->node('restart',
	max_workers => 8,
	conf => "restart_after_crash = on\n");

sub sql { return $node->safe_psql('postgres', $_[0]); }

# poll a query until it returns $expected; tolerates connection failures
# (crash restarts)
sub poll
{
	my ($query, $expected, $secs) = @_;
	return DagschedTest::poll_through_restarts($node, $query, $expected,
		$secs || 30);
}

sub scheduler_pid
{
	return sql("SELECT coalesce(string_agg(pid::text, ','), '') FROM pg_stat_activity "
		  . "WHERE backend_type = 'dagsched scheduler'");
}

my $no_dup_ticks = q{
	SELECT count(*) FROM (
	  SELECT dag_name, logical_time FROM dagsched.dag_run
	  WHERE trigger <> 'manual'
	  GROUP BY dag_name, logical_time HAVING count(*) > 1) d};

sub gaps
{
	my ($dag) = @_;
	return sql(qq{
		SELECT coalesce(string_agg(prev || ' -> ' || logical_time, '; '), '')
		FROM (SELECT logical_time,
		             lag(logical_time) OVER (ORDER BY logical_time) AS prev
		      FROM dagsched.dag_run WHERE dag_name = '$dag') s
		WHERE prev IS NOT NULL AND logical_time - prev <> interval '1 second'});
}

# ---------------------------------------------------------------------
# catchup across a stopped server
# ---------------------------------------------------------------------
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule, catchup, max_active_runs) VALUES
	  ('a', '* * * * * *', false, 100),
	  ('b', '* * * * * *', true, 100);
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	  ('a', 'one', 'SELECT 1'),
	  ('b', 'one', 'SELECT 1');
	COMMIT;
});
ok(poll("SELECT count(DISTINCT dag_name) = 2 AND min(n) >= 3 FROM "
	  . "(SELECT dag_name, count(*) n FROM dagsched.dag_run GROUP BY dag_name) s", 't', 15),
	'both DAGs ran a few ticks');

$node->stop;
# real downtime: the point of the test
sleep(5);
$node->start;
my $started = sql("SELECT pg_postmaster_start_time()");
# the last ticks run before the stop
my $a_last = sql("SELECT max(logical_time) FROM dagsched.dag_run WHERE dag_name = 'a' "
	  . "AND created_at < '$started'");
my $b_last = sql("SELECT max(logical_time) FROM dagsched.dag_run WHERE dag_name = 'b' "
	  . "AND created_at < '$started'");
note("last ticks before the stop: a=$a_last b=$b_last; restarted at $started");

ok(poll("SELECT count(*) >= 2 FROM dagsched.dag_run WHERE dag_name = 'a' "
	  . "AND logical_time > '$a_last'", 't', 15),
	'a: runs resume after the restart');
ok(poll("SELECT count(*) >= 2 FROM dagsched.dag_run WHERE dag_name = 'b' "
	  . "AND logical_time > '$started'", 't', 15),
	'b: runs resume after the restart');

my ($a_first, $a_first_trigger, $a_gap) = split /\|/, sql(qq{
	SELECT logical_time, trigger, extract(epoch FROM logical_time - '$a_last'::timestamptz)
	FROM dagsched.dag_run WHERE dag_name = 'a' AND logical_time > '$a_last'
	ORDER BY logical_time LIMIT 1});
note("a: last tick before stop $a_last, first after restart $a_first (gap $a_gap s), "
	  . "postmaster started $started");
cmp_ok($a_gap, '>=', 5,
	'a (catchup=false): no run for the ticks missed during the downtime');
is(sql("SELECT '$a_first'::timestamptz > '$started'::timestamptz - interval '1 s' "
	  . "AND '$a_first'::timestamptz <= '$started'::timestamptz + interval '5 s'"),
	't', 'a: its first run after restart is the latest missed tick (at the restart)');
is($a_first_trigger, 'schedule', "a: that run has trigger 'schedule'");
is(sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'a' AND trigger <> 'schedule'"),
	'0', "a: no catchup runs");

is(gaps('b'), '', 'b (catchup=true): logical times continuous 1 s apart across the downtime');
my $b_catchup = sql(qq{SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'b'
	AND trigger = 'catchup'});
cmp_ok($b_catchup, '>=', 4, "b: one 'catchup' run per missed tick ($b_catchup)");
is( sql(qq{SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'b'
	AND trigger = 'catchup' AND logical_time <= '$b_last'}),
	'0', 'b: no catchup run before the stop');
is( sql(qq{SELECT bool_and(trigger = 'schedule') FROM dagsched.dag_run
	WHERE dag_name = 'b' AND logical_time > '$b_last'::timestamptz + interval '1 s'
	AND logical_time > (SELECT max(logical_time) FROM dagsched.dag_run
	                    WHERE dag_name = 'b' AND trigger = 'catchup')}),
	't', "b: the latest missed tick and later ones have trigger 'schedule'");
is(sql($no_dup_ticks), '0', 'no tick has two runs');

# ---------------------------------------------------------------------
# scheduler killed: SIGTERM (restarted alone after bgw_restart_time)
# ---------------------------------------------------------------------
my $spid = scheduler_pid();
like($spid, qr/^\d+$/, "one scheduler running (pid $spid)");
ok(kill('TERM', $spid), "SIGTERM to the scheduler $spid");
my $killed_at = sql("SELECT clock_timestamp()");
ok( poll(
		"SELECT count(*) = 1 AND bool_and(pid <> $spid) FROM pg_stat_activity "
		  . "WHERE backend_type = 'dagsched scheduler'", 't', 30),
	'scheduler comes back after SIGTERM');
ok(poll("SELECT count(*) >= 2 FROM dagsched.dag_run WHERE dag_name = 'a' "
	  . "AND logical_time > '$killed_at'", 't', 20),
	'a: runs continue after the scheduler restart');
ok(poll("SELECT count(*) >= 2 FROM dagsched.dag_run WHERE dag_name = 'b' "
	  . "AND logical_time > '$killed_at'", 't', 20),
	'b: runs continue after the scheduler restart');
is(sql($no_dup_ticks), '0', 'after SIGTERM: no tick has two runs');
is(gaps('b'), '', 'b: still continuous (the ticks missed while the scheduler was down caught up)');

# ---------------------------------------------------------------------
# scheduler killed: SIGKILL (postmaster crash-restarts every process)
# ---------------------------------------------------------------------
$spid = scheduler_pid();
like($spid, qr/^\d+$/, "one scheduler running (pid $spid)");
ok(kill('KILL', $spid), "SIGKILL to the scheduler $spid");
ok( poll(
		"SELECT count(*) = 1 AND bool_and(pid <> $spid) FROM pg_stat_activity "
		  . "WHERE backend_type = 'dagsched scheduler'", 't', 60),
	'scheduler comes back after SIGKILL and the crash restart');
$killed_at = sql("SELECT clock_timestamp()");
ok(poll("SELECT count(*) >= 2 FROM dagsched.dag_run WHERE dag_name = 'a' "
	  . "AND logical_time > '$killed_at'", 't', 20),
	'a: runs continue after the crash restart');
ok(poll("SELECT count(*) >= 2 FROM dagsched.dag_run WHERE dag_name = 'b' "
	  . "AND logical_time > '$killed_at'", 't', 20),
	'b: runs continue after the crash restart');
is(sql($no_dup_ticks), '0', 'after SIGKILL: no tick has two runs');
is(gaps('b'), '', 'b: still continuous after the crash restart');
like(slurp_file($node->logfile), qr/dagsched scheduler.*terminated by signal 9/,
	'server log shows the scheduler killed by signal 9');

sql("UPDATE dagsched.dag SET paused = true WHERE dag_name IN ('a', 'b')");
ok(poll("SELECT count(*) = 0 FROM dagsched.dag_run WHERE dag_name IN ('a', 'b') "
	  . "AND state NOT IN ('success', 'failed', 'cancelled')", 't', 30),
	'a and b paused; their runs all finished');
is(sql("SELECT string_agg(DISTINCT state, ',') FROM dagsched.dag_run WHERE dag_name IN ('a', 'b')"),
	'success', 'every run of a and b ended success');

# ---------------------------------------------------------------------
# immediate shutdown in the middle of a 50-task run
# ---------------------------------------------------------------------
sql(q{CREATE TABLE hits (id bigserial PRIMARY KEY, task text NOT NULL,
	at timestamptz DEFAULT clock_timestamp())});
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('big');
	-- 10 levels of 5 tasks; each task depends on every task of the level above
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, retries, retry_delay)
	SELECT 'big', 't' || (l * 5 + i),
	  $$INSERT INTO hits(task) VALUES (current_setting('dagsched.task_name'));
	    SELECT pg_sleep(0.2);
	    SELECT pg_advisory_xact_lock_shared(4242)
	     WHERE substr(current_setting('dagsched.task_name'), 2)::int > 10$$,
	  CASE WHEN l = 0 THEN '{}'::text[]
	       ELSE array(SELECT 't' || ((l - 1) * 5 + j) FROM generate_series(1, 5) j) END,
	  2, '1 second'
	FROM generate_series(0, 9) l, generate_series(1, 5) i;
	COMMIT;
});
is(sql("SELECT count(*) FROM dagsched.task WHERE dag_name = 'big'"), '50', '50 tasks defined');
# Levels 2 and up wait for an advisory lock this session holds until the
# shutdown: the tasks seen running cannot finish before it, however slow the
# machine (a bare 0.2 s sleep could end between the check and the stop).
my $gate = $node->background_psql('postgres');
$gate->query_safe('SELECT pg_advisory_lock(4242)');
my $run = sql("SELECT dagsched.trigger('big')");
like($run, qr/^\d+$/, "run $run triggered");
ok( $node->poll_query_until(
		'postgres',
		qq{SELECT count(*) FILTER (WHERE r.state = 'success') >= 10
		   AND count(*) FILTER (WHERE r.state = 'running' AND a.wait_event = 'advisory') >= 1
		FROM dagsched.task_run r LEFT JOIN pg_stat_activity a ON a.pid = r.pid
		WHERE r.run_id = $run}),
	'about 10 tasks succeeded, and more are running (held at the gate) now');
my $inflight = sql("SELECT string_agg(task_name, ',' ORDER BY task_name) FROM dagsched.task_run "
	  . "WHERE run_id = $run AND state = 'running'");
note("in flight at the immediate shutdown (at least): $inflight; WAL insert/write/flush: "
	  . sql("SELECT pg_current_wal_insert_lsn() || ' ' || pg_current_wal_lsn() || ' ' || pg_current_wal_flush_lsn()"));
$node->stop('immediate');
# the gate's session died with the server; its lock with it
eval { $gate->quit };
$node->start;

ok( poll(
		"SELECT state IN ('success', 'failed', 'cancelled') FROM dagsched.dag_run WHERE run_id = $run",
		't', 120),
	'the run ends after the immediate shutdown');
is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run"), 'success', 'run ends success');
is(sql("SELECT count(*) FILTER (WHERE state = 'success') || '/' || count(*) "
	  . "FROM dagsched.task_run WHERE run_id = $run"),
	'50/50', 'every task ends success');
is(sql("SELECT count(*) || '/' || count(DISTINCT task) FROM hits"),
	'50/50', 'hits: exactly one row per task (effects landed exactly once)');
is( sql(q{SELECT count(*) FROM dagsched.task t WHERE dag_name = 'big'
	AND NOT EXISTS (SELECT 1 FROM hits h WHERE h.task = t.task_name)}),
	'0', 'hits: every task is there');

my $interrupted = sql("SELECT string_agg(task_name, ',' ORDER BY task_name) "
	  . "FROM dagsched.task_run WHERE run_id = $run AND attempts > 1");
note("interrupted tasks: $interrupted");
ok($interrupted ne '', 'some tasks were interrupted by the shutdown');
is( sql(qq{SELECT count(*) FROM dagsched.task_run WHERE run_id = $run
	AND task_name = ANY (string_to_array('$inflight', ',')) AND attempts <> 2}),
	'0', 'the tasks seen running at the shutdown took 2 attempts');
is( sql(qq{SELECT count(*) FROM dagsched.task_run WHERE run_id = $run
	AND attempts NOT IN (1, 2)}),
	'0', 'every task took one attempt, or two when interrupted');
is( sql(qq{SELECT count(*) FROM dagsched.task_run t WHERE run_id = $run AND attempts = 2
	AND NOT EXISTS (SELECT 1 FROM dagsched.task_attempt a
	  WHERE a.run_id = t.run_id AND a.task_name = t.task_name AND a.attempt = 1
	  AND a.state = 'failed' AND a.error LIKE '%server restarted%')}),
	'0', "each interrupted task has a failed attempt 1 with error 'server restarted ...'");
is( sql(qq{SELECT count(*) FROM dagsched.task_attempt WHERE run_id = $run
	AND state = 'failed' AND error NOT LIKE '%server restarted%'}),
	'0', 'no attempt failed for another reason');
is( sql(qq{SELECT count(*) FROM dagsched.task_run t WHERE run_id = $run AND attempts = 1
	AND EXISTS (SELECT 1 FROM dagsched.task_attempt a
	  WHERE a.run_id = t.run_id AND a.task_name = t.task_name AND a.state = 'failed')}),
	'0', 'tasks not interrupted have no failed attempt');
is(sql("SELECT count(*) FROM dagsched.task_run WHERE state = 'running'"),
	'0', 'no task_run left running');
is( sql(qq{SELECT count(*)
	FROM dagsched.task_run t
	CROSS JOIN LATERAL unnest(t.depends_on) AS d(up)
	JOIN dagsched.task_run u ON u.run_id = t.run_id AND u.task_name = d.up
	WHERE t.run_id = $run AND t.started_at < u.finished_at}),
	'0', 'no task started before its upstream tasks finished');

$node->stop;
done_testing();
