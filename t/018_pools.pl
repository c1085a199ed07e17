# t/018_pools.pl -- pools (issue 17): at most "slots" tasks of a pool run at
# once across DAGs and runs; tasks waiting for a slot hold no worker and
# other tasks pass them; a change of slots takes effect at once; pool_stats;
# row-level security (any role uses a pool, only its owner changes it).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $node = DagschedTest->node('pools', max_workers => 8);

sub sql { return $node->safe_psql('postgres', $_[0]); }

my $REC =
  q{INSERT INTO ran VALUES (current_setting('dagsched.run_id')::bigint, current_setting('dagsched.task_name'), clock_timestamp())};
sql(q{CREATE TABLE ran (run_id bigint, task text, at timestamptz)});
sql(q{GRANT ALL ON ran TO PUBLIC});
sql(q{INSERT INTO dagsched.pool (pool_name, slots, description) VALUES ('p', 2, 'two at a time')});
for my $dag (qw(a b))
{
	sql(qq{
		INSERT INTO dagsched.dag (dag_name) VALUES ('$dag');
		INSERT INTO dagsched.task (dag_name, task_name, command, pool)
		SELECT '$dag', 't' || i, 'SELECT pg_sleep(1)', 'p' FROM generate_series(1, 3) i;
	});
}
sql(qq{
	INSERT INTO dagsched.dag (dag_name) VALUES ('free');
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	  ('free', 'x', \$\$$REC\$\$), ('free', 'y', \$\$$REC\$\$);
});

my ($ra, $rb) = split /\n/, sql(q{
	SELECT dagsched.trigger('a');
	SELECT dagsched.trigger('b');});
ok( DagschedTest::poll_within(
		$node,
		q{SELECT running = 2 AND queued = 4 FROM dagsched.pool_stats WHERE pool_name = 'p'},
		30),
	'pool_stats: 2 running, 4 queued for a slot');
# (the scheduler may start a worker or two too many while the first ones
# attach; it starts none per task waiting for a slot)
is( sql(q{SELECT count(*) < 6 FROM pg_stat_activity WHERE backend_type = 'dagsched worker'}),
	't', 'the tasks waiting for a slot hold no worker');
is( sql(q{SELECT count(*) FROM dagsched.task_run WHERE state = 'running'}),
	'2', 'only the two tasks in the slots are running');

# tasks of no pool pass those waiting for a slot
my $rf = DagschedTest::trigger($node, 'free');
is(DagschedTest::wait_run($node, $rf), 'success', 'a DAG of no pool runs meanwhile');

is(DagschedTest::wait_run($node, $ra), 'success', 'run of DAG a succeeds');
is(DagschedTest::wait_run($node, $rb), 'success', 'run of DAG b succeeds');
is( sql(qq{SELECT max(at) < (SELECT max(started_at) FROM dagsched.task_run WHERE run_id IN ($ra, $rb))
		   FROM ran WHERE run_id = $rf}),
	't', 'its tasks passed the pool tasks queued before them');
is( sql(qq{
	SELECT max((SELECT count(*) FROM dagsched.task_run o
				 WHERE o.run_id IN ($ra, $rb) AND o.started_at <= s.started_at
				   AND o.finished_at > s.started_at))
	  FROM dagsched.task_run s WHERE s.run_id IN ($ra, $rb)}),
	'2', 'never more than 2 of the 6 pool tasks overlap');
is( sql(qq{SELECT max(finished_at) - min(started_at) >= interval '3 s'
		   FROM dagsched.task_run WHERE run_id IN ($ra, $rb)}),
	't', 'the six one-second tasks took at least 3 s');
is(sql(q{SELECT running || ',' || queued FROM dagsched.pool_stats WHERE pool_name = 'p'}),
	'0,0', 'pool_stats: the pool is empty again');

# ---- a change of slots takes effect at once --------------------------------

sql(q{INSERT INTO dagsched.pool (pool_name, slots) VALUES ('q', 1)});
sql(q{
	INSERT INTO dagsched.dag (dag_name) VALUES ('c');
	INSERT INTO dagsched.task (dag_name, task_name, command, pool)
	SELECT 'c', 't' || i, 'SELECT pg_sleep(2)', 'q' FROM generate_series(1, 4) i;
});
my $rc = DagschedTest::trigger($node, 'c');
ok( DagschedTest::poll_within(
		$node,
		q{SELECT running = 1 AND queued = 3 FROM dagsched.pool_stats WHERE pool_name = 'q'},
		30),
	'a pool of 1 slot runs one task');
my $changed = sql(q{SELECT clock_timestamp()});
sql(q{UPDATE dagsched.pool SET slots = 3 WHERE pool_name = 'q'});
ok( DagschedTest::poll_within(
		$node,
		q{SELECT running = 3 FROM dagsched.pool_stats WHERE pool_name = 'q'},
		30),
	'raised to 3 slots mid-run, 3 tasks run');
is( sql(qq{SELECT count(*) FROM dagsched.task_run WHERE run_id = $rc
			 AND started_at > '$changed' AND started_at < '$changed'::timestamptz + interval '1.5 s'}),
	'2', 'the two new slots filled at once, before the running task ended');
is(DagschedTest::wait_run($node, $rc), 'success', 'the run succeeds');

# ---- priority orders tasks within a pool -----------------------------------

sql(q{
	UPDATE dagsched.pool SET slots = 1 WHERE pool_name = 'q';
	INSERT INTO dagsched.dag (dag_name) VALUES ('prio');
	INSERT INTO dagsched.task (dag_name, task_name, command, pool, priority) VALUES
	  ('prio', 'first', 'SELECT pg_sleep(0.5)', 'q', 10),
	  ('prio', 'low', 'SELECT 1', 'q', 1),
	  ('prio', 'high', 'SELECT 1', 'q', 5);
});
my $rp = DagschedTest::trigger($node, 'prio');
is(DagschedTest::wait_run($node, $rp), 'success', 'a run of three tasks in a 1-slot pool');
is( sql(qq{SELECT string_agg(task_name, ',' ORDER BY started_at) FROM dagsched.task_run WHERE run_id = $rp}),
	'first,high,low', 'they ran one at a time, by priority');

# ---- a burst of runs on a 1-slot pool starts no worker per waiting task -----
#
# Workers stay 600 s once started, so the count after the burst is the most
# that were ever started.  At each hand-over of the slot the scheduler is
# woken; a worker woken for the slot, or attached but not yet at its first
# claim, is free capacity, not a busy worker.  Counting it busy started one
# more worker per hand-over (eight here, and six or more in the test above
# on a loaded CI machine).
my $burst = DagschedTest->node('burst',
	max_workers => 8,
	conf => "dagsched.worker_idle_timeout = 600\n");
DagschedTest::sql($burst, q{
	INSERT INTO dagsched.pool (pool_name, slots) VALUES ('one', 1);
	INSERT INTO dagsched.dag (dag_name, max_active_runs) VALUES ('burst', 30);
	INSERT INTO dagsched.task (dag_name, task_name, command, pool)
	VALUES ('burst', 't', 'SELECT pg_sleep(0.05)', 'one');
});
# the pool's row lock holds the first claimer attached but without a task,
# as a loaded machine does for a moment
my $holder = $burst->background_psql('postgres');
$holder->query_safe(
	q{BEGIN; SELECT 1 FROM dagsched.pool WHERE pool_name = 'one' FOR NO KEY UPDATE});
for my $i (1 .. 30)
{
	DagschedTest::sql($burst, q{SELECT dagsched.trigger('burst')});
}
ok( DagschedTest::poll_within(
		$burst,
		q{SELECT count(*) > 0 FROM pg_stat_activity
		  WHERE backend_type = 'dagsched worker' AND wait_event_type = 'Lock'},
		30),
	'a worker waits for the pool row held by another session');
$holder->query_safe('COMMIT');
$holder->quit;
ok( DagschedTest::poll_within(
		$burst,
		q{SELECT count(*) FILTER (WHERE state = 'success') = 30 FROM dagsched.dag_run},
		60),
	'30 runs of a task in a 1-slot pool, triggered one after another, succeed');
my $started = DagschedTest::sql($burst,
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'dagsched worker'});
cmp_ok($started, '<=', 3, "they started at most 3 workers ($started), not one per wake-up");
$burst->stop;

# ---- definitions and security ---------------------------------------------

my ($rc2, $out, $err) = (0, '', '');
$node->psql('postgres',
	q{INSERT INTO dagsched.task (dag_name, task_name, command, pool) VALUES ('free', 'z', 'SELECT 1', 'nope')},
	stderr => \$err);
like($err, qr/task_pool_fkey.*\n.*\(pool\)=\(nope\)/, 'a task naming an unknown pool is refused, naming it');
$node->psql('postgres', q{INSERT INTO dagsched.pool VALUES ('zero', 0)}, stderr => \$err);
like($err, qr/pool_slots_check/, 'a pool of 0 slots is refused');

sql(q{CREATE ROLE alice LOGIN});
sub as_alice { return $node->safe_psql('postgres', "SET ROLE alice; $_[0]"); }
is(as_alice(q{SELECT string_agg(pool_name, ',' ORDER BY pool_name) FROM dagsched.pool}),
	'p,q', 'any role sees the pools');
as_alice(qq{
	INSERT INTO dagsched.dag (dag_name) VALUES ('alice_dag');
	INSERT INTO dagsched.task (dag_name, task_name, command, pool)
	VALUES ('alice_dag', 'w', \$\$$REC\$\$, 'p');
});
my $ral = as_alice(q{SELECT dagsched.trigger('alice_dag')});
is(DagschedTest::wait_run($node, $ral), 'success', "alice's task runs in the shared pool");
is(as_alice(q{WITH u AS (UPDATE dagsched.pool SET slots = 100 RETURNING 1) SELECT count(*) FROM u}),
	'0', "alice cannot change a pool she does not own");
is(as_alice(q{WITH u AS (DELETE FROM dagsched.pool RETURNING 1) SELECT count(*) FROM u}),
	'0', "nor delete one");
is(sql(q{SELECT slots FROM dagsched.pool WHERE pool_name = 'p'}), '2', 'the pool is unchanged');
as_alice(q{INSERT INTO dagsched.pool (pool_name, slots) VALUES ('alices', 1)});
is(as_alice(q{WITH u AS (UPDATE dagsched.pool SET slots = 4 WHERE pool_name = 'alices' RETURNING 1) SELECT count(*) FROM u}),
	'1', 'she changes her own pool');
$node->psql('postgres',
	q{SET ROLE alice; INSERT INTO dagsched.pool (pool_name, slots, owner) VALUES ('fake', 1, 'postgres')},
	stderr => \$err);
like($err, qr/row-level security/, 'nor can she create a pool in the name of another role');

done_testing();
