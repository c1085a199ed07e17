# t/091_states.pl -- the state names of src/states.h and of the SQL catalog
# agree.  C takes task and run states, their sets, trigger rules and the name
# limit from states.h; the install and upgrade scripts get the state CHECKs,
# the unfinished-task/-run predicates and the name limit from it too
# (scripts/sql_names.sh fills in @TS_ALL@, @TS_ACTIVE@, @RS_ALL@,
# @RS_ACTIVE@, @MAX_NAME_LEN@), while the SQL functions that compare a state
# column with one state spell that state.  This test keeps the two in step:
#
#  - sql/parts and the upgrade script's source write those lists as
#    placeholders, not by hand;
#  - the CHECK constraints of task_run.state and dag_run.state allow exactly
#    the TS_* and RS_* names, and the state columns' defaults are among them;
#  - the partial indexes that stand for a set of states (unfinished tasks,
#    unfinished runs) use exactly that set (TS_ACTIVE_LIST, RS_ACTIVE_LIST),
#    and every other index predicate names only states of its table;
#  - every literal that sql/parts compares with a state column (state,
#    a.state, last_state, outcome...: =, <>, IN (...), CASE x.state WHEN)
#    is a state of states.h;
#  - the default trigger rule is one of DAGSCHED_TRIGGER_RULES, and the
#    name limit SQL functions check (the DAG-to-DAG links) is
#    DAGSCHED_MAX_NAME_LEN.
#
# It reads the fresh 0.2 catalog; t/090 proves the upgrade from 0.1 gives
# the same one.  A state added, renamed or dropped on one side only fails
# here, naming the word and where it is.
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

my $root = "$FindBin::RealBin/..";

# ---------------------------------------------------------------- states.h
# #define TS_/RS_NAME "word" and #define TS_/RS_NAME_LIST A "," B ..., and
# the X-macro of trigger rules; a list is resolved through the names it is
# made of (a TS_/RS_ macro that is no string is no state: ignored)
sub read_states_h
{
	my ($path) = @_;
	open my $fh, '<', $path or die "$path: $!";
	my $text = do { local $/; <$fh> };
	close $fh;
	$text =~ s{/\*.*?\*/}{}gs;
	$text =~ s/\\\n/ /g;

	my (%def, @rules, $maxlen);
	for my $line (split /\n/, $text)
	{
		if ($line =~ /^#define\s+(\w+)(?:\(\w+\))?\s+(.+?)\s*$/)
		{
			my ($name, $body) = ($1, $2);
			if ($name eq 'DAGSCHED_MAX_NAME_LEN') { $maxlen = $body; }
			elsif ($name eq 'DAGSCHED_TRIGGER_RULES')
			{
				@rules = $body =~ /X\((\w+)\)/g;
			}
			elsif ($name =~ /^(?:TS|RS)_/) { $def{$name} = $body; }
		}
	}
	my $resolve;
	$resolve = sub {
		my ($body) = @_;
		my $s = '';
		for my $tok ($body =~ /("[^"]*"|\w+)/g)
		{
			if ($tok =~ /^"(.*)"$/) { $s .= $1; }
			elsif (exists $def{$tok})
			{
				my $v = $resolve->($def{$tok});
				return undef unless defined $v;
				$s .= $v;
			}
			else { return undef; }    # not a string: no state
		}
		return $s;
	};
	my (%word, %list);
	for my $name (keys %def)
	{
		my $v = $resolve->($def{$name});
		next unless defined $v;
		if ($name =~ /_LIST$/) { $list{$name} = [ split /,/, $v ]; }
		else { $word{$name} = $v; }
	}
	return (\%word, \%list, \@rules, $maxlen);
}

my ($word, $list, $rules, $maxlen) = read_states_h("$root/src/states.h");
my @task_states = sort map { $word->{$_} } grep { /^TS_/ } keys %$word;
my @run_states  = sort map { $word->{$_} } grep { /^RS_/ } keys %$word;
my %any_state   = map { $_ => 1 } @task_states, @run_states;
cmp_ok(scalar @task_states, '>=', 5, 'states.h: task states read');
cmp_ok(scalar @run_states,  '>=', 4, 'states.h: run states read');
ok(@$rules && defined $maxlen, 'states.h: trigger rules and the name limit read');

sub set_str { return join(',', sort { $a cmp $b } @_); }

sub literals { return $_[0] =~ /'(\w+)'/g; }

# ---------------------------------------------------------------- catalog
my $node = DagschedTest->node('states');
sub sql { return DagschedTest::sql($node, @_); }

# the CHECK constraints: exactly the states of states.h
for my $t ([ 'task_run', \@task_states ], [ 'dag_run', \@run_states ])
{
	my ($table, $states) = @$t;
	my $check = sql(qq{
		SELECT string_agg(pg_get_constraintdef(oid), ' ')
		  FROM pg_constraint
		 WHERE conrelid = 'dagsched.$table'::regclass AND contype = 'c'
		   AND pg_get_constraintdef(oid) ~ '\\mstate\\M'});
	is(set_str(literals($check)), set_str(@$states),
		"$table.state CHECK allows exactly the states of states.h");
	my $default = sql(qq{
		SELECT pg_get_expr(d.adbin, d.adrelid)
		  FROM pg_attrdef d JOIN pg_attribute a
		    ON a.attrelid = d.adrelid AND a.attnum = d.adnum
		 WHERE d.adrelid = 'dagsched.$table'::regclass AND a.attname = 'state'});
	my ($dv) = literals($default);
	ok(defined $dv && grep({ $_ eq $dv } @$states),
		"$table.state default ('" . ($dv // '') . "') is a state of states.h");
}

# index predicates on the state column
my %index_set = (
	task_run_unfinished_idx => 'TS_ACTIVE_LIST',
	dag_run_deadline_idx    => 'RS_ACTIVE_LIST',);
my %table_states = (task_run => \@task_states, dag_run => \@run_states,
	task_attempt => \@task_states);
my @preds = split /\n/, sql(q{
	SELECT c.relname || '|' || t.relname || '|' || pg_get_expr(i.indpred, i.indrelid)
	  FROM pg_index i
	  JOIN pg_class c ON c.oid = i.indexrelid
	  JOIN pg_class t ON t.oid = i.indrelid
	 WHERE t.relnamespace = 'dagsched'::regnamespace AND i.indpred IS NOT NULL
	 ORDER BY 1});
my %seen_index;
for my $p (@preds)
{
	my ($index, $table, $pred) = split /\|/, $p, 3;
	next unless $pred =~ /\bstate\b/;
	$seen_index{$index} = 1;
	# only the literals of the state comparisons (not trigger IN (...) & co.)
	my @words;
	while ($pred =~ /\bstate\s*(?:=\s*ANY\s*\(\s*ARRAY\[([^\]]*)\]|=\s*('\w+'))/g)
	{
		push @words, literals($1 // $2);
	}
	my %ok = map { $_ => 1 } @{ $table_states{$table} // [] };
	my @bad = grep { !$ok{$_} } @words;
	is("@bad", '', "index $index names only $table states");
	if (my $set = $index_set{$index})
	{
		is(set_str(@words), set_str(@{ $list->{$set} }),
			"index $index covers exactly $set");
	}
}
ok($seen_index{$_}, "index $_ exists") for sort keys %index_set;

# ---------------------------------------------------------------- sql/parts
# the lists come from states.h: written as placeholders in the sources
{
	my $src = join('', map { local @ARGV = ($_); local $/; <> }
		  sort(glob("$root/sql/parts/*.sql")), "$root/sql/dagsched--0.1--0.2.sql.in");
	for my $ph (qw(@TS_ALL@ @TS_ACTIVE@ @RS_ALL@ @RS_ACTIVE@ @MAX_NAME_LEN@))
	{
		ok(index($src, $ph) >= 0, "sql sources take $ph from states.h");
	}
	my $ts_all = join(', ', map { "'$_'" } @{ $list->{TS_ALL_LIST} });
	is(index($src, $ts_all), -1, 'no state CHECK list spelled by hand');
}

# every literal compared with a state column is a state; comments are blanked
# out first (keeping the lines, so that what is reported is file:line)
my $col = qr/(?:\b\w+\.)?\b(?:\w*state|outcome)\b/i;
my @parts = sort glob("$root/sql/parts/*.sql");
ok(@parts, 'sql/parts found');
my (@unknown, $compared);
for my $f (@parts)
{
	open my $fh, '<', $f or die "$f: $!";
	my $s = do { local $/; <$fh> };
	close $fh;
	$s =~ s{/\*.*?\*/}{ (my $c = $&) =~ s/[^\n]/ /g; $c }gse;
	$s =~ s{--[^\n]*}{ ' ' x length($&) }ge;

	my @hits;    # [offset of the literal, word]
	my $collect = sub {
		my ($start, $span) = @_;
		while ($span =~ /'(\w+)'/g)
		{
			push @hits, [ $start + $-[1], $1 ];
		}
	};
	while ($s =~ /$col\s*(?:=|<>|!=|OPERATOR\s*\(\s*pg_catalog\.(?:=|<>)\s*\))\s*('\w+')/g)
	{
		$collect->($-[1], $1);
	}
	while ($s =~ /$col\s*(?:NOT\s+)?IN\s*(\((?:\s*'\w+'\s*,?)+\))/gi)
	{
		$collect->($-[1], $1);
	}
	while ($s =~ /\bCASE\s+$col\s+(.*?)\bEND\b/gsi)
	{
		my ($start, $body) = ($-[1], $1);
		while ($body =~ /\bWHEN\s+('\w+')/gi)
		{
			$collect->($start + $-[1], $1);
		}
	}
	while ($s =~ /$col\s+text\s+(?:NOT\s+NULL\s+)?DEFAULT\s+('\w+')/gi)
	{
		$collect->($-[1], $1);
	}
	for my $h (@hits)
	{
		$compared++;
		next if $any_state{ $h->[1] };
		my $line = 1 + (() = substr($s, 0, $h->[0]) =~ /\n/g);
		(my $rel = $f) =~ s{^\Q$root\E/}{};
		push @unknown, "$rel:$line '$h->[1]'";
	}
}
cmp_ok($compared // 0, '>', 50, "sql/parts: state comparisons found ($compared)");
is(join("\n", @unknown), '',
	'sql/parts compares state columns only with states of states.h');

# ---------------------------------------------------------------- rules, names
my $rule_default = sql(q{
	SELECT pg_get_expr(d.adbin, d.adrelid)
	  FROM pg_attrdef d JOIN pg_attribute a
	    ON a.attrelid = d.adrelid AND a.attnum = d.adnum
	 WHERE d.adrelid = 'dagsched.task'::regclass AND a.attname = 'trigger_rule'});
my ($rd) = literals($rule_default);
ok(defined $rd && grep({ $_ eq $rd } @$rules),
	"task.trigger_rule default ('" . ($rd // '') . "') is a rule of states.h");

# the SQL functions that refuse a long name (the DAG-to-DAG link check)
my $src = sql(q{SELECT string_agg(prosrc, ' ') FROM pg_proc
	 WHERE pronamespace = 'dagsched'::regnamespace AND prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))});
my @limits = ($src =~ /octet_length\([^)]*\)\s*>\s*(\d+)/g,
	$src =~ /names are at most (\d+) bytes/g);
cmp_ok(scalar @limits, '>=', 2, 'SQL functions state a name limit');
is(join(',', grep { $_ != $maxlen } @limits), '',
	"the SQL functions' name limit is DAGSCHED_MAX_NAME_LEN ($maxlen)");

done_testing();
