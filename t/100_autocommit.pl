# t/100_autocommit.pl -- tasks with autocommit = true run their statements
# one by one as top-level statements, each in its own transaction, as psql
# would: VACUUM, CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY,
# CLUSTER and procedures that COMMIT or ROLLBACK, in the catalog database and
# in another one, as the DAG's owner (a role without superuser or password).
# The first failing statement fails the task; timeout (for the whole task)
# and cancel() stop it; context settings are set and nothing of one task's
# session reaches the next.  Also: what SQL tasks say (NOTICE, WARNING and
# INFO after the command tag, bounded), the real command tag of every kind
# of statement, hints for errors naming internals, and the worker's memory
# for a 1,000,000-row result.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $node = DagschedTest->node('autocommit', conf => "autovacuum = off\n", create_extension => 0);

sub sql { return $node->safe_psql($_[1] // 'postgres', $_[0]); }

sub poll_within
{
	my ($query, $secs, $db) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		return 1 if sql($query, $db) eq 't';
		usleep(200_000);
	}
	return sql($query, $db) eq 't';
}

sub task_field
{
	my ($run, $task, $col) = @_;
	return sql(
		"SELECT $col FROM dagsched.task_run WHERE run_id = $run AND task_name = '$task'"
	);
}

# CREATE INDEX CONCURRENTLY waits for every older snapshot: poll with short
# statements, holding none for long
sub finished_within
{
	my ($run, $secs) = @_;
	poll_within(
		"SELECT state NOT IN ('queued', 'running') FROM dagsched.dag_run WHERE run_id = $run",
		$secs);
	return sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run");
}

# one DAG of ac_owner; tasks as [name, command, extra columns as sql]
sub define_dag
{
	my ($dag, @tasks) = @_;
	my $sql = "BEGIN; INSERT INTO dagsched.dag (dag_name, owner) VALUES ('$dag', 'ac_owner');\n";
	for my $t (@tasks)
	{
		my ($name, $command, %extra) = @$t;
		my $cols = join('', map { ", $_" } sort keys %extra);
		my $vals = join('', map { ", $extra{$_}" } sort keys %extra);
		$sql .= "INSERT INTO dagsched.task (dag_name, task_name, command$cols) "
		  . "VALUES ('$dag', '$name', \$cmd\$$command\$cmd\$$vals);\n";
	}
	sql($sql . 'COMMIT;');
}

sub trigger { return sql("SELECT dagsched.trigger('$_[0]')"); }

sql(q{
	CREATE EXTENSION dagsched;
	CREATE ROLE ac_owner LOGIN;
	CREATE DATABASE acdb OWNER ac_owner;
	GRANT CREATE ON SCHEMA public TO ac_owner;
});
for my $db ('postgres', 'acdb')
{
	sql(q{
		SET ROLE ac_owner;
		CREATE TABLE big (a int, b text) WITH (autovacuum_enabled = false);
		INSERT INTO big SELECT i, md5(i::text) FROM generate_series(1, 20000) i;
		DELETE FROM big WHERE a % 2 = 0;
		CREATE INDEX big_b ON big (b);
		CREATE TABLE log (v text, at timestamptz DEFAULT clock_timestamp());
		CREATE PROCEDURE commits() LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO log (v) VALUES ('before commit');
			COMMIT;
			INSERT INTO log (v) VALUES ('after commit');
			ROLLBACK;
			INSERT INTO log (v) VALUES ('after rollback');
		END $$;
		CREATE MATERIALIZED VIEW mv AS SELECT 1 AS one;
	}, $db);
}

ok( poll_within(
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'",
		30),
	'scheduler is up');

# every maintenance command, in the catalog database and in another one
for my $db ('postgres', 'acdb')
{
	my $dag = "maint_$db";
	my $where = $db eq 'postgres' ? 'NULL' : "'acdb'";
	define_dag(
		$dag,
		[ 'vacuum', 'VACUUM (ANALYZE) big', autocommit => 'true', database => $where ],
		[ 'cic', 'CREATE INDEX CONCURRENTLY big_a ON big (a)',
			autocommit => 'true', database => $where, depends_on => "'{vacuum}'" ],
		[ 'reindex', "INSERT INTO log (v) SELECT 'filenode ' || pg_relation_filenode('big_a'); REINDEX TABLE CONCURRENTLY big",
			autocommit => 'true', database => $where, depends_on => "'{cic}'" ],
		[ 'cluster', 'CLUSTER big USING big_a; SELECT 1 FROM big LIMIT 3',
			autocommit => 'true', database => $where, depends_on => "'{reindex}'" ],
		[ 'dropidx', 'DROP INDEX CONCURRENTLY big_b',
			autocommit => 'true', database => $where, depends_on => "'{cluster}'" ],
		[ 'call', 'CALL commits()',
			autocommit => 'true', database => $where, depends_on => "'{dropidx}'" ],
		[ 'who', q{INSERT INTO log (v) VALUES (current_user || '/' || session_user || '/' || current_setting('dagsched.task_name') || '/' || current_setting('dagsched.run_id'))},
			autocommit => 'true', database => $where, depends_on => "'{call}'" ]);

	my $t0 = sql('SELECT now()');
	my $run = trigger($dag);
	is(finished_within($run, 120), 'success', "$db: maintenance run succeeds");
	is( sql(
			"SELECT last_vacuum > '$t0' AND last_analyze > '$t0' FROM pg_stat_user_tables WHERE relname = 'big'",
			$db),
		't',
		"$db: VACUUM (ANALYZE) ran: pg_stat_user_tables.last_vacuum and last_analyze moved");
	is( sql(
			q{SELECT string_agg(c.relname || ':' || i.indisvalid || ':' || i.indisclustered, ',' ORDER BY c.relname)
			  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			  WHERE i.indrelid = 'big'::regclass},
			$db),
		'big_a:true:true',
		"$db: CREATE INDEX CONCURRENTLY made a valid index, CLUSTER used it, DROP INDEX CONCURRENTLY dropped the other");
	is( sql(
			q{SELECT v <> 'filenode ' || pg_relation_filenode('big_a') FROM log WHERE v LIKE 'filenode %'},
			$db),
		't', "$db: REINDEX CONCURRENTLY rebuilt the index");
	is( sql(
			q{SELECT string_agg(v, ',' ORDER BY at) FROM log WHERE v LIKE '%commit%' OR v LIKE '%rollback%'},
			$db),
		'before commit,after rollback',
		"$db: the procedure's rows before and after its COMMIT are there, the rolled back one is not");
	is(sql(q{SELECT v FROM log WHERE v LIKE 'ac_owner/%'}, $db),
		"ac_owner/ac_owner/who/$run",
		"$db: runs as the DAG owner (current_user and session_user) with its context settings");
	is(task_field($run, 'vacuum', 'output'), 'VACUUM', "$db: output is VACUUM's tag");
	is(task_field($run, 'cic', 'output'), 'CREATE INDEX', "$db: output is CREATE INDEX's tag");
	is(task_field($run, 'cluster', 'output'), 'SELECT 3',
		"$db: output is the last statement's tag");
	is(task_field($run, 'call', 'output'), 'CALL', "$db: output is CALL's tag");
	is(task_field($run, 'call', 'autocommit'), 't', "$db: task_run keeps autocommit");
	sql('DELETE FROM log', $db);
}

# the first failing statement fails the task; earlier ones stay committed,
# later ones do not run; the error names the statement
{
	define_dag('ac_fail',
		[ 't', q{INSERT INTO log (v) VALUES ('first'); SELECT 1/0; INSERT INTO log (v) VALUES ('third')},
			autocommit => 'true' ]);
	my $run = trigger('ac_fail');
	is(finished_within($run, 60), 'failed', 'failing statement: run fails');
	like(task_field($run, 't', 'error'),
		qr/^22012: division by zero\nSTATEMENT: 2 of 3: SELECT 1\/0$/,
		'failing statement: SQLSTATE, message and which statement');
	is(sql(q{SELECT string_agg(v, ',') FROM log}), 'first',
		'failing statement: the first committed, the third never ran');
	sql('DELETE FROM log');
}

# timeout bounds the whole task, not each statement
{
	define_dag('ac_timeout',
		[ 't', q{SELECT pg_sleep(0.8); INSERT INTO log (v) VALUES ('one'); SELECT pg_sleep(0.8); INSERT INTO log (v) VALUES ('two'); SELECT pg_sleep(0.8); SELECT pg_sleep(60)},
			autocommit => 'true', timeout => "'2 seconds'" ]);
	my $t0 = time();
	my $run = trigger('ac_timeout');
	is(finished_within($run, 60), 'failed', 'timeout: run fails');
	my $took = time() - $t0;
	ok($took < 20, "timeout: enforced for the whole task ($took s)");
	like(task_field($run, 't', 'error'),
		qr/^57014: task timed out after 2000 ms/, 'timeout: error says timed out');
	is(sql(q{SELECT string_agg(v, ',' ORDER BY at) FROM log}), 'one,two',
		'timeout: statements before it stay committed');
	ok( poll_within(
			q{SELECT count(*) = 0 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'},
			10),
		'timeout: the statement stopped');
	sql('DELETE FROM log');
}

# cancel() stops a long autocommit task and its process
{
	define_dag('ac_cancel',
		[ 't', q{INSERT INTO log (v) VALUES ('started'); SELECT pg_sleep(300)}, autocommit => 'true' ]);
	my $run = trigger('ac_cancel');
	ok( poll_within(
			q{SELECT count(*) = 1 FROM pg_stat_activity
			  WHERE query = 'SELECT pg_sleep(300)' AND usename = 'ac_owner'
			    AND backend_type = 'dagsched database task'},
			60),
		'cancel: the statement runs in a session of the owner');
	my $t0 = time();
	sql("SELECT dagsched.cancel($run)");
	is(finished_within($run, 60), 'cancelled', 'cancel: run cancelled');
	ok( poll_within(
			q{SELECT count(*) = 0 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(300)'},
			30),
		'cancel: the statement stopped');
	my $took = time() - $t0;
	ok($took < 30, "cancel: promptly ($took s)");
	is(task_field($run, 't', 'state'), 'cancelled', 'cancel: task cancelled');
	is(sql(q{SELECT string_agg(v, ',') FROM log}), 'started',
		'cancel: what committed before stays');
	sql('DELETE FROM log');
}

# session state never reaches the next task: each autocommit task has a
# session of its own
{
	define_dag('ac_session',
		[ 'dirty', q{SET work_mem = '77MB'; CREATE TEMP TABLE scratch (a int); SELECT pg_advisory_lock(4242); SET ROLE NONE},
			autocommit => 'true' ],
		[ 'look', q{INSERT INTO log (v) SELECT current_setting('work_mem') || '/' || (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory') || '/' || (to_regclass('pg_temp.scratch') IS NULL)},
			autocommit => 'true', depends_on => "'{dirty}'" ],
		[ 'look_tx', q{INSERT INTO log (v) SELECT current_setting('work_mem') || '/' || (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory')},
			depends_on => "'{look}'" ]);
	my $run = trigger('ac_session');
	is(finished_within($run, 60), 'success', 'session: run succeeds');
	is(sql(q{SELECT string_agg(v, ',' ORDER BY at) FROM log}), '4MB/0/true,4MB/0',
		'session: no setting, temp table or advisory lock of a task reaches the next');
	sql('DELETE FROM log');
}

# refused at INSERT: autocommit = false with a statement that needs its own
# transaction
{
	my ($rc, $out, $err) = $node->psql('postgres',
		q{INSERT INTO dagsched.dag (dag_name) VALUES ('ac_refused');
		  INSERT INTO dagsched.task (dag_name, task_name, command)
		  VALUES ('ac_refused', 't', 'VACUUM big')});
	like($err,
		qr/ERROR:  VACUUM cannot run inside the transaction of task "t" of DAG "ac_refused".*HINT:  Set autocommit = true/s,
		'INSERT-time refusal names the statement and hints autocommit');
	sql(q{DELETE FROM dagsched.dag WHERE dag_name = 'ac_refused'});
}

# errors naming internals get a hint, at run time: a procedure that COMMITs
# in a one-transaction task, VACUUM run from a function, SET ROLE in a
# SECURITY DEFINER function
{
	sql(q{
		SET ROLE ac_owner;
		CREATE FUNCTION vac() RETURNS void LANGUAGE plpgsql AS $$
		BEGIN EXECUTE 'VACUUM big'; END $$;
	});
	define_dag('ac_hints',
		[ 'call', 'CALL commits()' ],
		[ 'vac', 'SELECT vac()' ],
		[ 'vac_ac', 'SELECT vac()', autocommit => 'true' ],
		[ 'role', 'SET ROLE ac_owner' ],
		[ 'role_ac', q{SET ROLE ac_owner; INSERT INTO log (v) VALUES ('role ' || current_user)}, autocommit => 'true' ]);
	my $run = trigger('ac_hints');
	is(finished_within($run, 60), 'failed', 'hints: run fails');
	like(task_field($run, 'call', 'error'),
		qr/^2D000: invalid transaction termination\nHINT: .*set autocommit = true/s,
		'a CALL that turns out to COMMIT: hint to use autocommit');
	like(task_field($run, 'vac', 'error'),
		qr/^25001: VACUUM cannot be executed from a function\nHINT: .*autocommit = true/s,
		'VACUUM from a function: hint says what a task may not do');
	like(task_field($run, 'vac_ac', 'error'),
		qr/^25001: VACUUM cannot be executed from a function\nHINT: .*as its own statements/s,
		'VACUUM from a function in an autocommit task: hint says it must be a statement of its own');
	like(task_field($run, 'role', 'error'),
		qr/^42501: cannot set parameter "role" within security-definer function\nHINT: .*DAG's owner/s,
		'SET ROLE in a one-transaction task: hint says why');
	is(task_field($run, 'role_ac', 'state'), 'success',
		'SET ROLE to a role the owner may take works in an autocommit task, as in psql');
	sql('DELETE FROM log');
}

# what a task says: NOTICE, INFO and WARNING after the command tag, in both
# modes and in another database; kept when the task fails; not in the log
{
	define_dag('ac_say',
		[ 'tx', q{DO $$BEGIN RAISE NOTICE 'loaded % rows', 42; RAISE WARNING 'careful'; RAISE INFO 'fyi'; END$$} ],
		[ 'ac', q{DO $$BEGIN RAISE NOTICE 'vacuuming'; END$$; VACUUM (VERBOSE) big; DO $$BEGIN RAISE NOTICE 'done'; END$$},
			autocommit => 'true' ],
		[ 'other', q{DO $$BEGIN RAISE NOTICE 'in acdb'; END$$}, database => "'acdb'" ],
		[ 'fails', q{DO $$BEGIN RAISE NOTICE 'step 1 done'; PERFORM 1/0; END$$} ],
		[ 'many', q{DO $$BEGIN FOR i IN 1..5000 LOOP RAISE NOTICE 'line % %', i, repeat('x', 80); END LOOP; END$$} ]);
	my $run = trigger('ac_say');
	is(finished_within($run, 60), 'failed', 'messages: run ends');
	is(task_field($run, 'tx', 'output'),
		"DO\nNOTICE:  loaded 42 rows\nWARNING:  careful\nINFO:  fyi",
		'messages: NOTICE, WARNING and INFO kept after the tag');
	like(task_field($run, 'ac', 'output'),
		qr/^DO\nNOTICE:  vacuuming\nINFO:  vacuuming "postgres.public.big".*\nNOTICE:  done$/s,
		'messages: kept across the statements of an autocommit task, VACUUM VERBOSE included');
	is(task_field($run, 'other', 'output'), "DO\nNOTICE:  in acdb",
		'messages: kept in another database');
	is(task_field($run, 'fails', 'output'), "NOTICE:  step 1 done",
		'messages: kept when the task fails');
	my $many = task_field($run, 'many', 'output');
	like($many, qr/^DO\n\[\.\.\. \d+ bytes of messages dropped \.\.\.\]\nNOTICE:  line \d+ x+\n/,
		'messages: bounded, the tail kept from a whole line');
	like($many, qr/NOTICE:  line 5000 x+$/, 'messages: the last one kept');
	ok(length($many) <= 64 * 1024 + 100, 'messages: at most 64 kB (' . length($many) . ')');
	my $log = slurp_file($node->logfile);
	unlike($log, qr/loaded 42 rows/, 'messages: a NOTICE does not reach the server log');
	like($log, qr/WARNING:  careful/, 'messages: a WARNING still reaches the server log');
}

# the command tag of every kind of statement
{
	define_dag('ac_tags',
		[ 'refresh', 'REFRESH MATERIALIZED VIEW mv' ],
		[ 'call', 'CALL dagsched_noop()' ],
		[ 'do', 'DO $$BEGIN END$$' ],
		[ 'ctas', 'CREATE TABLE ctas AS SELECT generate_series(1, 3) AS a' ],
		[ 'select', 'SELECT generate_series(1, 5)' ],
		[ 'insert', 'INSERT INTO log (v) SELECT generate_series(1, 4)' ],
		[ 'refresh_ac', 'REFRESH MATERIALIZED VIEW mv', autocommit => 'true' ],
		[ 'ctas_ac', 'CREATE TABLE ctas2 AS SELECT generate_series(1, 3) AS a', autocommit => 'true' ],
		[ 'other', 'CREATE TABLE ctas AS SELECT 1 AS a; REFRESH MATERIALIZED VIEW mv', database => "'acdb'" ]);
	sql(q{SET ROLE ac_owner; CREATE PROCEDURE dagsched_noop() LANGUAGE sql AS 'SELECT 1'});
	my $run = trigger('ac_tags');
	is(finished_within($run, 60), 'success', 'tags: run succeeds');
	is( sql(
			"SELECT string_agg(task_name || '=' || output, ',' ORDER BY task_name) FROM dagsched.task_run WHERE run_id = $run"
		),
		'call=CALL,ctas=SELECT 3,ctas_ac=SELECT 3,do=DO,insert=INSERT 4,other=REFRESH MATERIALIZED VIEW,'
		  . 'refresh=REFRESH MATERIALIZED VIEW,refresh_ac=REFRESH MATERIALIZED VIEW,select=SELECT 5',
		'tags: REFRESH, CALL, DO and CREATE TABLE AS give their real command tags');
	sql('DELETE FROM log');
}

# a 1,000,000-row result is counted, not held: the worker's peak memory
{
	define_dag('ac_rows',
		[ 't', q{SELECT i, repeat('x', 200) FROM generate_series(1, 1000000) i} ]);
	my $run = trigger('ac_rows');
	is(finished_within($run, 120), 'success', 'big result: run succeeds');
	is(task_field($run, 't', 'output'), 'SELECT 1000000',
		'big result: only the tag and row count are kept');
	my $pid = task_field($run, 't', 'pid');
	my $status = slurp_file("/proc/$pid/status");
	my ($hwm) = $status =~ /^VmHWM:\s+(\d+) kB/m;
	diag "worker $pid peak RSS after a 1,000,000-row task: $hwm kB";
	ok($hwm < 100 * 1024,
		"big result: the worker's peak RSS stays small ($hwm kB; 298 MB before 0.2)");
}

done_testing();
