# t/lib/DagschedTest.pm -- what the TAP tests of dagsched share: a cluster
# with dagsched preloaded and created, and the helpers every test needs to
# talk to it (run SQL, trigger a run, wait for it, poll with a deadline).
#
#   use FindBin;
#   use lib "$FindBin::RealBin/lib";
#   use DagschedTest;
#
#   my $node = DagschedTest->node('engine', max_workers => 8);
#   my $run = DagschedTest::trigger($node, 'etl');
#   is(DagschedTest::wait_run($node, $run), 'success');
#
# node() options:
#   conf                  extra postgresql.conf text
#   max_worker_processes  (32)
#   max_workers           dagsched.max_workers (unset: the default, 8)
#   database              dagsched.database_name and the database the
#                         extension goes into ('postgres')
#   allows_streaming      passed to init (for a standby)
#   create_extension      0 to leave CREATE EXTENSION to the test
#   start                 0 to leave the start to the test
#
# Waits poll the tables with a deadline; none of them is a bare sleep.
#
# Copyright (c) 2026, dagsched developers
package DagschedTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

sub node
{
	my ($class, $name, %opt) = @_;
	my $db = $opt{database} // 'postgres';
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init($opt{allows_streaming} ? (allows_streaming => 1) : ());
	my $conf =
	    "shared_preload_libraries = 'dagsched'\n"
	  . "dagsched.database_name = '$db'\n"
	  . "max_worker_processes = " . ($opt{max_worker_processes} // 32) . "\n";
	$conf .= "dagsched.max_workers = $opt{max_workers}\n"
	  if defined $opt{max_workers};
	$conf .= $opt{conf} if defined $opt{conf};
	$node->append_conf('postgresql.conf', $conf);
	return $node if defined $opt{start} && !$opt{start};

	$node->start;
	$node->safe_psql('postgres', "CREATE DATABASE $db") if $db ne 'postgres';
	$node->safe_psql($db, 'CREATE EXTENSION dagsched')
	  unless defined $opt{create_extension} && !$opt{create_extension};
	return $node;
}

# one SQL string in database postgres (or $db), its output
sub sql
{
	my ($node, $query, $db) = @_;
	return $node->safe_psql($db // 'postgres', $query);
}

# psql that never dies: ($ret, $stdout, $stderr), $ret -1 when psql could
# not even be fed its input.  While a server crash-restarts or fails over,
# psql can exit on its failed connection before reading stdin, and IPC::Run
# then throws "Broken pipe" out of $node->psql (a test dies with exit 32).
sub try_psql
{
	my ($node, $query, $db, @opt) = @_;
	my ($ret, $out, $err);
	eval {
		($ret, $out, $err) = $node->psql($db // 'postgres', $query, @opt);
		1;
	} or return (-1, '', "psql failed: $@");
	return ($ret, $out, $err);
}

# poll a query until it returns $expected ('t' by default) or $secs pass,
# across crash restarts and failovers (a failed connection is one more
# try); says what it last saw when it gives up
sub poll_through_restarts
{
	my ($node, $query, $expected, $secs, $pause) = @_;
	$expected //= 't';
	my $deadline = time() + $secs;
	my $last = '';
	while (time() < $deadline)
	{
		my ($ret, $out, $err) = try_psql($node, $query);
		$last = $ret == 0 ? $out : "error: $err";
		return 1 if $ret == 0 && $out eq $expected;
		usleep(($pause // 0.1) * 1_000_000);
	}
	diag("poll timed out: $query\n  last result: $last");
	return 0;
}

# a manual run, triggered in its own transaction; returns the run_id
sub trigger
{
	my ($node, $dag, $params) = @_;
	$params = defined $params ? "'$params'::jsonb" : "'{}'::jsonb";
	return sql($node, "SELECT dagsched.trigger('$dag', $params)");
}

# wait() in a later transaction than trigger(); returns the run's state
sub wait_run
{
	my ($node, $run, $timeout) = @_;
	$timeout //= '60 s';
	return sql($node, "SELECT dagsched.wait($run, '$timeout')");
}

# poll a boolean query until it returns 't' or $secs pass; true on success
sub poll_within
{
	my ($node, $query, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		return 1 if sql($node, $query) eq 't';
		usleep(50_000);
	}
	return sql($node, $query) eq 't';
}

# one column of one task_run
sub task_field
{
	my ($node, $run, $task, $col) = @_;
	return sql($node,
		"SELECT $col FROM dagsched.task_run WHERE run_id = $run AND task_name = '$task'"
	);
}

# the scheduler's pid, or '' when it is not running
sub scheduler_pid
{
	my ($node) = @_;
	return sql($node,
		"SELECT coalesce(max(pid)::text, '') FROM pg_stat_activity "
		  . "WHERE backend_type = 'dagsched scheduler'");
}

1;
