# t/034_catchup_unpause.pl -- catchup = true: the ticks missed while a DAG
# was paused are caught up once it is unpaused, as after downtime (one
# 'catchup' run per missed tick); catchup = false resumes at the next tick.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = DagschedTest->node('catchup_unpause', max_worker_processes => 16);

sub sql { return $node->safe_psql('postgres', $_[0]); }

# gaps between consecutive logical times other than 1 s, '' when none
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

sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule, catchup, max_active_runs) VALUES
	  ('up_a', '* * * * * *', false, 100),
	  ('up_b', '* * * * * *', true, 100);
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	  ('up_a', 'one', 'SELECT 1'),
	  ('up_b', 'one', 'SELECT 1');
	COMMIT;
});
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(DISTINCT dag_name) = 2 AND min(n) >= 2 FROM
		   (SELECT dag_name, count(*) n FROM dagsched.dag_run GROUP BY dag_name) s"),
	'both DAGs ran a few ticks');

my $paused_at = sql(
	"WITH u AS (UPDATE dagsched.dag SET paused = true WHERE dag_name IN ('up_a', 'up_b') RETURNING 1)
	  SELECT now() FROM u LIMIT 1"
);
# let at least four ticks go by while paused
ok( $node->poll_query_until(
		'postgres', "SELECT clock_timestamp() > '$paused_at'::timestamptz + interval '5 s'"),
	'five seconds pass while paused');
my %last = map {
	$_ => sql("SELECT max(logical_time) FROM dagsched.dag_run WHERE dag_name = '$_'")
} qw(up_a up_b);
my $unpaused_at = sql(
	"WITH u AS (UPDATE dagsched.dag SET paused = false WHERE dag_name IN ('up_a', 'up_b') RETURNING 1)
	  SELECT now() FROM u LIMIT 1"
);

ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) >= 2 FROM dagsched.dag_run WHERE dag_name = 'up_b'
		  AND logical_time > '$unpaused_at'"),
	'up_b: runs resume after the unpause');
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) >= 2 FROM dagsched.dag_run WHERE dag_name = 'up_a'
		  AND logical_time > '$unpaused_at'"),
	'up_a: runs resume after the unpause');

is(gaps('up_b'), '', 'up_b (catchup = true): no tick missing across the pause');
cmp_ok(
	sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'up_b'
	      AND trigger = 'catchup' AND logical_time > '$last{up_b}'"),
	'>=', 4, "up_b: one 'catchup' run per tick missed while paused");
is( sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'up_b'
	      AND trigger = 'catchup' AND logical_time <= '$last{up_b}'"),
	'0', 'up_b: no catchup run for a tick that already ran');
is( sql("SELECT count(*) - count(DISTINCT logical_time) FROM dagsched.dag_run
	      WHERE dag_name = 'up_b'"),
	'0', 'up_b: one run per tick');

cmp_ok(
	sql("SELECT extract(epoch FROM min(logical_time) - '$last{up_a}'::timestamptz)
	       FROM dagsched.dag_run WHERE dag_name = 'up_a' AND logical_time > '$last{up_a}'"),
	'>=', 4, 'up_a (catchup = false): the ticks missed while paused are not run');
is(sql("SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'up_a' AND trigger <> 'schedule'"),
	'0', 'up_a: no catchup runs');

$node->stop;
done_testing();
