# t/033_dump_restore.pl -- history survives pg_dump / pg_restore into a
# second cluster: runs, task runs and attempts come back as they were, run
# ids continue after the restored ones, a scheduled DAG carries on without a
# second run for a tick it already ran, and a restored failed run can be
# resumed.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $conf = "shared_preload_libraries = 'dagsched'\n"
  . "dagsched.database_name = 'postgres'\n"
  . "max_worker_processes = 16\n"
  . "dagsched.max_workers = 4\n";

my $a = PostgreSQL::Test::Cluster->new('dump_src');
$a->init;
$a->append_conf('postgresql.conf', $conf);
$a->start;
$a->safe_psql('postgres', 'CREATE EXTENSION dagsched');

# a failing run (with a retry, so that it has two attempts), a successful
# one, and a DAG that ticks every two seconds
$a->safe_psql(
	'postgres', q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('hist');
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, retries, retry_delay)
	VALUES ('hist', 'a', 'SELECT 1', '{}', 0, '1 s'),
	       ('hist', 'b', 'SELECT 1/0', '{a}', 1, '100 ms');
	INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('ticker', 'every 2 seconds');
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ticker', 't', 'SELECT 1');
	COMMIT;
});
my $failed = $a->safe_psql('postgres', "SELECT dagsched.trigger('hist')");
is($a->safe_psql('postgres', "SELECT dagsched.wait($failed, '60 s')"),
	'failed', 'source: the run fails');
# the fix, made before the dump; the failed run is resumed after the restore
$a->safe_psql('postgres',
	"UPDATE dagsched.task SET command = 'SELECT 2', retries = 0 WHERE dag_name = 'hist' AND task_name = 'b'");
ok( $a->poll_query_until(
		'postgres',
		"SELECT count(*) >= 2 FROM dagsched.dag_run
		  WHERE dag_name = 'ticker' AND state = 'success'"),
	'source: the scheduled DAG ran twice');

# stop ticking, let what runs finish, then dump
$a->safe_psql('postgres', "UPDATE dagsched.dag SET paused = true WHERE dag_name = 'ticker'");
ok( $a->poll_query_until(
		'postgres',
		"SELECT count(*) = 0 FROM dagsched.dag_run WHERE state IN ('queued', 'running')"),
	'source: nothing in flight');

my %sig = (
	dag_run => q{SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', run_id, dag_name,
	                 logical_time, trigger, state, started_at, finished_at), ';' ORDER BY run_id)
	             FROM dagsched.dag_run},
	task_run => q{SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', run_id, task_name,
	                 state, attempts, command, error, finished_at), ';' ORDER BY run_id, task_name)
	              FROM dagsched.task_run},
	task_attempt => q{SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', run_id, task_name,
	                 attempt, state, error, command, started_at), ';'
	                 ORDER BY run_id, task_name, attempt)
	                  FROM dagsched.task_attempt});
my %before = map { $_ => $a->safe_psql('postgres', $sig{$_}) } keys %sig;
my $max_run = $a->safe_psql('postgres', 'SELECT max(run_id) FROM dagsched.dag_run');
my $ticks = $a->safe_psql('postgres',
	"SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'ticker'");
cmp_ok($max_run, '>=', 3, 'source: at least three runs to restore');
is( $a->safe_psql(
		'postgres',
		"SELECT count(*) FROM dagsched.task_attempt WHERE run_id = $failed AND task_name = 'b'"),
	'2', 'source: the failed task has two attempts');

my $dump = $PostgreSQL::Test::Utils::tmp_check . '/history.dump';
$a->command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump, '-d', $a->connstr('postgres') ],
	'pg_dump of the source database');
$a->stop;

# a second cluster, fresh; restore in one transaction (README: the scheduler
# must not see the DAGs before their history)
my $b = PostgreSQL::Test::Cluster->new('dump_dst');
$b->init;
$b->append_conf('postgresql.conf', $conf);
$b->start;
$b->command_ok(
	[
		'pg_restore', '--single-transaction', '--exit-on-error',
		'-d', $b->connstr('postgres'), $dump
	],
	'pg_restore into a second cluster');

for my $t (sort keys %sig)
{
	is($b->safe_psql('postgres', $sig{$t}), $before{$t},
		"restore: $t is back as it was");
}

# new run ids continue after the restored ones
my $new = $b->safe_psql('postgres', "SELECT dagsched.trigger('hist')");
cmp_ok($new, '>', $max_run, 'restore: a new run id continues after the restored ones');
is($b->safe_psql('postgres', "SELECT dagsched.wait($new, '60 s')"),
	'success', 'restore: the restored DAG runs with its restored definition');

# the scheduled DAG carries on: new ticks only, never one already run
$b->safe_psql('postgres', "UPDATE dagsched.dag SET paused = false WHERE dag_name = 'ticker'");
ok( $b->poll_query_until(
		'postgres',
		"SELECT count(*) > $ticks FROM dagsched.dag_run
		  WHERE dag_name = 'ticker' AND state = 'success'"),
	'restore: the scheduled DAG carries on');
is( $b->safe_psql(
		'postgres', qq{
	SELECT count(*) FROM dagsched.dag_run n
	 WHERE n.dag_name = 'ticker' AND n.run_id > $max_run
	   AND (n.logical_time <= (SELECT max(o.logical_time) FROM dagsched.dag_run o
	                            WHERE o.dag_name = 'ticker' AND o.run_id <= $max_run))}),
	'0', 'restore: no new run for a tick that already ran');
is( $b->safe_psql(
		'postgres',
		"SELECT count(*) FROM dagsched.dag_run WHERE run_id > $max_run AND run_id < $new"),
	'0', 'restore: no run was created between the restore and the first trigger');

# a restored failed run is history that can be resumed, with the fix
is($b->safe_psql('postgres', "SELECT dagsched.retry($failed)"),
	'1', 'restore: retry() of a restored failed run resets its failed task');
is($b->safe_psql('postgres', "SELECT dagsched.wait($failed, '60 s')"),
	'success', 'restore: the restored run resumes and succeeds');


$b->stop;
done_testing();
