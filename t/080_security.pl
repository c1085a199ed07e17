# t/080_security.pl -- the security model as several real roles: row-level
# security on the catalog and run tables (and the views over them), owner
# assignment, tasks running as the owner without role switches, no session
# state leaking between tasks of different owners that reuse one worker
# process (search_path hijack included), owners that are dropped or lose
# LOGIN / CONNECT / pg_execute_server_program, and remote conninfo passwords.
#
# One worker only (dagsched.max_workers = 1): consecutive tasks of different
# owners run in the same process, which the leak tests assert.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = DagschedTest->node('security',
	max_workers => 1,
	conf => "dagsched.worker_idle_timeout = 600\n");

sub sql { return $node->safe_psql('postgres', $_[0]); }

# run SQL as a role; dies on error
sub as
{
	my ($role, $q) = @_;
	return $node->safe_psql('postgres', $q, extra_params => [ '-U', $role ]);
}

# run SQL as a role; returns (exit code, stdout, stderr)
sub try_as
{
	my ($role, $q) = @_;
	my ($ret, $out, $err) =
	  $node->psql('postgres', $q, extra_params => [ '-U', $role ]);
	return ($ret, $out, $err);
}

# the statement must fail, with stderr matching $re
sub refused
{
	my ($role, $q, $re, $name) = @_;
	my ($ret, $out, $err) = try_as($role, $q);
	ok($ret != 0 && $err =~ $re, $name)
	  or diag("exit $ret, stdout: $out, stderr: $err");
}

sub poll_within
{
	my ($query, $secs) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		return 1 if sql($query) eq 't';
		usleep(100_000);
	}
	return sql($query) eq 't';
}

sub wait_run
{
	my ($run) = @_;
	return sql("SELECT dagsched.wait($run, '60 s')");
}

sub task_field
{
	my ($run, $task, $col) = @_;
	return sql(
		"SELECT $col FROM dagsched.task_run WHERE run_id = $run AND task_name = '$task'"
	);
}

sub scheduler_pid
{
	return sql(
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'");
}

ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'"
	),
	'scheduler is running');
my $sched_pid = scheduler_pid();
my $su = sql('SELECT current_user');

sql(q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE carol LOGIN;
CREATE ROLE dave LOGIN;
CREATE ROLE boss SUPERUSER NOLOGIN;
GRANT pg_execute_server_program TO carol;
GRANT CREATE ON SCHEMA public TO alice, bob;
GRANT CREATE ON DATABASE postgres TO alice;
});

############################################################################
# Row-level security
############################################################################

# alice defines a1 with plain INSERTs, nothing granted beyond PUBLIC's
as('alice', q{
INSERT INTO dagsched.dag (dag_name) VALUES ('a1');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
  ('a1', 't1', 'SELECT 1', '{}'),
  ('a1', 't2', 'SELECT 1/0', '{t1}');
});
is(sql("SELECT owner FROM dagsched.dag WHERE dag_name = 'a1'"),
	'alice', 'owner defaults to current_user');

my $r1 = as('alice', "SELECT dagsched.trigger('a1')");
ok($r1 =~ /^\d+$/, "alice triggers her own DAG (run $r1)");
is(as('alice', "SELECT dagsched.wait($r1, '60 s')"),
	'failed', 'alice waits on her own run (t2 divides by zero)');

# bob sees nothing of it
is(as('bob', "SELECT count(*) FROM dagsched.dag WHERE dag_name = 'a1'"),
	'0', 'bob cannot see a1 in dag');
is(as('bob', "SELECT count(*) FROM dagsched.task WHERE dag_name = 'a1'"),
	'0', 'bob cannot see a1 in task');
is(as('bob', "SELECT count(*) FROM dagsched.dag"), '0',
	'bob sees no DAG at all');
is( as(
		'bob',
		"WITH u AS (UPDATE dagsched.dag SET paused = true WHERE dag_name = 'a1' RETURNING 1) SELECT count(*) FROM u"
	),
	'0',
	'bob cannot UPDATE a1 (0 rows)');
is( as(
		'bob',
		"WITH u AS (UPDATE dagsched.task SET command = 'SELECT 666' WHERE dag_name = 'a1' RETURNING 1) SELECT count(*) FROM u"
	),
	'0',
	'bob cannot UPDATE a1 tasks (0 rows)');
is( as(
		'bob',
		"WITH d AS (DELETE FROM dagsched.task WHERE dag_name = 'a1' RETURNING 1) SELECT count(*) FROM d"
	),
	'0',
	'bob cannot DELETE a1 tasks (0 rows)');
is( as(
		'bob',
		"WITH d AS (DELETE FROM dagsched.dag WHERE dag_name = 'a1' RETURNING 1) SELECT count(*) FROM d"
	),
	'0',
	'bob cannot DELETE a1 (0 rows)');
refused(
	'bob',
	"INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('a1', 'evil', 'SELECT 1')",
	qr/row-level security|permission denied/,
	'bob cannot add a task to a1');
is( sql(
		"SELECT paused::text || count(*) FROM dagsched.dag d JOIN dagsched.task t USING (dag_name) WHERE dag_name = 'a1' AND command IN ('SELECT 1', 'SELECT 1/0') GROUP BY paused"
	),
	'false2',
	'a1 and its tasks are unchanged');
refused('bob', "SELECT dagsched.trigger('a1')",
	qr/DAG "a1" does not exist/, 'bob cannot trigger a1');
for my $t (qw(dag_run task_run task_attempt))
{
	is(as('bob', "SELECT count(*) FROM dagsched.$t WHERE run_id = $r1"),
		'0', "bob cannot see alice's run in $t");
}
is(as('bob', "SELECT count(*) FROM dagsched.task_stats WHERE dag_name = 'a1'"),
	'0', 'bob sees nothing of a1 in task_stats');
is(as('bob', "SELECT count(*) FROM dagsched.dag_stats WHERE dag_name = 'a1'"),
	'0', 'bob sees nothing of a1 in dag_stats');
is(as('bob', "SELECT count(*) FROM dagsched.running"),
	'0', 'bob sees nothing in running');
for my $f ('cancel', 'retry', 'wait')
{
	refused('bob', "SELECT dagsched.$f($r1)",
		qr/run $r1 does not exist/, "bob cannot $f alice's run");
}
# nobody writes run tables directly, not even the owner
refused('alice', "UPDATE dagsched.dag_run SET state = 'success' WHERE run_id = $r1",
	qr/permission denied/, 'alice cannot UPDATE dag_run directly');
refused('alice', "DELETE FROM dagsched.task_run WHERE run_id = $r1",
	qr/permission denied/, 'alice cannot DELETE from task_run directly');
refused('alice',
	"INSERT INTO dagsched.dag_run (dag_name, logical_time, owner) VALUES ('a1', now(), 'alice')",
	qr/permission denied/, 'alice cannot INSERT into dag_run directly');

# alice sees and acts on her own
is(as('alice', "SELECT count(*) FROM dagsched.task WHERE dag_name = 'a1'"),
	'2', 'alice sees her tasks');
is(as('alice', "SELECT count(*) FROM dagsched.dag_run WHERE run_id = $r1"),
	'1', 'alice sees her run in dag_run');
is(as('alice', "SELECT count(*) FROM dagsched.task_run WHERE run_id = $r1"),
	'2', 'alice sees her run in task_run');
ok(as('alice', "SELECT count(*) FROM dagsched.task_attempt WHERE run_id = $r1") >= 2,
	'alice sees her attempts');
is(as('alice', "SELECT count(*) FROM dagsched.task_stats WHERE dag_name = 'a1'"),
	'2', 'alice sees a1 in task_stats');
is(as('alice', "SELECT last_run_id FROM dagsched.dag_stats WHERE dag_name = 'a1'"),
	$r1, 'alice sees a1 in dag_stats');
is(as('alice', "SELECT dagsched.retry($r1)"), '1',
	'alice retries her run (t2 re-queued)');
is(as('alice', "SELECT dagsched.wait($r1, '60 s')"),
	'failed', 'the retried run ends failed again');
my ($cret, $cout, $cerr) = try_as('alice', "SELECT dagsched.cancel($r1)");
is($cret, 0, 'alice may cancel her (ended) run') or diag($cerr);
is( as(
		'alice',
		"WITH u AS (UPDATE dagsched.dag SET description = 'mine' WHERE dag_name = 'a1' RETURNING 1) SELECT count(*) FROM u"
	),
	'1',
	'alice updates her DAG');

# the superuser sees everything
is(sql("SELECT count(*) FROM dagsched.dag WHERE dag_name = 'a1'"),
	'1', 'superuser sees a1');
is(sql("SELECT count(*) FROM dagsched.task_run WHERE run_id = $r1"),
	'2', "superuser sees alice's task runs");
ok(sql("SELECT count(*) FROM dagsched.task_attempt WHERE run_id = $r1") >= 3,
	"superuser sees alice's attempts");

############################################################################
# Owner assignment
############################################################################

refused('alice', "INSERT INTO dagsched.dag (dag_name, owner) VALUES ('a_bob', 'bob')",
	qr/permission denied|row-level security/,
	'alice cannot give a new DAG to bob');
refused('alice', "INSERT INTO dagsched.dag (dag_name, owner) VALUES ('a_su', 'boss')",
	qr/permission denied|row-level security/,
	'alice cannot give a new DAG to a superuser');
refused('alice', "INSERT INTO dagsched.dag (dag_name, owner) VALUES ('a_su2', '$su')",
	qr/permission denied|row-level security/,
	"alice cannot give a new DAG to the bootstrap superuser $su");
refused('alice', "UPDATE dagsched.dag SET owner = 'bob' WHERE dag_name = 'a1'",
	qr/permission denied|row-level security/,
	'alice cannot hand a1 over to bob');
refused('alice', "UPDATE dagsched.dag SET owner = 'boss' WHERE dag_name = 'a1'",
	qr/permission denied|row-level security/,
	'alice cannot hand a1 over to a superuser');
is(sql("SELECT owner FROM dagsched.dag WHERE dag_name = 'a1'"),
	'alice', 'a1 still belongs to alice');
is(sql("SELECT count(*) FROM dagsched.dag WHERE dag_name LIKE 'a\\_%'"),
	'0', 'no refused DAG was stored');
sql("INSERT INTO dagsched.dag (dag_name, owner) VALUES ('for_bob', 'bob'), ('for_boss', 'boss')");
is(sql("SELECT string_agg(owner, ',' ORDER BY dag_name) FROM dagsched.dag WHERE dag_name LIKE 'for\\_%'"),
	'bob,boss', 'the superuser may set any owner');
is(as('bob', "SELECT string_agg(dag_name, ',') FROM dagsched.dag"),
	'for_bob', 'bob sees the DAG given to him, only');
is(as('alice', "SELECT count(*) FROM dagsched.dag WHERE dag_name LIKE 'for\\_%'"),
	'0', 'alice sees neither');

############################################################################
# Tasks run as the owner; no role switches
############################################################################

as('alice', q{
CREATE TABLE public.whoami (tag text, cu text, su text, is_su text);
});
as('alice', qq{
INSERT INTO dagsched.dag (dag_name) VALUES ('who');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
  ('who', 'plain', \$c\$INSERT INTO public.whoami SELECT 'plain', current_user, session_user, current_setting('is_superuser')\$c\$),
  ('who', 'setrole_su', \$c\$SET ROLE $su; INSERT INTO public.whoami SELECT 'setrole_su', current_user, session_user, current_setting('is_superuser')\$c\$),
  ('who', 'setrole_boss', \$c\$SET ROLE boss; INSERT INTO public.whoami SELECT 'setrole_boss', current_user, session_user, current_setting('is_superuser')\$c\$),
  ('who', 'setsession_su', \$c\$SET SESSION AUTHORIZATION $su; INSERT INTO public.whoami SELECT 'setsession_su', current_user, session_user, current_setting('is_superuser')\$c\$),
  ('who', 'setrole_self', \$c\$SET ROLE alice; INSERT INTO public.whoami SELECT 'setrole_self', current_user, session_user, current_setting('is_superuser')\$c\$),
  ('who', 'set_config_role', \$c\$SELECT set_config('role', '$su', false); INSERT INTO public.whoami SELECT 'set_config_role', current_user, session_user, current_setting('is_superuser')\$c\$),
  ('who', 'reset_session', \$c\$RESET SESSION AUTHORIZATION; INSERT INTO public.whoami SELECT 'reset_session', current_user, session_user, current_setting('is_superuser')\$c\$),
  ('who', 'authid', \$c\$INSERT INTO public.whoami SELECT 'authid', count(*)::text, NULL, NULL FROM pg_catalog.pg_authid\$c\$);
});
my $rw = as('alice', "SELECT dagsched.trigger('who')");
is(wait_run($rw), 'failed', 'the role-switching tasks make the run fail');
is(as('alice', "SELECT cu || '|' || su || '|' || is_su FROM public.whoami WHERE tag = 'plain'"),
	'alice|alice|off', 'a task runs as its owner: current_user and session_user are alice, not a superuser');
is(task_field($rw, 'plain', 'state'), 'success', 'the plain task succeeded');
for my $t (qw(setrole_su setrole_boss setsession_su setrole_self set_config_role reset_session))
{
	my $st  = task_field($rw, $t, 'state');
	my $err = task_field($rw, $t, 'error');
	ok($st eq 'failed' && $err =~ /role|session_authorization|permission denied/,
		"task '$t' fails with an error")
	  or diag("state $st, error: $err");
}
like(task_field($rw, 'authid', 'error'), qr/permission denied/,
	'a task cannot read pg_authid');
is(as('alice', "SELECT string_agg(tag, ',' ORDER BY tag) FROM public.whoami"),
	'plain', 'no role-switching task wrote anything');

############################################################################
# Nothing leaks between tasks that reuse the worker
############################################################################

as('bob', q{
CREATE TABLE public.results (who text, search_path text, work_mem text,
  tmp_gone boolean, n_prepared bigint, n_advisory bigint, n_listen bigint,
  n_cursors bigint, pid integer);
});
as('alice', q{
CREATE TABLE public.alice_log (tag text, search_path text, work_mem text,
  tmp_there boolean, n_prepared bigint, n_advisory bigint, n_listen bigint,
  n_cursors bigint, pid integer);
CREATE SCHEMA evil;
CREATE TABLE evil.results (who text, search_path text, work_mem text,
  tmp_gone boolean, n_prepared bigint, n_advisory bigint, n_listen bigint,
  n_cursors bigint, pid integer);
GRANT USAGE ON SCHEMA evil TO PUBLIC;
GRANT INSERT, SELECT ON evil.results TO PUBLIC;
});

my $probe = q{(SELECT count(*) FROM pg_catalog.pg_prepared_statements WHERE name = 'p'),
 (SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()),
 (SELECT count(*) FROM pg_catalog.pg_listening_channels()),
 (SELECT count(*) FROM pg_catalog.pg_cursors),
 pg_catalog.pg_backend_pid()};

as('alice', qq{
INSERT INTO dagsched.dag (dag_name) VALUES ('leak_a');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
  ('leak_a', 'dirty', \$c\$
SET search_path = evil, pg_catalog, public;
SET work_mem = '77MB';
CREATE TEMP TABLE t_tmp (x int);
CREATE TEMP TABLE results (who text, search_path text, work_mem text,
  tmp_gone boolean, n_prepared bigint, n_advisory bigint, n_listen bigint,
  n_cursors bigint, pid integer);
PREPARE p AS SELECT 1;
SELECT pg_advisory_lock(42);
DECLARE c CURSOR WITH HOLD FOR SELECT 1;
INSERT INTO public.alice_log SELECT 'dirty', current_setting('search_path'),
 current_setting('work_mem'), to_regclass('pg_temp.t_tmp') IS NOT NULL, $probe
\$c\$, '{}'),
  ('leak_a', 'listen', 'LISTEN chan', '{dirty}'),
  ('leak_a', 'same_owner', \$c\$
INSERT INTO public.alice_log SELECT 'same_owner', current_setting('search_path'),
 current_setting('work_mem'), to_regclass('pg_temp.t_tmp') IS NOT NULL, $probe
\$c\$, '{listen}');
UPDATE dagsched.task SET trigger_rule = 'all_done'
 WHERE dag_name = 'leak_a' AND task_name = 'same_owner';
});
as('bob', qq{
INSERT INTO dagsched.dag (dag_name) VALUES ('leak_b');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
  ('leak_b', 'check', \$c\$
INSERT INTO results SELECT 'bob', current_setting('search_path'),
 current_setting('work_mem'), to_regclass('pg_temp.t_tmp') IS NULL, $probe
\$c\$);
});

my $default_sp = sql('SHOW search_path');
my $default_wm = sql('SHOW work_mem');

my $ra = as('alice', "SELECT dagsched.trigger('leak_a')");
is(wait_run($ra), 'failed', "alice's dirtying run ended (its LISTEN task fails)");
is(task_field($ra, 'dirty', 'state'), 'success', "alice's dirtying task succeeded")
  or diag(sql("SELECT task_name || ': ' || coalesce(error, '') FROM dagsched.task_run WHERE run_id = $ra"));
is( as('alice', "SELECT search_path || '|' || work_mem || '|' || tmp_there || '|' || n_prepared || '|' || n_advisory || '|' || n_listen || '|' || n_cursors FROM public.alice_log WHERE tag = 'dirty'"),
	'evil, pg_catalog, public|77MB|true|1|1|0|1',
	'inside the dirtying task the changes took effect');
like(task_field($ra, 'listen', 'error'), qr/LISTEN within a background process/,
	'LISTEN is refused in a worker, so it cannot leak either');
is(task_field($ra, 'same_owner', 'state'), 'success', "alice's second task ran");
ok( poll_within(
		"SELECT count(*) = 0 FROM pg_locks WHERE locktype = 'advisory' AND objid = 42", 10),
	'the advisory lock is released once the task is over');

my $rb = as('bob', "SELECT dagsched.trigger('leak_b')");
is(wait_run($rb), 'success', "bob's checking run succeeded")
  or diag(task_field($rb, 'check', 'error'));

my $pid_a = task_field($ra, 'dirty', 'pid');
my $pid_a2 = task_field($ra, 'same_owner', 'pid');
my $pid_a3 = task_field($ra, 'listen', 'pid');
my $pid_b = task_field($rb, 'check', 'pid');
ok($pid_a ne '' && $pid_a eq $pid_b && $pid_a eq $pid_a2 && $pid_a eq $pid_a3,
	"the tasks ran in the same worker process ($pid_a, $pid_a3, $pid_a2, $pid_b)");

is(sql("SELECT count(*) FROM public.results"), '1',
	"bob's row landed in public.results");
is(sql("SELECT count(*) FROM evil.results"), '0',
	'nothing landed in evil.results (no search_path hijack)');
my $row = sql("SELECT search_path || '|' || work_mem || '|' || tmp_gone || '|' || n_prepared || '|' || n_advisory || '|' || n_listen || '|' || n_cursors || '|' || pid FROM public.results");
my ($sp, $wm, $tmp_gone, $nprep, $nadv, $nlisten, $ncur, $pid_in) = split /\|/, $row;
is($sp, $default_sp, "bob's task sees the default search_path");
is($wm, $default_wm, "bob's task sees the default work_mem");
is($tmp_gone, 'true', "alice's temp table t_tmp is gone for bob's task");
is($nprep, '0', "alice's prepared statement p is gone for bob's task");
is($nadv, '0', "bob's backend holds no advisory lock");
is($nlisten, '0', "bob's backend listens on no channel");
is($ncur, '0', "bob's backend has no open cursor");
is($pid_in, $pid_a, 'bob ran in the very backend that ran alice\'s task');

is( as('alice', "SELECT search_path || '|' || work_mem || '|' || tmp_there || '|' || n_prepared || '|' || n_advisory || '|' || n_listen || '|' || n_cursors FROM public.alice_log WHERE tag = 'same_owner'"),
	"$default_sp|$default_wm|false|0|0|0|0",
	'even the next task of the same owner starts clean');

############################################################################
# Owner dropped, NOLOGIN, CONNECT revoked: clear errors, others unaffected
############################################################################

my $log_off = -s $node->logfile;

as('alice', q{
INSERT INTO dagsched.dag (dag_name) VALUES ('alive');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
  ('alive', 'x', 'SELECT 1');
});
as('dave', q{
INSERT INTO dagsched.dag (dag_name) VALUES ('d1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
  ('d1', 'x', 'SELECT 1');
});
my $rd = sql("SELECT dagsched.trigger('d1')");
is(wait_run($rd), 'success', "dave's DAG runs while dave is healthy");

sub check_alive
{
	my ($label) = @_;
	my $r = sql("SELECT dagsched.trigger('alive')");
	is(wait_run($r), 'success', "$label: alice's DAG keeps running");
	is(scheduler_pid(), $sched_pid, "$label: scheduler pid unchanged");
}

sub dave_fails
{
	my ($label, $re) = @_;
	my $r = sql("SELECT dagsched.trigger('d1')");
	is(wait_run($r), 'failed', "$label: dave's run fails");
	like(task_field($r, 'x', 'error'), $re,
		"$label: the task error is clear");
}

sql('ALTER ROLE dave NOLOGIN');
dave_fails('NOLOGIN', qr/not permitted to log in/);
check_alive('NOLOGIN');
sql('ALTER ROLE dave LOGIN');

sql(q{
GRANT CONNECT ON DATABASE postgres TO alice, bob, carol;
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT ON DATABASE postgres FROM dave;
});
dave_fails('CONNECT revoked', qr/connect/);
check_alive('CONNECT revoked');
sql('GRANT CONNECT ON DATABASE postgres TO PUBLIC');

my ($dret, $dout, $derr) = $node->psql('postgres', 'DROP ROLE dave');
is($dret, 0, 'DROP ROLE dave works (owner is a name, not a dependency)')
  or diag($derr);
dave_fails('owner dropped', qr/does not exist/);
check_alive('owner dropped');

my $log = slurp_file($node->logfile, $log_off);
unlike($log, qr/dagsched scheduler FATAL/, 'no scheduler FATAL in the log');
unlike($log, qr/background worker "dagsched scheduler".*exited/,
	'the scheduler did not exit');

############################################################################
# Shell tasks: pg_execute_server_program, at definition and at run time
############################################################################

as('alice', "INSERT INTO dagsched.dag (dag_name) VALUES ('a_sh')");
refused('alice',
	"INSERT INTO dagsched.task (dag_name, task_name, kind, command) VALUES ('a_sh', 's', 'shell', 'id')",
	qr/shell/, 'alice (no pg_execute_server_program) cannot define a shell task');
as('alice', "INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('a_sh', 'q', 'SELECT 1')");
refused('alice',
	"UPDATE dagsched.task SET kind = 'shell', command = 'id' WHERE dag_name = 'a_sh'",
	qr/shell/, 'alice cannot turn her SQL task into a shell task');
is(sql("SELECT count(*) FROM dagsched.task WHERE kind = 'shell'"), '0',
	'no shell task was stored for alice');

as('carol', q{
INSERT INTO dagsched.dag (dag_name) VALUES ('c_sh');
INSERT INTO dagsched.task (dag_name, task_name, kind, command) VALUES
  ('c_sh', 's', 'shell', 'echo hello-from-shell');
});
my $rc = as('carol', "SELECT dagsched.trigger('c_sh')");
is(wait_run($rc), 'success', 'carol (pg_execute_server_program) runs a shell task')
  or diag(task_field($rc, 's', 'error'));
like(task_field($rc, 's', 'output'), qr/hello-from-shell/, 'its output is recorded');

sql('REVOKE pg_execute_server_program FROM carol');
$rc = as('carol', "SELECT dagsched.trigger('c_sh')");
is(wait_run($rc), 'failed', "after the revoke carol's shell task fails");
like(task_field($rc, 's', 'error'), qr/may not run shell tasks/,
	'with a clear error');

############################################################################
# Remote tasks: no inline password for a non-superuser, never echoed
############################################################################

my $secret = 'Xyzzy0SecretPw42';
my $port = $node->port;
as('alice', qq{
INSERT INTO dagsched.dag (dag_name) VALUES ('a_remote');
INSERT INTO dagsched.task (dag_name, task_name, command, conninfo) VALUES
  ('a_remote', 'r', 'SELECT 1', 'host=127.0.0.1 port=$port dbname=postgres user=alice password=$secret');
});
my $rr = as('alice', "SELECT dagsched.trigger('a_remote')");
is(wait_run($rr), 'failed', "a non-superuser's task with a password in conninfo fails");
my $rerr = task_field($rr, 'r', 'error');
like($rerr, qr/password/, 'the error says why') or diag($rerr);
unlike($rerr, qr/$secret/, 'the password does not appear in task_run.error');
is( sql("SELECT count(*) FROM dagsched.task_attempt WHERE run_id = $rr AND (error LIKE '%$secret%' OR output LIKE '%$secret%')"),
	'0', 'nor in task_attempt');
is(sql("SELECT count(*) FROM dagsched.task_run WHERE run_id = $rr AND output LIKE '%$secret%'"),
	'0', 'nor in task_run.output');
is(as('bob', "SELECT count(*) FROM dagsched.task WHERE conninfo IS NOT NULL"),
	'0', "bob cannot read alice's conninfo");

$log = slurp_file($node->logfile, $log_off);
my @faillines = grep { /dagsched: task .* failed/ } split /\n/, $log;
ok(!grep({ /$secret/ } @faillines), 'nor in the logged failure lines');

############################################################################
# Nothing a task sets up may run after the worker has taken back its own
# (superuser) identity: deferred triggers fire and WITH HOLD cursors are
# materialized at COMMIT, which comes after the task's statements.
############################################################################

sql(q{
CREATE ROLE mallory LOGIN;
GRANT CREATE ON SCHEMA public TO mallory;
});
as('mallory', q{
CREATE TABLE public.pwnlog (how text, cu text, su text);
CREATE FUNCTION public.pwn(how text) RETURNS int LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO public.pwnlog VALUES (how, current_user, session_user);
  IF current_setting('is_superuser') = 'on' THEN
    EXECUTE 'ALTER ROLE mallory SUPERUSER';
  END IF;
  RETURN 1;
END $f$;
CREATE FUNCTION public.pwn_trg() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM public.pwn('deferred trigger');
  RETURN NULL;
END $f$;
CREATE TABLE public.trap (x int);
CREATE CONSTRAINT TRIGGER trap_t AFTER INSERT ON public.trap
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.pwn_trg();
INSERT INTO dagsched.dag (dag_name) VALUES ('m_trg'), ('m_cur');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
  ('m_trg', 't', 'INSERT INTO public.trap VALUES (1)'),
  ('m_cur', 't', $c$DECLARE c CURSOR WITH HOLD FOR SELECT public.pwn('held cursor')$c$);
});

for my $case (['m_trg', 'deferred trigger'], ['m_cur', 'held cursor'])
{
	my ($dag, $how) = @$case;
	my $r = as('mallory', "SELECT dagsched.trigger('$dag')");
	my $st = wait_run($r);
	my $who = sql(
		"SELECT coalesce(string_agg(cu || '/' || su, ','), '(did not run)') FROM public.pwnlog WHERE how = '$how'");
	my $super = sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'");
	note "$how: run $st, ran as $who, error: "
	  . task_field($r, 't', 'coalesce(error, \'\')');
	unlike($who, qr/\Q$su\E/,
		"a $how of mallory's task does not run as the superuser (ran as: $who)");
	is($super, 'f', "mallory did not become superuser through a $how");
	sql('ALTER ROLE mallory NOSUPERUSER');
}

is(scheduler_pid(), $sched_pid, 'scheduler pid unchanged at the end');

done_testing();
