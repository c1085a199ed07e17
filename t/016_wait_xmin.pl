# t/016_wait_xmin.pl -- wait() holds no snapshot xmin while it sleeps: a
# CREATE INDEX CONCURRENTLY task (which waits for every transaction whose
# xmin is older than its snapshot) finishes while a client waits on its run.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/lib";
use DagschedTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = DagschedTest->node('wait_xmin', max_worker_processes => 16);
$node->safe_psql(
	'postgres', q{
	CREATE TABLE big AS SELECT i FROM generate_series(1, 10000) i;
	CREATE TABLE seen (waiters int, waiter_xmin xid);
});

# The task waits until the client is inside wait(), notes that client's
# backend_xmin, then builds the index concurrently (CIC cannot run inside a
# SQL task's transaction, so psql runs it).
my $psql = $node->installed_command('psql');
my $conn = "-X -h " . $node->host . " -p " . $node->port . " -d postgres";
my $dir = $node->basedir;
open my $fh, '>', "$dir/cic.sh" or die $!;
print $fh <<"EOS";
#!/bin/sh
set -e
i=0
while [ "\$($psql $conn -Atc "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT dagsched.wait(%' AND state = 'active'")" = 0 ]; do
  i=\$((i + 1)); [ \$i -lt 600 ] || exit 3; sleep 0.1
done
# the waiter's xmin as it sleeps (the read between sleeps takes microseconds)
n=0
while :; do
  x=\$($psql $conn -Atc "SELECT backend_xmin IS NULL FROM pg_stat_activity WHERE query LIKE 'SELECT dagsched.wait(%' AND state = 'active'")
  [ "\$x" = t ] && break
  n=\$((n + 1)); [ \$n -lt 50 ] || break; sleep 0.1
done
$psql $conn -c "INSERT INTO seen SELECT count(*), max(backend_xmin::text)::xid FROM pg_stat_activity WHERE query LIKE 'SELECT dagsched.wait(%' AND state = 'active'"
$psql $conn -v ON_ERROR_STOP=1 -c "CREATE INDEX CONCURRENTLY big_i ON big (i)"
EOS
close $fh;

$node->safe_psql(
	'postgres', qq{
	BEGIN;
	INSERT INTO dagsched.dag (dag_name) VALUES ('cic');
	INSERT INTO dagsched.task (dag_name, task_name, kind, command) VALUES
	  ('cic', 'build', 'shell', 'sh $dir/cic.sh');
	COMMIT;
});
my $run = $node->safe_psql('postgres', "SELECT dagsched.trigger('cic')");

# with an xmin held while sleeping, CIC would wait for this very statement,
# which would time out still 'running' after 60 s
my $state = $node->safe_psql('postgres', "SELECT dagsched.wait($run, '60 s')");
is($state, 'success', 'the CIC task finishes while the client waits on its run')
  or diag($node->safe_psql('postgres', "SELECT error || ' / ' || coalesce(output, '') FROM dagsched.task_run WHERE run_id = $run"));
is($node->safe_psql('postgres', 'SELECT waiters FROM seen'),
	'1', 'the task saw the client waiting');
is($node->safe_psql('postgres', 'SELECT waiter_xmin IS NULL FROM seen'),
	't', 'the waiting client held no xmin');
is( $node->safe_psql(
		'postgres', "SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_i'::regclass"),
	't', 'the index is valid');

# a wait() that reads a table in the same statement keeps its snapshot (and
# still works)
is( $node->safe_psql(
		'postgres', "SELECT dagsched.wait($run, '1 s') FROM dagsched.dag_run WHERE run_id = $run"),
	'success', 'wait() in a statement that reads tables works');

$node->stop;
done_testing();
