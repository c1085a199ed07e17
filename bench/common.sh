# bench/common.sh - shared helpers for the dagsched benchmarks (source it)
#
# Each benchmark creates a throwaway cluster under a temporary directory,
# runs as an unprivileged OS user (initdb refuses root: when run as root the
# cluster belongs to $BENCH_USER, default postgres), listens only on a
# private unix socket in that directory, and is stopped and removed on exit.
#
# Environment:
#   PG_CONFIG     pg_config of the PostgreSQL to use (default: PostgreSQL 15's)
#   BENCH_USER    OS user that owns the cluster when run as root (postgres)
#   BENCH_PORT    port of the cluster (default: random; the socket is private)
#   BENCH_KEEP=1  leave the temporary directory (logs) behind on exit
#
# Functions:
#   bench_init                 set up paths, user, machine banner
#   bench_cluster_start CONF   initdb + start; CONF is extra postgresql.conf text
#   bench_cluster_restart      restart (for postmaster settings)
#   bench_conf TEXT            append TEXT to postgresql.conf
#   bench_psql ARGS...         psql -X -At -q as superuser postgres, db postgres
#   bench_sql 'SQL'            run one SQL string, print unaligned tuples
#   bench_pgbench ARGS...      pgbench against the cluster
#   pgbench_field OUT NAME     'latency average' / 'tps' from pgbench output
#   median / p99               of numbers on stdin, one per line
#   bench_machine              print machine, PostgreSQL version, date, load
#   bench_load                 the 1/5/15-minute load averages
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/common.sh

set -euo pipefail

if [[ -z "${PG_CONFIG:-}" ]]; then
	if [[ -x /usr/lib/postgresql/15/bin/pg_config ]]; then
		PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
	else
		PG_CONFIG=pg_config
	fi
fi
export PG_CONFIG
PGBIN=$("$PG_CONFIG" --bindir)
export PATH="$PGBIN:$PATH"

BENCH_USER=${BENCH_USER:-postgres}
BENCH_PORT=${BENCH_PORT:-$((20000 + RANDOM % 20000))}
BENCH_DIR=
BENCH_DATA=
BENCH_LOG=

# run a command as the cluster's OS user
if [[ $(id -u) -eq 0 ]]; then
	id "$BENCH_USER" >/dev/null 2>&1 || {
		echo "error: OS user '$BENCH_USER' does not exist (initdb refuses root); set BENCH_USER" >&2
		exit 1
	}
	as_user() { runuser -u "$BENCH_USER" -- env PATH="$PATH" "$@"; }
else
	as_user() { "$@"; }
fi

section() { printf '\n==== %s ====\n' "$*"; }

bench_machine() {
	local cpu
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
	echo "date:       $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "machine:    $(uname -srm), nproc=$(nproc), CPU: ${cpu:-unknown}"
	echo "PostgreSQL: $("$PGBIN/postgres" --version)"
	echo "load:       $(bench_load) (other work on the machine skews every figure)"
	if [[ -n "$BENCH_DATA" && -f "$BENCH_DATA/postmaster.pid" ]]; then
		echo "server:     $(bench_sql 'SHOW server_version')," \
			"dagsched $(bench_sql "SELECT extversion FROM pg_extension WHERE extname = 'dagsched'")"
	fi
}

bench_cleanup() {
	local rc=$?
	set +e
	if [[ -n "$BENCH_DATA" && -f "$BENCH_DATA/postmaster.pid" ]]; then
		as_user pg_ctl -D "$BENCH_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_user pg_ctl -D "$BENCH_DATA" -m immediate -w stop >/dev/null 2>&1
	fi
	if [[ $rc -ne 0 && -n "$BENCH_LOG" && -s "$BENCH_LOG" ]]; then
		echo "---- tail of server log ($BENCH_LOG) ----" >&2
		tail -n 30 "$BENCH_LOG" >&2
	fi
	if [[ -n "$BENCH_DIR" && -d "$BENCH_DIR" ]]; then
		if [[ -n "${BENCH_KEEP:-}" ]]; then
			echo "kept $BENCH_DIR" >&2
		else
			rm -rf "$BENCH_DIR"
		fi
	fi
	exit $rc
}

bench_init() {
	BENCH_DIR=$(mktemp -d /tmp/dagsched-bench.XXXXXX)
	BENCH_DATA=$BENCH_DIR/data
	BENCH_LOG=$BENCH_DIR/server.log
	if [[ $(id -u) -eq 0 ]]; then chown "$BENCH_USER": "$BENCH_DIR"; fi
	chmod 700 "$BENCH_DIR"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	cd /    # the server user must be able to enter the working directory
}

bench_conf() {
	printf '%s\n' "$*" | as_user tee -a "$BENCH_DATA/postgresql.conf" >/dev/null
}

# bench_cluster_start [extra postgresql.conf text]
bench_cluster_start() {
	[[ -n "$BENCH_DIR" ]] || bench_init
	as_user initdb -D "$BENCH_DATA" -U postgres -A trust --no-sync \
		>"$BENCH_DIR/initdb.log" 2>&1 || {
		cat "$BENCH_DIR/initdb.log" >&2
		return 1
	}
	bench_conf "
# ---- dagsched bench ----
port = $BENCH_PORT
listen_addresses = ''
unix_socket_directories = '$BENCH_DIR'
shared_preload_libraries = 'dagsched'
dagsched.database_name = 'postgres'
dagsched.max_workers = 8
max_worker_processes = 32
log_line_prefix = '%m [%p] %b '
${1:-}"
	as_user pg_ctl -D "$BENCH_DATA" -l "$BENCH_LOG" -w -t 60 start >/dev/null
	export PGHOST=$BENCH_DIR PGPORT=$BENCH_PORT PGUSER=postgres PGDATABASE=postgres
}

bench_cluster_restart() {
	as_user pg_ctl -D "$BENCH_DATA" -l "$BENCH_LOG" -m fast -w -t 60 restart >/dev/null
}

bench_psql() {
	as_user psql -X -At -q -v ON_ERROR_STOP=1 -h "$BENCH_DIR" -p "$BENCH_PORT" \
		-U postgres -d postgres "$@"
}

bench_sql() {
	bench_psql -c "$1"
}

bench_pgbench() {
	as_user pgbench -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres "$@" postgres
}

# pgbench_field "$output" latency|tps
pgbench_field() {
	case $2 in
	latency) awk '/^latency average/ { print $4 }' <<<"$1" ;;
	tps) awk '/^tps = / { print $3; exit }' <<<"$1" ;;
	esac
}

# numbers on stdin, one per line
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# nearest-rank 99th percentile
p99() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		r = int(0.99 * NR); if (r < 0.99 * NR) r++; if (r < 1) r = 1; print v[r] }'
}

# 1, 5 and 15 minute load averages
bench_load() { awk '{ print $1 ", " $2 ", " $3 }' /proc/loadavg 2>/dev/null || echo unknown; }

# ratio a/b with 2 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "nan"; else printf "%.2f", a / b }'; }

# bench_insert_history RUNS START STEP: RUNS finished runs x 5 tasks of a DAG
# 'hist' (created if missing), the first at now() - START, one every STEP
# (intervals as SQL literals), with their task_run rows; then VACUUM ANALYZE.
bench_insert_history() {
	local runs=$1 start=$2 step=$3
	bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name) VALUES ('hist') ON CONFLICT DO NOTHING;
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('hist', 't1', 'SELECT 1')
ON CONFLICT DO NOTHING;
INSERT INTO dagsched.dag_run (dag_name, logical_time, trigger, state, owner,
                              created_at, started_at, finished_at)
SELECT 'hist', now() - interval '$start' + g * interval '$step', 'manual', 'success', 'postgres',
       now() - interval '$start' + g * interval '$step',
       now() - interval '$start' + g * interval '$step',
       now() - interval '$start' + g * interval '$step' + interval '100 ms'
  FROM generate_series(1, $runs) g;
INSERT INTO dagsched.task_run (run_id, task_name, kind, command, depends_on, trigger_rule,
                               retries, retry_delay, priority, downstream, up_success,
                               state, attempts, queued_at, started_at, finished_at, output)
SELECT r.run_id, 't' || i, 'sql', 'SELECT 1',
       CASE WHEN i = 1 THEN '{}'::text[] ELSE ARRAY['t' || (i - 1)] END,
       'all_success', 0, interval '10 seconds', 6 - i,
       CASE WHEN i = 5 THEN '{}'::text[] ELSE ARRAY['t' || (i + 1)] END,
       CASE WHEN i = 1 THEN 0 ELSE 1 END,
       'success', 1, r.started_at, r.started_at, r.finished_at, 'SELECT 1'
  FROM dagsched.dag_run r, generate_series(1, 5) i
 WHERE r.dag_name = 'hist';
VACUUM ANALYZE dagsched.dag_run, dagsched.task_run;
SQL
}
