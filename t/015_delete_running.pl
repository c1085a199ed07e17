# t/015_delete_running.pl -- deleting a DAG, or DROP EXTENSION dagsched,
# while its tasks run: the running SQL, shell and remote tasks stop at once
# (within seconds) instead of running to their end and being rolled back
# then.  Deleting a DAG deletes its runs (README: Deleting a DAG).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = DagschedTest->node('delete_running', max_worker_processes => 16, max_workers => 6);

# the remote target: a second server the remote task's query runs on
my $target = PostgreSQL::Test::Cluster->new('delete_target');
$target->init;
$target->start;

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub poll_within
{
	my ($query, $secs, $on) = @_;
	$on //= $node;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		return 1 if $on->safe_psql('postgres', $query) eq 't';
		usleep(100_000);
	}
	return $on->safe_psql('postgres', $query) eq 't';
}

sub alive { my ($pid) = @_; return kill(0, $pid) ? 1 : 0; }

my $dir = $node->basedir;
my $tconn = 'host=' . $target->host . ' port=' . $target->port . ' dbname=postgres';

# one DAG per kind; each task runs for five minutes unless stopped.  The
# sleep marks (300.1, 300.2, 300.3) tell the tasks apart in pg_stat_activity.
sub define
{
	my ($tag) = @_;
	sql(qq{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('${tag}_sql'), ('${tag}_sh'), ('${tag}_remote');
		INSERT INTO dagsched.task (dag_name, task_name, kind, command, conninfo) VALUES
		  ('${tag}_sql', 'long', 'sql', 'SELECT pg_sleep(300.1)', NULL),
		  ('${tag}_sh', 'long', 'shell', 'echo \$\$ > $dir/${tag}.pid; exec sleep 300', NULL),
		  ('${tag}_remote', 'long', 'sql', 'SELECT pg_sleep(300.3)', '$tconn');
		COMMIT;
	});
	unlink "$dir/${tag}.pid";
	my @runs = map { sql("SELECT dagsched.trigger('${tag}_$_')") } qw(sql sh remote);
	ok( poll_within(
			"SELECT count(*) = 3 FROM dagsched.task_run WHERE run_id IN ("
			  . join(',', @runs)
			  . ") AND state = 'running'", 60),
		"$tag: the three tasks run");
	ok(poll_within("SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300.1)'", 30),
		"$tag: the SQL task sleeps in a worker");
	ok( poll_within(
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300.3)'",
			30, $target),
		"$tag: the remote task sleeps on the target");
	my $deadline = time() + 30;
	usleep(100_000) while !-s "$dir/${tag}.pid" && time() < $deadline;
	my $pid = -s "$dir/${tag}.pid" ? PostgreSQL::Test::Utils::slurp_file("$dir/${tag}.pid") : 0;
	chomp $pid;
	ok($pid && alive($pid), "$tag: the shell task's program runs (pid $pid)");
	return ($pid, @runs);
}

sub stopped
{
	my ($tag, $pid, $what) = @_;
	ok(poll_within("SELECT count(*) = 0 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300.1)'", 15),
		"$what: the SQL task stopped at once");
	ok( poll_within(
			"SELECT count(*) = 0 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300.3)'",
			15, $target),
		"$what: the remote query stopped at once");
	my $deadline = time() + 15;
	usleep(100_000) while alive($pid) && time() < $deadline;
	ok(!alive($pid), "$what: the shell task's program was killed");
}

###########################################################################
# DELETE FROM dagsched.dag
###########################################################################
{
	my ($pid, @runs) = define('del');
	sql("DELETE FROM dagsched.dag WHERE dag_name LIKE 'del\\_%'");
	stopped('del', $pid, 'DAG deleted');
	is(sql("SELECT count(*) FROM dagsched.dag_run WHERE run_id IN (" . join(',', @runs) . ")"),
		'0', 'DAG deleted: its runs (history) are deleted with it');
	is(sql("SELECT count(*) FROM dagsched.task_attempt WHERE run_id IN (" . join(',', @runs) . ")"),
		'0', 'DAG deleted: no attempt of its runs is recorded afterwards');

	# the workers carry on with other DAGs
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('after_delete');
		INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('after_delete', 't', 'SELECT 1');
		COMMIT;
	});
	my $r = sql("SELECT dagsched.trigger('after_delete')");
	is(sql("SELECT dagsched.wait($r, '60 s')"), 'success', 'DAG deleted: other DAGs still run');
}

###########################################################################
# DROP EXTENSION dagsched
###########################################################################
{
	my ($pid, @runs) = define('drop');
	sql('DROP EXTENSION dagsched');
	stopped('drop', $pid, 'DROP EXTENSION');

	sql('CREATE EXTENSION dagsched');
	sql(q{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('after_drop');
		INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('after_drop', 't', 'SELECT 1');
		COMMIT;
	});
	my $r = sql("SELECT dagsched.trigger('after_drop')");
	is(sql("SELECT dagsched.wait($r, '60 s')"), 'success',
		'DROP EXTENSION: once created again, DAGs run');
}

$node->stop;
$target->stop;
done_testing();
