# t/096_conditions.pl -- task conditions (issue 16): a boolean query run as
# the owner when the task's trigger rule holds, reading upstream results;
# true runs the task, false or NULL skips it (its downstream follow their
# rules), an error fails it with the error.  SQL and shell tasks.  The
# condition is checked at INSERT/UPDATE: one query, the parser's message
# otherwise.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $node = DagschedTest->node('conditions');

sub sql { DagschedTest::sql($node, @_) }
sub state_of { DagschedTest::task_field($node, $_[0], $_[1], 'state') }

sql(q{
	CREATE TABLE ran (task text, who text);
	CREATE ROLE carol LOGIN;
	GRANT INSERT ON ran TO carol;
	SET ROLE carol;
	INSERT INTO dagsched.dag (dag_name) VALUES ('branch');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, depends_on, trigger_rule, condition) VALUES
	  ('branch', 'up', 'sql', $$SELECT dagsched.set_result('{"go": true, "n": 3}')$$, '{}', 'all_success', NULL),
	  ('branch', 'yes', 'sql', $$INSERT INTO ran VALUES ('yes', current_user)$$, '{up}', 'all_success',
	   $$SELECT (dagsched.result('up') ->> 'go')::boolean AND current_user = 'carol'$$),
	  ('branch', 'no', 'sql', $$INSERT INTO ran VALUES ('no', current_user)$$, '{up}', 'all_success',
	   $$SELECT dagsched.result('up') ->> 'n' = '4'$$),
	  ('branch', 'null', 'sql', $$INSERT INTO ran VALUES ('null', current_user)$$, '{up}', 'all_success',
	   'SELECT NULL::boolean'),
	  ('branch', 'boom', 'sql', $$INSERT INTO ran VALUES ('boom', current_user)$$, '{up}', 'all_success',
	   'SELECT 1 / (SELECT count(*) FROM pg_class WHERE false)::int = 1'),
	  ('branch', 'after_no', 'sql', $$INSERT INTO ran VALUES ('after_no', current_user)$$, '{no}', 'all_success', NULL),
	  ('branch', 'after_no_nf', 'sql', $$INSERT INTO ran VALUES ('after_no_nf', current_user)$$, '{no}', 'none_failed', NULL),
	  ('branch', 'either', 'sql', $$INSERT INTO ran VALUES ('either', current_user)$$, '{yes,no}', 'one_success', NULL),
	  ('branch', 'after_boom', 'sql', $$INSERT INTO ran VALUES ('after_boom', current_user)$$, '{boom}', 'all_success', NULL),
	  ('branch', 'after_boom_done', 'sql', $$INSERT INTO ran VALUES ('after_boom_done', current_user)$$, '{boom}', 'all_done', NULL),
	  ('branch', 'late', 'sql', $$INSERT INTO ran VALUES ('late', current_user)$$, '{up}', 'one_failed',
	   'SELECT true');
	RESET ROLE;
});
my $run = sql("SET ROLE carol; SELECT dagsched.trigger('branch')");
is(DagschedTest::wait_run($node, $run, '90 s'), 'failed', 'the run fails (the condition that errors)');
is(state_of($run, 'yes'), 'success', 'a true condition (reading an upstream result, as the owner) runs the task');
is(state_of($run, 'no'), 'skipped', 'a false condition skips the task');
is(state_of($run, 'null'), 'skipped', 'a NULL condition skips the task');
is(DagschedTest::task_field($node, $run, 'no', 'output'), 'skipped: condition is false',
	'the output says why it was skipped');
is(DagschedTest::task_field($node, $run, 'no', 'attempts'), '0',
	'a skipped task made no attempt');
is(state_of($run, 'boom'), 'failed', 'a condition that errors fails the task');
like(DagschedTest::task_field($node, $run, 'boom', 'error'), qr/^22012: division by zero/,
	'with the error of the condition');
is(state_of($run, 'after_no'), 'skipped', 'all_success below a skipped task is skipped');
is(state_of($run, 'after_no_nf'), 'success', 'none_failed below a skipped task runs');
is(state_of($run, 'either'), 'success', 'one_success over the branches runs (branching)');
is(state_of($run, 'after_boom'), 'upstream_failed', 'all_success below the failed condition');
is(state_of($run, 'after_boom_done'), 'success', 'all_done below the failed condition runs');
is(state_of($run, 'late'), 'skipped',
	'a condition is not evaluated when the trigger rule does not hold');
is(sql("SELECT string_agg(task || ':' || who, ',' ORDER BY task) FROM ran"),
	'after_boom_done:carol,after_no_nf:carol,either:carol,yes:carol',
	'only the tasks whose condition held (or had none) ran');

# ------------------------------------------------ shell tasks
my $dir = $node->data_dir . '/dagsched_shell';
sql(q{
	INSERT INTO dagsched.dag (dag_name) VALUES ('sh');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command, condition) VALUES
	  ('sh', 'go', 'shell', 'echo went > went.txt', 'SELECT true'),
	  ('sh', 'stay', 'shell', 'echo stayed > stayed.txt', 'SELECT false'),
	  ('sh', 'bad', 'shell', 'echo bad > bad.txt', $$SELECT 'x'::int = 1$$),
	  ('sh', 'norow', 'shell', 'echo norow > norow.txt', 'SELECT true WHERE false');
});
$run = DagschedTest::trigger($node, 'sh');
is(DagschedTest::wait_run($node, $run, '90 s'), 'failed', 'the shell run fails (bad condition)');
is(state_of($run, 'go') . ' ' . (-e "$dir/went.txt" ? 'ran' : 'not run'), 'success ran',
	'a shell task with a true condition runs');
is(state_of($run, 'stay') . ' ' . (-e "$dir/stayed.txt" ? 'ran' : 'not run'), 'skipped not run',
	'a shell task with a false condition is skipped without running');
is(state_of($run, 'norow'), 'skipped', 'a condition returning no row skips the task');
like(DagschedTest::task_field($node, $run, 'bad', 'error'), qr/^22P02: invalid input syntax for type integer/,
	'a shell task whose condition errors fails with the error');
ok(!-e "$dir/bad.txt", 'and its program did not run');

# ------------------------------------------------ validation
my ($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO dagsched.task (dag_name, task_name, command, condition) VALUES ('sh', 'v1', 'SELECT 1', 'SELEC true')});
like($err, qr/condition of task "v1" of DAG "sh" is not valid SQL: syntax error at or near "SELEC"/,
	'a condition that does not parse is refused with the parser\'s message');
($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO dagsched.task (dag_name, task_name, command, condition) VALUES ('sh', 'v2', 'SELECT 1', 'SELECT true; SELECT false')});
like($err, qr/condition of task "v2" of DAG "sh" must be a single query/, 'two statements are refused');
($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO dagsched.task (dag_name, task_name, command, condition) VALUES ('sh', 'v3', 'SELECT 1', 'DELETE FROM ran')});
like($err, qr/must be a single query/, 'a command that is not a query is refused');
($ret, $out, $err) = $node->psql('postgres',
	q{UPDATE dagsched.task SET condition = 'SELECT (' WHERE dag_name = 'sh' AND task_name = 'go'});
like($err, qr/condition of task "go" of DAG "sh" is not valid SQL: syntax error at end of input/,
	'UPDATE of the condition is checked too');
is(sql(q{SELECT count(*) FROM dagsched.task WHERE task_name IN ('v1', 'v2', 'v3')}), '0',
	'no refused task was stored');

done_testing();
