#!/bin/bash
#
# bench/scale.sh - does the cost per task stay flat as the work grows?
#
# On one cluster (dagsched.max_workers = 8), each figure against its
# baseline measured in the same run:
#   * fan-out: one run of N independent `SELECT 1` tasks, N in FAN_SIZES
#     (1000 16000); tasks/s = N / (max(finished_at) - min(started_at)),
#     median of RUNS.  Ratio: tasks/s of the widest / of the narrowest
#     (target >= 0.8).
#   * chain: one run of N tasks t1 -> t2 -> ... , N in CHAIN_SIZES
#     (100 2000 10000); ms per task = (max(finished_at) - min(started_at))
#     / N.  Ratio: the 2,000-task chain / the 100-task one (target <= 1.25).
#   * triggers: CLIENTS (20) pgbench clients x PER_CLIENT (25) calls of
#     dagsched.trigger() on a 5-task DAG (max_active_runs = 100000), runs/s
#     = runs / (last finished - first created); baseline pgbench -n -N -c
#     CLIENTS tps.  Ratio: runs/s x 6 / tps (a run is 1 trigger + 5 task
#     transactions; target >= 0.4).  Also trigger() calls/s alone (pgbench
#     -t, 1 and CLIENTS clients), on one DAG and on CLIENTS different DAGs.
#   * BIG=1: a fan-out of BIG_N (100000) tasks, with the peak private RSS
#     (RssAnon) of the scheduler and the workers of this cluster (sampled
#     every 0.2 s from /proc).
#   * PERF=1: perf record -a -g during the widest fan-out; prints the top
#     of `perf report --no-children` (needs linux-perf).
#
# Environment: FAN_SIZES, CHAIN_SIZES, RUNS (2), CLIENTS (20), PER_CLIENT
# (25), PGBENCH_T (10 s), BIG, BIG_N, PERF, plus those of bench/common.sh.
# Figures, not a test: nothing here fails on speed.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/scale.sh

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"

FAN_SIZES=${FAN_SIZES:-"1000 16000"}
CHAIN_SIZES=${CHAIN_SIZES:-"100 2000 10000"}
RUNS=${RUNS:-2}
CLIENTS=${CLIENTS:-20}
PER_CLIENT=${PER_CLIENT:-25}
PGBENCH_T=${PGBENCH_T:-10}
BIG_N=${BIG_N:-100000}

echo "dagsched benchmark: cost per task as runs grow (fan-out, chain, concurrent triggers)"
bench_init
bench_cluster_start "max_connections = 100"
bench_sql "CREATE EXTENSION dagsched" 2>&1 | grep -v '^$' || true
bench_machine

# ---------------------------------------------------------------- DAGs
for n in $FAN_SIZES ${BIG:+$BIG_N}; do
	bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name) VALUES ('fan$n');
INSERT INTO dagsched.task (dag_name, task_name, command)
SELECT 'fan$n', 't' || i, 'SELECT 1' FROM generate_series(1, $n) AS i;
SQL
done
for n in $CHAIN_SIZES; do
	bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name) VALUES ('chain$n');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
SELECT 'chain$n', 't' || i, 'SELECT 1',
       CASE WHEN i = 1 THEN '{}'::text[] ELSE ARRAY['t' || (i - 1)] END
FROM generate_series(1, $n) AS i;
SQL
done
bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name, max_active_runs)
SELECT 'tl' || c, 100000 FROM generate_series(0, $CLIENTS) c;
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
SELECT 'tl' || c, x.t, 'SELECT 1', x.d
FROM generate_series(0, $CLIENTS) c,
     (VALUES ('a', '{}'::text[]), ('b', '{a}'), ('c', '{a}'), ('d', '{b,c}'), ('e', '{d}')) x(t, d);
SQL
bench_sql "VACUUM ANALYZE"

# one run of DAG $1, waited for; prints "run_id span_ms"
one_run() {
	local run_id state
	run_id=$(bench_sql "SELECT dagsched.trigger('$1')")
	state=$(bench_sql "SELECT dagsched.wait($run_id, '900 s')")
	if [[ $state != success ]]; then
		echo "error: run $run_id of $1 ended '$state'" >&2
		return 1
	fi
	bench_sql "SELECT $run_id, round(extract(epoch FROM max(finished_at) - min(started_at)) * 1000, 1)
		FROM dagsched.task_run WHERE run_id = $run_id" | tr '|' ' '
}

# peak RSS (kB) of this cluster's dagsched processes while $1 (a pid) lives
rss_sampler() {
	local watched=$1 out=$2 sched=0 work=0 p rss kind pm
	pm=$(head -n 1 "$BENCH_DATA/postmaster.pid")
	while kill -0 "$watched" 2>/dev/null; do
		for p in $(pgrep -P "$pm" || true); do
			kind=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)
			[[ $kind == *dagsched* ]] || continue
			# private memory: RssAnon (VmRSS also counts shared buffers touched)
			rss=$(awk '/^RssAnon/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
			[[ -n $rss ]] || continue
			if [[ $kind == *scheduler* ]]; then
				((rss > sched)) && sched=$rss
			else
				((rss > work)) && work=$rss
			fi
		done
		sleep 0.2
	done
	echo "$sched $work" >"$out"
}

section "fan-out: one run of N independent SELECT 1 tasks (median of $RUNS, after a warm-up)"
one_run fan1000 >/dev/null || exit 1
declare -A fan_rate
for n in $FAN_SIZES; do
	rates=()
	for ((i = 1; i <= RUNS; i++)); do
		if [[ -n "${PERF:-}" && $n == "${FAN_SIZES##* }" && $i == 1 ]]; then
			perf record -a -g -o "$BENCH_DIR/perf.data" -- sleep 3600 >/dev/null 2>&1 &
			perf_pid=$!
		fi
		read -r rid span < <(one_run "fan$n") || exit 1
		if [[ -n "${perf_pid:-}" ]]; then
			kill -INT "$perf_pid"
			wait "$perf_pid" || true
			perf_pid=
		fi
		r=$(awk -v n="$n" -v s="$span" 'BEGIN { printf "%.1f", n / (s / 1000) }')
		printf 'N=%-6s run %-5s span %9.1f ms  %8.1f tasks/s\n' "$n" "$rid" "$span" "$r"
		rates+=("$r")
	done
	fan_rate[$n]=$(printf '%s\n' "${rates[@]}" | median)
done

if [[ -n "${BIG:-}" ]]; then
	section "fan-out of $BIG_N tasks: peak RSS of the scheduler and the workers"
	one_run "fan$BIG_N" >"$BENCH_DIR/big.out" &
	big_pid=$!
	rss_sampler "$big_pid" "$BENCH_DIR/rss.out"
	wait "$big_pid" || exit 1
	read -r rid span <"$BENCH_DIR/big.out"
	read -r rss_sched rss_work <"$BENCH_DIR/rss.out"
	printf 'N=%s run %s span %.1f ms  %.1f tasks/s; peak private RSS (RssAnon): scheduler %s kB, largest worker %s kB\n' \
		"$BIG_N" "$rid" "$span" "$(awk -v n="$BIG_N" -v s="$span" 'BEGIN { print n / (s / 1000) }')" \
		"$rss_sched" "$rss_work"
fi

section "chain: one run of N tasks t1 -> t2 -> ... (median of $RUNS)"
declare -A chain_ms
for n in $CHAIN_SIZES; do
	per=()
	for ((i = 1; i <= RUNS; i++)); do
		read -r rid span < <(one_run "chain$n") || exit 1
		p=$(awk -v n="$n" -v s="$span" 'BEGIN { printf "%.3f", s / n }')
		printf 'N=%-6s run %-5s span %10.1f ms  %7.3f ms/task\n' "$n" "$rid" "$span" "$p"
		per+=("$p")
	done
	chain_ms[$n]=$(printf '%s\n' "${per[@]}" | median)
done

section "triggers: $CLIENTS clients x $PER_CLIENT trigger() of a 5-task DAG (median of $RUNS), and pgbench -N -c $CLIENTS"
bench_pgbench -i -s 10 -q >/dev/null 2>&1
echo "SELECT dagsched.trigger('tl0');" >"$BENCH_DIR/one.sql"
echo "SELECT dagsched.trigger('tl' || :client_id + 1);" >"$BENCH_DIR/many.sql"
chmod 644 "$BENCH_DIR"/*.sql
if [[ $(id -u) -eq 0 ]]; then chown "$BENCH_USER": "$BENCH_DIR"/*.sql; fi
settle() {
	for ((k = 0; k < 3000; k++)); do
		[[ $(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE state IN ('queued', 'running')") == 0 ]] && return 0
		sleep 0.1
	done
	return 1
}
runs_rates=() tpss=()
for ((i = 1; i <= RUNS; i++)); do
	first=$(bench_sql "SELECT coalesce(max(run_id), 0) FROM dagsched.dag_run")
	bench_pgbench -n -f "$BENCH_DIR/one.sql" -c "$CLIENTS" -t "$PER_CLIENT" >/dev/null 2>&1 || exit 1
	settle || { echo "error: runs did not end" >&2; exit 1; }
	read -r nruns span < <(bench_sql "SELECT count(*) FILTER (WHERE state = 'success'),
		extract(epoch FROM max(finished_at) - min(created_at)) FROM dagsched.dag_run WHERE run_id > $first" | tr '|' ' ')
	rr=$(awk -v n="$nruns" -v s="$span" 'BEGIN { printf "%.1f", n / s }')
	out=$(bench_pgbench -n -N -c "$CLIENTS" -j 4 -T "$PGBENCH_T" 2>&1)
	t=$(pgbench_field "$out" tps)
	printf 'rep %s  %s runs success in %.3f s: %7.1f runs/s   pgbench -N -c %s: %7.1f tps\n' \
		"$i" "$nruns" "$span" "$rr" "$CLIENTS" "$t"
	runs_rates+=("$rr")
	tpss+=("$t")
done
runs_rate=$(printf '%s\n' "${runs_rates[@]}" | median)
pgb_tps=$(printf '%s\n' "${tpss[@]}" | median)

# trigger() alone: calls/s as pgbench sees them (workers run the runs meanwhile)
trig_calls() {
	local out
	out=$(bench_pgbench -n -f "$BENCH_DIR/$1.sql" -c "$2" -j "$(($2 < 4 ? $2 : 4))" -t "$3" 2>&1) || return 1
	settle || return 1
	pgbench_field "$out" tps
}
t1=$(trig_calls one 1 500)
tn_one=$(trig_calls one "$CLIENTS" "$PER_CLIENT")
tn_many=$(trig_calls many "$CLIENTS" "$PER_CLIENT")
printf 'trigger() calls/s: 1 client %.1f; %s clients on one DAG %.1f; on %s DAGs %.1f\n' \
	"$t1" "$CLIENTS" "$tn_one" "$CLIENTS" "$tn_many"

if [[ -n "${PERF:-}" && -f "$BENCH_DIR/perf.data" ]]; then
	section "perf: widest fan-out, top symbols (--no-children)"
	perf report -i "$BENCH_DIR/perf.data" --no-children --stdio --sort symbol 2>/dev/null |
		grep -E '^ +[0-9]' | head -25
	section "perf: widest fan-out, top dagsched entry points (children)"
	perf report -i "$BENCH_DIR/perf.data" --children --stdio --sort symbol 2>/dev/null |
		grep -E '^ +[0-9].*(Run|Task|Catalog|worker_|taskexec|ExecScan|index_getnext|heap_hot|CommitTransaction|XLogFlush)' | head -25
fi

section "result (medians; ratios against baselines of this run)"
small=${FAN_SIZES%% *}
wide=${FAN_SIZES##* }
printf 'fan-out tasks/s: %s\n' "$(for n in $FAN_SIZES; do printf 'N=%s %s  ' "$n" "${fan_rate[$n]}"; done)"
printf 'fan-out per-task throughput N=%s / N=%s = %s   (target >= 0.8)\n' "$wide" "$small" \
	"$(ratio "${fan_rate[$wide]}" "${fan_rate[$small]}")"
printf 'chain ms/task: %s\n' "$(for n in $CHAIN_SIZES; do printf 'N=%s %s  ' "$n" "${chain_ms[$n]}"; done)"
if [[ -n "${chain_ms[2000]:-}" && -n "${chain_ms[100]:-}" ]]; then
	printf 'chain per-task time N=2000 / N=100 = %s   (target <= 1.25)\n' "$(ratio "${chain_ms[2000]}" "${chain_ms[100]}")"
fi
printf 'triggers: %s runs/s, pgbench -N -c %s %s tps: runs/s x 6 / tps = %s   (target >= 0.4)\n' \
	"$runs_rate" "$CLIENTS" "$pgb_tps" "$(ratio "$(awk -v r="$runs_rate" 'BEGIN { print r * 6 }')" "$pgb_tps")"
printf 'trigger() calls/s: 1 client %s, %s clients one DAG %s, %s DAGs %s\n' "$t1" "$CLIENTS" "$tn_one" "$CLIENTS" "$tn_many"
printf 'load average at the end: %s\n' "$(bench_load)"
