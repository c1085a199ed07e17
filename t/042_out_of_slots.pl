# t/042_out_of_slots.pl -- the server runs out of background-worker slots
# (max_worker_processes taken by other work: here a parallel query's worker)
# and out of client connections (max_connections taken by a client role).
#
# Out of slots: the scheduler cannot start a task worker; it logs that once,
# does not loop on it, and the queued tasks start as soon as a slot is free
# (without waiting for some later tick to wake the scheduler).
# Out of connections: dagsched's processes take their PGPROC from the
# background-worker pool, not from max_connections, so runs carry on while
# clients are refused.
use strict;
use warnings;

use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

my $node = PostgreSQL::Test::Cluster->new('slots');
$node->init;
# three slots: the scheduler, the logical replication launcher, and one for
# a task worker or a parallel query's worker, whichever takes it first
$node->append_conf('postgresql.conf',
	    "shared_preload_libraries = 'dagsched'\n"
	  . "dagsched.database_name = 'postgres'\n"
	  . "max_worker_processes = 3\n"
	  . "max_parallel_workers = 3\n"
	  . "dagsched.max_workers = 4\n"
	  . "dagsched.worker_idle_timeout = 1\n"
	  . "max_connections = 6\n"
	  . "superuser_reserved_connections = 2\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION dagsched');

sub psql_ok { return $node->safe_psql('postgres', $_[0]); }

sub poll
{
	my ($query, $expected, $secs) = @_;
	return DagschedTest::poll_through_restarts($node, $query, $expected,
		$secs || 30);
}

sub count_log
{
	my ($re) = @_;
	return scalar grep { /$re/ } split /\n/, slurp_file($node->logfile);
}

# the shortage and its end alternate in the log: how many times one of them
# follows itself
sub repeated_logs
{
	my $last = '';
	my $repeats = 0;
	for my $line (split /\n/, slurp_file($node->logfile))
	{
		my $kind =
			$line =~ /could not start a task worker: no free background worker slot/ ? 'short'
		  : $line =~ /a background worker slot is free again/ ? 'end'
		  :                                                      next;
		$repeats++ if $kind eq $last;
		$last = $kind;
	}
	return $repeats;
}

# ERROR or FATAL lines a process logged
sub errors_of
{
	my ($pid) = @_;
	return count_log(qr/\[$pid\].*(ERROR|FATAL):/);
}

# CPU seconds (user + system) a process has used
sub cpu_secs
{
	my ($pid) = @_;
	my $stat = slurp_file("/proc/$pid/stat");
	$stat =~ s/^.*\) //s;
	my @f = split / /, $stat;
	# fields 14 and 15 of the full line: utime, stime (clock ticks)
	return ($f[11] + $f[12]) / 100.0;
}

psql_ok(q{
	CREATE TABLE public.done (run_id bigint, task_name text);
	GRANT INSERT ON public.done TO PUBLIC;
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, max_active_runs) VALUES ('m', 10);
	INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	  ('m', 'one', $$INSERT INTO public.done VALUES (current_setting('dagsched.run_id')::bigint, 'one')$$);
	COMMIT;
});
is( psql_ok(q{SELECT string_agg(backend_type, ',' ORDER BY backend_type) FROM pg_stat_activity
	  WHERE backend_type IN ('dagsched scheduler', 'logical replication launcher')}),
	'dagsched scheduler,logical replication launcher',
	'two of the three slots are taken by the scheduler and the launcher');

my $r0 = psql_ok("SELECT dagsched.trigger('m')");
ok(poll("SELECT state FROM dagsched.dag_run WHERE run_id = $r0", 'success'),
	'a run succeeds while a slot is free');
ok(poll("SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'dagsched worker'"),
	'the idle worker exits (worker_idle_timeout = 1 s), freeing its slot');

# ---------------------------------------------------------------------
# out of background-worker slots
# ---------------------------------------------------------------------
# a parallel query whose one worker (a single-copy Gather) scans a table row
# by row, sleeping: it holds the last slot until it is cancelled
psql_ok(q{CREATE TABLE public.slow AS SELECT g FROM generate_series(1, 10000) g; ANALYZE public.slow});
my ($hog_out, $hog_err) = ('', '');
my $hog = IPC::Run::start(
	[
		'psql', '-XAtq', '-d', $node->connstr('postgres') . ' application_name=slot_hog',
		'-c', 'SET force_parallel_mode = on',
		'-c', 'SELECT count(*) FROM public.slow WHERE pg_sleep(0.1) IS NOT NULL'
	],
	'<', \undef, '>', \$hog_out, '2>', \$hog_err);
ok(poll("SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'parallel worker'"),
	'a parallel query\'s worker holds the last slot')
  or diag("parallel query: $hog_out $hog_err");

my $msg = qr/could not start a task worker: no free background worker slot/;
my $r1 = psql_ok("SELECT dagsched.trigger('m')");
my $r2 = psql_ok("SELECT dagsched.trigger('m')");
ok(poll("SELECT count(*) = 2 FROM dagsched.task_run WHERE run_id IN ($r1, $r2) AND state = 'queued'"),
	"runs $r1 and $r2: their tasks are queued");

# a while without a slot: every trigger wakes the scheduler, which tries
my $sched = psql_ok("SELECT pid FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'");
my $cpu0 = cpu_secs($sched);
my $t0 = time();
for my $i (1 .. 3)
{
	psql_ok("SELECT dagsched.trigger('m')");
	sleep(1);
}
my $r_last = psql_ok("SELECT max(run_id) FROM dagsched.dag_run");
my $cpu = cpu_secs($sched) - $cpu0;
my $wall = time() - $t0;
note(sprintf('scheduler used %.2f s of CPU in %.1f s without a slot', $cpu, $wall));
ok($cpu < $wall / 2, 'the scheduler does not spin while no slot is free');
is( psql_ok("SELECT count(*) FROM dagsched.task_run WHERE run_id >= $r1 AND state <> 'queued'"),
	'0', 'no task started without a slot');
# (a shortage may begin earlier: the scheduler may want a second worker
# while the first holds the free slot; either way, once per shortage)
ok(count_log($msg) >= 1, 'the missing slot is logged');
is(repeated_logs(), 0, 'logged once per shortage: never twice before it ends');
is(count_log(qr/(ERROR|FATAL):/), 0, 'no error in the log');
is($hog->pumpable ? 'running' : 'ended', 'running', 'the parallel query still holds the slot');

# the slot frees: the queued tasks start without waiting for a tick
my $t_free = time();
psql_ok("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'slot_hog'");
$hog->finish;
ok( poll("SELECT count(*) = 0 FROM dagsched.dag_run WHERE run_id >= $r1 AND state <> 'success'",
		't', 20),
	'the waiting runs succeed once the slot is free (within 20 s; the scheduler sleeps up to 60 s between ticks)');
note(sprintf('slot freed -> all waiting runs done: %.1f s', time() - $t_free));
ok(count_log(qr/a background worker slot is free again/) >= 1, 'the end of the shortage is logged');
is(repeated_logs(), 0, 'each end of a shortage is logged once');
is( psql_ok("SELECT count(*) FROM public.done WHERE run_id >= $r1"),
	$r_last - $r1 + 1, 'each waiting run ran its task once');

# ---------------------------------------------------------------------
# out of client connections
# ---------------------------------------------------------------------
ok(poll("SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'dagsched worker'"),
	'the worker exits again (idle)');
psql_ok('CREATE ROLE app LOGIN');
# The clients connect one after the other, each seen connected (it printed
# the 1 of its first statement) before the next starts, and with no psql of
# ours meanwhile: a superuser's connection takes a free slot too, so one
# made while the clients connect could leave the last client only the
# reserved slots (seen under load).
my @clients;
for my $i (1 .. 4)
{
	my ($o, $e) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-XAtq', '-d',
			$node->connstr('postgres') . " user=app application_name=client$i",
			'-c', 'SELECT 1', '-c', 'SELECT pg_sleep(600)'
		],
		'<', \undef, '>', \$o, '2>', \$e);
	my $deadline = time() + 30;
	while ($o !~ /^1$/m && $h->pumpable && time() < $deadline)
	{
		$h->pump_nb;
		sleep(0.05);
	}
	diag("client$i did not connect: $e") unless $o =~ /^1$/m;
	push @clients, $h;
}
ok(poll("SELECT count(*) = 4 FROM pg_stat_activity WHERE usename = 'app'"),
	'four client connections held: every non-reserved slot');
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT 1', extra_params => [ '-U', 'app' ]);
like($err, qr/remaining connection slots are reserved|too many clients/,
	'a fifth client is refused');

my @runs = map { psql_ok("SELECT dagsched.trigger('m')") } 1 .. 3;
ok( poll("SELECT count(*) = 3 FROM dagsched.dag_run WHERE run_id IN (" . join(',', @runs)
		  . ") AND state = 'success'"),
	'runs succeed while clients are refused (workers do not use client connection slots)');
psql_ok("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'");
$_->finish for @clients;
is(errors_of($sched), 0, 'no error logged by the scheduler');
is(count_log(qr/(ERROR|FATAL):.*(dagsched|task)/), 0, 'no dagsched error in the log');

$node->stop;
done_testing();
