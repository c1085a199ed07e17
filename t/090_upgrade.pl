# t/090_upgrade.pl -- ALTER EXTENSION dagsched UPDATE from 0.1 gives exactly
# the catalog of a fresh CREATE EXTENSION, keeps every row, and the updated
# DAGs run.
#
# A 0.1 catalog is built from the frozen sql/dagsched--0.1.sql and filled
# with DAGs, tasks, finished runs and attempts (the history users have);
# the server restarts with the new library, as after a package upgrade;
# ALTER EXTENSION dagsched UPDATE; then t/catalog_snapshot.sql (every member,
# column lists in order, function and index definitions, constraints,
# policies, triggers, config-dump tables, comments, privileges) must give the
# same lines as in a database with a fresh CREATE EXTENSION.  The test also
# shows that the comparison fails when a column sits in another position, and
# for one change of each other kind.
#
# Run it alone: PROVE_TESTS=t/090_upgrade.pl SKIP_REGRESS=1 bash scripts/test.sh
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $snapshot_sql = slurp_file('t/catalog_snapshot.sql');

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'dagsched'
dagsched.database_name = 'postgres'
dagsched.max_workers = 2
});
$node->start;

# the catalog snapshot of a database, as a list of lines
sub snapshot
{
	my ($db, $before) = @_;
	my $sql =
	  defined $before
	  ? "BEGIN;\n$before;\n$snapshot_sql\nROLLBACK;"
	  : $snapshot_sql;
	return [ split /\n/, $node->safe_psql($db, $sql) ];
}

# lines only in one of two snapshots, "- " for the first, "+ " for the second
sub snapshot_diff
{
	my ($x, $y) = @_;
	my (%in_x, %in_y);
	$in_x{$_}++ for @$x;
	$in_y{$_}++ for @$y;
	return (
		(map { "- $_" } grep { !$in_y{$_} } @$x),
		(map { "+ $_" } grep { !$in_x{$_} } @$y));
}

# ---------------------------------------------------------------- 0.1
$node->safe_psql('postgres', "CREATE EXTENSION dagsched VERSION '0.1'");
is( $node->safe_psql(
		'postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'dagsched'"),
	'0.1',
	'the frozen 0.1 script installs');

# DAGs and tasks as users wrote them in 0.1: every column of the
# definitions used at least once.  Schedules never fire during the test.
$node->safe_psql(
	'postgres', q{
CREATE SCHEMA etl;
CREATE TABLE etl.loaded (what text, run_id bigint);
BEGIN;
INSERT INTO dagsched.dag (dag_name, schedule, timezone, catchup,
						  max_active_runs, description, max_consecutive_failures)
VALUES ('nightly', '0 3 1 1 *', 'Europe/Warsaw', true, 2,
		'the nightly load', 3);
INSERT INTO dagsched.dag (dag_name, schedule, paused)
VALUES ('paused_one', '*/5 * * * *', true);
INSERT INTO dagsched.dag (dag_name, upstream_dags, description)
VALUES ('publish', '{nightly}', 'runs after nightly');
-- due every second: shows when the scheduler runs DAGs and when it waits
INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('ticker', '* * * * * *');
INSERT INTO dagsched.task (dag_name, task_name, command)
VALUES ('ticker', 'tick', 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on,
						   trigger_rule, retries, retry_delay, timeout, priority)
VALUES
  ('nightly', 'orders',
   $$INSERT INTO etl.loaded VALUES ('orders', current_setting('dagsched.run_id')::bigint)$$,
   '{}', 'all_success', 2, '1 second', '1 minute', 5),
  ('nightly', 'customers',
   $$INSERT INTO etl.loaded VALUES ('customers', current_setting('dagsched.run_id')::bigint)$$,
   '{}', 'all_success', 0, '10 seconds', NULL, NULL),
  ('nightly', 'report',
   $$INSERT INTO etl.loaded VALUES ('report', current_setting('dagsched.run_id')::bigint)$$,
   '{orders,customers}', 'all_done', 0, '10 seconds', NULL, NULL),
  ('paused_one', 'only', 'SELECT 1', '{}', 'all_success', 0, '10 seconds',
   NULL, NULL),
  ('publish', 'announce', 'SELECT pg_notify(''published'', ''1'')', '{}',
   'all_success', 1, '5 seconds', NULL, NULL);
COMMIT;
});

# finished runs with their task runs and attempts, as 0.1 left them: one
# success, one failure that used its retries, one cancelled run
$node->safe_psql(
	'postgres', q{
INSERT INTO dagsched.dag_run (run_id, dag_name, logical_time, trigger, params,
							  state, owner, created_at, started_at, finished_at)
VALUES
  (1, 'nightly', now() - interval '3 hours', 'schedule', '{}', 'success',
   current_user, now() - interval '3 hours', now() - interval '3 hours',
   now() - interval '170 minutes'),
  (2, 'nightly', now() - interval '2 hours', 'manual', '{"day": "2026-11-30"}',
   'failed', current_user, now() - interval '2 hours', now() - interval '2 hours',
   now() - interval '110 minutes'),
  (3, 'publish', now() - interval '1 hour', 'upstream', '{"upstream_run_id": 1}',
   'cancelled', current_user, now() - interval '1 hour', now() - interval '1 hour',
   now() - interval '50 minutes');
SELECT setval(pg_get_serial_sequence('dagsched.dag_run', 'run_id'), 3);

INSERT INTO dagsched.task_run (run_id, task_name, kind, command, depends_on,
	trigger_rule, retries, retry_delay, timeout, database, conninfo, priority,
	downstream, up_success, up_failed, up_skipped, state, attempts, retry_base,
	queued_at, started_at, finished_at, next_attempt_at, error, output, pid)
VALUES
  (1, 'orders', 'sql', 'SELECT 1', '{}', 'all_success', 2, '1 second',
   '1 minute', NULL, NULL, 5, '{report}', 0, 0, 0, 'success', 1, 0,
   now() - interval '3 hours', now() - interval '3 hours',
   now() - interval '175 minutes', NULL, NULL, 'SELECT 1', 4242),
  (1, 'customers', 'sql', 'SELECT 1', '{}', 'all_success', 0, '10 seconds',
   NULL, NULL, NULL, 2, '{report}', 0, 0, 0, 'success', 1, 0,
   now() - interval '3 hours', now() - interval '3 hours',
   now() - interval '175 minutes', NULL, NULL, 'SELECT 1', 4243),
  (1, 'report', 'sql', 'SELECT 1', '{orders,customers}', 'all_done', 0,
   '10 seconds', NULL, NULL, NULL, 1, '{}', 2, 0, 0, 'success', 1, 0,
   now() - interval '175 minutes', now() - interval '175 minutes',
   now() - interval '170 minutes', NULL, NULL, 'SELECT 1', 4242),
  (2, 'orders', 'sql', 'SELECT 1/0', '{}', 'all_success', 2, '1 second',
   '1 minute', NULL, NULL, 5, '{report}', 0, 0, 0, 'failed', 3, 0,
   now() - interval '2 hours', now() - interval '115 minutes',
   now() - interval '115 minutes', NULL, '22012: division by zero', NULL, 4250),
  (2, 'customers', 'sql', 'SELECT 1', '{}', 'all_success', 0, '10 seconds',
   NULL, NULL, NULL, 2, '{report}', 0, 0, 0, 'success', 1, 0,
   now() - interval '2 hours', now() - interval '2 hours',
   now() - interval '119 minutes', NULL, NULL, 'SELECT 1', 4251),
  (2, 'report', 'sql', 'SELECT 1', '{orders,customers}', 'all_done', 0,
   '10 seconds', NULL, NULL, NULL, 1, '{}', 1, 1, 0, 'success', 1, 0,
   now() - interval '115 minutes', now() - interval '115 minutes',
   now() - interval '110 minutes', NULL, NULL, 'SELECT 1', 4251),
  (3, 'announce', 'sql', 'SELECT 1', '{}', 'all_success', 1, '5 seconds',
   NULL, NULL, NULL, 1, '{}', 0, 0, 0, 'cancelled', 1, 0,
   now() - interval '1 hour', now() - interval '1 hour',
   now() - interval '50 minutes', NULL, 'cancelled by dagsched.cancel()',
   NULL, 4260);

INSERT INTO dagsched.task_attempt (run_id, task_name, attempt, state,
								   started_at, finished_at, error, output, pid)
VALUES
  (1, 'orders', 1, 'success', now() - interval '3 hours',
   now() - interval '175 minutes', NULL, 'SELECT 1', 4242),
  (1, 'customers', 1, 'success', now() - interval '3 hours',
   now() - interval '175 minutes', NULL, 'SELECT 1', 4243),
  (1, 'report', 1, 'success', now() - interval '175 minutes',
   now() - interval '170 minutes', NULL, 'SELECT 1', 4242),
  (2, 'orders', 1, 'failed', now() - interval '2 hours',
   now() - interval '119 minutes', '22012: division by zero', NULL, 4250),
  (2, 'orders', 2, 'failed', now() - interval '118 minutes',
   now() - interval '117 minutes', '22012: division by zero', NULL, 4250),
  (2, 'orders', 3, 'failed', now() - interval '116 minutes',
   now() - interval '115 minutes', '22012: division by zero', NULL, 4250),
  (2, 'customers', 1, 'success', now() - interval '2 hours',
   now() - interval '119 minutes', NULL, 'SELECT 1', 4251),
  (2, 'report', 1, 'success', now() - interval '115 minutes',
   now() - interval '110 minutes', NULL, 'SELECT 1', 4251),
  (3, 'announce', 1, 'cancelled', now() - interval '1 hour',
   now() - interval '50 minutes', 'cancelled by dagsched.cancel()', NULL, 4260);
});

# ---------------------------------------------------------------- the rows
# Each table's rows over the columns 0.1 has (0.2 may append columns), as
# one md5 per table, with the row count.  The ticker DAG is left out: once
# the catalog is updated, the scheduler runs it.
my @tables = qw(dag task dag_run task_run task_attempt);
my %cols;
for my $t (@tables)
{
	$cols{$t} = $node->safe_psql(
		'postgres', qq{
		SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
		FROM pg_attribute
		WHERE attrelid = 'dagsched.$t'::regclass AND attnum > 0
		  AND NOT attisdropped});
}

my %filter = (
	dag => "dag_name <> 'ticker'",
	task => "dag_name <> 'ticker'",
	dag_run => 'run_id <= 3',
	task_run => 'run_id <= 3',
	task_attempt => 'run_id <= 3');

sub table_digests
{
	my %d;
	for my $t (@tables)
	{
		$d{$t} = $node->safe_psql(
			'postgres', qq{
			SELECT count(*) || ' ' || md5(coalesce(string_agg(r::text, E'\\n'
										   ORDER BY r::text), ''))
			FROM (SELECT $cols{$t} FROM dagsched.$t
				  WHERE $filter{$t}) r});
	}
	return \%d;
}

# ---------------------------------------------------------------- new library
# The package upgrade: the new library is in place and the server restarts
# while the catalog is still 0.1.  The scheduler must say what to run, once,
# and wait: no crash loop, no run created, nothing written.
my $log_offset = -s $node->logfile;
$node->restart;

my $need_update = qr/dagsched catalog in database "postgres" is version 0\.1, but the library is version 0\.2\n.*DETAIL:  The scheduler runs no DAG until the versions match\.\n.*HINT:  Run ALTER EXTENSION dagsched UPDATE in database "postgres"\./;
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while (slurp_file($node->logfile, $log_offset) !~ $need_update
	&& time() < $deadline)
{
	usleep(100_000);
}
like(slurp_file($node->logfile, $log_offset),
	$need_update, 'the scheduler logs that the catalog needs ALTER EXTENSION dagsched UPDATE');

my $scheduler_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'"
);
like($scheduler_pid, qr/^\d+$/, 'the scheduler is up on the 0.1 catalog');

# it looks again every second (DAGSCHED_CATALOG_POLL_MS); give it several
# looks at a DAG due every second
sleep(4);
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'ticker'"),
	'0',
	'the scheduler runs nothing while the catalog is 0.1');
is( $node->safe_psql(
		'postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'"
	),
	$scheduler_pid,
	'the same scheduler process waits (no crash loop)');
my @said = (slurp_file($node->logfile, $log_offset) =~ /but the library is version/g);
is(scalar(@said), 1, 'it said so once');

my $before = table_digests();
like($before->{task_attempt}, qr/^9 /, '0.1 catalog holds 9 attempts');

$node->safe_psql('postgres', 'ALTER EXTENSION dagsched UPDATE');
is( $node->safe_psql(
		'postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'dagsched'"),
	'0.2',
	'ALTER EXTENSION dagsched UPDATE reaches 0.2');

# the scheduler carries on by itself, without a restart
ok( $node->poll_query_until(
		'postgres', q{
		SELECT count(*) > 0 FROM dagsched.dag_run
		WHERE dag_name = 'ticker' AND trigger = 'schedule' AND state = 'success'}),
	'after the update the scheduler runs the scheduled DAG');
is( $node->safe_psql(
		'postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'"
	),
	$scheduler_pid,
	'... in the same process, without a restart');
like(
	slurp_file($node->logfile, $log_offset),
	qr/dagsched catalog in database "postgres" is now version 0\.2; the scheduler carries on/,
	'and logs that it carries on');
$node->safe_psql('postgres',
	"UPDATE dagsched.dag SET paused = true WHERE dag_name = 'ticker'");

my $after = table_digests();
for my $t (@tables)
{
	is($after->{$t}, $before->{$t},
		"every row of dagsched.$t kept, unchanged ($before->{$t})");
}

# ---------------------------------------------------------------- catalog
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION dagsched');

my $updated = snapshot('postgres');
my $fresh = snapshot('fresh');
cmp_ok(scalar(@$fresh), '>', 200,
	'the snapshot lists the catalog (' . scalar(@$fresh) . ' lines)');
for my $section (
	qw(member column function index constraint policy trigger config_dump
	comment init_privs relation view schema))
{
	ok((grep { /^\Q$section\E \| / } @$fresh),
		"the snapshot has $section lines");
}
my @diff = snapshot_diff($fresh, $updated);
is(scalar(@diff), 0,
	'updated 0.1 catalog = fresh 0.2 catalog (t/catalog_snapshot.sql)')
  or diag("- fresh 0.2, + updated from 0.1:\n" . join("\n", @diff));

# ---------------------------------------------------------------- sensitivity
# A column added in another position: the same two columns appended in a
# different order in two scratch databases ...
for my $db (qw(scratch1 scratch2))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION dagsched');
}
$node->safe_psql('scratch1',
	'ALTER TABLE dagsched.task ADD COLUMN note text, ADD COLUMN tag integer');
$node->safe_psql('scratch2',
	'ALTER TABLE dagsched.task ADD COLUMN tag integer, ADD COLUMN note text');
@diff = snapshot_diff(snapshot('scratch1'), snapshot('scratch2'));
ok( (grep { /^[-+] column \| dagsched\.task\.\d+ \| note text/ } @diff)
	  && (grep { /^[-+] column \| dagsched\.task\.\d+ \| tag integer/ } @diff),
	'the comparison sees two columns appended in a different order')
  or diag(join("\n", @diff));

# ... and a column dropped and added again (it moves to the end)
@diff = snapshot_diff(
	$fresh,
	snapshot(
		'fresh', 'ALTER TABLE dagsched.dag DROP COLUMN description CASCADE;
		 ALTER TABLE dagsched.dag ADD COLUMN description text'));
ok((grep { /^- column \| dagsched\.dag\.009 \| description text/ } @diff),
	'the comparison sees a column moved to another position')
  or diag(join("\n", @diff));

# one change of each other kind, each in a transaction rolled back
my @changes = (
	[ 'column default', 'ALTER TABLE dagsched.task ALTER retries SET DEFAULT 1',
		qr/^\+ column \| dagsched\.task\.\d+ \| retries .*default=1 / ],
	[ 'not null', 'ALTER TABLE dagsched.dag ALTER timezone DROP NOT NULL',
		qr/^\+ column \| dagsched\.dag\.\d+ \| timezone .*not_null=f/ ],
	[ 'column type', 'ALTER TABLE dagsched.task_attempt ALTER pid TYPE bigint',
		qr/^\+ column \| dagsched\.task_attempt\.\d+ \| pid bigint/ ],
	[ 'function body',
		q{CREATE OR REPLACE FUNCTION dagsched.shorten(value text) RETURNS text
		  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
		  SET search_path = pg_catalog, pg_temp AS $$ SELECT value $$},
		qr/^\+ function \| dagsched\.shorten\(text\) / ],
	[ 'index', 'DROP INDEX dagsched.dag_run_finished_idx',
		qr/^- index \| dagsched\.dag_run_finished_idx / ],
	[ 'check constraint',
		'ALTER TABLE dagsched.dag_run DROP CONSTRAINT dag_run_trigger_check',
		qr/^- constraint \| dagsched\.dag_run dag_run_trigger_check / ],
	[ 'policy', 'DROP POLICY task_owner ON dagsched.task',
		qr/^- policy \| dagsched\.task task_owner / ],
	[ 'trigger', 'ALTER TABLE dagsched.dag DISABLE TRIGGER dag_changed',
		qr/^\+ trigger \| dagsched\.dag dag_changed .*enabled=D/ ],
	[ 'config dump',
		q{UPDATE pg_extension SET extconfig = extconfig[1:1],
		  extcondition = extcondition[1:1] WHERE extname = 'dagsched'},
		qr/^- config_dump \| dagsched\.task / ],
	[ 'comment', q{COMMENT ON FUNCTION dagsched.cancel(bigint) IS 'changed'},
		qr/^\+ comment \| function dagsched\.cancel\(bigint\) \| changed/ ],
	[ 'privilege', 'REVOKE INSERT ON dagsched.task FROM PUBLIC',
		qr/^\+ relation \| dagsched\.task \| .*acl=/ ],
	[ 'member',
		'ALTER EXTENSION dagsched DROP FUNCTION dagsched.rule_state(text, integer, integer, integer, integer)',
		qr/^- member \| function dagsched\.rule_state/ ],
	[ 'view',
		'ALTER VIEW dagsched.running SET (security_invoker = false)',
		qr/^\+ relation \| dagsched\.running \| .*security_invoker=false/ ]);
for my $c (@changes)
{
	my ($what, $sql, $expect) = @$c;
	@diff = snapshot_diff($fresh, snapshot('fresh', $sql));
	ok((grep { $_ =~ $expect } @diff), "the comparison sees a changed $what")
	  or diag(join("\n", @diff));
}
# the transactions above left nothing behind
is_deeply(snapshot('fresh'), $fresh, 'the rolled-back changes left no trace');

# ---------------------------------------------------------------- they run
# a DAG defined in 0.1 runs after the update, in dependency order
my $run = $node->safe_psql('postgres', "SELECT dagsched.trigger('nightly')");
cmp_ok($run, '>', 3, "new run $run numbered after the 0.1 history");
is( $node->safe_psql('postgres', "SELECT dagsched.wait($run, '3 min')"),
	'success', 'a 0.1 DAG runs to success after the update');
is( $node->safe_psql(
		'postgres', qq{
		SELECT string_agg(task_name || ':' || state, ',' ORDER BY task_name)
		FROM dagsched.task_run WHERE run_id = $run}),
	'customers:success,orders:success,report:success',
	'every task of the new run succeeded');
is( $node->safe_psql(
		'postgres', qq{
		SELECT string_agg(what, ',' ORDER BY what) FROM etl.loaded
		WHERE run_id = $run}),
	'customers,orders,report',
	'the tasks did their work');
ok( $node->safe_psql(
		'postgres', qq{
		SELECT (SELECT finished_at FROM dagsched.task_run
				WHERE run_id = $run AND task_name = 'report')
			   >= ALL (SELECT finished_at FROM dagsched.task_run
					   WHERE run_id = $run)}) eq 't',
	'report finished last');

# the DAG downstream of it (upstream_dags, 0.1) started by itself
ok( $node->poll_query_until(
		'postgres', qq{
		SELECT count(*) = 1 FROM dagsched.dag_run
		WHERE dag_name = 'publish' AND trigger = 'upstream'
		  AND state = 'success' AND run_id > $run}),
	'the downstream 0.1 DAG ran after it');

# the history from 0.1 is still there and still reads the same
is( $node->safe_psql(
		'postgres', q{
		SELECT string_agg(run_id || ':' || state, ',' ORDER BY run_id)
		FROM dagsched.dag_run WHERE run_id <= 3}),
	'1:success,2:failed,3:cancelled',
	'the 0.1 runs are intact');
is( $node->safe_psql(
		'postgres', q{
		SELECT count(*) FROM dagsched.task_attempt
		WHERE run_id = 2 AND task_name = 'orders' AND state = 'failed'}),
	'3', 'the 0.1 attempts are intact');

my $log = slurp_file($node->logfile);
unlike($log, qr/\bPANIC:|terminated by signal/, 'no crash in the server log');

$node->stop;
done_testing();
