# t/071_observe_live.pl -- observing real runs: the slowdown flag of
# dagsched.task_stats, NOTIFY dagsched payloads (and none for a rolled-back
# trigger()), and history purge under load (backdated history is purged in
# batches by the scheduler while a chain DAG keeps running; runs in flight
# and recent runs are untouched).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;
use Time::HiRes qw(time usleep);
use JSON::PP;

my $node = DagschedTest->node('observe_live',
	max_workers => 6);

sub sql { return $node->safe_psql('postgres', $_[0]); }

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

sub poll_within
{
	my ($query, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		return 1 if sql($query) eq 't';
		usleep(100_000);
	}
	return sql($query) eq 't';
}

ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'"
	),
	'scheduler is running');

# ---- slowdown flag after real runs ----
my $nap =
  q{SELECT pg_sleep((current_setting('dagsched.params')::jsonb ->> 's')::float)};
(my $napq = $nap) =~ s/'/''/g;
sql(qq{
INSERT INTO dagsched.dag (dag_name) VALUES ('slowing'), ('steady');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
  ('slowing', 'nap', '$napq'), ('steady', 'nap', '$napq');
});
for my $i (1 .. 6)
{
	my $r1 = trigger('slowing', '{"s": 0.1}');
	my $r2 = trigger('steady',  '{"s": 0.1}');
	is(wait_run($r1) . wait_run($r2), 'successsuccess', "slowdown: normal run $i");
}
my $r_slow = trigger('slowing', '{"s": 1.0}');
my $r_ctl  = trigger('steady',  '{"s": 0.1}');
is(wait_run($r_slow) . wait_run($r_ctl), 'successsuccess', 'slowdown: last runs');
note "task_stats:\n"
  . sql("SELECT dag_name, task_name, runs, successes, p50, last_duration, slowdown, slow"
	  . " FROM dagsched.task_stats WHERE dag_name IN ('slowing', 'steady') ORDER BY 1");
is(sql("SELECT slow FROM dagsched.task_stats WHERE dag_name = 'slowing' AND task_name = 'nap'"),
	't', 'a task 10x slower on its last run is flagged slow');
is(sql("SELECT slow FROM dagsched.task_stats WHERE dag_name = 'steady' AND task_name = 'nap'"),
	'f', 'a task at its usual speed is not flagged');
is(sql("SELECT runs || ' ' || successes FROM dagsched.task_stats WHERE dag_name = 'slowing'"),
	'7 7', 'slowing: 7 runs, 7 successes');

# ---- NOTIFY dagsched ----
sql(q{
INSERT INTO dagsched.dag (dag_name) VALUES ('failing'), ('fine');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
  ('failing', 'first', 'SELECT 1', '{}'),
  ('failing', 'boom', 'SELECT 1/0', '{first}'),
  ('failing', 'after', 'SELECT 1', '{boom}'),
  ('fine', 'only', 'SELECT 1', '{}');
});
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN dagsched');

my @events;
# collect the notifications psql printed so far (it prints them after a command)
sub collect
{
	my $out = $listener->query_safe('SELECT 1');
	while ($out =~ /Asynchronous notification "dagsched" with payload "(.*?)" received/g)
	{
		my $p = $1;
		my $ev = eval { decode_json($p) };
		if ($ev) { push @events, $ev; }
		else     { fail("payload is JSON: $p"); }
	}
}

# Payloads carry the event kind, run id and state only (no DAG or task
# name, which another owner's listener could not SELECT): a listener reads
# the names from the tables, as the README says.
sub find_event
{
	my ($run, $kind, $state) = @_;
	for my $e (@events)
	{
		next unless defined $e->{run_id} && $e->{run_id} == $run;
		next unless ($e->{state} // '') eq $state;
		next unless ($e->{event} // '') eq $kind;
		return $e;
	}
	return undef;
}

sub count_events
{
	my ($run, $kind, $state) = @_;
	return scalar grep {
		defined $_->{run_id} && $_->{run_id} == $run
		  && ($_->{state} // '') eq $state
		  && ($_->{event} // '') eq $kind
	} @events;
}

my $r_fail = trigger('failing');
is(wait_run($r_fail), 'failed', 'the failing run fails');
my $deadline = time() + 10;
do { collect(); usleep(100_000) }
  until (find_event($r_fail, 'run', 'failed') || time() > $deadline);
note 'payloads: ' . join(' ', map { encode_json($_) } @events);
my $e_run = find_event($r_fail, 'run', 'running');
ok($e_run, 'NOTIFY: run running');
# the DAG's name comes from the table, through the run id of the payload
is(sql("SELECT dag_name FROM dagsched.dag_run WHERE run_id = $e_run->{run_id}"),
	'failing', 'NOTIFY: run running names the DAG') if $e_run;
my $e_task = find_event($r_fail, 'task', 'failed');
ok($e_task, 'NOTIFY: task failed, with task_name');
is( sql("SELECT string_agg(task_name, ',') FROM dagsched.task_run
		  WHERE run_id = $e_task->{run_id} AND state = 'failed'"),
	'boom', 'NOTIFY: task failed names the DAG (the failed task, from the table)')
  if $e_task;
ok(find_event($r_fail, 'run', 'failed'), 'NOTIFY: run failed');
is(count_events($r_fail, 'task', 'failed'), 1,
	'NOTIFY: no failure event for a task that succeeded');
ok(!grep({ exists $_->{dag_name} || exists $_->{task_name} } @events),
	'NOTIFY: no payload carries a DAG or task name');

# a rolled-back trigger(): no run row, no notification
my $r_rb = $node->safe_psql('postgres',
	"BEGIN; SELECT dagsched.trigger('fine'); ROLLBACK;");
like($r_rb, qr/^\d+$/, "rolled-back trigger() returned a run_id ($r_rb)");
# a committed run afterwards is the barrier: once its events arrived,
# anything from the rolled-back one would have arrived too
my $r_after = trigger('fine');
is(wait_run($r_after), 'success', 'barrier run succeeds');
$deadline = time() + 10;
do { collect(); usleep(100_000) }
  until (find_event($r_after, 'run', 'success') || time() > $deadline);
ok(find_event($r_after, 'run', 'success'), 'NOTIFY: run success');
is(sql("SELECT count(*) FROM dagsched.dag_run WHERE run_id = $r_rb"), '0',
	'rolled-back trigger(): no run row');
ok(!(grep { defined $_->{run_id} && $_->{run_id} == $r_rb } @events),
	'rolled-back trigger(): nothing notified');
$listener->quit;

# ---- purge under load ----
is(sql('SHOW dagsched.history_retention'), '30d', 'history_retention is 30d by default');
sql(q{
INSERT INTO dagsched.dag (dag_name) VALUES ('hist'), ('inflight'), ('chain');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
  ('hist', 't1', 'SELECT 1'), ('inflight', 'sleep', 'SELECT pg_sleep(600)');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
SELECT 'chain', 'c' || i, 'SELECT 1', CASE WHEN i = 1 THEN '{}'::text[] ELSE ARRAY['c' || (i - 1)] END
  FROM generate_series(1, 10) i;
});
# a run in flight, backdated like old history (only finished_at counts)
my $r_inflight = trigger('inflight');
ok( poll_within(
		"SELECT state = 'running' FROM dagsched.task_run WHERE run_id = $r_inflight", 30),
	'in-flight run is running');
sql("UPDATE dagsched.dag_run SET created_at = created_at - interval '40 days',"
	  . " logical_time = logical_time - interval '40 days',"
	  . " started_at = started_at - interval '40 days' WHERE run_id = $r_inflight");

# synthetic history: 20,000 runs x 5 tasks finished 40 days ago (purged),
# 300 finished 20 days ago (kept by the scheduler; purged on demand below),
# 500 finished a day ago (kept)
my $t_ins = time();
sql(q{
CREATE FUNCTION pg_temp.synth(n int, age interval, tag text) RETURNS void LANGUAGE sql AS $f$
INSERT INTO dagsched.dag_run (dag_name, logical_time, trigger, params, state, owner,
                              created_at, started_at, finished_at)
SELECT 'hist', now() - age - g * interval '1 second', 'manual',
       jsonb_build_object('tag', tag), 'success', 'postgres',
       now() - age - g * interval '1 second', now() - age - g * interval '1 second',
       now() - age - g * interval '1 second' + interval '2 seconds'
  FROM generate_series(1, n) g;
INSERT INTO dagsched.task_run (run_id, task_name, kind, command, depends_on, trigger_rule,
                               retries, retry_delay, priority, downstream, up_success,
                               state, attempts, queued_at, started_at, finished_at, output)
SELECT r.run_id, 't' || i, 'sql', 'SELECT 1',
       CASE WHEN i = 1 THEN '{}'::text[] ELSE ARRAY['t' || (i - 1)] END,
       'all_success', 0, interval '10 seconds', 6 - i,
       CASE WHEN i = 5 THEN '{}'::text[] ELSE ARRAY['t' || (i + 1)] END,
       CASE WHEN i = 1 THEN 0 ELSE 1 END,
       'success', 1, r.started_at, r.started_at, r.finished_at, 'SELECT 1'
  FROM dagsched.dag_run r, generate_series(1, 5) i
 WHERE r.dag_name = 'hist' AND r.params ->> 'tag' = tag;
$f$;
SELECT pg_temp.synth(20000, interval '40 days', 'old');
SELECT pg_temp.synth(300, interval '20 days', 'mid');
SELECT pg_temp.synth(500, interval '1 day', 'recent');
});
note sprintf('inserted synthetic history in %.1f s', time() - $t_ins);
is( sql("SELECT count(*) FROM dagsched.task_run t JOIN dagsched.dag_run r USING (run_id) WHERE r.params ->> 'tag' = 'old'"),
	'100000', '100,000 backdated task_run rows');

my $old_q = "SELECT count(*) FROM dagsched.dag_run WHERE params ->> 'tag' = 'old'";
my ($chain_runs, $chain_ok, $max_chain) = (0, 0, 0);
my $t_purge = time();
my $purged = 0;
while (time() - $t_purge < 120)
{
	my $t0 = time();
	my $r = trigger('chain');
	my $st = wait_run($r, '60 s');
	my $took = time() - $t0;
	$max_chain = $took if $took > $max_chain;
	$chain_runs++;
	$chain_ok++ if $st eq 'success';
	if (sql($old_q) eq '0') { $purged = 1; last; }
}
my $purge_time = time() - $t_purge;
ok($purged, sprintf('the scheduler purged the 20,000 backdated runs (%.1f s)', $purge_time));
note sprintf('purge: %.1f s; %d chain runs meanwhile, slowest %.2f s', $purge_time,
	$chain_runs, $max_chain);
is($chain_ok, $chain_runs, "all $chain_runs chain runs during the purge succeeded");
cmp_ok($chain_runs, '>=', 1, 'chain runs ran during the purge');
is( sql("SELECT count(*) FROM dagsched.task_run t WHERE NOT EXISTS (SELECT FROM dagsched.dag_run r WHERE r.run_id = t.run_id)"),
	'0', 'no orphaned task_run rows');
is( sql("SELECT count(*) FROM dagsched.dag_run WHERE params ->> 'tag' = 'recent'"),
	'500', 'recent runs untouched');
is( sql("SELECT count(*) FROM dagsched.task_run t JOIN dagsched.dag_run r USING (run_id) WHERE r.params ->> 'tag' = 'recent'"),
	'2500', 'recent task runs untouched');
is( sql("SELECT count(*) FROM dagsched.dag_run WHERE params ->> 'tag' = 'mid'"),
	'300', 'runs within the retention untouched (20 days old)');
is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $r_inflight"),
	'running', 'the backdated run in flight is untouched');
is(sql("SELECT state FROM dagsched.task_run WHERE run_id = $r_inflight"),
	'running', 'its task is still running');
is(sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'chain' AND state = 'success'"),
	$chain_ok, 'chain runs kept');

# purge on demand: 300 runs 20 days old with older_than = 10 days
is(sql("SELECT dagsched.purge_history(interval '10 days')"), '300',
	"purge_history('10 days') removes the 300 runs older than 10 days");
is( sql("SELECT count(*) FROM dagsched.dag_run WHERE params ->> 'tag' IN ('mid', 'recent')"),
	'500', 'the day-old runs are kept');
is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $r_inflight"),
	'running', 'purge_history() leaves the run in flight alone');

sql("SELECT dagsched.cancel($r_inflight)");
ok( poll_within(
		"SELECT NOT EXISTS (SELECT FROM dagsched.task_run WHERE state = 'running')", 15),
	'no task left running');

$node->stop;
done_testing();
