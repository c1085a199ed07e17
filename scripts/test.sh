#!/usr/bin/env bash
# scripts/test.sh -- what `make test` runs.
#
#   0. check what the build and tests need (scripts/deps.sh: as root on
#      Debian/Ubuntu it installs what is missing, otherwise it says what to
#      install and this script stops)
#   1. build (warnings on; CI=true or WERROR=1 makes them errors)
#   2. install into the PostgreSQL 15 tree (needs root, or a writable tree)
#   3. run pg_regress and the isolation specs (throwaway instances) and the
#      TAP tests (t/*.pl, PostgreSQL::Test::Cluster), both through PGXS
#      `make installcheck TEMP_INSTANCE=1`, in a UTF-8 locale (C.UTF-8 when
#      the environment has none).
#
# initdb refuses to run as root, so when started as root the tests run as the
# unprivileged `postgres` OS user (override with DAGSCHED_TEST_USER) from a
# copy of the tree under /tmp that this user owns.  Results (test/results,
# test/regression.diffs, tmp_check/log) are copied back into the tree.
#
# Environment:
#   PG_CONFIG           pg_config to build against (default: PostgreSQL 15's)
#   DAGSCHED_TEST_USER  OS user that runs the clusters when root (postgres)
#   PROVE_TESTS         e.g. "t/001_install.pl" to run some TAP tests only
#   PROVE_FLAGS         e.g. "--verbose"
#   SKIP_REGRESS=1 / SKIP_TAP=1   run only one of the two suites
#   SKIP_INSTALL=1      test what is installed already (no `make install`)
#   DAGSCHED_REQUIRE_TEST_LOCALE=1  t/044 fails instead of skipping when the
#                       de_DE.UTF-8 locale or PostgreSQL's German messages
#                       are missing (.ci/run sets it)
#   DAGSCHED_TEST_SMALLFS  (set by this script as root) a 48 MB tmpfs owned by
#                       the test user, for t/043's pg_wal; umounted at exit
#
# Exits non-zero when the build or any test fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

if [[ -z "${PG_CONFIG:-}" ]]; then
	if [[ -x /usr/lib/postgresql/15/bin/pg_config ]]; then
		PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
	else
		PG_CONFIG=pg_config
	fi
fi
export PG_CONFIG

# what the build and the tests need, before anything is built: as root on
# Debian/Ubuntu the missing packages are installed, otherwise the command to
# install them is printed (scripts/deps.sh)
bash "$here/scripts/deps.sh" "$([[ -n "${SKIP_TAP:-}" ]] && echo demo || echo test)"

# The expected outputs are UTF-8: multibyte names (psql's column widths), and
# invalid bytes in shell output replaced as a UTF8 database does.  A root
# shell on a fresh Debian often has no locale at all (initdb would make
# SQL_ASCII clusters), so use C.UTF-8 then, which glibc always has.  LANG,
# not LC_ALL: pg_regress and PostgreSQL::Test::Utils unset LC_ALL.
if [[ "$(locale charmap 2>/dev/null)" != UTF-8 ]]; then
	echo "note: the locale's charset is '$(locale charmap 2>/dev/null || echo unknown)', not UTF-8; the tests run with LANG=C.UTF-8"
	unset LC_ALL LC_CTYPE LC_COLLATE LC_MESSAGES LC_MONETARY LC_NUMERIC LC_TIME
	export LANG=C.UTF-8
fi
bindir=$("$PG_CONFIG" --bindir)
# initdb, pg_ctl, postgres, psql of the version we build against come first
export PATH="$bindir:$PATH"
# keep make's output in one piece when run from `make test`
unset MAKEFLAGS MFLAGS MAKELEVEL || true

test_user=${DAGSCHED_TEST_USER:-postgres}
jobs=$(nproc 2>/dev/null || echo 2)

section() { printf '\n==== %s ====\n' "$*"; }

# ---------------------------------------------------------------- build
section "build ($("$PG_CONFIG" --version)${CI:+, CI: warnings are errors})"
make -j"$jobs" PG_CONFIG="$PG_CONFIG"

# ---------------------------------------------------------------- install
section "install"
pkglibdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)
if [[ -n "${SKIP_INSTALL:-}" ]]; then
	echo "SKIP_INSTALL set: testing what is already installed in $pkglibdir"
elif [[ $(id -u) -eq 0 ]] || { [[ -w "$pkglibdir" ]] && [[ -w "$sharedir/extension" ]]; }; then
	make install PG_CONFIG="$PG_CONFIG"
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	sudo -n make install PG_CONFIG="$PG_CONFIG"
else
	echo "error: cannot install into $pkglibdir as $(id -un): run 'make test' as root," >&2
	echo "       or 'sudo make install' first and then 'SKIP_INSTALL=1 make test'" >&2
	exit 1
fi

# ---------------------------------------------------------------- what to run
if [[ -n "${SKIP_REGRESS:-}" ]] || ! compgen -G "test/sql/*.sql" >/dev/null; then
	run_regress=0
else
	run_regress=1
fi
if [[ -n "${SKIP_TAP:-}" ]] || ! compgen -G "t/*.pl" >/dev/null; then
	run_tap=0
else
	run_tap=1
fi

# ---------------------------------------------------------------- where to run
if [[ $(id -u) -eq 0 ]]; then
	if ! id "$test_user" >/dev/null 2>&1; then
		echo "error: running as root and OS user '$test_user' does not exist;" >&2
		echo "       initdb refuses root. Set DAGSCHED_TEST_USER to an unprivileged user." >&2
		exit 1
	fi
	workdir=$(mktemp -d /tmp/dagsched-test.XXXXXX)
	# the copy: sources and build products, no .git, no stale results
	tar -C "$here" -cf - \
		--exclude=./.git --exclude=./tmp_check --exclude=./test/results \
		--exclude=./test/tmp_instance --exclude=./demo_cluster \
		--exclude=./test/regression.diffs --exclude=./test/regression.out \
		--exclude=./test/log \
		. | tar -C "$workdir" -xf -
	chown -R "$test_user": "$workdir"
	user_env=(PATH="$PATH" PG_CONFIG="$PG_CONFIG" HOME="$workdir")
	for v in CI WERROR PROVE_TESTS PROVE_FLAGS PG_TEST_EXTRA PG_TEST_NOCLEAN \
		DAGSCHED_REQUIRE_TEST_LOCALE; do
		if [[ -n "${!v:-}" ]]; then user_env+=("$v=${!v}"); fi
	done
	# t/043 fills pg_wal: it needs a small filesystem of its own, which only
	# root can mount (tmpfs); without it the test skips
	smallfs=
	if [[ $run_tap -eq 1 ]]; then
		smallfs=$(mktemp -d /tmp/dagsched-smallfs.XXXXXX)
		if mount -t tmpfs -o "size=48m,mode=0700,uid=$(id -u "$test_user"),gid=$(id -g "$test_user")" \
			dagsched-smallfs "$smallfs" 2>/dev/null; then
			user_env+=(DAGSCHED_TEST_SMALLFS="$smallfs")
		else
			echo "note: could not mount a small tmpfs: t/043 (pg_wal disk full) will skip"
			rmdir "$smallfs"
			smallfs=
		fi
	fi
	as_user() {
		(cd "$workdir" && runuser -u "$test_user" -- env "${user_env[@]}" \
			bash -c 'cd "$1" && shift && exec "$@"' bash "$workdir" "$@")
	}
	echo "running tests as OS user '$test_user' in $workdir"
else
	workdir=$here
	as_user() { (cd "$workdir" && "$@"); }
	echo "running tests as $(id -un) in $workdir"
fi

cleanup() {
	if [[ "$workdir" != "$here" ]]; then
		# bring the evidence home, then drop the copy
		local f
		rm -rf "${here:?}/tmp_check"
		for f in test/results test/log test/regression.diffs test/regression.out test/isolation_output tmp_check/log; do
			rm -rf "${here:?}/$f"
			if [[ -e "$workdir/$f" ]]; then
				mkdir -p "$(dirname "$here/$f")"
				cp -a "$workdir/$f" "$here/$f" 2>/dev/null || true
			fi
		done
		# a failed pg_regress leaves its temp instance; stop it if still up
		if [[ -f "$workdir/test/tmp_instance/data/postmaster.pid" ]]; then
			as_user pg_ctl -D "$workdir/test/tmp_instance/data" -m immediate stop \
				>/dev/null 2>&1 || true
		fi
		rm -rf "$workdir"
	fi
	if [[ -n "${smallfs:-}" ]]; then
		umount "$smallfs" 2>/dev/null || umount -l "$smallfs" || true
		rmdir "$smallfs" 2>/dev/null || true
	fi
}
trap cleanup EXIT

show_regress_failure() {
	local d
	for d in "$workdir/test/regression.diffs" "$workdir/test/isolation_output/regression.diffs"; do
		if [[ -s "$d" ]]; then
			section "${d#$workdir/} (first 200 lines of $(wc -l <"$d"))"
			head -n 200 "$d"
		fi
	done
	local pmlog=$workdir/test/log/postmaster.log
	if [[ -s "$pmlog" ]]; then
		section "tail of the pg_regress server log"
		tail -n 60 "$pmlog"
	fi
}

show_tap_failure() {
	local f
	shopt -s nullglob
	for f in "$workdir"/tmp_check/log/*; do
		[[ -f "$f" ]] || continue
		section "tail of tmp_check/log/$(basename "$f")"
		tail -n 60 "$f"
	done
	shopt -u nullglob
}

status=0

# ---------------------------------------------------------------- pg_regress
if [[ $run_regress -eq 1 ]]; then
	section "pg_regress (make installcheck)"
	if ! as_user make installcheck PG_CONFIG="$PG_CONFIG" TEMP_INSTANCE=1 TAP_TESTS=; then
		status=1
		show_regress_failure
	fi
else
	section "pg_regress: skipped (${SKIP_REGRESS:+SKIP_REGRESS set}${SKIP_REGRESS:-no test/sql/*.sql})"
fi

# ---------------------------------------------------------------- TAP
if [[ $run_tap -eq 1 ]]; then
	section "TAP (prove t/*.pl via make installcheck)"
	if ! as_user make installcheck PG_CONFIG="$PG_CONFIG" TEMP_INSTANCE=1 REGRESS= ISOLATION=; then
		status=1
		show_tap_failure
	fi
else
	section "TAP: skipped (${SKIP_TAP:+SKIP_TAP set}${SKIP_TAP:-no t/*.pl})"
fi

section "result"
if [[ $status -eq 0 ]]; then
	echo "make test: all test suites passed"
else
	echo "make test: FAILED (see test/regression.diffs, test/log, tmp_check/log)"
fi
exit $status
