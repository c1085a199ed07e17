#!/bin/bash
#
# bench/longrun.sh - long runs: drift, lag and private memory
#
# Three phases on one throwaway cluster, one after the other (so that the
# lag of phase 1 is not the load of phase 3):
#
#   1. ticks: a DAG scheduled every second ('* * * * * *', one SELECT 1
#      task) for TICKS (600) ticks.  Prints the scheduler's RssAnon every
#      100 ticks, then checks logical_time steps by exactly 1 s (no missing,
#      no duplicate tick) and the lag (first task started_at - logical_time)
#      p50 / p99 (target p99 <= 50 ms).
#   2. worker: one worker (dagsched.max_workers = 1) runs WORKER_TASKS
#      (50,000) SELECT 1 tasks, runs of 1,000 independent tasks one after
#      the other; its RssAnon after the first 1,000 and after all of them
#      (target: within 5 MB), and that it is the same process throughout.
#   3. scheduler: SCHED_DAGS (50) DAGs every second until the scheduler
#      created SCHED_RUNS (10,000) runs; its RssAnon after 1,000 and after
#      all of them (target: within 5 MB).
#
# RssAnon (/proc/PID/status) is private memory.  VmRSS also counts the
# shared buffers the process touched, which grows up to shared_buffers
# without any leak; it is printed beside for context.
#
# Environment: TICKS (600), WORKER_TASKS (50000), SCHED_RUNS (10000),
# SCHED_DAGS (50), PHASES ("ticks worker scheduler"), plus those of
# bench/common.sh.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/longrun.sh

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"

TICKS=${TICKS:-600}
WORKER_TASKS=${WORKER_TASKS:-50000}
SCHED_RUNS=${SCHED_RUNS:-10000}
SCHED_DAGS=${SCHED_DAGS:-50}
PHASES=${PHASES:-ticks worker scheduler}

echo "dagsched benchmark: long runs (phases: $PHASES)"
bench_init
bench_cluster_start "dagsched.history_retention = '30d'"
bench_sql "CREATE EXTENSION dagsched" 2>&1 | grep -v '^$' || true
bench_machine

# kB of a field of /proc/PID/status
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
mem_of() { printf 'RssAnon %6d kB  VmRSS %6d kB' "$(status_kb "$1" RssAnon)" "$(status_kb "$1" VmRSS)"; }
pid_of() {
	bench_sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'dagsched $1' ORDER BY backend_start LIMIT 1"
}
# wait_until 'SQL returning t' SECONDS
wait_until() {
	local deadline=$(($(date +%s) + $2))
	until [[ $(bench_sql "$1") == t ]]; do
		if (($(date +%s) >= deadline)); then
			echo "error: timed out after $2 s waiting for: $1" >&2
			return 1
		fi
		sleep 0.2
	done
}
verdict() { awk -v a="$1" -v b="$2" -v lim="$3" 'BEGIN { d = b - a; printf "%+d kB (%s)", d, (d <= lim) ? "MET" : "NOT MET" }'; }

sched_pid=$(pid_of scheduler)
echo "scheduler pid $sched_pid"
summary=()

# ---------------------------------------------------------------- 1. ticks
if [[ " $PHASES " == *" ticks "* ]]; then
	section "1. every-second DAG, $TICKS ticks"
	bench_psql <<'SQL'
BEGIN;
INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('tick', '* * * * * *');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('tick', 'one', 'SELECT 1');
COMMIT;
SQL
	start_kb=$(status_kb "$sched_pid" RssAnon)
	next=100
	deadline=$(($(date +%s) + 2 * TICKS + 30))
	while :; do
		n=$(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'tick'")
		while ((n >= next && next <= TICKS)); do
			printf 'tick %5d  scheduler %s\n' "$next" "$(mem_of "$sched_pid")"
			next=$((next + 100))
		done
		((n >= TICKS)) && break
		if (($(date +%s) >= deadline)); then
			echo "error: only $n runs after $((2 * TICKS + 30)) s" >&2
			exit 1
		fi
		sleep 0.5
	done
	end_kb=$(status_kb "$sched_pid" RssAnon)
	bench_sql "UPDATE dagsched.dag SET paused = true WHERE dag_name = 'tick'"
	wait_until "SELECT count(*) = 0 FROM dagsched.dag_run WHERE dag_name = 'tick' AND state IN ('queued', 'running')" 60
	read -r runs steps ones dups gaps notok < <(bench_sql "
		WITH r AS (
			SELECT logical_time, state,
			       logical_time - lag(logical_time) OVER (ORDER BY logical_time) AS d
			FROM dagsched.dag_run WHERE dag_name = 'tick')
		SELECT count(*), count(d), count(*) FILTER (WHERE d = '1 s'),
		       count(*) FILTER (WHERE d = '0'), count(*) FILTER (WHERE d > '1 s'),
		       count(*) FILTER (WHERE state <> 'success')
		FROM r" | tr '|' ' ')
	bench_sql "
		SELECT round(extract(epoch FROM t.started_at - r.logical_time) * 1000, 3)
		FROM dagsched.dag_run r JOIN dagsched.task_run t ON t.run_id = r.run_id
		WHERE r.dag_name = 'tick'" >"$BENCH_DIR/lags"
	p50=$(median <"$BENCH_DIR/lags")
	p99v=$(p99 <"$BENCH_DIR/lags")
	max=$(sort -g "$BENCH_DIR/lags" | tail -n 1)
	cont=OK
	if ((dups > 0 || gaps > 0 || ones != steps)); then cont=BROKEN; fi
	summary+=("$(printf 'ticks: %d runs (%d not success); %d steps, %d of 1 s, %d duplicates, %d gaps: %s' \
		"$runs" "$notok" "$steps" "$ones" "$dups" "$gaps" "$cont")")
	summary+=("$(printf 'ticks: lag p50 %.3f ms, p99 %.3f ms (target <= 50 ms: %s), max %.3f ms' "$p50" "$p99v" \
		"$(awk -v v="$p99v" 'BEGIN { print (v <= 50) ? "MET" : "NOT MET" }')" "$max")")
	summary+=("ticks: scheduler RssAnon $start_kb kB at start, $end_kb kB after $TICKS ticks: $(verdict "$start_kb" "$end_kb" 5120)")
fi

# ---------------------------------------------------------------- 2. worker
if [[ " $PHASES " == *" worker "* ]]; then
	section "2. one worker, $WORKER_TASKS tasks"
	# one worker for the whole phase: let the idle ones exit first
	bench_sql "ALTER SYSTEM SET dagsched.max_workers = 1"
	bench_sql "ALTER SYSTEM SET dagsched.worker_idle_timeout = 1"
	bench_sql "SELECT pg_reload_conf()" >/dev/null
	wait_until "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'dagsched worker'" 60
	bench_sql "ALTER SYSTEM RESET dagsched.worker_idle_timeout"
	bench_sql "SELECT pg_reload_conf()" >/dev/null
	bench_psql <<'SQL'
BEGIN;
INSERT INTO dagsched.dag (dag_name) VALUES ('wide');
INSERT INTO dagsched.task (dag_name, task_name, command)
SELECT 'wide', 't' || g, 'SELECT 1' FROM generate_series(1, 1000) g;
COMMIT;
SQL
	batches=$((WORKER_TASKS / 1000))
	wpid=
	t0=$(date +%s.%N)
	for ((b = 1; b <= batches; b++)); do
		run=$(bench_sql "SELECT dagsched.trigger('wide')")
		wait_until "SELECT state IN ('success', 'failed', 'cancelled') FROM dagsched.dag_run WHERE run_id = $run" 300
		p=$(pid_of worker)
		if [[ -z "$wpid" ]]; then
			wpid=$p
			first_kb=$(status_kb "$wpid" RssAnon)
			printf 'after %6d tasks  worker %s %s\n' 1000 "$wpid" "$(mem_of "$wpid")"
		elif [[ "$p" != "$wpid" ]]; then
			echo "note: worker changed from $wpid to $p after $((b * 1000)) tasks" >&2
			wpid=$p
		fi
		if ((b % 10 == 0 || b == batches)); then
			printf 'after %6d tasks  worker %s %s\n' $((b * 1000)) "$wpid" "$(mem_of "$wpid")"
		fi
	done
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	last_kb=$(status_kb "$wpid" RssAnon)
	mine=$(bench_sql "SELECT count(*) FROM dagsched.task_run WHERE pid = $wpid")
	notok=$(bench_sql "SELECT count(*) FROM dagsched.task_run t JOIN dagsched.dag_run r USING (run_id) WHERE r.dag_name = 'wide' AND t.state <> 'success'")
	workers=$(bench_sql "SELECT count(DISTINCT pid) FROM dagsched.task_run t JOIN dagsched.dag_run r USING (run_id) WHERE r.dag_name = 'wide'")
	summary+=("worker: $((batches * 1000)) tasks in $secs s, $notok not success; $mine of them by the measured worker $wpid ($workers processes in all)")
	summary+=("worker: RssAnon $first_kb kB after 1,000 tasks, $last_kb kB after $((batches * 1000)): $(verdict "$first_kb" "$last_kb" 5120)")
	bench_sql "ALTER SYSTEM RESET dagsched.max_workers"
	bench_sql "SELECT pg_reload_conf()" >/dev/null
fi

# ---------------------------------------------------------------- 3. scheduler
if [[ " $PHASES " == *" scheduler "* ]]; then
	section "3. scheduler, $SCHED_DAGS DAGs every second, $SCHED_RUNS runs"
	base=$(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE trigger = 'schedule'")
	bench_psql -v dags="$SCHED_DAGS" <<'SQL'
BEGIN;
INSERT INTO dagsched.dag (dag_name, schedule)
SELECT 'many' || g, '* * * * * *' FROM generate_series(1, :dags) g;
INSERT INTO dagsched.task (dag_name, task_name, command)
SELECT 'many' || g, 'one', 'SELECT 1' FROM generate_series(1, :dags) g;
COMMIT;
SQL
	mark=1000
	t0=$(date +%s)
	deadline=$((t0 + 3 * SCHED_RUNS / SCHED_DAGS + 60))
	while :; do
		n=$(($(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE trigger = 'schedule'") - base))
		if ((n >= mark && mark <= SCHED_RUNS)); then
			kb=$(status_kb "$sched_pid" RssAnon)
			[[ $mark -eq 1000 ]] && first_kb=$kb
			printf 'after %6d runs  scheduler %s\n' "$n" "$(mem_of "$sched_pid")"
			mark=$((mark == 1000 ? 2000 : mark + 2000))
		fi
		((n >= SCHED_RUNS)) && break
		if (($(date +%s) >= deadline)); then
			echo "error: only $n runs by $(($(date +%s) - t0)) s" >&2
			exit 1
		fi
		sleep 0.5
	done
	last_kb=$(status_kb "$sched_pid" RssAnon)
	printf 'after %6d runs  scheduler %s\n' "$n" "$(mem_of "$sched_pid")"
	bench_sql "UPDATE dagsched.dag SET paused = true WHERE dag_name LIKE 'many%'"
	wait_until "SELECT count(*) = 0 FROM dagsched.dag_run WHERE state IN ('queued', 'running')" 120
	read -r dups notok < <(bench_sql "
		SELECT (SELECT count(*) FROM (SELECT 1 FROM dagsched.dag_run WHERE trigger = 'schedule'
		          GROUP BY dag_name, logical_time HAVING count(*) > 1) d),
		       (SELECT count(*) FROM dagsched.dag_run WHERE dag_name LIKE 'many%' AND state <> 'success')" | tr '|' ' ')
	now_pid=$(pid_of scheduler)
	summary+=("scheduler: $n runs of $SCHED_DAGS DAGs in $(($(date +%s) - t0)) s; $dups ticks with two runs, $notok not success; same process: $([[ $now_pid == "$sched_pid" ]] && echo yes || echo "no ($now_pid)")")
	summary+=("scheduler: RssAnon $first_kb kB after 1,000 runs, $last_kb kB after $n: $(verdict "$first_kb" "$last_kb" 5120)")
fi

section "result"
printf '%s\n' "${summary[@]}"
printf 'load average at the end: %s\n' "$(bench_load)"
