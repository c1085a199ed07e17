# t/044_locale_timeout.pl -- timeout vs cancel with translated messages: the
# server runs with lc_messages = 'de_DE.UTF-8', so PostgreSQL's own error
# texts are German.  A SQL task, a task in another database and a shell task
# that run past their timeout are each recorded as timed out; a cancel() of
# running tasks that have a timeout is recorded as cancelled, not as a
# timeout.  Before the fix the timeout was recognised by the English words
# "statement timeout" in the message, which this locale does not contain.
#
# Needs the de_DE.UTF-8 locale (scripts/deps.sh generates it as root) and
# PostgreSQL's German message catalog where this server looks for it
# (pg_config --localedir).  Without them the test skips, unless
# DAGSCHED_REQUIRE_TEST_LOCALE is set (.ci/run sets it): then it fails.
#
# Copyright (c) 2026, dagsched developers
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $locale = 'de_DE.UTF-8';

# ---------------------------------------------------------------- prerequisites
my $node = DagschedTest->node('locale', start => 0,
	conf => "lc_messages = '$locale'\n");
my $catalog = $node->config_data('--localedir') . '/de/LC_MESSAGES/postgres-15.mo';
my @missing;
push @missing, "locale $locale (as root, scripts/deps.sh test generates it)"
  unless grep { /^de_DE\.utf-?8$/i } split /\n/, `locale -a 2>/dev/null`;
push @missing, "PostgreSQL's German messages ($catalog, shipped with the server)"
  unless -f $catalog;
if (@missing)
{
	my $why = 'missing: ' . join('; ', @missing);
	plan skip_all => $why unless $ENV{DAGSCHED_REQUIRE_TEST_LOCALE};
	fail("$why (DAGSCHED_REQUIRE_TEST_LOCALE is set: no skipping)");
	done_testing();
	exit;
}
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION dagsched');

sub sql { return DagschedTest::sql($node, @_); }
sub task_field { return DagschedTest::task_field($node, @_); }

sql('CREATE DATABASE other');
is(sql('SHOW lc_messages'), $locale, 'the server runs with German messages');

# ---------------------------------------------------------------- German is on
# a failing task's error, in the catalog's database and in another one, is
# PostgreSQL's German text: the translation is really in use
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('de_fail');
	INSERT INTO dagsched.task (dag_name, task_name, command, database) VALUES
	  ('de_fail', 'here', 'SELECT 1/0', NULL),
	  ('de_fail', 'there', 'SELECT 1/0', 'other');
	COMMIT;
});
my $run = DagschedTest::trigger($node, 'de_fail');
is(DagschedTest::wait_run($node, $run), 'failed', 'failing tasks: run fails');
is(task_field($run, 'here', 'error'), '22012: Division durch Null',
	'a failing SQL task records the German message');
is(task_field($run, 'there', 'error'), '22012: Division durch Null',
	'a failing task in another database records the German message');

# ---------------------------------------------------------------- timeouts
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('de_timeout');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, database, timeout) VALUES
	  ('de_timeout', 'sql', 'sql', 'SELECT pg_sleep(60)', NULL, '1 second'),
	  ('de_timeout', 'dbtask', 'sql', 'SELECT pg_sleep(60)', 'other', '1 second'),
	  ('de_timeout', 'shell', 'shell', 'sleep 60', NULL, '1 second');
	COMMIT;
});
$run = DagschedTest::trigger($node, 'de_timeout');
is(DagschedTest::wait_run($node, $run, '50 s'), 'failed', 'timeouts: run fails');
is( sql("SELECT string_agg(task_name || '=' || state, ',' ORDER BY task_name)
           FROM dagsched.task_run WHERE run_id = $run"),
	'dbtask=failed,shell=failed,sql=failed',
	'timeouts: every task failed');
is(task_field($run, 'sql', 'error'), '57014: task timed out after 1000 ms',
	'a SQL task past its timeout is recorded as timed out');
is(task_field($run, 'dbtask', 'error'), '57014: task timed out after 1000 ms',
	'a task in another database past its timeout is recorded as timed out');
is(task_field($run, 'shell', 'error'), 'timed out after 1000 ms',
	'a shell task past its timeout is recorded as timed out');
is( sql("SELECT string_agg(task_name || '=' || state || ':' || error, ',' ORDER BY task_name)
           FROM dagsched.task_attempt WHERE run_id = $run"),
	'dbtask=failed:57014: task timed out after 1000 ms,'
	  . 'shell=failed:timed out after 1000 ms,'
	  . 'sql=failed:57014: task timed out after 1000 ms',
	'timeouts: each attempt is recorded failed, timed out');

# ---------------------------------------------------------------- cancel
# tasks with a timeout that a cancel() stops first: cancelled, not timed out
sql(q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('de_cancel');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, database, timeout) VALUES
	  ('de_cancel', 'sql', 'sql', 'SELECT pg_sleep(600)', NULL, '20 min'),
	  ('de_cancel', 'dbtask', 'sql', 'SELECT pg_sleep(600)', 'other', '20 min'),
	  ('de_cancel', 'shell', 'shell', 'sleep 600', NULL, '20 min');
	COMMIT;
});
$run = DagschedTest::trigger($node, 'de_cancel');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 3 FROM dagsched.task_run WHERE run_id = $run AND state = 'running'"),
	'cancel: the three tasks are running');
# the task in another database runs in a helper process: wait until both
# SQL tasks sleep in their statement, where the cancel must reach them
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM pg_stat_activity WHERE wait_event = 'PgSleep'"),
	'cancel: both SQL tasks are in their statement');
sql("SELECT dagsched.cancel($run)");
is(DagschedTest::wait_run($node, $run, '50 s'), 'cancelled', 'cancel: run ends cancelled');
is( sql("SELECT string_agg(task_name || '=' || state, ',' ORDER BY task_name)
           FROM dagsched.task_run WHERE run_id = $run"),
	'dbtask=cancelled,shell=cancelled,sql=cancelled',
	'cancel: every task is recorded cancelled');
is( sql("SELECT count(*) FROM dagsched.task_attempt
          WHERE run_id = $run AND state = 'cancelled'"),
	'3', 'cancel: every attempt is recorded cancelled');
is( sql("SELECT count(*) FROM dagsched.task_attempt
          WHERE run_id = $run AND error LIKE '%timed out%'"),
	'0', 'cancel: no attempt says it timed out');
# the cancel reached the SQL task as PostgreSQL's own (German) cancel
is(task_field($run, 'sql', 'error'),
	'57014: storniere Anfrage wegen Benutzeraufforderung',
	'cancel: the SQL task records the German cancel message');

done_testing();
