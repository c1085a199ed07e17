# t/081_notify_roles.pl -- NOTIFY dagsched payloads disclose nothing a
# listener could not SELECT: bob listens while alice's DAG runs and fails,
# and learns no DAG or task name of hers; the payload is the event kind, the
# run id and the state, and alice, who can see the run, reads the rest from
# the tables.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = DagschedTest->node('notify', max_worker_processes => 16);
$node->safe_psql(
	'postgres', q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
});

sub as
{
	my ($role, $q) = @_;
	return $node->safe_psql('postgres', $q, extra_params => [ '-U', $role ]);
}

as(
	'alice', q{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('alice_secret_payroll');
	INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	  ('alice_secret_payroll', 'export_salaries', 'SELECT 1', '{}'),
	  ('alice_secret_payroll', 'mail_the_ceo', 'SELECT 1/0', '{export_salaries}');
	COMMIT;
});

# both listen; psql prints the notifications a session received after its
# next statement
my %listener;
for my $role (qw(alice bob))
{
	$listener{$role} = $node->background_psql('postgres',
		extra_params => [ '-U', $role ]);
	$listener{$role}->query_safe('LISTEN dagsched');
}

my $run = as('alice', "SELECT dagsched.trigger('alice_secret_payroll')");
is(as('alice', "SELECT dagsched.wait($run, '60 s')"), 'failed',
	"alice's run fails");

my %heard;
for my $role (qw(alice bob))
{
	# the run's end and the failure were notified at commit; collect until
	# the run's final event has arrived (or give up after a deadline)
	my $out = '';
	my $deadline = time() + 30;
	while (time() < $deadline)
	{
		$out .= $listener{$role}->query_safe('SELECT 1') . "\n";
		last if $out =~ /"event": "run", "run_id": $run, "state": "failed"/;
		sleep 1;
	}
	$heard{$role} = $out;
	$listener{$role}->quit;
}

for my $role (qw(alice bob))
{
	like(
		$heard{$role},
		qr/Asynchronous notification "dagsched" with payload "\{"event": "run", "run_id": $run, "state": "failed"\}"/,
		"$role hears that run $run failed");
	like(
		$heard{$role},
		qr/payload "\{"event": "task", "run_id": $run, "state": "failed"\}"/,
		"$role hears that a task of run $run failed");
	unlike($heard{$role}, qr/alice_secret_payroll|export_salaries|mail_the_ceo/,
		"no DAG or task name reaches $role");
	unlike($heard{$role}, qr/"(dag_name|task_name)"/,
		"no name field in what $role heard");
}

# the one who may see the run reads the rest through row-level security
is( as(
		'alice',
		"SELECT dag_name || '/' || (SELECT string_agg(task_name, ',') FROM dagsched.task_run t
		   WHERE t.run_id = r.run_id AND t.state = 'failed')
		   FROM dagsched.dag_run r WHERE run_id = $run"),
	'alice_secret_payroll/mail_the_ceo',
	'alice reads the names of her run from the tables');
is(as('bob', "SELECT count(*) FROM dagsched.dag_run WHERE run_id = $run"),
	'0', 'bob cannot SELECT the run he heard of');

$node->stop;
done_testing();
