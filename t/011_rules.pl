# t/011_rules.pl -- trigger rules on a live cluster: every rule below
# upstreams that succeed, fail or are skipped, the propagation of
# upstream_failed and skipped down the graph, and the run's final state
# (DESIGN.md, "State rules").
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $node = DagschedTest->node('rules',
	max_workers => 8);

sub sql { return $node->safe_psql('postgres', $_[0]); }

sql(q{CREATE TABLE ran (run_id bigint, task text)});

# every task that actually runs leaves a row in "ran"
my $RAN =
  q{INSERT INTO ran VALUES (current_setting('dagsched.run_id')::bigint, current_setting('dagsched.task_name'))};
my $FAIL = q{SELECT 1/0};

# define a DAG from [name, rule, [upstreams], fails?] and run it; returns
# (run_id, final state from wait())
sub run_dag
{
	my ($dag, @tasks) = @_;
	my @rows;
	for my $t (@tasks)
	{
		my ($name, $rule, $ups, $fails) = @$t;
		my $cmd = $fails ? $FAIL : $RAN;
		my $deps = '{' . join(',', @$ups) . '}';
		push @rows, "('$dag', '$name', \$\$$cmd\$\$, '$deps', '$rule')";
	}
	sql(    "BEGIN; INSERT INTO dagsched.dag (dag_name) VALUES ('$dag');\n"
		  . "INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, trigger_rule) VALUES\n"
		  . join(",\n", @rows)
		  . ";\nCOMMIT;");
	my $run = sql("SELECT dagsched.trigger('$dag')");
	my $state = sql("SELECT dagsched.wait($run, '60 s')");
	return ($run, $state);
}

# check every task's final state, that exactly the success tasks ran, and
# that tasks which never started have no attempts
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
	my @should_run =
	  sort grep { $expect{$_} eq 'success' } keys %expect;
	is_deeply(\@ran, \@should_run,
		"$label: exactly the successful tasks ran, once each");
	is( sql(
			"SELECT count(*) FROM dagsched.task_run WHERE run_id = $run AND state IN ('skipped', 'upstream_failed') AND (attempts <> 0 OR started_at IS NOT NULL OR finished_at IS NULL)"
		),
		'0',
		"$label: skipped/upstream_failed tasks never started and have finished_at");
}

###########################################################################
# successes and skips only: the run succeeds
###########################################################################
{
	my ($run, $state) = run_dag(
		'r_ok',
		[ 'ok1', 'all_success', [] ],
		[ 'ok2', 'all_success', [] ],
		# all_success below successes runs
		[ 'as_ok', 'all_success', [ 'ok1', 'ok2' ] ],
		# one_failed whose upstreams all succeeded is skipped
		[ 'of_ok', 'one_failed', [ 'ok1', 'ok2' ] ],
		# all_success below a skipped task is skipped, and so on down
		[ 'as_skip',  'all_success', ['of_ok'] ],
		[ 'as_skip2', 'all_success', ['as_skip'] ],
		[ 'as_mixed', 'all_success', [ 'ok1', 'of_ok' ] ],
		# none_failed runs after successes and skips
		[ 'nf_skip', 'none_failed', [ 'ok2', 'of_ok' ] ],
		[ 'nf_ok',   'none_failed', [ 'ok1', 'ok2' ] ],
		# all_done runs whatever its upstreams did
		[ 'ad_skip', 'all_done', [ 'of_ok', 'as_skip' ] ],
		# one_success: one success is enough; skipped only -> skipped
		[ 'os_mixed', 'one_success', [ 'ok1', 'of_ok' ] ],
		[ 'os_skip',  'one_success', ['of_ok'] ],
		# all_failed below a success or a skip is skipped
		[ 'af_ok',   'all_failed', ['ok1'] ],
		[ 'af_skip', 'all_failed', ['of_ok'] ],
		# one_failed below skips only is skipped
		[ 'of_skip', 'one_failed', ['of_ok'] ],
		# a success below a chain of skips via all_done / none_failed
		[ 'as_after_nf', 'all_success', ['nf_skip'] ]);
	is($state, 'success', 'r_ok: run with only successes and skips ends success');
	check_states(
		'r_ok', $run,
		ok1         => 'success',
		ok2         => 'success',
		as_ok       => 'success',
		of_ok       => 'skipped',
		as_skip     => 'skipped',
		as_skip2    => 'skipped',
		as_mixed    => 'skipped',
		nf_skip     => 'success',
		nf_ok       => 'success',
		ad_skip     => 'success',
		os_mixed    => 'success',
		os_skip     => 'skipped',
		af_ok       => 'skipped',
		af_skip     => 'skipped',
		of_skip     => 'skipped',
		as_after_nf => 'success');
}

###########################################################################
# failures: upstream_failed propagation and the rules that handle failure
###########################################################################
{
	my ($run, $state) = run_dag(
		'r_fail',
		[ 'ok',   'all_success', [] ],
		[ 'bad1', 'all_success', [], 1 ],
		[ 'bad2', 'all_success', [], 1 ],
		# all_success below a failure: upstream_failed, and on down
		[ 'as_bad',   'all_success', [ 'ok', 'bad1' ] ],
		[ 'as_chain', 'all_success', ['as_bad'] ],
		[ 'as_chain2', 'all_success', ['as_chain'] ],
		# all_done runs after a failure, and after upstream_failed
		[ 'ad_bad',   'all_done', [ 'ok', 'bad1' ] ],
		[ 'ad_chain', 'all_done', ['as_bad'] ],
		# all_failed: runs when all failed (upstream_failed counts),
		# skipped when one succeeded
		[ 'af_bad',   'all_failed', [ 'bad1', 'bad2' ] ],
		[ 'af_mixed', 'all_failed', [ 'ok', 'bad1' ] ],
		[ 'af_chain', 'all_failed', ['as_bad'] ],
		# one_success: runs on one success; all failed -> upstream_failed
		[ 'os_mixed', 'one_success', [ 'ok', 'bad1' ] ],
		[ 'os_bad',   'one_success', [ 'bad1', 'bad2' ] ],
		# one_failed runs on a failure or an upstream_failed
		[ 'of_bad',   'one_failed', [ 'ok', 'bad1' ] ],
		[ 'of_chain', 'one_failed', ['as_bad'] ],
		# none_failed does not run after a failure
		[ 'nf_bad',   'none_failed', [ 'ok', 'bad1' ] ],
		[ 'nf_chain', 'none_failed', ['as_bad'] ],
		# below a task that ran thanks to its rule, all_success runs again
		[ 'as_after_ad', 'all_success', ['ad_bad'] ]);
	is($state, 'failed', 'r_fail: run with failed tasks ends failed');
	check_states(
		'r_fail', $run,
		ok          => 'success',
		bad1        => 'failed',
		bad2        => 'failed',
		as_bad      => 'upstream_failed',
		as_chain    => 'upstream_failed',
		as_chain2   => 'upstream_failed',
		ad_bad      => 'success',
		ad_chain    => 'success',
		af_bad      => 'success',
		af_mixed    => 'skipped',
		af_chain    => 'success',
		os_mixed    => 'success',
		os_bad      => 'upstream_failed',
		of_bad      => 'success',
		of_chain    => 'success',
		nf_bad      => 'upstream_failed',
		nf_chain    => 'upstream_failed',
		as_after_ad => 'success');
	like(
		sql("SELECT error FROM dagsched.task_run WHERE run_id = $run AND task_name = 'bad1'"),
		qr/^22012: /,
		'r_fail: failed task keeps its error');
	is( sql(
			"SELECT count(*) FROM dagsched.task_run WHERE run_id = $run AND state = 'upstream_failed' AND error IS NOT NULL AND error LIKE '22012%'"
		),
		'0',
		'r_fail: upstream_failed tasks do not carry the upstream error as their own');
}

###########################################################################
# a failure "handled" by an all_done / one_failed task still fails the run;
# a run whose only non-success is upstream_failed fails too
###########################################################################
{
	my ($run, $state) = run_dag(
		'r_handled',
		[ 'bad',     'all_success', [], 1 ],
		[ 'cleanup', 'all_done',    ['bad'] ],
		[ 'alert',   'one_failed',  ['bad'] ]);
	is($state, 'failed', 'r_handled: a failed task fails the run even when handled');
	check_states(
		'r_handled', $run,
		bad     => 'failed',
		cleanup => 'success',
		alert   => 'success');
}

{
	# skips propagate down all_success; none_failed runs after them
	my ($run, $state) = run_dag(
		'r_only_skip',
		[ 'ok',    'all_success', [] ],
		[ 'alert', 'one_failed',  ['ok'] ],
		[ 'after', 'all_success', ['alert'] ],
		[ 'final', 'none_failed', [ 'ok', 'after' ] ]);
	is($state, 'success', 'r_only_skip: skips do not fail the run');
	check_states(
		'r_only_skip', $run,
		ok    => 'success',
		alert => 'skipped',
		after => 'skipped',
		final => 'success');
}

# the run-level bookkeeping is consistent
is( sql(
		"SELECT count(*) FROM dagsched.dag_run WHERE finished_at IS NULL OR state NOT IN ('success', 'failed')"
	),
	'0',
	'every run ended with finished_at set');
is( sql(
		"SELECT count(*) FROM dagsched.task_run WHERE state IN ('pending', 'queued', 'running', 'retry_wait')"
	),
	'0',
	'no task left unfinished');

$node->stop;
done_testing();
