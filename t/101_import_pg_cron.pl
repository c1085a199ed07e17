# t/101_import_pg_cron.pl -- dagsched.import_pg_cron() against the real
# pg_cron (Debian's postgresql-15-cron): one DAG per job the caller can see,
# with one autocommit task holding the command, the job's schedule, time
# zone, database and user, paused when the job is inactive; the pg_cron jobs
# switched off in the same transaction; a second call creates nothing; and
# the imported jobs run under dagsched, by schedule and by trigger, while
# pg_cron runs them no more.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

# pg_cron preloaded beside dagsched (the later shared_preload_libraries wins)
my $node = DagschedTest->node('import',
	conf => "shared_preload_libraries = 'dagsched,pg_cron'\n"
	  . "cron.database_name = 'postgres'\n"
	  . "autovacuum = off\n",
	create_extension => 0);

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

sub finished_within
{
	my ($run, $secs) = @_;
	poll_within(
		"SELECT state NOT IN ('queued', 'running') FROM dagsched.dag_run WHERE run_id = $run",
		$secs);
	return sql("SELECT state FROM dagsched.dag_run WHERE run_id = $run");
}

sql('CREATE EXTENSION dagsched');

# without pg_cron's extension: a clear error
{
	my ($rc, $out, $err) =
	  $node->psql('postgres', 'SELECT dagsched.import_pg_cron()');
	like($err, qr/ERROR:  pg_cron is not installed in database "postgres"/,
		'without pg_cron: a clear error');
}

sql(q{
	CREATE EXTENSION pg_cron;
	CREATE ROLE cron_user LOGIN;
	GRANT USAGE ON SCHEMA cron TO cron_user;
	GRANT CREATE ON SCHEMA public TO cron_user;
	CREATE DATABASE otherdb;
	CREATE TABLE imp (a int) WITH (autovacuum_enabled = false);
	INSERT INTO imp SELECT generate_series(1, 1000);
	DELETE FROM imp WHERE a < 500;
	CREATE TABLE imp_log (v text, at timestamptz DEFAULT clock_timestamp());
	GRANT INSERT ON imp_log TO cron_user;
});
sql(q{
	CREATE TABLE log (v text);
	CREATE PROCEDURE commits() LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO log VALUES ('before commit');
		COMMIT;
		INSERT INTO log VALUES ('after commit');
	END $$;
}, 'otherdb');

# jobs at times that do not come during the test
my $vacuum = sql(q{SELECT cron.schedule('nightly-vacuum', '0 3 * * *', 'VACUUM (ANALYZE) imp')});
my $unnamed = sql(q{SELECT cron.schedule('17 4 * * *', $$INSERT INTO imp_log (v) VALUES ('unnamed')$$)});
my $other = sql(q{SELECT cron.schedule_in_database('in-other', '0 5 * * *', 'CALL commits()', 'otherdb')});
my $sleeping = sql(q{SELECT cron.schedule('sleeping', '0 6 * * *', 'SELECT 1')});
sql("SELECT cron.alter_job($sleeping, active := false)");
my $boot = sql(q{SELECT cron.schedule('boot', '@reboot', 'SELECT 2')});
my $mine = sql(q{SET ROLE cron_user;
	SELECT cron.schedule('mine', '0 7 * * 1-5', $$INSERT INTO imp_log (v) VALUES (current_user)$$)});

# a non-superuser imports the jobs it can see: its own; switching them off
# needs the right to cron.alter_job(), which pg_cron does not grant to all
{
	my ($rc, $out, $err) = $node->psql('postgres',
		'SET ROLE cron_user; SELECT dagsched.import_pg_cron()');
	like($err,
		qr/ERROR:  permission denied to switch off pg_cron jobs.*HINT:  GRANT EXECUTE ON FUNCTION cron.alter_job/s,
		'a non-superuser without EXECUTE on cron.alter_job: a clear error');
	is(sql(q{SELECT count(*) FROM dagsched.dag}), '0', '... and nothing imported');
}
sql('GRANT EXECUTE ON FUNCTION cron.alter_job TO cron_user');
is(sql(q{SET ROLE cron_user; SELECT dagsched.import_pg_cron()}),
	'1', "a non-superuser imports only its own job");
is(sql(q{SELECT string_agg(dag_name || ':' || owner, ',') FROM dagsched.dag}),
	'pg_cron_mine:cron_user', 'its DAG is owned by the job\'s user');
is(sql("SELECT string_agg(jobid || ':' || active, ',' ORDER BY jobid) FROM cron.job WHERE jobid IN ($mine, $vacuum)"),
	"$vacuum:true,$mine:false", 'only its job is switched off in pg_cron');

# a job that cannot be imported stops the import, naming it; nothing stays
{
	my $broken = sql(q{SELECT cron.schedule('broken', '0 3 * * *', 'SELEC 1')});
	my ($rc, $out, $err) =
	  $node->psql('postgres', 'SELECT dagsched.import_pg_cron()');
	like($err,
		qr/ERROR:  cannot import pg_cron job $broken as DAG "pg_cron_broken": command of task "job" of DAG "pg_cron_broken" is not valid SQL: syntax error at or near "SELEC"/,
		'a job that does not parse: the import fails, naming the job');
	is(sql(q{SELECT count(*) FROM dagsched.dag}), '1', '... and imports nothing');
	is(sql("SELECT bool_and(active) FROM cron.job WHERE jobid IN ($vacuum, $unnamed, $other)"),
		't', '... and switches nothing off');
	sql("SELECT cron.unschedule($broken)");
}

# the superuser imports the rest
is(sql('SELECT dagsched.import_pg_cron()'), '5', 'superuser imports the other five jobs');
is(sql('SELECT dagsched.import_pg_cron()'), '0', 'a second call creates nothing');
is(sql('SELECT count(*) FROM dagsched.dag'), '6', 'six DAGs in all');
is(sql(q{SELECT count(*) FROM cron.job WHERE active}), '0', 'every imported pg_cron job is off');
is( sql(
		q{SELECT string_agg(concat_ws('|', d.dag_name, d.schedule, d.timezone, d.paused, d.owner,
									  t.task_name, t.command, t.database, t.autocommit), E'\n' ORDER BY d.dag_name)
		  FROM dagsched.dag d JOIN dagsched.task t USING (dag_name)}),
	join("\n",
		"pg_cron_$unnamed|17 4 * * *|GMT|f|postgres|job|INSERT INTO imp_log (v) VALUES ('unnamed')|t",
		'pg_cron_boot|GMT|f|postgres|job|SELECT 2|t',
		'pg_cron_in-other|0 5 * * *|GMT|f|postgres|job|CALL commits()|otherdb|t',
		'pg_cron_mine|0 7 * * 1-5|GMT|f|cron_user|job|INSERT INTO imp_log (v) VALUES (current_user)|t',
		'pg_cron_nightly-vacuum|0 3 * * *|GMT|f|postgres|job|VACUUM (ANALYZE) imp|t',
		'pg_cron_sleeping|0 6 * * *|GMT|t|postgres|job|SELECT 1|t'),
	'each DAG: name, schedule, GMT (pg_cron 1.4), paused = NOT active, owner, one autocommit task with the command and database');
ok( sql(
		q{SELECT next_run_at = dagsched.next_fire('0 3 * * *', now(), 'GMT') FROM dagsched.dag WHERE dag_name = 'pg_cron_nightly-vacuum'}
	) eq 't',
	'the imported schedule ticks');

# without deactivate, pg_cron keeps its job
{
	my $keep = sql(q{SELECT cron.schedule('kept', '0 3 1 1 *', 'SELECT 3')});
	is(sql('SELECT dagsched.import_pg_cron(deactivate => false)'), '1',
		'deactivate => false imports');
	is(sql("SELECT active FROM cron.job WHERE jobid = $keep"), 't',
		'... and leaves the pg_cron job on');
	sql("SELECT cron.unschedule($keep)");
}

# the imported jobs run under dagsched: VACUUM, a procedure that COMMITs in
# another database, a non-superuser's INSERT
{
	my $t0 = sql('SELECT now()');
	my @runs = map { sql("SELECT dagsched.trigger('$_')") }
	  ('pg_cron_nightly-vacuum', 'pg_cron_in-other', 'pg_cron_mine');
	is(finished_within($_, 60), 'success', "imported DAG run $_ succeeds") for @runs;
	is(sql("SELECT last_vacuum > '$t0' FROM pg_stat_user_tables WHERE relname = 'imp'"),
		't', 'the imported VACUUM ran');
	is(sql(q{SELECT string_agg(v, ',' ORDER BY v) FROM log}, 'otherdb'),
		'after commit,before commit', 'the imported CALL committed in otherdb');
	is(sql(q{SELECT string_agg(v, ',') FROM imp_log}), 'cron_user',
		'the imported job ran as its user');
}

# a job imported in the transaction that creates it runs by its schedule
# under dagsched, and pg_cron never runs it
{
	sql('DELETE FROM imp_log');
	my $every = sql(q{BEGIN;
		SELECT cron.schedule('every-minute', '* * * * *', $$INSERT INTO imp_log (v) VALUES (current_setting('dagsched.dag_name'))$$);
		SELECT dagsched.import_pg_cron();
		COMMIT;});
	($every) = split /\n/, $every;
	ok( poll_within(
			q{SELECT count(*) >= 1 FROM dagsched.dag_run WHERE dag_name = 'pg_cron_every-minute' AND trigger = 'schedule' AND state = 'success'},
			150),
		'the every-minute job ran by its schedule under dagsched');
	is(sql(q{SELECT min(v) FROM imp_log}), 'pg_cron_every-minute',
		'its row was written by the dagsched task');
	# pg_cron would have run it at the same minute boundary
	usleep(3_000_000);
	is(sql("SELECT count(*) FROM cron.job_run_details WHERE jobid = $every"), '0',
		'pg_cron did not run it');
	is(sql(q{SELECT count(*) FROM imp_log WHERE v IS DISTINCT FROM 'pg_cron_every-minute'}), '0',
		'nothing else wrote a row');
}

done_testing();
