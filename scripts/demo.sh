#!/usr/bin/env bash
# scripts/demo.sh -- what `make demo` runs.
#
# Builds and installs dagsched, creates a throwaway cluster in ./demo_cluster
# (recreated on every run), loads examples/demo.sql (a small nightly ELT DAG
# over generated data), triggers one run, waits for it and shows what
# happened.  Writes graph.svg when graphviz's `dot` and dagsched.graph()
# exist.  The cluster is always stopped at the end.
#
# Environment:
#   PG_CONFIG         pg_config to build against (default: PostgreSQL 15's)
#   DEMO_PORT         port of the demo cluster (default 5499; unix socket only)
#   DEMO_USER         OS user that runs the cluster when root (postgres)
#   DEMO_KEEP=1       leave the cluster running at the end (prints how to
#                     connect and how to stop it)
#   SKIP_INSTALL=1    do not build/install; use what is installed
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

# what the build and the demo need, before anything is built: as root on
# Debian/Ubuntu the missing packages are installed, otherwise the command to
# install them is printed (scripts/deps.sh)
bash "$here/scripts/deps.sh" demo
export PATH="$("$PG_CONFIG" --bindir):$PATH"
unset MAKEFLAGS MFLAGS MAKELEVEL || true

port=${DEMO_PORT:-5499}
demo_user=${DEMO_USER:-postgres}
dir=$here/demo_cluster
data=$dir/data
log=$dir/server.log

section() { printf '\n==== %s ====\n' "$*"; }

# ---------------------------------------------------------------- build
if [[ -z "${SKIP_INSTALL:-}" ]]; then
	section "build and install"
	make -s -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG"
	pkglibdir=$("$PG_CONFIG" --pkglibdir)
	sharedir=$("$PG_CONFIG" --sharedir)
	if [[ $(id -u) -eq 0 ]] || { [[ -w "$pkglibdir" ]] && [[ -w "$sharedir/extension" ]]; }; then
		make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo -n make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
	else
		echo "error: cannot install into $pkglibdir as $(id -un)." >&2
		echo "       Run 'make demo' as root, or 'sudo make install' and then" >&2
		echo "       'SKIP_INSTALL=1 make demo'." >&2
		exit 1
	fi
	echo "installed into $pkglibdir"
fi

# ---------------------------------------------------------------- who runs it
if [[ $(id -u) -eq 0 ]]; then
	id "$demo_user" >/dev/null 2>&1 || {
		echo "error: OS user '$demo_user' does not exist (initdb refuses root); set DEMO_USER" >&2
		exit 1
	}
	as_user() { runuser -u "$demo_user" -- env PATH="$PATH" "$@"; }
	if ! runuser -u "$demo_user" -- test -x "$here"; then
		# e.g. a clone under /root: keep the cluster where the user can go
		dir=/tmp/dagsched-demo-cluster
		data=$dir/data
		log=$dir/server.log
		echo "note: '$demo_user' cannot enter $here; the cluster lives in $dir"
	fi
else
	as_user() { "$@"; }
fi

# unix sockets have a ~107-byte path limit: fall back to /tmp for deep trees
sockdir=$dir
if (( ${#sockdir} > 80 )); then
	sockdir=$(mktemp -d /tmp/dagsched-demo.XXXXXX)
fi

stop_cluster() {
	if [[ -f "$data/postmaster.pid" ]]; then
		as_user pg_ctl -D "$data" -m fast -w stop >/dev/null 2>&1 ||
			as_user pg_ctl -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
}

# a previous run that was killed hard may have left its server up
cd /
stop_cluster
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"     # the server user's working directory must be one it can enter
[[ $(id -u) -eq 0 ]] && chown "$demo_user": "$dir"
[[ $(id -u) -eq 0 && "$sockdir" != "$dir" ]] && chown "$demo_user": "$sockdir"

on_exit() {
	local rc=$?
	if [[ -n "${DEMO_KEEP:-}" && $rc -eq 0 ]]; then
		section "cluster left running (DEMO_KEEP)"
		echo "connect: psql -h $sockdir -p $port -U postgres postgres"
		if [[ $(id -u) -eq 0 ]]; then
			echo "         (as root: runuser -u $demo_user -- psql -h $sockdir -p $port -U postgres postgres)"
			echo "stop:    runuser -u $demo_user -- $(command -v pg_ctl) -D $data stop"
		else
			echo "stop:    pg_ctl -D $data stop"
		fi
		return
	fi
	stop_cluster
	[[ "$sockdir" != "$dir" ]] && rm -rf "$sockdir"
	if [[ $rc -ne 0 && -s "$log" ]]; then
		section "tail of $log"
		tail -n 40 "$log"
	fi
	exit $rc
}
trap on_exit EXIT

# ---------------------------------------------------------------- cluster
section "throwaway cluster in $dir (port $port)"
as_user initdb -D "$data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 || {
	cat "$dir/initdb.log" >&2
	exit 1
}
cat >>"$data/postgresql.conf" <<EOF

# ---- dagsched demo ----
port = $port
listen_addresses = ''
unix_socket_directories = '$sockdir'
shared_preload_libraries = 'dagsched'
dagsched.database_name = 'postgres'
max_worker_processes = 16
log_line_prefix = '%m [%p] %b '
EOF
as_user pg_ctl -D "$data" -l "$log" -w -t 60 start >/dev/null
echo "server started; log: $log"

psql_demo() {
	as_user psql -X -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" -U postgres -d postgres "$@"
}

psql_demo -q -c 'CREATE EXTENSION dagsched'

# ---------------------------------------------------------------- the demo
section "examples/demo.sql"
# the file is read by psql as the demo user: feed it on stdin
psql_demo -f - <"$here/examples/demo.sql"

# ---------------------------------------------------------------- graph
run_id=$(psql_demo -Atc "SELECT max(run_id) FROM dagsched.dag_run WHERE dag_name = 'nightly_sales'")
state=$(psql_demo -Atc "SELECT state FROM dagsched.dag_run WHERE run_id = ${run_id:-0}")

section "graph"
has_graph=$(psql_demo -Atc "SELECT to_regprocedure('dagsched.graph(text,bigint,text)') IS NOT NULL")
if ! command -v dot >/dev/null; then
	echo "graphviz 'dot' not installed (apt-get install graphviz): skipping graph.svg"
elif [[ "$has_graph" != t ]]; then
	echo "dagsched.graph() does not exist in this build: skipping graph.svg"
else
	rm -f "$here/graph.svg"
	psql_demo -Atc "SELECT dagsched.graph('nightly_sales', ${run_id:-NULL}, 'dot')" |
		dot -Tsvg >"$here/graph.svg.tmp"
	mv "$here/graph.svg.tmp" "$here/graph.svg"
	echo "wrote $here/graph.svg (run $run_id, coloured by task state)"
fi

section "result"
if [[ "$state" == success ]]; then
	echo "run $run_id of nightly_sales: success"
else
	echo "run ${run_id:-?} of nightly_sales ended '${state:-?}' (expected success)" >&2
	exit 1
fi
