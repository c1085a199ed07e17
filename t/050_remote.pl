# t/050_remote.pl -- SQL tasks run on another server through task.conninfo:
# success with the task's context and the last command tag, remote errors
# with their SQLSTATE, timeouts and cancel() stopping the remote query,
# unreachable servers, and the rules for non-superuser owners (no password
# in the conninfo, the remote server must ask for one), with no password
# leaking into the catalog's error columns or the server log.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;
use Time::HiRes qw(time usleep);
use Cwd ();

my $sched = DagschedTest->node('sched',
	conf =>
	  "# the test's own INSERTs carry passwords; what is checked is what dagsched logs\n"
	  . "log_statement = none\n");

my $target = PostgreSQL::Test::Cluster->new('target');
$target->init;
$target->start;
$target->safe_psql('postgres', 'CREATE TABLE remote_log (v text)');

sub sql { return $sched->safe_psql('postgres', $_[0]); }
sub tsql { return $target->safe_psql('postgres', $_[0]); }

sub poll_within
{
	my ($node, $query, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		return 1 if $node->safe_psql('postgres', $query) eq 't';
		usleep(50_000);
	}
	return $node->safe_psql('postgres', $query) eq 't';
}

sub trigger { return sql("SELECT dagsched.trigger('$_[0]')"); }
sub wait_run { return sql("SELECT dagsched.wait($_[0], '60 s')"); }

sub task_field
{
	my ($run, $task, $col) = @_;
	return sql(
		"SELECT $col FROM dagsched.task_run WHERE run_id = $run AND task_name = '$task'"
	);
}

# a one-task DAG on the target; extra columns as "col => sql literal"
sub remote_dag
{
	my ($dag, $command, $conninfo, %extra) = @_;
	my $cols = join('', map { ", $_" } sort keys %extra);
	my $vals = join('', map { ", $extra{$_}" } sort keys %extra);
	sql(qq{
		BEGIN;
		INSERT INTO dagsched.dag (dag_name) VALUES ('$dag');
		INSERT INTO dagsched.task (dag_name, task_name, command, conninfo$cols)
		VALUES ('$dag', 't', \$cmd\$$command\$cmd\$, \$ci\$$conninfo\$ci\$$vals);
		COMMIT;
	});
}

my $connstr = $target->connstr('postgres');

ok( poll_within(
		$sched,
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'",
		30),
	'scheduler is up');

# success: the row lands on the target with the run's id; output is the tag
{
	remote_dag('r_ok',
		q{INSERT INTO remote_log VALUES (current_setting('dagsched.run_id')); }
		  . q{INSERT INTO remote_log SELECT current_setting('dagsched.task_name') || '@' || current_setting('dagsched.dag_name'); }
		  . q{SELECT 1},
		$connstr);
	my $run = trigger('r_ok');
	is(wait_run($run), 'success', 'remote: run succeeds');
	is(task_field($run, 't', 'state'), 'success', 'remote: task succeeds');
	is(task_field($run, 't', 'output'),
		'SELECT 1', 'remote: output is the last command tag');
	is(tsql("SELECT count(*) FROM remote_log WHERE v = '$run'"),
		'1', 'remote: row on the target carries the run id');
	is(tsql("SELECT count(*) FROM remote_log WHERE v = 't\@r_ok'"),
		'1', 'remote: task and DAG names are set on the remote session');
}

# several statements are one transaction: a failure undoes the earlier ones
{
	remote_dag('r_err',
		"INSERT INTO remote_log VALUES ('r_err'); SELECT 1/0", $connstr);
	my $run = trigger('r_err');
	is(wait_run($run), 'failed', 'remote error: run fails');
	like(task_field($run, 't', 'error'),
		qr/^22012: division by zero/, 'remote error: SQLSTATE and message');
	is(tsql("SELECT count(*) FROM remote_log WHERE v = 'r_err'"),
		'0', 'remote error: the whole command rolled back');
}

# timeout: the remote query is cancelled, nothing keeps sleeping there
{
	remote_dag('r_timeout', 'SELECT pg_sleep(30)', $connstr,
		timeout => "'1 second'");
	my $t0 = time();
	my $run = trigger('r_timeout');
	is(wait_run($run), 'failed', 'remote timeout: run fails');
	my $took = time() - $t0;
	ok($took < 15, "remote timeout: ended well before the sleep ($took s)");
	like(task_field($run, 't', 'error'),
		qr/timed out/, 'remote timeout: error says timed out');
	ok( poll_within(
			$target,
			q{SELECT count(*) = 0 FROM pg_stat_activity
			  WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()},
			5),
		'remote timeout: no pg_sleep(30) backend left on the target');
}

# an unreachable server
{
	my $down = PostgreSQL::Test::Cluster->new('down');
	my $host = $target->host;
	my $port = $down->port;
	remote_dag('r_down', 'SELECT 1', "host=$host port=$port dbname=postgres");
	my $run = trigger('r_down');
	is(wait_run($run), 'failed', 'unreachable: run fails');
	like(task_field($run, 't', 'error'),
		qr/^could not connect to the task's server/, 'unreachable: error');
}

# cancel(): the remote query stops too
{
	remote_dag('r_cancel', 'SELECT pg_sleep(60)', $connstr);
	my $run = trigger('r_cancel');
	ok( poll_within(
			$target,
			q{SELECT count(*) = 1 FROM pg_stat_activity
			  WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'
			    AND application_name = 'dagsched task r_cancel.t'},
			30),
		'cancel: remote query running, named after the task');
	is( sql(
			q{SELECT string_agg(query, ',') FROM pg_stat_activity
			  WHERE backend_type = 'dagsched worker' AND state = 'active'}),
		'SELECT pg_sleep(60)',
		'cancel: the local worker shows the command, not the conninfo');
	sql("SELECT dagsched.cancel($run)");
	ok( poll_within(
			$sched,
			"SELECT state = 'cancelled' FROM dagsched.task_run WHERE run_id = $run",
			5),
		'cancel: task cancelled within a few seconds');
	ok( poll_within(
			$target,
			q{SELECT count(*) = 0 FROM pg_stat_activity
			  WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()},
			5),
		'cancel: remote backend gone');
}

# non-superuser owners
sql('CREATE ROLE alice LOGIN');
tsql(q{CREATE ROLE alice LOGIN PASSWORD 'alicepw';
	   GRANT INSERT, SELECT ON remote_log TO alice});

# the worker's own log lines from here on must not carry the password
my $log_offset = -s $sched->logfile;

sub alice_dag
{
	my ($dag, $command, $conninfo) = @_;
	sql(qq{
		BEGIN;
		SET LOCAL ROLE alice;
		INSERT INTO dagsched.dag (dag_name) VALUES ('$dag');
		INSERT INTO dagsched.task (dag_name, task_name, command, conninfo)
		VALUES ('$dag', 't', \$cmd\$$command\$cmd\$, \$ci\$$conninfo\$ci\$);
		COMMIT;
	});
}

my $host = $target->host;
my $tport = $target->port;
{
	alice_dag('a_pw', "INSERT INTO remote_log VALUES ('alice_pw')",
		"host=$host port=$tport dbname=postgres user=alice password=secret");
	my $run = trigger('a_pw');
	is(wait_run($run), 'failed', 'alice, inline password: run fails');
	my $error = task_field($run, 't', 'error');
	like($error, qr/may not contain a password/,
		'alice, inline password: refused');
	unlike($error, qr/secret/, 'alice, inline password: error hides it');
	is( sql(
			"SELECT count(*) FROM dagsched.task_attempt WHERE run_id = $run AND error LIKE '%secret%'"
		),
		'0',
		'alice, inline password: not in task_attempt.error');
	is( sql(
			"SELECT count(*) FROM dagsched.task_run WHERE error LIKE '%secret%' OR output LIKE '%secret%'"
		),
		'0',
		'alice, inline password: not in any task_run.error');
	is(tsql("SELECT count(*) FROM remote_log WHERE v = 'alice_pw'"),
		'0', 'alice, inline password: nothing ran on the target');

	# the same password as a URI is caught as well
	alice_dag('a_uri', 'SELECT 1',
		"postgresql://alice:secret\@localhost:$tport/postgres?host=$host");
	$run = trigger('a_uri');
	is(wait_run($run), 'failed', 'alice, URI password: run fails');
	$error = task_field($run, 't', 'error');
	like($error, qr/may not contain a password/, 'alice, URI password: refused');
	unlike($error, qr/secret/, 'alice, URI password: error hides it');
}

# the target trusts local connections: a non-superuser may not use that
{
	alice_dag('a_trust', "INSERT INTO remote_log VALUES ('alice_trust')",
		"host=$host port=$tport dbname=postgres user=postgres");
	my $run = trigger('a_trust');
	is(wait_run($run), 'failed', 'alice, no password asked: run fails');
	like(task_field($run, 't', 'error'),
		qr/password is required/, 'alice, no password asked: refused');
	is(tsql("SELECT count(*) FROM remote_log WHERE v = 'alice_trust'"),
		'0', 'alice, no password asked: nothing ran on the target');
}

# the documented way: the target asks for a password, a passfile holds it
{
	my $hba = $target->data_dir . '/pg_hba.conf';
	my $old = slurp_file($hba);
	open my $fh, '>', $hba or die $!;
	print $fh "local all alice scram-sha-256\n$old";
	close $fh;
	$target->reload;

	# the server opens it from its data directory: an absolute path
	my $passfile = Cwd::abs_path($sched->basedir) . '/remote.pgpass';
	open $fh, '>', $passfile or die $!;
	print $fh "*:$tport:postgres:alice:alicepw\n";
	close $fh;
	chmod 0600, $passfile;

	alice_dag('a_passfile', "INSERT INTO remote_log VALUES ('alice_passfile')",
		"host=$host port=$tport dbname=postgres user=alice passfile=$passfile");
	my $run = trigger('a_passfile');
	is(wait_run($run), 'success', 'alice, passfile: run succeeds')
	  or diag(task_field($run, 't', 'error'));
	is(tsql("SELECT count(*) FROM remote_log WHERE v = 'alice_passfile'"),
		'1', 'alice, passfile: row on the target');
}

# a superuser may keep a password inline; it still never shows in errors
{
	remote_dag('s_pw', 'SELECT 1/0',
		"host=$host port=$tport dbname=postgres user=alice password=alicepw");
	my $run = trigger('s_pw');
	is(wait_run($run), 'failed', 'superuser, inline password: runs');
	like(task_field($run, 't', 'error'),
		qr/^22012:/, 'superuser, inline password: remote error recorded');

	remote_dag('s_badpw', 'SELECT 1',
		"host=$host port=$tport dbname=postgres user=alice password=secret");
	$run = trigger('s_badpw');
	is(wait_run($run), 'failed', 'superuser, wrong password: fails');
	my $error = task_field($run, 't', 'error');
	like($error, qr/^could not connect/, 'superuser, wrong password: error');
	unlike($error, qr/secret/, 'superuser, wrong password: error hides it');
}

# an invalid conninfo is named without echoing it
{
	remote_dag('r_invalid', 'SELECT 1', "host=$host passwrd=secret");
	my $run = trigger('r_invalid');
	is(wait_run($run), 'failed', 'invalid conninfo: fails');
	my $error = task_field($run, 't', 'error');
	like($error, qr/invalid conninfo.*invalid connection option/,
		'invalid conninfo: error names the problem');
	unlike($error, qr/secret/, 'invalid conninfo: error hides the value');
}

is( sql(
		"SELECT count(*) FROM dagsched.task_attempt WHERE error LIKE '%secret%'"),
	'0',
	'no task_attempt.error mentions the password');
is( sql(
		"SELECT count(*) FROM dagsched.task_run WHERE error LIKE '%secret%'"),
	'0',
	'no task_run.error mentions the password');
my $log = slurp_file($sched->logfile, $log_offset);
unlike($log, qr/secret|alicepw/,
	'the scheduler server log does not mention the passwords');

done_testing();
