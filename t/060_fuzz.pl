# t/060_fuzz.pl -- a seeded random fuzzer over the SQL interface: mutated
# cron schedules through next_fire() and the dagsched.dag check, random
# depends_on arrays and trigger rules through the dagsched.task checks.
# Whatever comes in, the server must not crash, no statement may take more
# than a second, an accepted schedule must give a next tick that is NULL or
# in the future, and the stored graph must stay valid.
#
# FUZZ_SEED=<n> reproduces a run (the seed is printed); FUZZ_N=<n> changes
# the number of schedules (default 3000).
use strict;
use warnings;
use utf8;

use Encode qw(encode_utf8);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use Test::More;

my $seed = $ENV{FUZZ_SEED} // 20261127;
my $nsched = $ENV{FUZZ_N} // 3000;
my $ntask = int($nsched / 3);
srand($seed);
note "fuzz seed $seed, $nsched schedules, $ntask task statements";

my $node = DagschedTest->node('fuzz',
	max_worker_processes => 8,
	conf => "log_min_duration_statement = 1000\n");

# one statement per schedule: next_fire() and an INSERT into dagsched.dag,
# each in its own subtransaction (the INSERT is always rolled back, so the
# live scheduler never sees the fuzzed DAGs); the outcome goes to fz_result
$node->safe_psql('postgres', q{
CREATE TABLE fz_result (i int PRIMARY KEY, schedule text, at timestamptz,
	fire_ok bool, fire timestamptz, fire_err text,
	dag_ok bool, next_run_at timestamptz, dag_err text);
CREATE FUNCTION fz_try(i int, s text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	r fz_result;
BEGIN
	r.i := i;
	r.schedule := s;
	r.at := now();
	r.fire_ok := false;
	r.dag_ok := false;
	BEGIN
		r.fire := dagsched.next_fire(s, now(), 'UTC');
		r.fire_ok := true;
	EXCEPTION WHEN OTHERS THEN
		r.fire_err := SQLSTATE || ' ' || left(SQLERRM, 200);
	END;
	BEGIN
		INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('fz_' || i, s)
		RETURNING next_run_at INTO r.next_run_at;
		r.dag_ok := true;
		RAISE EXCEPTION USING ERRCODE = 'P0099', MESSAGE = 'fz rollback';
	EXCEPTION WHEN OTHERS THEN
		IF SQLSTATE <> 'P0099' THEN
			r.dag_err := SQLSTATE || ' ' || left(SQLERRM, 200);
		END IF;
	END;
	INSERT INTO fz_result SELECT r.*;
END
$$;
INSERT INTO dagsched.dag (dag_name) VALUES ('fz_tasks');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('fz_tasks', 't1', 'SELECT 1', '{}'),
	('fz_tasks', 't2', 'SELECT 2', '{t1}'),
	('fz_tasks', 't3', 'SELECT 3', '{t1}'),
	('fz_tasks', 't4', 'SELECT 4', '{t2,t3}'),
	('fz_tasks', 't5', 'SELECT 5', '{}');
});

#
# the generator
#
my @valid = (
	'0 8 * * 1-5', '*/15 * * * *', '* * * * *', '0 0 1 1 *', '0 0 L * *',
	'0 0 29 2 *', '59 23 31 12 7', '5 4 * * sun', '0 0 1 jan-mar mon-fri',
	'*/5 0-23/2 1,15 * *', '0 30 8 * * *', '*/10 * * * * *', '@daily',
	'@hourly', '@yearly', '@monthly', '@weekly', 'every 15 minutes',
	'every minute', '30 seconds', 'every 2 hours', '0 22 * * 1-5',
	'23 0-20/2 * * *', '0 0,12 1 */2 *', '15 14 1 * *');
my @tokens = ('*', '/', '-', ',', 'L', '@daily', 'every', 'minutes', '7',
	'60', '-1', '99999999999', 'jan', 'sun', "\t", ' ');
my @chars = (map { chr } 32 .. 126);
push @chars, "\t", "\n", "\r", 'ż', '０', '🙂', "\x{7f}", "\x{1}", '日';

sub pick { return $_[ int(rand(@_)) ]; }

sub mutate
{
	my ($s) = @_;
	my $ops = rand() < 0.5 ? 1 : 1 + int(rand(8));
	for (1 .. $ops)
	{
		my $op = int(rand(7));
		my $pos = int(rand(length($s) + 1));
		if ($op == 0)
		{
			substr($s, $pos, 0) = pick(@chars);
		}
		elsif ($op == 1 && length($s))
		{
			substr($s, $pos < length($s) ? $pos : $pos - 1, 1) = '';
		}
		elsif ($op == 2 && length($s))
		{
			substr($s, $pos < length($s) ? $pos : $pos - 1, 1) = pick(@chars);
		}
		elsif ($op == 3 || $op == 4)
		{
			substr($s, $pos, 0) = pick(@tokens);
		}
		elsif ($op == 5)
		{
			# swap a field for a random run of tokens
			my @f = split / /, $s;
			$f[ int(rand(@f || 1)) ] =
			  join('', map { pick(@tokens) } 1 .. 1 + int(rand(5)));
			$s = join ' ', @f;
		}
		else
		{
			$s = pick(@valid) . pick(' ', '', ',', "\t") . $s if rand() < 0.5;
		}
	}
	# now and then, grow it long (up to about 2 kB)
	if (rand() < 0.05)
	{
		my $target = int(rand(2000));
		$s .= pick(@tokens, ',', '1', '1,') while length($s) < $target;
	}
	return $s;
}

sub sql_literal
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

my @script = (
	'SET statement_timeout = \'10s\';',
	'SET client_min_messages = warning;');
# a random cron expression, field by field, values a little past the limits
sub random_cron
{
	my @max = (59, 59, 23, 31, 12, 7);
	my $first = rand() < 0.2 ? 0 : 1;
	my @f;
	for my $k ($first .. 5)
	{
		my $v = sub { int(rand($max[$k] + 3)) - ($k >= 3 ? 0 : 1) };
		my $r = rand();
		push @f,
		    $r < 0.3 ? '*'
		  : $r < 0.5 ? $v->()
		  : $r < 0.65 ? $v->() . '-' . $v->()
		  : $r < 0.8 ? '*/' . $v->()
		  : $r < 0.9 ? $v->() . '-' . $v->() . '/' . $v->()
		  :            join(',', map { $v->() } 1 .. 1 + int(rand(4)));
	}
	return join ' ', @f;
}

for my $i (1 .. $nsched)
{
	my $r = rand();
	my $s =
	    $r < 0.3 ? random_cron()
	  : $r < 0.4 ? mutate(random_cron())
	  :            mutate(pick(@valid));
	push @script, "SELECT fz_try($i, " . sql_literal($s) . ");";
}

# tasks: random depends_on arrays and trigger rules, each statement in its
# own transaction so that the graph check at commit runs too
my @rules = ('all_success', 'all_done', 'all_failed', 'one_success',
	'one_failed', 'none_failed');
my @task_names = map { "t$_" } 1 .. 5;

sub random_name
{
	my $r = rand();
	return pick(@task_names) if $r < 0.5;
	return '' if $r < 0.55;
	return 'x' x (100 + int(rand(200))) if $r < 0.6;
	return join('', map { pick(@chars) } 1 .. 1 + int(rand(12)));
}

sub random_array
{
	my $n = int(rand(6));
	$n = int(rand(12000)) if rand() < 0.01;
	my @e = map { rand() < 0.03 ? 'NULL' : sql_literal(random_name()) } 1 .. $n;
	return $n ? 'ARRAY[' . join(',', @e) . ']::text[]' : "'{}'::text[]";
}

sub random_rule
{
	my $r = rand();
	return sql_literal(pick(@rules)) if $r < 0.6;
	return 'NULL' if $r < 0.65;
	my $s = pick(@rules);
	substr($s, int(rand(length $s)), 1) = pick(@chars);
	return sql_literal($s);
}

for my $i (1 .. $ntask)
{
	my $r = rand();
	if ($r < 0.5)
	{
		my $name = rand() < 0.7 ? "n$i" : random_name();
		push @script,
		    "INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, trigger_rule) "
		  . "VALUES ('fz_tasks', "
		  . sql_literal($name)
		  . ", 'SELECT 1', "
		  . random_array() . ", "
		  . random_rule() . ");";
	}
	elsif ($r < 0.85)
	{
		push @script,
		    "UPDATE dagsched.task SET depends_on = "
		  . random_array()
		  . " WHERE dag_name = 'fz_tasks' AND task_name = "
		  . sql_literal(rand() < 0.5 ? pick(@task_names) : "n" . int(rand($i))) . ";";
	}
	elsif ($r < 0.95)
	{
		push @script,
		    "UPDATE dagsched.task SET trigger_rule = "
		  . random_rule()
		  . " WHERE dag_name = 'fz_tasks' AND task_name = "
		  . sql_literal(pick(@task_names)) . ";";
	}
	else
	{
		push @script,
		    "DELETE FROM dagsched.task WHERE dag_name = 'fz_tasks' AND task_name = "
		  . sql_literal("n" . int(rand($i))) . ";";
	}
}
push @script, "SELECT 'fuzz done';";

#
# run it through one psql session, within a deadline
#
my $log_offset = -s $node->logfile;
my ($stdout, $stderr, $timed_out);
my $started = time();
$node->psql(
	'postgres', encode_utf8(join("\n", @script) . "\n"),
	stdout => \$stdout,
	stderr => \$stderr,
	on_error_stop => 0,
	timeout => 600,
	timed_out => \$timed_out);
note sprintf("fuzz script of %d statements ran in %d s", scalar(@script),
	time() - $started);
ok(!$timed_out, 'the fuzz script finished within the deadline');
like($stdout, qr/fuzz done/, 'psql reached the end of the script');

#
# the server survived
#
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server still answers');
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/terminated by signal/, 'no process was terminated by a signal');
unlike($log, qr/PANIC/, 'no PANIC in the server log');
unlike($log, qr/server process .* was terminated/,
	'no server process was terminated');
unlike($log, qr/terminating any other active server processes/,
	'no crash-restart cycle');
my @slow = ($log =~ /^.*duration: .*$/mg);
is(scalar(@slow), 0, 'no fuzz statement took a second or more')
  or diag(join("\n", map { substr($_, 0, 300) } @slow[ 0 .. ($#slow < 9 ? $#slow : 9) ]));
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'"),
	'the scheduler is still running');

#
# schedules
#
is($node->safe_psql('postgres', 'SELECT count(*) FROM fz_result'),
	$nsched, 'every schedule statement ran to the end');
my ($accepted, $rejected) = split /\|/,
  $node->safe_psql('postgres',
	'SELECT count(*) FILTER (WHERE fire_ok), count(*) FILTER (WHERE NOT fire_ok) FROM fz_result');
note "schedules accepted: $accepted, rejected: $rejected";
ok($accepted > 0 && $rejected > 0, 'the fuzzer produced both valid and invalid schedules');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(format('%s: %L -> %s', i, left(schedule, 100), fire), E'\n' ORDER BY i)
FROM fz_result WHERE fire_ok AND NOT (fire IS NULL OR fire > at)}),
	'', 'every accepted schedule fires after now, or never');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(format('%s: %L -> %s', i, left(schedule, 100), next_run_at), E'\n' ORDER BY i)
FROM fz_result WHERE dag_ok AND NOT (next_run_at IS NULL OR next_run_at > at)}),
	'', 'every accepted DAG gets a next_run_at after now, or none');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(format('%s: %L next_fire: %s dag: %s', i, left(schedule, 100),
		coalesce(fire_err, 'ok'), coalesce(dag_err, 'ok')), E'\n' ORDER BY i)
FROM fz_result WHERE fire_ok <> dag_ok}),
	'', 'next_fire() and the dagsched.dag check accept the same schedules');
is( $node->safe_psql(
		'postgres', q{
SELECT string_agg(DISTINCT left(coalesce(fire_err, dag_err), 5), ',')
FROM fz_result WHERE coalesce(fire_err, dag_err) NOT LIKE '22023 %'}),
	'', 'every rejected schedule gets invalid_parameter_value (22023)');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM dagsched.dag WHERE dag_name LIKE 'fz\\_%' AND dag_name <> 'fz_tasks'"),
	'0', 'no fuzzed DAG was left behind');

#
# the task graph that survived the fuzzing is still a valid DAG
#
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM dagsched.task t, unnest(t.depends_on) AS d(name)
WHERE t.dag_name = 'fz_tasks'
  AND NOT EXISTS (SELECT 1 FROM dagsched.task u
				  WHERE u.dag_name = 'fz_tasks' AND u.task_name = d.name)}),
	'0', 'every stored dependency names a task of the DAG');
is( $node->safe_psql(
		'postgres', q{
WITH RECURSIVE up(start, name) AS (
	SELECT t.task_name, d.name
	FROM dagsched.task t, unnest(t.depends_on) AS d(name)
	WHERE t.dag_name = 'fz_tasks'
  UNION
	SELECT up.start, d.name
	FROM up JOIN dagsched.task t ON t.dag_name = 'fz_tasks' AND t.task_name = up.name,
		 unnest(t.depends_on) AS d(name))
SELECT count(*) FROM up WHERE name = start}),
	'0', 'the stored graph has no cycle');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM dagsched.task WHERE dag_name = 'fz_tasks'
  AND (trigger_rule NOT IN ('all_success', 'all_done', 'all_failed',
						   'one_success', 'one_failed', 'none_failed')
	   OR octet_length(task_name) NOT BETWEEN 1 AND 128
	   OR array_position(depends_on, NULL) IS NOT NULL
	   OR array_ndims(depends_on) > 1)}),
	'0', 'every stored task has a valid rule, name and depends_on');
my $ntasks = $node->safe_psql('postgres',
	"SELECT count(*) FROM dagsched.task WHERE dag_name = 'fz_tasks'");
note "tasks stored after fuzzing: $ntasks";

# and the DAG still runs
my $run = $node->safe_psql('postgres', "SELECT dagsched.trigger('fz_tasks')");
my $state = $node->safe_psql('postgres', "SELECT dagsched.wait($run, '60 seconds')");
like($state, qr/^(success|failed)$/, "the fuzzed DAG runs to the end ($state)");

$node->stop;
done_testing();
