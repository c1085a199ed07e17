#!/usr/bin/env bash
# scripts/deps.sh -- what `make demo` and `make test` need on this machine,
# checked before anything is built.
#
#   bash scripts/deps.sh build   server headers + PGXS, a compiler, make
#   bash scripts/deps.sh demo    build + a PostgreSQL 15 server
#   bash scripts/deps.sh test    demo + Perl's prove, Test::More, IPC::Run,
#                                pg_auto_failover (t/041), pg_cron (t/101),
#                                the de_DE.UTF-8 locale (t/044)
#
# Each need is checked directly (a file, a command, a Perl module), not by
# asking the package manager, so a hand-built PostgreSQL works too.  When
# something is missing:
#   - as root on Debian/Ubuntu: installs exactly the missing packages with
#     apt-get (non-interactive, no recommends), saying which;
#   - otherwise: prints the command to run and exits 1.
# DAGSCHED_NO_APT=1 never installs (prints the command instead).
# A locale is not a package: as root it is generated after the packages are
# in (locale-gen, or localedef), otherwise the command is printed.
#
# Environment: PG_CONFIG (default: PostgreSQL 15's, as scripts/test.sh).
set -euo pipefail

what=${1:-test}
case "$what" in
	build | demo | test) ;;
	*)
		echo "usage: $0 build|demo|test" >&2
		exit 2
		;;
esac

pg_major=15
pg_default=/usr/lib/postgresql/$pg_major/bin/pg_config
if [[ -z "${PG_CONFIG:-}" ]]; then
	if [[ -x $pg_default ]]; then
		PG_CONFIG=$pg_default
	else
		PG_CONFIG=pg_config
	fi
fi

missing=()   # Debian package names
why=()       # one line per package: what was not found

need() {
	# need PACKAGE REASON: record a missing package once
	local p
	for p in "${missing[@]}"; do
		[[ "$p" == "$1" ]] && return 0
	done
	missing+=("$1")
	why+=("  $1: $2")
}

# ---------------------------------------------------------------- build
pgxs=
if command -v "$PG_CONFIG" >/dev/null 2>&1; then
	version=$("$PG_CONFIG" --version 2>/dev/null || true)
	if [[ "$version" != "PostgreSQL $pg_major."* ]]; then
		echo "error: $PG_CONFIG is '$version'; dagsched is built and tested with PostgreSQL $pg_major only." >&2
		echo "       Set PG_CONFIG to PostgreSQL $pg_major's pg_config ($pg_default)." >&2
		exit 1
	fi
	pgxs=$("$PG_CONFIG" --pgxs 2>/dev/null || true)
	server_inc=$("$PG_CONFIG" --includedir-server 2>/dev/null || true)
	if [[ ! -f "$pgxs" || ! -f "$server_inc/postgres.h" ]]; then
		need postgresql-server-dev-$pg_major "no PGXS or postgres.h for $PG_CONFIG"
	fi
	if [[ ! -f "$("$PG_CONFIG" --includedir)/libpq-fe.h" ]]; then
		need libpq-dev "no libpq-fe.h (remote tasks use libpq)"
	fi
else
	need postgresql-server-dev-$pg_major "no pg_config ($PG_CONFIG)"
fi
command -v make >/dev/null 2>&1 || need make "no make"
# the compilers PGXS was configured with (CC; CLANG when it builds bitcode)
global=${pgxs:+$(dirname "$pgxs")/../Makefile.global}
cc=gcc
clang=
if [[ -n "$global" && -f "$global" ]]; then
	cc=$(sed -n 's/^CC = \([^ ]*\).*/\1/p' "$global" | head -n 1)
	if grep -q '^with_llvm[[:space:]]*= yes' "$global"; then
		clang=$(sed -n 's/^CLANG = \([^ ]*\).*/\1/p' "$global" | head -n 1)
	fi
fi
command -v "${cc:-gcc}" >/dev/null 2>&1 || need "${cc:-gcc}" "no C compiler '${cc:-gcc}'"
if [[ -n "$clang" ]] && ! command -v "$clang" >/dev/null 2>&1; then
	need "$(basename "$clang")" "no $clang (PGXS compiles LLVM bitcode with it)"
fi

# ---------------------------------------------------------------- server
if [[ "$what" != build ]]; then
	bindir=
	if command -v "$PG_CONFIG" >/dev/null 2>&1; then
		bindir=$("$PG_CONFIG" --bindir)
	fi
	if [[ -z "$bindir" || ! -x "$bindir/postgres" || ! -x "$bindir/initdb" ]]; then
		need postgresql-$pg_major "no PostgreSQL $pg_major server (postgres, initdb)"
	fi
	if [[ $(id -u) -eq 0 ]] && ! id "${DAGSCHED_TEST_USER:-postgres}" >/dev/null 2>&1; then
		# initdb refuses root; the Debian server package creates this user
		need postgresql-$pg_major "no OS user '${DAGSCHED_TEST_USER:-postgres}' to run the cluster"
	fi
fi

# ---------------------------------------------------------------- tests
if [[ "$what" == test ]]; then
	if ! command -v prove >/dev/null 2>&1 || ! perl -MTest::More -e 1 2>/dev/null; then
		need perl "no prove or Test::More"
	fi
	perl -MIPC::Run -e 1 2>/dev/null || need libipc-run-perl "no Perl module IPC::Run (TAP tests)"
	# t/041 runs dagsched under pg_auto_failover: pg_autoctl and the
	# monitor's extension for this server
	if ! command -v pg_autoctl >/dev/null 2>&1 ||
		{ command -v "$PG_CONFIG" >/dev/null 2>&1 &&
			[[ ! -f "$("$PG_CONFIG" --pkglibdir)/pgautofailover.so" ]]; }; then
		need postgresql-$pg_major-auto-failover "no pg_autoctl or pgautofailover.so (t/041, HA manager)"
	fi
	# t/101 imports jobs from the real pg_cron, preloaded in its cluster
	if command -v "$PG_CONFIG" >/dev/null 2>&1 &&
		[[ ! -f "$("$PG_CONFIG" --pkglibdir)/pg_cron.so" ]]; then
		need postgresql-$pg_major-cron "no pg_cron.so (t/101, import_pg_cron)"
	fi
	# t/044 runs the server with German messages (lc_messages): the locale
	# must exist; glibc's tools to make it come with 'locales'
	test_locale=de_DE.UTF-8
	if ! locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
		need_locale=1
		if ! command -v localedef >/dev/null 2>&1 ||
			[[ ! -d /usr/share/i18n/locales ]]; then
			need locales "no localedef or locale sources (t/044 needs $test_locale)"
		fi
	fi
fi

# Generate the test locale (after its tools are installed, if they were
# missing): Debian's way is to enable it in /etc/locale.gen, so that
# locale-gen keeps it on upgrades; elsewhere localedef makes it directly.
make_locale() {
	if [[ -z "${need_locale:-}" ]]; then
		return 0
	fi
	if [[ $(id -u) -ne 0 || -n "${DAGSCHED_NO_APT:-}" ]]; then
		echo "note: locale $test_locale is missing (t/044 skips); as root:" >&2
		echo "  localedef -i de_DE -f UTF-8 $test_locale" >&2
		return 0
	fi
	echo "generating locale $test_locale (t/044)"
	if command -v locale-gen >/dev/null 2>&1 && [[ -f /etc/locale.gen ]]; then
		if ! grep -q "^$test_locale UTF-8" /etc/locale.gen; then
			if grep -q "^# *$test_locale UTF-8" /etc/locale.gen; then
				sed -i "s/^# *$test_locale UTF-8/$test_locale UTF-8/" /etc/locale.gen
			else
				echo "$test_locale UTF-8" >>/etc/locale.gen
			fi
		fi
		locale-gen
	else
		localedef -i de_DE -f UTF-8 "$test_locale"
	fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
	make_locale
	exit 0
fi

echo "dagsched ($what) needs what this machine lacks:"
printf '%s\n' "${why[@]}"

is_debian=0
if [[ -f /etc/debian_version ]] && command -v apt-get >/dev/null 2>&1; then
	is_debian=1
fi

if [[ $is_debian -eq 1 && $(id -u) -eq 0 && -z "${DAGSCHED_NO_APT:-}" ]]; then
	echo "installing with apt-get: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt_get() {
		# a fresh machine may still be running its own apt jobs
		apt-get -o DPkg::Lock::Timeout=120 -q "$@" </dev/null
	}
	apt_get update
	apt_get install -y --no-install-recommends "${missing[@]}"
	echo "installed: ${missing[*]}"
	make_locale
	exit 0
fi

echo >&2
if [[ $is_debian -eq 1 ]]; then
	echo "Install them first, then run 'make $what' again:" >&2
	echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
	echo "(as root, 'make $what' installs them itself)" >&2
else
	echo "Install the equivalents of these Debian packages, then run 'make $what' again:" >&2
	echo "  ${missing[*]}" >&2
fi
exit 1
