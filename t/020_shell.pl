# t/020_shell.pl -- shell tasks: output capture and its bound, exit status,
# a clean environment, timeouts, background children that outlive the shell,
# cancellation killing the whole process group, and the privilege checks.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;
use Time::HiRes qw(time);

my $node = DagschedTest->node('shell',
	max_worker_processes => 16);

my $shell_dir = $node->data_dir . '/dagsched_shell';

# Processes whose process group is $pgid (the shell was its group's leader).
sub group_members
{
	my ($pgid) = @_;
	my @pids;

	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open my $fh, '<', $stat or next;
		my $line = <$fh>;
		close $fh;
		next unless defined $line;
		# fields after the last ')': state ppid pgrp ...
		my ($rest) = $line =~ /\)\s+(.*)$/ or next;
		my ($state, undef, $pgrp) = split /\s+/, $rest;
		# a zombie is dead already; one orphaned to init waits for init's
		# reaping, which a container's init may do lazily
		next if $state eq 'Z';
		push @pids, $stat =~ m{/proc/(\d+)/} if $pgrp == $pgid;
	}
	return @pids;
}

# Zombie processes whose parent is one of @parents.
sub zombies_of
{
	my %parent = map { $_ => 1 } @_;
	my @z;

	for my $stat (glob '/proc/[0-9]*/stat')
	{
		open my $fh, '<', $stat or next;
		my $line = <$fh>;
		close $fh;
		next unless defined $line;
		my ($rest) = $line =~ /\)\s+(.*)$/ or next;
		my ($state, $ppid) = split /\s+/, $rest;
		push @z, $stat if $state eq 'Z' && $parent{$ppid};
	}
	return @z;
}

# Wait up to $secs for a process group to be empty.
sub group_gone_within
{
	my ($pgid, $secs) = @_;
	my $until = time + $secs;

	while (time < $until)
	{
		return 1 unless group_members($pgid);
		select(undef, undef, undef, 0.1);
	}
	return !group_members($pgid);
}

sub slurp_pid
{
	my ($name) = @_;
	my $pid = slurp_file("$shell_dir/$name");
	chomp $pid;
	return $pid;
}

sub trigger_and_wait
{
	my ($dag, $timeout) = @_;
	my $run_id =
	  $node->safe_psql('postgres', "SELECT dagsched.trigger('$dag')");
	my $state = $node->safe_psql('postgres',
		"SELECT dagsched.wait($run_id, '$timeout')");
	return ($run_id, $state);
}

sub task_field
{
	my ($run_id, $task, $expr) = @_;
	return $node->safe_psql('postgres',
		"SELECT $expr FROM dagsched.task_run WHERE run_id = $run_id AND task_name = '$task'"
	);
}

# ------------------------------------------------------------ one DAG, many tasks
$node->safe_psql(
	'postgres', q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('sh');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, timeout) VALUES
	  ('sh', 'hello', 'shell', 'echo hello; echo err >&2', NULL),
	  ('sh', 'exit3', 'shell', 'exit 3', NULL),
	  ('sh', 'env', 'shell',
	   'echo "$DAGSCHED_DAG $DAGSCHED_TASK $DAGSCHED_ATTEMPT"; env | wc -l', NULL),
	  ('sh', 'context', 'shell',
	   'echo "pwd=$(pwd)"; echo "params=$DAGSCHED_PARAMS"; echo "run=$DAGSCHED_RUN_ID"; '
	   || 'echo "lt=$DAGSCHED_LOGICAL_TIME"; echo "pg=$(env | grep -c ^PG)"; '
	   || 'echo fds:; ls /proc/$$/fd; echo end', NULL),
	  ('sh', 'big', 'shell', 'head -c 5000000 /dev/zero | tr ''\0'' x', NULL),
	  ('sh', 'lines', 'shell', 'seq 1 100000', NULL),
	  ('sh', 'binary', 'shell', 'printf ''a\000b\377\376c\n''', NULL),
	  ('sh', 'forker', 'shell',
	   'echo $$ > forker.pid; (sleep 30 &) ; echo started', NULL),
	  ('sh', 'slow', 'shell', 'echo $$ > slow.pid; echo before; sleep 30', '1 second'),
	  ('sh', 'killed', 'shell', 'kill -9 $$', NULL),
	  ('sh', 'quiet', 'shell', 'echo bye; exec >/dev/null 2>&1; sleep 1; exit 4', NULL);
	COMMIT;
});

my ($run_id, $state) = trigger_and_wait('sh', '60 seconds');
is($state, 'failed', 'run with failing shell tasks ends failed');

# plain success, stdout and stderr both captured
is(task_field($run_id, 'hello', 'state'), 'success', 'echo task succeeded');
like(task_field($run_id, 'hello', 'output'), qr/hello/, 'stdout captured');
like(task_field($run_id, 'hello', 'output'), qr/err/, 'stderr captured');

# exit status
is(task_field($run_id, 'exit3', 'state'), 'failed', 'exit 3 fails');
like(task_field($run_id, 'exit3', 'error'), qr/exit status 3/,
	'error names the exit status');
is(task_field($run_id, 'killed', 'state'), 'failed', 'killed shell fails');
like(task_field($run_id, 'killed', 'error'), qr/killed by signal 9/,
	'error names the signal');

# the environment: DAGSCHED_* and not much else
my $env_out = task_field($run_id, 'env', 'output');
like($env_out, qr/^sh env 1$/m, 'DAGSCHED_DAG, DAGSCHED_TASK, DAGSCHED_ATTEMPT set');
my ($nenv) = $env_out =~ /^\s*(\d+)\s*$/m;
# 12, plus DAGSCHED_RESULT_FILE and DAGSCHED_RESULTS_FILE (issue 16)
ok(defined $nenv && $nenv <= 14, "small environment ($nenv variables)");

my $ctx = task_field($run_id, 'context', 'output');
like($ctx, qr{^pwd=.*/dagsched_shell$}m, 'runs in $PGDATA/dagsched_shell');
like($ctx, qr/^params=\{\}$/m, 'DAGSCHED_PARAMS is the JSON params');
like($ctx, qr/^run=$run_id$/m, 'DAGSCHED_RUN_ID');
like($ctx, qr/^lt=\d{4}-/m, 'DAGSCHED_LOGICAL_TIME');
like($ctx, qr/^pg=0$/m, 'no PG* variables of the server leak in');
# the shell's own descriptors, listed while it waits for ls
my ($fds) = $ctx =~ /^fds:\n(.*?)^end$/ms;
$fds = join ' ', sort split /\s+/, $fds // '';
is($fds, '0 1 2', 'only stdin, stdout and stderr are open');

# a program that closes its output is still waited for
is(task_field($run_id, 'quiet', 'error'), 'exit status 4',
	'program that closed its output is waited for');
is(task_field($run_id, 'quiet', 'output'), "bye\n", 'output before closing kept');

# 5 MB of output: the tail is kept, with a note on what was dropped
is(task_field($run_id, 'big', 'state'), 'success', 'big output task succeeded');
my $big = task_field($run_id, 'big', 'output');
like(
	$big,
	qr/^\[\.\.\. 4934464 bytes of output dropped \.\.\.\]\nxxxx/,
	'dropped output is noted');
ok(length($big) <= 65536 + 64, 'output bounded to about 64 kB (' . length($big) . ')');
ok(length($big) >= 65536, 'the last 64 kB are kept');

# cut output starts at a line boundary: the first kept line is whole, and
# the note counts every byte before it
{
	my $lines = task_field($run_id, 'lines', 'output');
	my ($dropped, $first, $second) =
	  $lines =~ /^\[\.\.\. (\d+) bytes of output dropped \.\.\.\]\n(\d+)\n(\d+)\n/;
	ok(defined $first, 'cut line output: a note, then whole lines');
	is($second, $first + 1, 'cut line output: the first kept line is a whole number');
	my $before = 0;
	$before += length("$_\n") for 1 .. $first - 1;
	is($dropped, $before, 'cut line output: starts right after a line break');
	like($lines, qr/\n100000\n$/, 'cut line output: ends with the last line');
	ok(length($lines) <= 65536 + 64, 'cut line output: bounded');
}

# NUL and invalid UTF-8 do not break the INSERT
is(task_field($run_id, 'binary', 'state'), 'success', 'binary output stored');
is(task_field($run_id, 'binary', 'output'), "a?b??c\n", 'NUL and invalid bytes replaced');

# a background child holding the pipe does not hang the worker
is(task_field($run_id, 'forker', 'state'), 'success', 'forking task succeeded');
like(task_field($run_id, 'forker', 'output'), qr/started/, 'forking task output');
ok( task_field(
		$run_id, 'forker', "finished_at - started_at < interval '5 seconds'") eq 't',
	'forking task completed promptly');
ok(group_gone_within(slurp_pid('forker.pid'), 5),
	'background child of a finished task is killed');

# timeout
is(task_field($run_id, 'slow', 'state'), 'failed', 'timed out task fails');
like(task_field($run_id, 'slow', 'error'), qr/timed out/, 'error says timed out');
like(task_field($run_id, 'slow', 'output'), qr/before/, 'output kept on timeout');
ok( task_field(
		$run_id, 'slow', "finished_at - started_at < interval '10 seconds'") eq 't',
	'timeout enforced promptly');
ok(group_gone_within(slurp_pid('slow.pid'), 5), 'timed out program is gone');

my @worker_pids = split /\n/,
  $node->safe_psql('postgres',
	"SELECT DISTINCT pid FROM dagsched.task_run WHERE run_id = $run_id AND pid IS NOT NULL");
is(scalar(zombies_of(@worker_pids)), 0, 'no zombie children left');

# ------------------------------------------------------------ cancel
$node->safe_psql(
	'postgres', q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('sh_cancel');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command) VALUES
	  ('sh_cancel', 'sleeper', 'shell', 'echo $$ > cancel.pid; sleep 60; echo done');
	COMMIT;
});
unlink "$shell_dir/cancel.pid";
my $cancel_run =
  $node->safe_psql('postgres', "SELECT dagsched.trigger('sh_cancel')");
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'running' FROM dagsched.task_run WHERE run_id = $cancel_run"),
	'sleeper task is running');
# the shell writes its pid first thing; wait for it
my $until = time + 10;
select(undef, undef, undef, 0.1)
  while !-s "$shell_dir/cancel.pid" && time < $until;
my $cancel_pgid = slurp_pid('cancel.pid');
ok(scalar(group_members($cancel_pgid)) >= 1, 'sleep 60 runs in its own group');

my $t0 = time;
$node->safe_psql('postgres', "SELECT dagsched.cancel($cancel_run)");
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'cancelled' FROM dagsched.task_run WHERE run_id = $cancel_run"),
	'cancelled task is cancelled');
ok(group_gone_within($cancel_pgid, 5), 'cancel killed the process group');
ok(time - $t0 < 10, sprintf('cancel took %.1f s', time - $t0));
is( $node->safe_psql(
		'postgres', "SELECT state FROM dagsched.dag_run WHERE run_id = $cancel_run"),
	'cancelled',
	'run is cancelled');

# ------------------------------------------------------------ privileges
$node->safe_psql('postgres', 'CREATE ROLE alice LOGIN');
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres', q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, owner) VALUES ('alice_sh', 'alice');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command)
	VALUES ('alice_sh', 't', 'shell', 'echo hi');
	COMMIT;
});
isnt($ret, 0, 'shell task for an owner without pg_execute_server_program refused');
like($stderr, qr/pg_execute_server_program/, 'refusal names the missing role');

# privilege revoked after the DAG was defined: checked again at run time
$node->safe_psql(
	'postgres', q{
	CREATE ROLE bob LOGIN;
	GRANT pg_execute_server_program TO bob;
	BEGIN;
	INSERT INTO dagsched.dag (dag_name, owner) VALUES ('bob_sh', 'bob');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command)
	VALUES ('bob_sh', 't', 'shell', 'echo hi');
	COMMIT;
});
($run_id, $state) = trigger_and_wait('bob_sh', '30 seconds');
is($state, 'success', 'owner with pg_execute_server_program runs shell tasks');
$node->safe_psql('postgres', 'REVOKE pg_execute_server_program FROM bob');
($run_id, $state) = trigger_and_wait('bob_sh', '30 seconds');
is($state, 'failed', 'after REVOKE the shell task fails');
like(task_field($run_id, 't', 'error'), qr/may not run shell tasks/,
	'run-time privilege check names the reason');

# ------------------------------------------------------------ shutdown
# a fast shutdown terminates the worker (ProcDiePending) mid-task: the
# program must not outlive it
unlink "$shell_dir/cancel.pid";
$run_id = $node->safe_psql('postgres', "SELECT dagsched.trigger('sh_cancel')");
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'running' FROM dagsched.task_run WHERE run_id = $run_id"),
	'sleeper task is running before shutdown');
$until = time + 10;
select(undef, undef, undef, 0.1)
  while !-s "$shell_dir/cancel.pid" && time < $until;
my $shutdown_pgid = slurp_pid('cancel.pid');
ok(scalar(group_members($shutdown_pgid)) >= 1, 'program runs before shutdown');
$node->stop('fast');
ok(group_gone_within($shutdown_pgid, 5), 'shutdown killed the process group');

my $log = slurp_file($node->logfile);
unlike($log, qr/\bPANIC:|terminated by signal/, 'no crash in the server log');
done_testing();
