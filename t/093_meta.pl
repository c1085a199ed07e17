# t/093_meta.pl -- META.json is valid JSON and a valid PGXN distribution
# description (https://pgxn.org/spec/, meta-spec 1.0.0), and agrees with
# dagsched.control: same name, same version, PostgreSQL 15 only.
#
# No server: the checks read files only.
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

my $text = slurp_file('META.json');
my $meta = eval { JSON::PP->new->relaxed(0)->decode($text) };
ok(defined $meta && ref $meta eq 'HASH', 'META.json is a JSON object')
  or BAIL_OUT("META.json does not parse: $@");

# ---------------------------------------------------------------- the spec
my %top = map { $_ => 1 } qw(abstract description generated_by license
  maintainer meta-spec name no_index prereqs provides release_status
  resources tags version);
for my $key (qw(name abstract version maintainer license provides meta-spec))
{
	ok(exists $meta->{$key}, "required key \"$key\" present");
}
for my $key (sort keys %$meta)
{
	ok($top{$key} || $key =~ /^x_/i, "key \"$key\" is in the spec (or x_)");
}

# semantic version as the spec (SemVer 1.0.0) has it
my $semver = qr/^(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:[a-zA-Z][0-9A-Za-z-]*)?$/;

is($meta->{'meta-spec'}{version}, '1.0.0', 'meta-spec version 1.0.0');
like($meta->{name}, qr/^[A-Za-z0-9][A-Za-z0-9_.-]+$/, 'name is a valid name');
like($meta->{version}, $semver, "version \"$meta->{version}\" is semantic");
ok(!ref $meta->{abstract} && length $meta->{abstract} > 10,
	'abstract is a sentence');

my @maintainers =
  ref $meta->{maintainer} ? @{ $meta->{maintainer} } : ($meta->{maintainer});
ok(@maintainers > 0, 'at least one maintainer');
like($_, qr/\S+.*<[^@\s]+@[^>\s]+>/, "maintainer \"$_\" has a name and e-mail")
  for @maintainers;

my %licenses = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1
  artistic_2 bsd freebsd gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1
  lgpl_3_0 mit mozilla_1_0 mozilla_1_1 openssl perl_5 postgresql qpl_1_0
  ssleay sun zlib open_source restricted unrestricted unknown);
my @lic =
    ref $meta->{license} eq 'HASH' ? keys %{ $meta->{license} }
  : ref $meta->{license} eq 'ARRAY' ? @{ $meta->{license} }
  : ($meta->{license});
ok($licenses{$_}, "license \"$_\" is one the spec knows") for @lic;

if (exists $meta->{release_status})
{
	like($meta->{release_status}, qr/^(stable|testing|unstable)$/,
		'release_status is stable, testing or unstable');
}

# provides: each extension with a file in the tree and a version
ok(ref $meta->{provides} eq 'HASH' && keys %{ $meta->{provides} },
	'provides lists the extensions');
for my $ext (sort keys %{ $meta->{provides} })
{
	my $p = $meta->{provides}{$ext};
	ok(defined $p->{file} && -f $p->{file},
		"provides $ext: file \"" . ($p->{file} // '') . '" exists');
	like($p->{version} // '', $semver, "provides $ext: semantic version");
	ok(!defined $p->{docfile} || -f $p->{docfile},
		"provides $ext: docfile exists");
}

# prereqs: phase -> relation -> name -> version range
my $range = qr/^(?:0|(?:(?:[<>]=?|==|!=)\s*)?\d+\.\d+\.\d+(?:\s*,\s*(?:[<>]=?|==|!=)\s*\d+\.\d+\.\d+)*)$/;
for my $phase (sort keys %{ $meta->{prereqs} // {} })
{
	like($phase, qr/^(configure|build|test|runtime|develop)$/,
		"prereqs phase \"$phase\"");
	for my $rel (sort keys %{ $meta->{prereqs}{$phase} })
	{
		like($rel, qr/^(requires|recommends|suggests|conflicts)$/,
			"prereqs $phase relation \"$rel\"");
		for my $name (sort keys %{ $meta->{prereqs}{$phase}{$rel} })
		{
			like($meta->{prereqs}{$phase}{$rel}{$name},
				$range, "prereqs $phase $rel $name: a version range");
		}
	}
}

# ---------------------------------------------------------------- the tree
my $control = slurp_file('dagsched.control');
my ($default_version) = $control =~ /^default_version\s*=\s*'([^']+)'/m;
ok(defined $default_version, "dagsched.control has default_version");
ok(exists $meta->{provides}{dagsched}, 'provides the extension dagsched');
is($meta->{name}, 'dagsched', 'distribution name is the extension name');

# PostgreSQL extension versions have two parts, PGXN wants three
(my $semver_of_control = $default_version) =~ s/^(\d+\.\d+)$/$1.0/;
is($meta->{version}, $semver_of_control,
	"version matches default_version '$default_version' of dagsched.control");
is($meta->{provides}{dagsched}{version},
	$semver_of_control, 'provides dagsched at the same version');
ok(-f "sql/dagsched--$default_version.sql" || -d 'sql/parts',
	"an install script for $default_version");

# built and tested with PostgreSQL 15 only: say no more than that
is($meta->{prereqs}{runtime}{requires}{PostgreSQL},
	'>= 15.0.0, < 16.0.0', 'runtime requires PostgreSQL 15, nothing else');

done_testing();
