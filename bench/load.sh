#!/bin/bash
#
# bench/load.sh - run throughput under concurrent triggering
#
# 20 clients each trigger 25 runs of a 5-task DAG (a -> b, c -> d -> e, all
# `SELECT 1`; max_active_runs = 1000) with pgbench, while 3 other clients
# define, edit and delete unrelated DAGs in a loop.  Throughput is
# runs / (last run's finished_at - first run's created_at).  Checks that
# every run ended success and counts 'deadlock detected' / 'could not
# serialize' lines in the server log.
#
# Baseline, same cluster, same run: `pgbench -n -N -c 20 -T T` tps (one small
# write transaction + commit each).  A run is 1 trigger transaction + 5 task
# transactions, so ~1/6 of the pgbench tps is the natural ceiling.
#
# Environment: CLIENTS (20), PER_CLIENT (25), REPS (3), PGBENCH_T (10 s),
# EDIT_T (8 s: how long the editors run, from the start of the triggers),
# plus those of bench/common.sh.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/load.sh

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"

CLIENTS=${CLIENTS:-20}
PER_CLIENT=${PER_CLIENT:-25}
REPS=${REPS:-3}
PGBENCH_T=${PGBENCH_T:-10}
EDIT_T=${EDIT_T:-8}
TOTAL=$((CLIENTS * PER_CLIENT))

echo "dagsched benchmark: $CLIENTS clients x $PER_CLIENT triggers of a 5-task DAG, with concurrent DAG edits"
bench_init
bench_cluster_start "max_connections = 100"
bench_sql "CREATE EXTENSION dagsched" 2>&1 | grep -v '^$' || true
bench_machine
echo "settings:   dagsched.max_workers=$(bench_sql 'SHOW dagsched.max_workers')," \
	"synchronous_commit=$(bench_sql 'SHOW synchronous_commit'), fsync=$(bench_sql 'SHOW fsync')"

bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name, max_active_runs) VALUES ('load5', 1000);
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
  ('load5', 'a', 'SELECT 1', '{}'),
  ('load5', 'b', 'SELECT 1', '{a}'),
  ('load5', 'c', 'SELECT 1', '{a}'),
  ('load5', 'd', 'SELECT 1', '{b,c}'),
  ('load5', 'e', 'SELECT 1', '{d}');
SQL

cat >"$BENCH_DIR/trigger.sql" <<'EOS'
SELECT dagsched.trigger('load5');
EOS
cat >"$BENCH_DIR/edit.sql" <<'EOS'
INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('ed_:client_id', '0 0 1 1 *') ON CONFLICT (dag_name) DO NOTHING;
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ed_:client_id', 't1', 'SELECT 1') ON CONFLICT DO NOTHING;
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES ('ed_:client_id', 't2', 'SELECT 2', '{t1}') ON CONFLICT DO NOTHING;
UPDATE dagsched.dag SET description = 'edited ' || random(), schedule = '30 0 1 1 *' WHERE dag_name = 'ed_:client_id';
UPDATE dagsched.task SET command = 'SELECT 3' WHERE dag_name = 'ed_:client_id' AND task_name = 't2';
DELETE FROM dagsched.dag WHERE dag_name = 'ed_:client_id';
EOS
chmod 644 "$BENCH_DIR"/*.sql
if [[ $(id -u) -eq 0 ]]; then chown "$BENCH_USER": "$BENCH_DIR"/*.sql; fi

# one repetition: prints "runs/s span_s trigger_s ok_runs"
load_rep() {
	local first last edpid out t0 t1 span ok
	first=$(bench_sql "SELECT coalesce(max(run_id), 0) FROM dagsched.dag_run")
	bench_pgbench -n -f "$BENCH_DIR/edit.sql" -c 3 -T "$EDIT_T" >"$BENCH_DIR/edit.out" 2>&1 &
	edpid=$!
	t0=$(date +%s.%N)
	out=$(bench_pgbench -n -f "$BENCH_DIR/trigger.sql" -c "$CLIENTS" -t "$PER_CLIENT" 2>&1) || {
		echo "$out" >&2
		wait "$edpid"
		return 1
	}
	t1=$(date +%s.%N)
	# wait until every run of this repetition ended (deadline 180 s)
	for ((i = 0; i < 1800; i++)); do
		[[ $(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'load5'
			AND run_id > $first AND state IN ('queued', 'running')") == 0 ]] && break
		sleep 0.1
	done
	wait "$edpid" || { cat "$BENCH_DIR/edit.out" >&2; return 1; }
	grep -q 'number of failed transactions: 0 ' "$BENCH_DIR/edit.out" ||
		grep 'failed transactions' "$BENCH_DIR/edit.out" >&2 || true
	span=$(bench_sql "SELECT round(extract(epoch FROM max(finished_at) - min(created_at))::numeric, 3)
		FROM dagsched.dag_run WHERE dag_name = 'load5' AND run_id > $first")
	ok=$(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'load5'
		AND run_id > $first AND state = 'success'")
	printf '%s %s %s %s\n' "$(ratio "$ok" "$span")" "$span" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" "$ok"
}

section "$REPS repetitions, alternating with pgbench -n -N -c $CLIENTS -T $PGBENCH_T"
bench_pgbench -i -s 10 -q >/dev/null 2>&1
rates=() tpss=() bad=0
for ((i = 1; i <= REPS; i++)); do
	read -r rate span trig ok < <(load_rep) || true
	[[ -n "${rate:-}" ]] || exit 1
	printf 'rep %-2s  dagsched  %4s/%s runs success  triggered in %6.3f s  first created -> last finished %6.3f s  %7.1f runs/s\n' \
		"$i" "$ok" "$TOTAL" "$trig" "$span" "$rate"
	[[ $ok == "$TOTAL" ]] || bad=1
	rates+=("$rate")
	out=$(bench_pgbench -n -N -c "$CLIENTS" -j 4 -T "$PGBENCH_T" 2>&1)
	t=$(pgbench_field "$out" tps)
	printf 'rep %-2s  pgbench -N -c %s  tps %.1f\n' "$i" "$CLIENTS" "$t"
	tpss+=("$t")
done

rate=$(printf '%s\n' "${rates[@]}" | median)
tps=$(printf '%s\n' "${tpss[@]}" | median)
dl=$(grep -c 'deadlock detected' "$BENCH_LOG" || true)
ser=$(grep -c 'could not serialize' "$BENCH_LOG" || true)
intr=$(grep -c 'was interrupted' "$BENCH_LOG" || true)
again=$(bench_sql "SELECT count(*) FROM dagsched.task_run t JOIN dagsched.dag_run r USING (run_id)
	WHERE r.dag_name = 'load5' AND t.attempts > 1")

section "result (medians over $REPS repetitions)"
printf 'dagsched runs/s (5 tasks each)      %8.1f   (%.1f task transactions/s)\n' "$rate" \
	"$(awk -v r="$rate" 'BEGIN { print r * 5 }')"
printf 'pgbench -N -c %s tps               %8.1f\n' "$CLIENTS" "$tps"
printf 'ratio runs/s / pgbench tps = %s   (x6 transactions per run: %s of pgbench)\n' \
	"$(ratio "$rate" "$tps")" "$(ratio "$(awk -v r="$rate" 'BEGIN { print r * 6 }')" "$tps")"
printf "server log: 'deadlock detected' x %s, 'could not serialize' x %s\n" "$dl" "$ser"
printf "server log: 'task ... was interrupted' x %s; load5 task runs with more than one attempt: %s\n" "$intr" "$again"
printf 'load average at the end     %s\n' "$(bench_load)"
if ((bad)); then
	echo "error: not every run ended success" >&2
	exit 1
fi
