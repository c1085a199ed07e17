# t/041_ha_autofailover.pl -- dagsched under a real HA manager,
# pg_auto_failover (pg_autoctl): a monitor, a primary and a streaming standby
# on loopback.  A DAG fires every second (a chain of SQL tasks, each INSERTing
# a row naming its run and task and the node it ran on) while a long task is
# in flight; the test performs a planned switchover, then kills the new
# primary's node (SIGKILL of its pg_autoctl keeper and of its postmaster, as
# when a machine dies) and lets the monitor fail over automatically.
#
# Afterwards: every run ended success (the interrupted long tasks retried),
# every (run, task) left exactly one row, no tick has two runs, no task ran on
# a node while it was a standby, and the time from the kill to the first task
# on the new primary is printed.
#
# dagsched needs nothing from the manager beyond shared_preload_libraries in
# the nodes' postgresql.conf (pg_basebackup copies it to the standby).
use strict;
use warnings;

use File::Spec;
use POSIX qw(WNOHANG);
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

# ---------------------------------------------------------------------
# pg_autoctl and the PostgreSQL it drives
# ---------------------------------------------------------------------
my $autoctl;
for my $dir (split /:/, $ENV{PATH})
{
	if (-x "$dir/pg_autoctl") { $autoctl = "$dir/pg_autoctl"; last; }
}
if (!$autoctl)
{
	# CI installs postgresql-15-auto-failover (.ci/run): missing there is a failure
	BAIL_OUT('pg_autoctl not found (apt-get install postgresql-15-auto-failover)')
	  if $ENV{CI};
	plan skip_all => 'pg_autoctl not installed (postgresql-15-auto-failover)';
}
# pg_autoctl looks pg_ctl up through PG_CONFIG or PATH and picks the highest
# version it finds; --pgctl pins the one this build is tested against
my $bindir = $ENV{PG_CONFIG} ? `$ENV{PG_CONFIG} --bindir` : '';
chomp $bindir;
if (!$bindir || !-x "$bindir/pg_ctl")
{
	$bindir = (grep { -x "$_/pg_ctl" } split /:/, $ENV{PATH})[0];
}
my $pgctl = "$bindir/pg_ctl";
note("pg_autoctl: $autoctl; pg_ctl: $pgctl");

# pg_autoctl keeps its configuration, state and pid files under the XDG
# directories: one private set for this test
my $xdg = PostgreSQL::Test::Utils::tempdir();
$ENV{XDG_CONFIG_HOME} = "$xdg/config";
$ENV{XDG_DATA_HOME}   = "$xdg/data";
$ENV{XDG_RUNTIME_DIR} = "$xdg/run";
mkdir "$xdg/run" or die "mkdir: $!";

my $mon   = PostgreSQL::Test::Cluster->new('monitor');
my $node1 = PostgreSQL::Test::Cluster->new('node1');
my $node2 = PostgreSQL::Test::Cluster->new('node2');
# pg_autoctl connects to its local server through PGHOST (the socket dir)
$ENV{PGHOST} = $mon->host;
my %name = ($node1->port => 'node1', $node2->port => 'node2');

my %services;    # the running `pg_autoctl run` harnesses, by node

sub autoctl
{
	my ($what, @args) = @_;
	my $log = "$PostgreSQL::Test::Utils::log_path/autoctl_$what.log";
	my $ok = eval {
		IPC::Run::run([ $autoctl, @args ], '<', \undef, '>>', $log, '2>>', $log,
			IPC::Run::timeout(120));
	};
	diag("pg_autoctl @args: $@") if $@;
	return $ok;
}

sub autoctl_run
{
	my ($what, $node) = @_;
	my $log = "$PostgreSQL::Test::Utils::log_path/autoctl_$what.log";
	$services{$what} =
	  IPC::Run::start([ $autoctl, 'run', '--pgdata', $node->data_dir ],
		'<', \undef, '>>', $log, '2>>', $log);
	return;
}

# the keeper: the `pg_autoctl run` supervisor and every pg_autoctl process
# below it (its postgres controller, its node-active loop); not the
# postmaster (the controller's child)
sub keeper_pids
{
	my ($h) = @_;
	my %parent;
	my %comm;
	for my $stat (glob('/proc/[0-9]*/stat'))
	{
		my $line = eval { slurp_file($stat) } or next;
		# pid (comm) state ppid ...; comm may hold spaces and parentheses
		next unless $line =~ /^(\d+) \((.*)\) \S+ (\d+)/s;
		$parent{$1} = $3;
		$comm{$1}   = $2;
	}
	my $top = $h->{KIDS}[0]{PID};
	my @pids = ($top);
	my %seen = ($top => 1);
	for (my $i = 0; $i < @pids; $i++)
	{
		for my $pid (keys %parent)
		{
			next if $seen{$pid} || $parent{$pid} != $pids[$i];
			next if $comm{$pid} =~ /^postgres/;
			$seen{$pid} = 1;
			push @pids, $pid;
		}
	}
	return @pids;
}

sub postmaster_pid
{
	my ($node) = @_;
	my $f = $node->data_dir . '/postmaster.pid';
	return undef unless -f $f;
	my ($pid) = split /\n/, slurp_file($f);
	return $pid;
}

# stop every keeper (fast shutdown of its postgres) at the end, also on
# failure; then kill whatever of it is left, so no process outlives the test
END
{
	local $?;
	my @left;
	my @top;
	for my $h (values %services)
	{
		push @left, keeper_pids($h);
		push @top, $h->{KIDS}[0]{PID};
	}
	kill 'TERM', @top;
	my $until = time() + 30;
	for my $pid (@top)
	{
		sleep(0.2) while waitpid($pid, WNOHANG) == 0 && time() < $until;
	}
	kill 'KILL', grep { kill 0, $_ } @left;
	for my $node ($mon, $node1, $node2)
	{
		next unless defined $node && defined postmaster_pid($node);
		system($pgctl, '-D', $node->data_dir, '-m', 'immediate', 'stop');
	}
}

# the monitor's state lives in its database pg_auto_failover
sub q_on
{
	my ($node, $sql) = @_;
	my $db = $node->name eq $mon->name ? 'pg_auto_failover' : 'postgres';
	my ($ret, $out, $err) = DagschedTest::try_psql($node, $sql, $db,
		on_error_stop => 1, timeout => 30);
	return $ret == 0 ? $out : undef;
}

sub poll_on
{
	my ($node, $query, $expected, $secs) = @_;
	$expected = 't' unless defined $expected;
	my $deadline = time() + ($secs || 60);
	my $last = '';
	while (time() < $deadline)
	{
		my $out = q_on($node, $query);
		$last = $out // '(error)';
		return 1 if defined $out && $out eq $expected;
		sleep(0.2);
	}
	diag("poll timed out on " . $node->name . ": $query\n  last result: $last");
	return 0;
}

sub is_primary
{
	my ($node) = @_;
	return (q_on($node, 'SELECT NOT pg_is_in_recovery()') // '') eq 't';
}

# the dagsched processes a node runs now
my $dagsched_backends =
  "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'dagsched%'";

# sample a standby for a while: it must run no scheduler and no worker
sub standby_idle
{
	my ($node, $secs) = @_;
	my $max = 0;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		my $n = q_on($node, $dagsched_backends) // 0;
		$max = $n if $n > $max;
		sleep(0.2);
	}
	return $max;
}

# ---------------------------------------------------------------------
# monitor, primary, standby
# ---------------------------------------------------------------------
my $t_start = time();
$mon->init;
ok( autoctl('monitor', 'create', 'monitor', '--pgctl', $pgctl,
		'--pgdata', $mon->data_dir, '--pgport', $mon->port,
		'--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl'),
	'pg_autoctl create monitor');
# loopback only (the monitor has no --listen option)
autoctl('monitor', 'config', 'set', '--pgdata', $mon->data_dir,
	'postgresql.listen_addresses', '127.0.0.1');
autoctl_run('monitor', $mon);
ok(poll_on($mon, 'SELECT count(*) = 1 FROM pg_extension WHERE extname = \'pgautofailover\''),
	'monitor is up');
# detect a dead node in a few seconds rather than the default ~30 s
$mon->safe_psql('postgres', $_) for (
	'ALTER SYSTEM SET pgautofailover.health_check_period = 1000',
	'ALTER SYSTEM SET pgautofailover.health_check_timeout = 1000',
	'ALTER SYSTEM SET pgautofailover.health_check_max_retries = 1',
	'ALTER SYSTEM SET pgautofailover.health_check_retry_delay = 500',
	'ALTER SYSTEM SET pgautofailover.node_considered_unhealthy_timeout = 2000',
	'ALTER SYSTEM SET pgautofailover.primary_demote_timeout = 3000',
	'SELECT pg_reload_conf()');

my $monitor_uri = 'postgres://autoctl_node@127.0.0.1:' . $mon->port
  . '/pg_auto_failover?sslmode=disable';

# the primary: our own initdb, so postgresql.conf carries dagsched's line
# (pg_autoctl includes its own settings first: later lines win, so the
# test framework's lines must keep streaming possible)
$node1->init(allows_streaming => 1);
$node1->append_conf('postgresql.conf',
	    "shared_preload_libraries = 'dagsched'\n"
	  . "dagsched.database_name = 'postgres'\n"
	  . "max_worker_processes = 16\n"
	  . "shared_buffers = '32MB'\n"
	  . "log_min_messages = info\n");

sub create_node
{
	my ($what, $node) = @_;
	return autoctl($what, 'create', 'postgres', '--pgctl', $pgctl,
		'--pgdata', $node->data_dir, '--pghost', $node->host,
		'--pgport', $node->port, '--listen', '127.0.0.1',
		'--hostname', '127.0.0.1', '--name', $what, '--auth', 'trust',
		'--no-ssl', '--monitor', $monitor_uri);
}
ok(create_node('node1', $node1), 'pg_autoctl create postgres: node1');
autoctl_run('node1', $node1);
ok(poll_on($node1, 'SELECT NOT pg_is_in_recovery()'), 'node1 is up, read-write');
$node1->safe_psql('postgres', 'CREATE EXTENSION dagsched');

ok(create_node('node2', $node2), 'pg_autoctl create postgres: node2 (pg_basebackup of node1)');
autoctl_run('node2', $node2);
ok( poll_on(
		$mon, q{SELECT string_agg(nodename || ':' || reportedstate || ':' || goalstate, ','
		  ORDER BY nodename) FROM pgautofailover.node},
		'node1:primary:primary,node2:secondary:secondary', 90),
	'monitor: node1 primary, node2 secondary');
is(q_on($node2, "SELECT current_setting('shared_preload_libraries')"),
	'dagsched', 'the standby preloads dagsched (postgresql.conf came with the base backup)');
note(sprintf('cluster set up in %.1f s', time() - $t_start));

# ---------------------------------------------------------------------
# the DAGs
# ---------------------------------------------------------------------
# each task leaves one row naming its run, task, attempt and node; the row
# commits with the task's success, so an interrupted attempt leaves none
my $log_row = q{INSERT INTO public.ha_log (run_id, task_name, attempt, port, at) VALUES (
	current_setting('dagsched.run_id')::bigint, current_setting('dagsched.task_name'),
	current_setting('dagsched.attempt')::int, current_setting('port')::int, clock_timestamp())};
$node1->safe_psql('postgres', qq{
	CREATE TABLE public.ha_log (run_id bigint, task_name text, attempt int,
	  port int, at timestamptz);
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, schedule, max_active_runs)
	VALUES ('chain', '* * * * * *', 5);
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, retries, retry_delay) VALUES
	  ('chain', 'a', \$\$$log_row\$\$, '{}', 5, '1 second'),
	  ('chain', 'b', \$\$$log_row\$\$, '{a}', 5, '1 second'),
	  ('chain', 'c', \$\$$log_row\$\$, '{b}', 5, '1 second');
	INSERT INTO dagsched.dag (dag_name) VALUES ('long');
	-- the first attempt sleeps far longer than the test: only a retry ends it
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, retries, retry_delay) VALUES
	  ('long', 'nap', \$\$SELECT pg_sleep(CASE WHEN current_setting('dagsched.attempt') = '1'
	     THEN 600 ELSE 0.2 END); $log_row\$\$, '{}', 3, '1 second'),
	  ('long', 'after', \$\$$log_row\$\$, '{nap}', 3, '1 second');
	COMMIT;
});
ok(poll_on($node1, q{SELECT count(DISTINCT run_id) >= 3 FROM public.ha_log}),
	'node1: the every-second chain runs');

# start a long run and wait until its nap is sleeping on $node
sub start_long
{
	my ($node) = @_;
	my $run = $node->safe_psql('postgres', "SELECT dagsched.trigger('long')");
	ok( poll_on(
			$node, qq{SELECT count(*) = 1
			FROM dagsched.task_run r JOIN pg_stat_activity a ON a.pid = r.pid
			WHERE r.run_id = $run AND r.task_name = 'nap' AND r.state = 'running'
			  AND a.wait_event = 'PgSleep'}),
		"long run $run: nap is in flight on " . $node->name);
	return $run;
}

my $long1 = start_long($node1);
is(standby_idle($node2, 2), 0, 'node2 (standby): no dagsched process');

# ---------------------------------------------------------------------
# planned switchover: node2 becomes primary
# ---------------------------------------------------------------------
my $t_switch = time();
ok( autoctl('switchover', 'perform', 'switchover', '--pgdata', $mon->data_dir,
		'--wait', '90'),
	'pg_autoctl perform switchover');
ok( poll_on(
		$mon, q{SELECT string_agg(nodename || ':' || reportedstate || ':' || goalstate, ','
		  ORDER BY nodename) FROM pgautofailover.node},
		'node1:secondary:secondary,node2:primary:primary', 90),
	'monitor: node2 primary, node1 secondary');
my $t_switched = time();
ok(is_primary($node2) && !is_primary($node1), 'node2 read-write, node1 in recovery');
note(sprintf('switchover took %.1f s', $t_switched - $t_switch));

ok( poll_on($node2, "SELECT state FROM dagsched.dag_run WHERE run_id = $long1", 'success', 60),
	"long run $long1 (interrupted by the switchover) ends success on node2");
ok( poll_on($node2, q{SELECT count(DISTINCT run_id) >= 3 FROM public.ha_log
	  WHERE port = } . $node2->port),
	'node2: the chain keeps firing');
my $long2 = start_long($node2);
is(standby_idle($node1, 2), 0, 'node1 (now a standby): no dagsched process');
ok( poll_on($mon, q{SELECT bool_and(reportedstate = goalstate) FROM pgautofailover.node}),
	'monitor: both nodes settled before the kill');

# ---------------------------------------------------------------------
# the primary's machine dies: its keeper and its postmaster, SIGKILL
# ---------------------------------------------------------------------
# the keeper first: alive, it would restart the postmaster in place
# (frozen first, so that none of its processes acts on the postmaster's death)
my @keeper = keeper_pids($services{node2});
my $pm     = postmaster_pid($node2);
ok(@keeper >= 3 && defined $pm, "node2: keeper pids @keeper, postmaster $pm");
kill 'STOP', @keeper;
kill 'KILL', $pm;
kill 'KILL', @keeper;
my $t_kill = time();

my $deadline = time() + 90;
sleep(0.2) until is_primary($node1) || time() > $deadline;
my $t_promoted = time();
ok(is_primary($node1), 'automatic failover: node1 is read-write again');
note(sprintf('kill -> node1 promoted: %.1f s', $t_promoted - $t_kill));

ok( poll_on($node1, "SELECT state FROM dagsched.dag_run WHERE run_id = $long2", 'success', 60),
	"long run $long2 (in flight at the kill) ends success on node1");
my $first = q_on($node1, sprintf(q{SELECT extract(epoch FROM min(at)) FROM public.ha_log
	WHERE port = %d AND at > to_timestamp(%.6f)}, $node1->port, $t_kill));
ok(defined $first && $first ne '', 'node1 ran a task after the kill');
diag(sprintf('kill -> first task on the new primary: %.2f s (promotion after %.2f s)',
	$first - $t_kill, $t_promoted - $t_kill)) if $first;
ok( poll_on($node1, sprintf(q{SELECT count(DISTINCT run_id) >= 3 FROM public.ha_log
	  WHERE port = %d AND at > to_timestamp(%.6f)}, $node1->port, $t_kill)),
	'node1: the chain keeps firing after the failover');

# ---------------------------------------------------------------------
# what happened, from the surviving node's tables
# ---------------------------------------------------------------------
$node1->safe_psql('postgres', "UPDATE dagsched.dag SET paused = true WHERE dag_name = 'chain'");
ok( poll_on($node1, q{SELECT count(*) = 0 FROM dagsched.dag_run
	  WHERE state NOT IN ('success', 'failed', 'cancelled')}),
	'every run in flight ends');
is( q_on($node1, q{SELECT coalesce(string_agg(run_id || ':' || dag_name || ':' || state, ', '), '')
	  FROM dagsched.dag_run WHERE state <> 'success'}),
	'', 'every run ended success');
is( q_on($node1, q{SELECT count(*) FROM dagsched.task_run WHERE state <> 'success'}),
	'0', 'every task ended success');
is( q_on($node1, q{SELECT coalesce(string_agg(t.run_id || '/' || t.task_name || ' x' || coalesce(l.n, 0), ', '), '')
	  FROM dagsched.task_run t FULL JOIN
	       (SELECT run_id, task_name, count(*) AS n FROM public.ha_log GROUP BY 1, 2) l
	       USING (run_id, task_name)
	  WHERE coalesce(l.n, 0) <> 1 OR t.run_id IS NULL}),
	'', 'every (run, task) left exactly one row');
is( q_on($node1, q{SELECT count(*) FROM (SELECT logical_time FROM dagsched.dag_run
	  WHERE dag_name = 'chain' GROUP BY 1 HAVING count(*) > 1) d}),
	'0', 'no tick has two runs');
# a node runs tasks only while it is the primary: node1 before the
# switchover and after the kill, node2 between the two (each side of the
# switchover's window may overlap it: the old primary until its demotion,
# the new one from its promotion)
is( q_on($node1, sprintf(q{SELECT count(*) FROM public.ha_log WHERE
	  (port = %d AND at > to_timestamp(%.6f) AND at < to_timestamp(%.6f))
	  OR (port = %d AND (at < to_timestamp(%.6f) OR at > to_timestamp(%.6f)))},
		$node1->port, $t_switched, $t_kill, $node2->port, $t_switch, $t_kill)),
	'0', 'no task ran on a standby');
is( q_on($node1, q{SELECT string_agg(run_id || '/' || task_name || ':' || attempts, ',' ORDER BY run_id, task_name)
	  FROM dagsched.task_run WHERE run_id IN (} . "$long1, $long2)"),
	"$long1/after:1,$long1/nap:2,$long2/after:1,$long2/nap:2",
	'each long nap was interrupted once and retried once');
my $interrupted = q_on($node1, q{SELECT count(*) FROM dagsched.task_attempt
	WHERE state <> 'success'});
note("attempts interrupted by the switchover and the failover: $interrupted");
is(q_on($node1, q{SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'chain'})
	  >= 10 ? 't' : 'f', 't', 'the chain ran at least 10 times');

# evidence: the nodes' own logs (pg_autoctl turns logging_collector on)
for my $node ($node1, $node2)
{
	for my $f (glob($node->data_dir . '/log/*'))
	{
		PostgreSQL::Test::Utils::system_log('cp', $f,
			"$PostgreSQL::Test::Utils::log_path/" . $node->name . '_' . (File::Spec->splitpath($f))[2]);
	}
}
note(sprintf('test took %.1f s', time() - $t_start));
done_testing();
