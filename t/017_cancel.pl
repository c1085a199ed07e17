# t/017_cancel.pl -- cancel() reports a run cancelled only once every task
# of it has stopped: wait() never says 'cancelled' while a shell or SQL task
# is still 'running', and the run's finished_at is not earlier than any of
# its tasks'.  Repeated 20 times, because it is a race.  cancel() of a run
# that has ended says so and changes nothing.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = DagschedTest->node('cancel', max_worker_processes => 16, max_workers => 4);

sub sql { return $node->safe_psql('postgres', $_[0]); }

# wait(), then, with a fresh snapshot, what the tables say at that moment
sql(q{
CREATE FUNCTION wait_and_look(r bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	s text;
	active int;
	ordered boolean;
BEGIN
	s := dagsched.wait(r, '60 s');
	SELECT count(*) INTO active FROM dagsched.task_run
	 WHERE run_id = r AND state IN ('pending', 'queued', 'running', 'retry_wait');
	SELECT d.finished_at >= max(t.finished_at) INTO ordered
	  FROM dagsched.dag_run d JOIN dagsched.task_run t USING (run_id)
	 WHERE d.run_id = r GROUP BY d.finished_at;
	RETURN s || ' active=' || active || ' ordered=' || coalesce(ordered::text, 'null');
END $$;
});

# the shell task ignores SIGTERM for a moment, so that it outlives the
# cancel's commit by a little (the worker kills its process group)
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, max_active_runs) VALUES ('c', 100);
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, depends_on) VALUES
	  ('c', 'sh', 'shell', 'trap "" TERM; sleep 60', '{}'),
	  ('c', 'sq', 'sql', 'SELECT pg_sleep(60)', '{}'),
	  ('c', 'after', 'sql', 'SELECT 1', '{sh,sq}');
	COMMIT;
});

my $bad = 0;
for my $i (1 .. 20)
{
	my $run = sql("SELECT dagsched.trigger('c')");
	$node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM dagsched.task_run WHERE run_id = $run AND state = 'running'")
	  or diag("run $run: tasks did not start");
	sql("SELECT dagsched.cancel($run)");
	my $seen = sql("SELECT wait_and_look($run)");
	if ($seen ne 'cancelled active=0 ordered=true')
	{
		$bad++;
		diag("round $i, run $run: $seen; "
			  . sql("SELECT string_agg(task_name || '=' || state, ',' ORDER BY task_name)
			          FROM dagsched.task_run WHERE run_id = $run"));
	}
}
is($bad, 0, 'cancel: in 20 rounds, wait() said cancelled only after every task had stopped');
is( sql("SELECT string_agg(DISTINCT t.task_name || '=' || t.state, ',')
           FROM dagsched.task_run t JOIN dagsched.dag_run r USING (run_id)
          WHERE r.dag_name = 'c'"),
	'after=cancelled,sh=cancelled,sq=cancelled',
	'cancel: every task of every round ended cancelled');
is( sql("SELECT count(*) FROM dagsched.task_attempt a JOIN dagsched.dag_run r USING (run_id)
          WHERE r.dag_name = 'c' AND a.state <> 'cancelled'"),
	'0', 'cancel: every attempt is recorded cancelled');

# cancel() of a run that has ended says so, and changes nothing
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('done');
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('done', 't', 'SELECT 1');
	COMMIT;
});
my $done = sql("SELECT dagsched.trigger('done')");
is(sql("SELECT dagsched.wait($done, '60 s')"), 'success', 'a run ends success');
my ($ret, $out, $err) = $node->psql('postgres', "SELECT dagsched.cancel($done)");
like($err, qr/NOTICE:  run $done has already ended with state "success"/,
	'cancel() of a finished run says it has ended, and how');
is(sql("SELECT state || '/' || (SELECT state FROM dagsched.task_run WHERE run_id = $done)
         FROM dagsched.dag_run WHERE run_id = $done"),
	'success/success', 'cancel() of a finished run changes nothing');

$node->stop;
done_testing();
