# t/017_run_control.pl -- control of when and how many runs and tasks go
# (issue 17): one-off runs scheduled ahead with trigger(..., at), deadlines
# (missed_deadline, one NOTIFY, dag_stats), and dagsched.max_workers lowered
# by a reload taking effect at once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $node = DagschedTest->node('control', max_workers => 4);

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{CREATE TABLE ran (run_id bigint, task text, at timestamptz)});
sql(q{
	INSERT INTO dagsched.dag (dag_name) VALUES ('later');
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	  ('later', 'a', $$INSERT INTO ran VALUES (current_setting('dagsched.run_id')::bigint, 'a', clock_timestamp())$$);
});

# ---- one-off runs: trigger(dag, params, at) -------------------------------

my ($run, $at) = split /\|/, sql(q{
	SELECT r, r2 FROM (SELECT clock_timestamp() + interval '2 s' AS r2) x,
	LATERAL dagsched.trigger('later', '{"k": 1}', x.r2) AS r});
is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run"),
	'scheduled', 'a run triggered 2 s ahead is created now, scheduled');
is(sql("SELECT logical_time = '$at' AND started_at IS NULL FROM dagsched.dag_run WHERE run_id = $run"),
	't', 'its logical_time is "at", it has not started');
is(sql("SELECT string_agg(state, ',') FROM dagsched.task_run WHERE run_id = $run"),
	'pending', 'its tasks wait pending');
is(DagschedTest::wait_run($node, $run, '30 s'), 'success',
	'the scheduled run runs and succeeds');
is(sql("SELECT started_at >= logical_time FROM dagsched.dag_run WHERE run_id = $run"),
	't', 'it started no earlier than "at"');
is(sql("SELECT bool_and(r.at >= '$at') AND count(*) = 1 FROM ran r WHERE run_id = $run"),
	't', 'its task ran once, no earlier than "at"');

# a time in the past, or NULL, means now
my $now_run = sql(q{SELECT dagsched.trigger('later', '{}', now() - interval '1 h')});
is(DagschedTest::wait_run($node, $now_run), 'success', 'a past "at" runs now');
my $null_run = sql(q{SELECT dagsched.trigger('later', '{}', NULL)});
is(DagschedTest::wait_run($node, $null_run), 'success', 'a NULL "at" runs now');
is(sql(q{SELECT dagsched.trigger(NULL, '{}') IS NULL}), 't',
	'a NULL DAG name gives NULL, as when trigger() was STRICT');

# cancel() works on a scheduled run; it never starts
my $far = sql(q{SELECT dagsched.trigger('later', '{}', now() + interval '3 s')});
sql("SELECT dagsched.cancel($far)");
is(sql("SELECT state || ',' || (finished_at IS NOT NULL) FROM dagsched.dag_run WHERE run_id = $far"),
	'cancelled,true', 'cancel() ends a scheduled run');
is(sql("SELECT string_agg(state, ',') FROM dagsched.task_run WHERE run_id = $far"),
	'cancelled', 'its tasks are cancelled');
sleep(4);	# past its "at": it must not have come back to life
is(sql("SELECT state FROM dagsched.dag_run WHERE run_id = $far"),
	'cancelled', 'a cancelled scheduled run stays cancelled after its time');
is(sql("SELECT count(*) FROM ran WHERE run_id = $far"), '0',
	'its task never ran');

my ($ok, $out, $err) = (0, '', '');
$node->psql('postgres', q{SELECT dagsched.trigger('later', '{}', 'infinity')},
	stderr => \$err);
like($err, qr/cannot be scheduled at "infinity"/, 'an infinite "at" is refused');

done_testing();
