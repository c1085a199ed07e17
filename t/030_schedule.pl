# t/030_schedule.pl -- schedules driven by the live scheduler: an
# every-second DAG produces consecutive ticks without gaps or duplicates,
# pausing stops it, a schedule change is picked up, max_active_runs queues
# extra runs, an impossible schedule never fires, time zones, backfill.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;
use Time::HiRes qw(sleep);

my $node = DagschedTest->node('sched',
	max_workers => 8);

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub poll
{
	my ($query, $expected, $secs) = @_;
	$expected = 't' unless defined $expected;
	$secs ||= 30;
	my $deadline = time() + $secs;
	my $last = '';
	while (time() < $deadline)
	{
		$last = sql($query);
		return 1 if $last eq $expected;
		sleep(0.1);
	}
	diag("poll timed out: $query\n  last result: $last");
	return 0;
}

# ---------------------------------------------------------------------
# every second
# ---------------------------------------------------------------------
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule, max_active_runs)
	VALUES ('sec', '* * * * * *', 5);
	INSERT INTO dagsched.task (dag_name, task_name, command)
	VALUES ('sec', 'one', 'SELECT 1');
	COMMIT;
});
is(sql("SELECT next_run_at IS NOT NULL AND next_run_at > now() - interval '2 s' "
	  . "AND next_run_at <= now() + interval '2 s' FROM dagsched.dag WHERE dag_name = 'sec'"),
	't', 'every-second DAG: next_run_at set on INSERT, within a second');

ok(poll("SELECT count(*) >= 10 FROM dagsched.dag_run WHERE dag_name = 'sec'", 't', 15),
	'at least 10 scheduled runs within 15 s');

is(sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'sec' "
	  . "AND logical_time <> date_trunc('second', logical_time)"),
	'0', 'logical times are whole seconds');
is(sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'sec' AND trigger <> 'schedule'"),
	'0', "every run has trigger 'schedule'");
is( sql(q{
	SELECT count(*) FROM (
	  SELECT logical_time - lag(logical_time) OVER (ORDER BY logical_time) AS d
	  FROM dagsched.dag_run WHERE dag_name = 'sec') s
	WHERE d IS NOT NULL AND d <> interval '1 second'}),
	'0', 'logical times strictly consecutive, 1 s apart (no gap, no duplicate)');

# ---------------------------------------------------------------------
# pause / unpause
# ---------------------------------------------------------------------
sql("UPDATE dagsched.dag SET paused = true WHERE dag_name = 'sec'");
my $paused_at = sql("SELECT clock_timestamp()");
is(sql("SELECT next_run_at IS NULL FROM dagsched.dag WHERE dag_name = 'sec'"),
	't', 'paused: next_run_at is NULL');

# a run being created in the very transaction that raced with the pause may
# still land; after that, nothing
sleep(1);
my $count_paused = sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'sec'");
my $stable = 1;
for (1 .. 30)
{
	sleep(0.1);
	$stable = 0
	  if sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'sec'") ne
	  $count_paused;
}
ok($stable, "paused: run count stays at $count_paused over 3 s");
is(sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'sec' "
	  . "AND logical_time > '$paused_at'::timestamptz + interval '1 s'"),
	'0', 'paused: no run for a tick after the pause');

# every run of the first phase ends success
ok(poll("SELECT count(*) = 0 FROM dagsched.dag_run WHERE dag_name = 'sec' "
	  . "AND state NOT IN ('success', 'failed', 'cancelled')", 't', 30),
	'all runs so far finished');
is(sql("SELECT string_agg(DISTINCT state, ',') FROM dagsched.dag_run WHERE dag_name = 'sec'"),
	'success', 'all runs ended success');

my @lat = split /\n/, sql(q{
	SELECT extract(epoch FROM t.started_at - r.logical_time)
	FROM dagsched.dag_run r JOIN dagsched.task_run t USING (run_id)
	WHERE r.dag_name = 'sec' ORDER BY 1});
my $median = $lat[ int(@lat / 2) ];
note(sprintf("tick -> task start latency: median %.1f ms, max %.1f ms over %d runs",
		$median * 1000, $lat[-1] * 1000, scalar @lat));
ok($lat[-1] < 2, 'first task starts less than 2 s after its tick');

my $unpaused_at = sql("SELECT clock_timestamp()");
sql("UPDATE dagsched.dag SET paused = false WHERE dag_name = 'sec'");
is(sql("SELECT next_run_at > '$unpaused_at' AND next_run_at <= '$unpaused_at'::timestamptz + interval '1 s' "
	  . "FROM dagsched.dag WHERE dag_name = 'sec'"),
	't', 'unpaused: next_run_at recomputed to the next second');
ok(poll("SELECT count(*) >= 2 FROM dagsched.dag_run WHERE dag_name = 'sec' "
	  . "AND logical_time > '$unpaused_at'", 't', 10),
	'unpaused: runs resume');
is(sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'sec' "
	  . "AND logical_time > '$paused_at'::timestamptz + interval '1 s' "
	  . "AND logical_time <= '$unpaused_at'"),
	'0', 'no runs for the ticks missed while paused');

# ---------------------------------------------------------------------
# schedule change
# ---------------------------------------------------------------------
my $changed_at = sql("SELECT clock_timestamp()");
sql("UPDATE dagsched.dag SET schedule = 'every 2 seconds' WHERE dag_name = 'sec'");
is( sql(q{SELECT next_run_at = dagsched.next_fire('every 2 seconds', next_run_at - interval '2 s')
	  AND extract(epoch FROM next_run_at)::bigint % 2 = 0
	  AND next_run_at > now() - interval '1 s' AND next_run_at <= now() + interval '2 s'
	  FROM dagsched.dag WHERE dag_name = 'sec'}),
	't', 'schedule change: next_run_at recomputed (even epoch second, within 2 s)');
ok(poll("SELECT count(*) >= 4 FROM dagsched.dag_run WHERE dag_name = 'sec' "
	  . "AND logical_time > '$changed_at'::timestamptz + interval '1 s'", 't', 15),
	'runs continue on the new schedule');
is( sql(qq{
	SELECT count(*) FROM (
	  SELECT logical_time, logical_time - lag(logical_time) OVER (ORDER BY logical_time) AS d
	  FROM dagsched.dag_run WHERE dag_name = 'sec'
	  AND logical_time > '$changed_at'::timestamptz + interval '1 s') s
	WHERE (d IS NOT NULL AND d <> interval '2 seconds')
	   OR extract(epoch FROM logical_time)::bigint % 2 <> 0}),
	'0', 'new runs are 2 s apart, on even seconds');
sql("UPDATE dagsched.dag SET paused = true WHERE dag_name = 'sec'");

# ---------------------------------------------------------------------
# max_active_runs = 1 with a slow task
# ---------------------------------------------------------------------
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule, max_active_runs)
	VALUES ('slow', '* * * * * *', 1);
	INSERT INTO dagsched.task (dag_name, task_name, command)
	VALUES ('slow', 'nap', 'SELECT pg_sleep(3)');
	COMMIT;
});
my ($max_running, $max_queued, $max_task_running) = (0, 0, 0);
my $until = time() + 6;
while (time() < $until)
{
	my ($r, $q, $t) = split /\|/, sql(q{
		SELECT (SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'slow' AND state = 'running'),
		       (SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'slow' AND state = 'queued'),
		       (SELECT count(*) FROM dagsched.task_run t JOIN dagsched.dag_run r USING (run_id)
		        WHERE r.dag_name = 'slow' AND t.state = 'running')});
	$max_running = $r if $r > $max_running;
	$max_queued = $q if $q > $max_queued;
	$max_task_running = $t if $t > $max_task_running;
	sleep(0.1);
}
sql("UPDATE dagsched.dag SET paused = true WHERE dag_name = 'slow'");
my $nslow = sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'slow'");
note("slow DAG: $nslow runs, max queued $max_queued");
is($max_running, 1, 'max_active_runs=1: exactly one run running at a time');
is($max_task_running, 1, 'max_active_runs=1: never two tasks running at once');
cmp_ok($max_queued, '>=', 2, 'extra runs pile up as queued');

# sample while the queue drains
($max_running, $max_task_running) = (0, 0);
my $drained = 0;
$until = time() + 3 * $nslow + 30;
while (time() < $until)
{
	my ($r, $t, $left) = split /\|/, sql(q{
		SELECT (SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'slow' AND state = 'running'),
		       (SELECT count(*) FROM dagsched.task_run t JOIN dagsched.dag_run r USING (run_id)
		        WHERE r.dag_name = 'slow' AND t.state = 'running'),
		       (SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'slow'
		        AND state IN ('queued', 'running'))});
	$max_running = $r if $r > $max_running;
	$max_task_running = $t if $t > $max_task_running;
	if ($left == 0) { $drained = 1; last; }
	sleep(0.2);
}
ok($drained, 'queued runs all ran');
cmp_ok($max_running, '<=', 1, 'while draining: never two runs running');
cmp_ok($max_task_running, '<=', 1, 'while draining: never two tasks running');
is(sql("SELECT string_agg(DISTINCT state, ',') FROM dagsched.dag_run WHERE dag_name = 'slow'"),
	'success', 'slow runs all ended success');
is( sql(q{
	SELECT count(*) FROM (
	  SELECT t.started_at, lag(t.finished_at) OVER (ORDER BY t.started_at) AS prev_end
	  FROM dagsched.task_run t JOIN dagsched.dag_run r USING (run_id)
	  WHERE r.dag_name = 'slow') s
	WHERE prev_end IS NOT NULL AND started_at < prev_end}),
	'0', 'slow runs ran one after the other (no overlapping attempts)');
is( sql(q{
	SELECT bool_and(r.run_id = o.run_id) FROM
	  (SELECT run_id, row_number() OVER (ORDER BY logical_time) n
	   FROM dagsched.dag_run WHERE dag_name = 'slow') r
	JOIN
	  (SELECT run_id, row_number() OVER (ORDER BY t.started_at) n
	   FROM dagsched.task_run t JOIN dagsched.dag_run d USING (run_id)
	   WHERE d.dag_name = 'slow') o USING (n)}),
	't', 'queued runs started in tick order');

# ---------------------------------------------------------------------
# impossible schedule
# ---------------------------------------------------------------------
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('never', '0 0 30 2 *');
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('never', 'x', 'SELECT 1');
	COMMIT;
});
is(sql("SELECT next_run_at IS NULL FROM dagsched.dag WHERE dag_name = 'never'"),
	't', "'0 0 30 2 *': next_run_at is NULL");
is(sql("SELECT dagsched.next_fire('0 0 30 2 *') IS NULL"), 't',
	"next_fire('0 0 30 2 *') is NULL");
sleep(1.5);
is(sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'never'"),
	'0', 'impossible schedule: no runs');

# ---------------------------------------------------------------------
# time zone
# ---------------------------------------------------------------------
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule, timezone)
	VALUES ('warsaw', '0 8 * * *', 'Europe/Warsaw');
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('warsaw', 'x', 'SELECT 1');
	COMMIT;
});
is( sql(q{SELECT next_run_at = dagsched.next_fire('0 8 * * *', now(), 'Europe/Warsaw')
	FROM dagsched.dag WHERE dag_name = 'warsaw'}),
	't', "Warsaw DAG: next_run_at = next_fire('0 8 * * *', now(), 'Europe/Warsaw')");
is( sql(q{SELECT to_char(next_run_at AT TIME ZONE 'Europe/Warsaw', 'HH24:MI:SS')
	FROM dagsched.dag WHERE dag_name = 'warsaw'}),
	'08:00:00', 'next_run_at is 08:00 Warsaw local time');
is( sql(q{SELECT next_run_at > now() AND next_run_at <= now() + interval '25 hours'
	FROM dagsched.dag WHERE dag_name = 'warsaw'}),
	't', 'next_run_at is within the next day');

# ---------------------------------------------------------------------
# backfill
# ---------------------------------------------------------------------
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule, max_active_runs)
	VALUES ('hourly', '0 * * * *', 5);
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('hourly', 'x', 'SELECT 1');
	COMMIT;
});
my $from = sql("SELECT date_trunc('hour', now()) - interval '10 hours'");
my $to = sql("SELECT '$from'::timestamptz + interval '5 hours'");
# backfill() is a set-returning function: callable in FROM
my ($ret, $out, $err) =
  $node->psql('postgres', "SELECT * FROM dagsched.backfill('hourly', '$from', '$to')");
is($ret, 0, 'backfill() callable as SELECT * FROM dagsched.backfill(...)')
  or diag("backfill failed: $err");
my @ids = grep { /^\d+$/ } split /\n/, $out;
is(scalar @ids, 5, 'backfill over 5 hours returns 5 run ids');
my $idlist = join(',', @ids) || '0';
is( sql(qq{SELECT string_agg(DISTINCT trigger, ',') FROM dagsched.dag_run
	WHERE run_id IN ($idlist)}),
	'backfill', "backfill runs have trigger 'backfill'");
is( sql(qq{SELECT array_agg(logical_time ORDER BY logical_time) =
	  array(SELECT generate_series('$from'::timestamptz, '$to'::timestamptz - interval '1 hour', interval '1 hour'))
	FROM dagsched.dag_run WHERE run_id IN ($idlist)}),
	't', 'backfill logical times are the 5 hourly ticks in [from, to)');
($ret, $out, $err) =
  $node->psql('postgres', "SELECT count(*) FROM dagsched.backfill('hourly', '$from', '$to')");
is($ret . '/' . $out, '0/0',
	'backfill again returns no rows: the ticks already have runs')
  or diag("backfill again: $err");
is( sql(qq{SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'hourly'
	AND logical_time >= '$from' AND logical_time < '$to'}),
	'5', 'still exactly 5 runs in the range');
ok(@ids == 5 && poll("SELECT count(*) = 5 FROM dagsched.dag_run WHERE run_id IN ($idlist) AND state = 'success'",
		't', 30),
	'backfill runs end success');

$node->stop;
done_testing();
