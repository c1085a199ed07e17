# t/017_airflow_rules.pl -- the trigger rules added in 0.2 (Airflow's
# none_failed_min_one_success, one_done, none_skipped, all_skipped and
# always) in live runs: each below upstreams that succeed, fail, end
# upstream_failed or are skipped, with the tasks that run leaving a row;
# and an "always" task that runs while its upstream is still running.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $node = DagschedTest->node('airflow_rules', max_workers => 8);

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{CREATE TABLE ran (run_id bigint, task text)});
sql(q{CREATE TABLE gate (opened boolean)});

my $RAN =
  q{INSERT INTO ran VALUES (current_setting('dagsched.run_id')::bigint, current_setting('dagsched.task_name'))};
my $FAIL = q{SELECT 1/0};

# a DAG from [name, rule, [upstreams], command]; returns its run id
sub start_dag
{
	my ($dag, @tasks) = @_;
	my @rows;
	for my $t (@tasks)
	{
		my ($name, $rule, $ups, $cmd) = @$t;
		my $deps = '{' . join(',', @$ups) . '}';
		push @rows, "('$dag', '$name', \$c\$$cmd\$c\$, '$deps', '$rule')";
	}
	sql(    "BEGIN; INSERT INTO dagsched.dag (dag_name) VALUES ('$dag');\n"
		  . "INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, trigger_rule) VALUES\n"
		  . join(",\n", @rows)
		  . ";\nCOMMIT;");
	return sql("SELECT dagsched.trigger('$dag')");
}

sub check_states
{
	my ($label, $run, %expect) = @_;
	my %got = map { split /\|/ }
	  split /\n/,
	  sql("SELECT task_name || '|' || state FROM dagsched.task_run WHERE run_id = $run");
	for my $task (sort keys %expect)
	{
		is($got{$task}, $expect{$task}, "$label: $task is $expect{$task}");
	}
	is(scalar(keys %got), scalar(keys %expect), "$label: task count");
	my @ran = split /\n/,
	  sql("SELECT task FROM ran WHERE run_id = $run ORDER BY task");
	my @should_run = sort grep { $expect{$_} eq 'success' } keys %expect;
	is_deeply(\@ran, \@should_run,
		"$label: exactly the successful tasks ran, once each");
	is( sql(
			"SELECT count(*) FROM dagsched.task_run WHERE run_id = $run AND state IN ('skipped', 'upstream_failed') AND (attempts <> 0 OR finished_at IS NULL)"
		),
		'0',
		"$label: skipped/upstream_failed tasks never started and have finished_at");
}

###########################################################################
# every new rule below success, failed, upstream_failed and skipped
# upstreams: ok succeeds, bad fails, uf ends upstream_failed (all_success
# below bad), skp is skipped (one_failed below ok)
###########################################################################
{
	my $run = start_dag(
		'r17',
		[ 'ok',  'all_success', [],      $RAN ],
		[ 'bad', 'all_success', [],      $FAIL ],
		[ 'uf',  'all_success', ['bad'], $RAN ],
		[ 'skp', 'one_failed',  ['ok'],  $RAN ],
		# none_failed_min_one_success
		[ 'nfmos_ok',   'none_failed_min_one_success', [ 'ok', 'skp' ], $RAN ],
		[ 'nfmos_skip', 'none_failed_min_one_success', ['skp'],         $RAN ],
		[ 'nfmos_bad',  'none_failed_min_one_success', [ 'ok', 'bad' ], $RAN ],
		[ 'nfmos_uf',   'none_failed_min_one_success', [ 'ok', 'uf' ],  $RAN ],
		# one_done: a success or a failure; upstream_failed does not count
		[ 'od_ok',  'one_done', [ 'ok',  'skp' ], $RAN ],
		[ 'od_bad', 'one_done', [ 'bad', 'skp' ], $RAN ],
		[ 'od_uf',  'one_done', [ 'uf',  'skp' ], $RAN ],
		# none_skipped: runs after failures, not after a skip
		[ 'ns_bad',  'none_skipped', [ 'ok', 'bad', 'uf' ], $RAN ],
		[ 'ns_skip', 'none_skipped', [ 'ok', 'skp' ],       $RAN ],
		# all_skipped
		[ 'ask_skip',  'all_skipped', ['skp'],         $RAN ],
		[ 'ask_ok',    'all_skipped', [ 'skp', 'ok' ], $RAN ],
		[ 'ask_bad',   'all_skipped', ['bad'],         $RAN ],
		[ 'ask_uf',    'all_skipped', ['uf'],          $RAN ],
		# always: whatever the upstreams do
		[ 'alw_bad', 'always', [ 'bad', 'uf' ], $RAN ],
		[ 'alw_skip', 'always', ['skp'], $RAN ],
		# below a task skipped by its rule, the default rule skips too
		[ 'after_skip', 'all_success', ['ask_ok'], $RAN ]);
	is(sql("SELECT dagsched.wait($run, '60 s')"), 'failed',
		'r17: the run with a failed task ends failed');
	check_states(
		'r17', $run,
		ok         => 'success',
		bad        => 'failed',
		uf         => 'upstream_failed',
		skp        => 'skipped',
		nfmos_ok   => 'success',
		nfmos_skip => 'skipped',
		nfmos_bad  => 'upstream_failed',
		nfmos_uf   => 'upstream_failed',
		od_ok      => 'success',
		od_bad     => 'success',
		od_uf      => 'skipped',
		ns_bad     => 'success',
		ns_skip    => 'skipped',
		ask_skip   => 'success',
		ask_ok     => 'skipped',
		ask_bad    => 'skipped',
		ask_uf     => 'skipped',
		alw_bad    => 'success',
		alw_skip   => 'success',
		after_skip => 'skipped');
}

###########################################################################
# always runs at once: while its upstream still waits at a gate
###########################################################################
{
	my $run = start_dag(
		'r17_always',
		[   'slow', 'all_success', [],
			q{DO $$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM gate) LOOP PERFORM pg_sleep(0.05); END LOOP; END $$; SELECT 1/0}
		],
		[ 'alw',  'always',      ['slow'], $RAN ],
		[ 'next', 'all_success', ['slow'], $RAN ]);
	ok( $node->poll_query_until(
			'postgres', qq{SELECT count(*) = 2 FROM dagsched.task_run
			WHERE run_id = $run AND ((task_name = 'alw' AND state = 'success')
			  OR (task_name = 'slow' AND state = 'running'))}),
		'r17_always: the always task succeeded while its upstream runs');
	is( sql("SELECT state FROM dagsched.task_run WHERE run_id = $run AND task_name = 'next'"),
		'pending', 'r17_always: an all_success sibling still waits');
	sql(q{INSERT INTO gate VALUES (true)});
	is(sql("SELECT dagsched.wait($run, '60 s')"), 'failed',
		'r17_always: the run ends failed once the upstream fails');
	check_states(
		'r17_always', $run,
		slow => 'failed',
		alw  => 'success',
		next => 'upstream_failed');
}

$node->stop;
done_testing();
