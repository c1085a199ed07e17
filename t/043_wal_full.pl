# t/043_wal_full.pl -- the disk that holds pg_wal fills up.
#
# pg_wal lives on a small filesystem of its own (a 48 MB tmpfs that
# scripts/test.sh mounts when run as root; without it the test skips), with
# a ballast file beside it.  An every-second chain of SQL tasks (each INSERTs
# a row naming its run and task) runs, a long task is in flight, and a
# client writes until the WAL no longer fits.  The server stops as
# PostgreSQL does (a PANIC: WAL that cannot be written cannot be committed;
# restart_after_crash is off, as the test framework sets it, so the stop is
# final).  The ballast is removed (space freed), the server restarts and
# recovers, and afterwards: every run ended success (interrupted attempts
# retried), each (run, task) left exactly one row (no task ran twice, none
# was lost), rows committed before the disk filled are all there, and no
# tick has two runs.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

my $fs = $ENV{DAGSCHED_TEST_SMALLFS};
if (!$fs || !-d $fs || !-w $fs)
{
	plan skip_all => 'no small filesystem for pg_wal (scripts/test.sh mounts one when run as root)';
}

my $node = PostgreSQL::Test::Cluster->new('walfull');
# 1 MB segments: the filesystem fills by small steps
$node->init(extra => [ '--wal-segsize=1', "--waldir=$fs/pg_wal" ]);
$node->append_conf('postgresql.conf',
	    "shared_preload_libraries = 'dagsched'\n"
	  . "dagsched.database_name = 'postgres'\n"
	  . "max_worker_processes = 16\n"
	  # no checkpoint recycles WAL while the disk fills
	  . "max_wal_size = '4GB'\n"
	  . "min_wal_size = '2MB'\n"
	  . "checkpoint_timeout = '1h'\n"
	  . "log_checkpoints = on\n"
	  # the filler's statements would flood the log
	  . "log_statement = 'none'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION dagsched');

sub q_ok { return $node->safe_psql('postgres', $_[0]); }

sub poll
{
	my ($query, $expected, $secs) = @_;
	return DagschedTest::poll_through_restarts($node, $query, $expected,
		$secs || 60, 0.2);
}

# the ballast: 8 MB on the same filesystem, removed later to free space
my $ballast = "$fs/ballast";
open my $fh, '>', $ballast or die "open $ballast: $!";
print $fh "\0" x (1024 * 1024) for 1 .. 8;
close $fh or die "close $ballast: $!";

my $log_row = q{INSERT INTO public.wal_log (run_id, task_name) VALUES (
	current_setting('dagsched.run_id')::bigint, current_setting('dagsched.task_name'))};
q_ok(qq{
	CREATE TABLE public.wal_log (run_id bigint, task_name text);
	CREATE TABLE public.filler (v text);
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule, max_active_runs)
	VALUES ('chain', '* * * * * *', 5);
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, retries, retry_delay) VALUES
	  ('chain', 'a', \$\$$log_row\$\$, '{}', 5, '1 second'),
	  ('chain', 'b', \$\$$log_row\$\$, '{a}', 5, '1 second'),
	  ('chain', 'c', \$\$$log_row\$\$, '{b}', 5, '1 second');
	INSERT INTO dagsched.dag (dag_name) VALUES ('long');
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, retries, retry_delay) VALUES
	  ('long', 'nap', \$\$SELECT pg_sleep(CASE WHEN current_setting('dagsched.attempt') = '1'
	     THEN 600 ELSE 0.2 END); $log_row\$\$, '{}', 3, '1 second');
	COMMIT;
});
ok(poll(q{SELECT count(DISTINCT run_id) >= 3 FROM public.wal_log}), 'the every-second chain runs');
my $long = q_ok("SELECT dagsched.trigger('long')");
ok( poll(qq{SELECT count(*) = 1 FROM dagsched.task_run r JOIN pg_stat_activity a ON a.pid = r.pid
	  WHERE r.run_id = $long AND r.state = 'running' AND a.wait_event = 'PgSleep'}),
	"long run $long: nap is in flight");
my $rows_before = q_ok('SELECT count(*) FROM public.wal_log');

# ---------------------------------------------------------------------
# fill the disk
# ---------------------------------------------------------------------
my $t_fill = time();
my ($ret, $out, $err) = $node->psql(
	'postgres', q{DO $$
	BEGIN
	  FOR i IN 1 .. 1000 LOOP      -- ~1 GB of WAL at most: far beyond 48 MB
	    INSERT INTO public.filler SELECT repeat(md5(g::text), 32) FROM generate_series(1, 1000) g;
	    COMMIT;
	  END LOOP;
	END $$},
	timeout => 180);
isnt($ret, 0, 'the writing client fails when the WAL disk is full');
note("client: $err");

my $pid = $node->{_pid};
my $deadline = time() + 60;
sleep(0.2) while kill(0, $pid) && time() < $deadline;
ok(!kill(0, $pid), 'the server stopped');
note(sprintf('disk full and server stopped %.1f s after the filler started', time() - $t_fill));
my $log = slurp_file($node->logfile);
like($log, qr/PANIC: .*No space left on device/, 'log: PANIC, no space left on device');
$node->_update_pid(0);

# ---------------------------------------------------------------------
# free space, restart
# ---------------------------------------------------------------------
unlink $ballast or die "unlink $ballast: $!";
$node->start;
ok(poll('SELECT NOT pg_is_in_recovery()'), 'restarted after the space was freed');
q_ok('TRUNCATE public.filler');
ok(poll("SELECT state FROM dagsched.dag_run WHERE run_id = $long", 'success', 60),
	"long run $long (in flight when the disk filled) ends success");
ok( poll(q{SELECT count(DISTINCT run_id) >= 3 FROM public.wal_log WHERE run_id >
	  (SELECT max(run_id) FROM dagsched.dag_run WHERE created_at < pg_postmaster_start_time())}),
	'the chain fires again after the restart');

q_ok("UPDATE dagsched.dag SET paused = true WHERE dag_name = 'chain'");
ok(poll(q{SELECT count(*) = 0 FROM dagsched.dag_run WHERE state NOT IN ('success', 'failed', 'cancelled')}),
	'every run in flight ends');
is( q_ok(q{SELECT coalesce(string_agg(run_id || ':' || state, ', '), '') FROM dagsched.dag_run
	  WHERE state <> 'success'}),
	'', 'every run ended success');
is( q_ok(q{SELECT coalesce(string_agg(t.run_id || '/' || t.task_name || ' x' || coalesce(l.n, 0), ', '), '')
	  FROM dagsched.task_run t FULL JOIN
	       (SELECT run_id, task_name, count(*) AS n FROM public.wal_log GROUP BY 1, 2) l
	       USING (run_id, task_name)
	  WHERE coalesce(l.n, 0) <> 1 OR t.run_id IS NULL}),
	'', 'every (run, task) left exactly one row: none ran twice, none was lost');
ok(q_ok('SELECT count(*) FROM public.wal_log') >= $rows_before,
	"the $rows_before rows committed before the disk filled are still there");
is( q_ok(q{SELECT count(*) FROM (SELECT logical_time FROM dagsched.dag_run
	  WHERE dag_name = 'chain' GROUP BY 1 HAVING count(*) > 1) d}),
	'0', 'no tick has two runs');
like( q_ok("SELECT state || ' ' || error FROM dagsched.task_attempt WHERE run_id = $long AND attempt = 1"),
	qr/^failed .*server restarted/, 'the interrupted attempt is recorded failed: server restarted');

$node->stop;
done_testing();
