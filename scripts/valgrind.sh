#!/usr/bin/env bash
# scripts/valgrind.sh -- run dagsched's scheduler, worker and SQL-function
# code paths with the whole server under Valgrind memcheck, and summarise
# the errors per process type.  Findings: docs/valgrind.md.
#
# What it does (idempotent: everything lives in $VG_DIR, recreated each run):
#   1. make && make install (unless SKIP_INSTALL=1; needs root)
#   2. initdb a throwaway cluster as the postgres OS user (initdb refuses root)
#   3. start the postmaster directly under valgrind (pg_ctl cannot wrap it),
#      with --trace-children=yes and one log per process: $VG_DIR/vg/<pid>.log
#   4. exercise with psql: CREATE EXTENSION; validation errors (cycle,
#      unknown dependency); next_fire over several schedules and zones; a
#      diamond DAG; a failing task with retries=1 and retry(); a timeout; a
#      cancel(); a task in another database; a shell task; an every-second
#      6-field schedule for ~10 ticks; backfill(); graph()/gantt()/
#      failure_impact(); wait() on every run; purge_history()
#   5. stop the server (SIGTERM to the postmaster = fast shutdown; it waits)
#   6. classify every per-process log (postmaster, scheduler, worker,
#      database-task helper, client backend, other) and print ERROR SUMMARY
#      counts, the errors whose stack passes through dagsched.so, and the
#      definitely-lost leaks allocated in dagsched frames.
#
# Environment:
#   VG_DIR        working directory (default /tmp/dagsched-vg)
#   VG_PORT       port (default 5497; unix socket only)
#   VG_USER       OS user running the cluster when root (default postgres)
#   SKIP_INSTALL=1  use what is installed
#   VG_KEEP=1     do not delete $VG_DIR/data at the end (logs are always kept)
#   VG_TICKS      seconds to leave the every-second DAG unpaused (default 12)
#
# Exit status: 0 when no memcheck error has a dagsched.so frame, 1 otherwise,
# 2 when the run itself failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
[[ -x "$PG_CONFIG" ]] || PG_CONFIG=pg_config
bindir=$("$PG_CONFIG" --bindir)
pkglibdir=$("$PG_CONFIG" --pkglibdir)
export PATH="$bindir:$PATH"
unset MAKEFLAGS MFLAGS MAKELEVEL || true

dir=${VG_DIR:-/tmp/dagsched-vg}
port=${VG_PORT:-5497}
vg_user=${VG_USER:-postgres}
ticks=${VG_TICKS:-12}
data=$dir/data
logs=$dir/vg
sock=$dir/sock
srvlog=$dir/server.log
supp=$here/scripts/valgrind.supp

section() { printf '\n==== %s ====\n' "$*"; }
die() { echo "error: $*" >&2; exit 2; }

command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install valgrind)"

if [[ $(id -u) -eq 0 ]]; then
	id "$vg_user" >/dev/null 2>&1 || die "OS user $vg_user does not exist"
	as_user() { runuser -u "$vg_user" -- env PATH="$PATH" "$@"; }
else
	as_user() { "$@"; }
fi

# ------------------------------------------------------------ build
if [[ -z "${SKIP_INSTALL:-}" ]]; then
	section "build and install"
	(cd "$here" && make -s PG_CONFIG="$PG_CONFIG" && make -s install PG_CONFIG="$PG_CONFIG" >/dev/null) ||
		die "build/install failed"
fi

# ------------------------------------------------------------ cleanup of a previous run
postmaster_pid() { [[ -f "$data/postmaster.pid" ]] && head -1 "$data/postmaster.pid"; }
stop_server() {
	local pid
	pid=$(postmaster_pid) || return 0
	[[ -n "$pid" ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null          # fast shutdown
	for _ in $(seq 1 240); do              # valgrind makes shutdown slow
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 1
	done
	echo "postmaster $pid did not stop in 240 s: SIGQUIT" >&2
	kill -QUIT "$pid" 2>/dev/null
	sleep 10
}
cd /
stop_server
rm -rf "$dir"
mkdir -p "$dir" "$logs" "$sock"
[[ $(id -u) -eq 0 ]] && chown -R "$vg_user": "$dir"
cd "$dir"

# ------------------------------------------------------------ cluster
section "cluster in $dir (port $port)"
as_user initdb -D "$data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
cat >>"$data/postgresql.conf" <<EOF

# ---- dagsched valgrind run ----
port = $port
listen_addresses = ''
unix_socket_directories = '$sock'
shared_preload_libraries = 'dagsched'
dagsched.database_name = 'postgres'
dagsched.log_tasks = on
dagsched.worker_idle_timeout = '20s'
max_worker_processes = 16
max_connections = 20
shared_buffers = 16MB
huge_pages = off
dynamic_shared_memory_type = posix
log_line_prefix = '%m [%p] %b '
log_connections = on
log_disconnections = on
# valgrind is 20-50x slower: do not let timeouts fire spuriously
authentication_timeout = '10min'
autovacuum = off
EOF

section "start postmaster under valgrind"
vg_opts=(
	--tool=memcheck
	--trace-children=yes
	# exec'd programs of shell tasks are not our code
	--trace-children-skip='/bin/sh,/usr/bin/sh,/bin/dash,/usr/bin/dash,*/bash'
	--track-origins=yes
	--read-var-info=no
	--error-limit=no
	--num-callers=30
	--leak-check=full
	--show-leak-kinds=definite
	--errors-for-leak-kinds=none
	--suppressions="$supp"
	--gen-suppressions=all
	--log-file="$logs/%p.log"
)
as_user nohup valgrind "${vg_opts[@]}" "$bindir/postgres" -D "$data" >"$srvlog" 2>&1 </dev/null &
vgpid=$!

psql_vg() { as_user psql -X -h "$sock" -p "$port" -U postgres "$@"; }

started=
for i in $(seq 1 300); do
	if as_user pg_isready -q -h "$sock" -p "$port" -d postgres 2>/dev/null; then started=1; break; fi
	kill -0 "$vgpid" 2>/dev/null || break
	sleep 1
done
[[ -n "$started" ]] || { tail -30 "$srvlog" >&2; die "server did not start"; }
echo "server up after ${i}s (postmaster pid $(postmaster_pid))"

on_exit() {
	stop_server
	[[ -z "${VG_KEEP:-}" ]] && rm -rf "$data"
}
trap on_exit EXIT

# ------------------------------------------------------------ exercise
section "exercise"
t0=$SECONDS
psql_vg -d postgres -v ON_ERROR_STOP=1 -q <<'EOF' || die "setup failed"
CREATE EXTENSION dagsched;
CREATE DATABASE vg_other;
CREATE TABLE public.vg_flag (ok boolean NOT NULL);
INSERT INTO public.vg_flag VALUES (false);
EOF

# validation errors and next_fire: client-backend code paths (validate.c, cron.c)
psql_vg -d postgres -v ON_ERROR_STOP=0 <<'EOF' >"$dir/validation.out" 2>&1
\set VERBOSITY terse
-- a cycle
BEGIN;
INSERT INTO dagsched.dag (dag_name) VALUES ('vg_cycle');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
  ('vg_cycle', 'a', 'SELECT 1', '{c}'),
  ('vg_cycle', 'b', 'SELECT 1', '{a}'),
  ('vg_cycle', 'c', 'SELECT 1', '{b}');
COMMIT;
-- an unknown dependency
BEGIN;
INSERT INTO dagsched.dag (dag_name) VALUES ('vg_unknown');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
  ('vg_unknown', 'a', 'SELECT 1', '{nope}');
COMMIT;
-- self dependency, bad schedule, bad zone
INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('vg_bad', '61 * * * *');
INSERT INTO dagsched.dag (dag_name, schedule, timezone) VALUES ('vg_bad', '0 * * * *', 'Mars/Olympus');
INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('vg_bad', '*/4294967296 * * * *');
INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('vg_bad', repeat('1,', 50000) || '1 * * * *');
-- next_fire
SELECT s, z, dagsched.next_fire(s, '2024-03-31 00:30:00+00', z)
FROM unnest(ARRAY['0 8 * * 1-5', '*/15 * * * *', '*/10 * * * * *', '0 2 * * *',
                  '30 2 31 3 *', '0 0 30 2 *', '0 0 L * *', '@weekly', '@hourly',
                  'every 15 minutes', '30 seconds', 'every 2 hours', '0 0 1,15 * mon'
                 ]) AS s,
     unnest(ARRAY['UTC', 'Europe/Warsaw', 'America/New_York', 'Australia/Lord_Howe']) AS z;
SELECT dagsched.next_fire('0 1 * * *', t, 'Europe/Warsaw')
FROM generate_series('2024-10-26'::timestamptz, '2024-10-28', '1 hour') t;
SELECT dagsched.next_fire('not a schedule');
SELECT dagsched.rule_state(r, 3, 1, 1, 1)
FROM unnest(ARRAY['all_success','all_done','all_failed','one_success','one_failed','none_failed']) r;
EOF
echo "validation/next_fire: $(grep -c '^ERROR' "$dir/validation.out") expected errors"

psql_vg -d postgres -v ON_ERROR_STOP=1 -q <<'EOF' || die "DAG definitions failed"
-- diamond
INSERT INTO dagsched.dag (dag_name) VALUES ('vg_diamond');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
  ('vg_diamond', 'a', 'SELECT 1', '{}'),
  ('vg_diamond', 'b', 'SELECT pg_sleep(0.2)', '{a}'),
  ('vg_diamond', 'c', 'SELECT current_setting(''dagsched.params'')', '{a}'),
  ('vg_diamond', 'd', 'SELECT count(*) FROM pg_class', '{b,c}');
-- failing task with a retry, then resumed after the "fix"
INSERT INTO dagsched.dag (dag_name) VALUES ('vg_fail');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on, retries, retry_delay) VALUES
  ('vg_fail', 'boom',
   $o$DO $b$ BEGIN IF NOT (SELECT ok FROM public.vg_flag) THEN RAISE EXCEPTION 'not yet'; END IF; END $b$$o$,
   '{}', 1, '1 second'),
  ('vg_fail', 'after', 'SELECT 2', '{boom}', 0, '1 second');
-- timeout
INSERT INTO dagsched.dag (dag_name) VALUES ('vg_timeout');
INSERT INTO dagsched.task (dag_name, task_name, command, timeout) VALUES
  ('vg_timeout', 'slow', 'SELECT pg_sleep(10)', '1 second');
-- cancel
INSERT INTO dagsched.dag (dag_name) VALUES ('vg_cancel');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
  ('vg_cancel', 'long', 'SELECT pg_sleep(120)', '{}'),
  ('vg_cancel', 'never', 'SELECT 1', '{long}');
-- another database
INSERT INTO dagsched.dag (dag_name) VALUES ('vg_otherdb');
INSERT INTO dagsched.task (dag_name, task_name, command, database) VALUES
  ('vg_otherdb', 'there', 'CREATE TABLE IF NOT EXISTS vg_t (x int); INSERT INTO vg_t VALUES (1)', 'vg_other');
-- shell
INSERT INTO dagsched.dag (dag_name) VALUES ('vg_shell');
INSERT INTO dagsched.task (dag_name, task_name, kind, command) VALUES
  ('vg_shell', 'sh', 'shell', 'echo hi; echo "run $DAGSCHED_RUN_ID" >&2; exit 3');
-- hourly DAG for backfill
INSERT INTO dagsched.dag (dag_name, schedule, paused) VALUES ('vg_backfill', '0 * * * *', true);
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('vg_backfill', 't', 'SELECT 1');
EOF

q() { psql_vg -d postgres -Atq -v ON_ERROR_STOP=1 -c "$1"; }
declare -A run
for d in vg_diamond vg_fail vg_timeout vg_cancel vg_otherdb vg_shell; do
	run[$d]=$(q "SELECT dagsched.trigger('$d', '{\"k\": \"v\"}')")
done
echo "runs: $(for d in "${!run[@]}"; do printf '%s=%s ' "$d" "${run[$d]}"; done)"

# cancel once the long task is running
for _ in $(seq 1 120); do
	st=$(q "SELECT state FROM dagsched.task_run WHERE run_id = ${run[vg_cancel]} AND task_name = 'long'")
	[[ "$st" == running ]] && break
	sleep 1
done
echo "vg_cancel task state before cancel: $st"
q "SELECT dagsched.cancel(${run[vg_cancel]})" >/dev/null

for d in vg_diamond vg_fail vg_timeout vg_cancel vg_otherdb vg_shell; do
	echo "wait $d (run ${run[$d]}): $(q "SELECT dagsched.wait(${run[$d]}, '5 min')")"
done

# resume the failed run after the fix
q "UPDATE public.vg_flag SET ok = true" >/dev/null
echo "retry vg_fail: $(q "SELECT dagsched.retry(${run[vg_fail]})") task(s) reset"
echo "wait vg_fail again: $(q "SELECT dagsched.wait(${run[vg_fail]}, '5 min')")"
# resume the cancelled run too (it will be cancelled again)
echo "retry vg_cancel: $(q "SELECT dagsched.retry(${run[vg_cancel]})") task(s) reset"
sleep 3
q "SELECT dagsched.cancel(${run[vg_cancel]})" >/dev/null
echo "wait vg_cancel again: $(q "SELECT dagsched.wait(${run[vg_cancel]}, '5 min')")"

# backfill three hours
q "SELECT dagsched.backfill('vg_backfill', '2024-01-01 00:00+00', '2024-01-01 02:30+00')" >/dev/null
for r in $(q "SELECT run_id FROM dagsched.dag_run WHERE dag_name = 'vg_backfill'"); do
	echo "wait vg_backfill run $r: $(q "SELECT dagsched.wait($r, '5 min')")"
done

# every-second 6-field schedule
q "INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('vg_every_second', '* * * * * *');
   INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('vg_every_second', 't', 'SELECT now()');" >/dev/null
sleep "$ticks"
q "UPDATE dagsched.dag SET paused = true WHERE dag_name = 'vg_every_second'" >/dev/null
for r in $(q "SELECT run_id FROM dagsched.dag_run WHERE dag_name = 'vg_every_second' AND state IN ('queued','running')"); do
	q "SELECT dagsched.wait($r, '5 min')" >/dev/null
done
echo "vg_every_second: $(q "SELECT count(*) || ' runs, ' || count(*) FILTER (WHERE state = 'success') || ' success' FROM dagsched.dag_run WHERE dag_name = 'vg_every_second'")"

# observation functions and error paths of the API
psql_vg -d postgres -v ON_ERROR_STOP=0 >"$dir/observe.out" 2>&1 <<EOF
\set VERBOSITY terse
SELECT length(dagsched.graph('vg_diamond')), length(dagsched.graph('vg_diamond', ${run[vg_diamond]}, 'dot')),
       length(dagsched.graph('vg_fail', ${run[vg_fail]}, 'mermaid'));
SELECT length(dagsched.gantt(${run[vg_diamond]})), length(dagsched.gantt(${run[vg_fail]})),
       length(dagsched.gantt(${run[vg_timeout]}));
SELECT * FROM dagsched.failure_impact(${run[vg_shell]});
SELECT * FROM dagsched.failure_impact(${run[vg_timeout]});
SELECT count(*) FROM dagsched.task_stats;
SELECT count(*) FROM dagsched.dag_stats;
SELECT count(*) FROM dagsched.running;
SELECT dag_name, state FROM dagsched.dag_run ORDER BY run_id;
SELECT run_id, task_name, state, attempts, left(error, 60) FROM dagsched.task_run ORDER BY run_id, task_name;
SELECT dagsched.wait(999999, '1 second');
SELECT dagsched.cancel(999999);
SELECT dagsched.retry(999999);
SELECT dagsched.retry(${run[vg_diamond]});
SELECT dagsched.trigger('no_such_dag');
SELECT dagsched.trigger('vg_diamond', '[1,2]');
SELECT dagsched.purge_history('0 seconds');
EOF
echo "observe/API error paths: $(grep -c '^ERROR' "$dir/observe.out") expected errors"
echo "exercise took $((SECONDS - t0))s"

# let idle workers reach dagsched.worker_idle_timeout and exit on their own
sleep 30

# ------------------------------------------------------------ stop
section "stop"
pm=$(postmaster_pid)
stop_server
wait "$vgpid" 2>/dev/null
trap - EXIT
[[ -z "${VG_KEEP:-}" ]] && rm -rf "$data"
echo "postmaster $pm stopped"

# ------------------------------------------------------------ summary
section "summary"
python3 - "$logs" "$srvlog" "$pm" <<'PY'
import os, re, sys, collections
logdir, srvlog, pm = sys.argv[1], sys.argv[2], sys.argv[3]
SRC = r'(api|cron|dag|dagsched|dbtask|remote|run|schedule_funcs|scheduler|shell|shmem|validate|worker)\.c:\d+'

# pid -> process type from the server log prefix '%m [%p] %b ' (last type
# seen wins: a client backend logs "connection received" while still
# "not initialized")
types = {}
line_re = re.compile(r'^\S+ \S+ \S+ \[(\d+)\] (.+?) (LOG|WARNING|ERROR|FATAL|DEBUG\d|STATEMENT|DETAIL|HINT|CONTEXT|PANIC):')
for line in open(srvlog, errors='replace'):
    m = line_re.match(line)
    if m and m.group(2) != 'not initialized':
        types[m.group(1)] = m.group(2)
types[pm] = 'postmaster'

def contexts(text):
    """error/leak records: groups of '==pid== ' lines between blank ones;
    lines without the prefix (generated suppressions) are dropped"""
    out, cur = [], None
    for raw in text.splitlines():
        m = re.match(r'^==\d+== ?(.*)$', raw)
        if not m:
            continue
        l = m.group(1)
        if l == '':
            if cur: out.append(cur)
            cur = None
        elif cur is None:
            cur = [l]
        else:
            cur.append(l)
    if cur: out.append(cur)
    return [c for c in out if len(c) > 1 and re.match(r'\s+(at|by) 0x', c[1])]

def stacks(c):
    """split a record into [error stack, aux stack(s)...]"""
    parts, cur = [], []
    for l in c[1:]:
        if re.match(r'\s+(at|by) 0x', l):
            cur.append(l)
        else:
            if cur: parts.append(cur)
            cur = []
    if cur: parts.append(cur)
    return parts

SKIP = re.compile(r'vgpreload|/libc\.so|/ld-linux|: (\?\?\?|palloc\w*|MemoryContextAlloc\w*|pstrdup|pnstrdup|repalloc\w*|AllocSet\w*) \(in ')

def site_in_dagsched(frames):
    # innermost frame that is not libc, the valgrind preload, the allocator
    # or an anonymous (static) PostgreSQL function
    for f in frames:
        if re.search(SRC, f):
            return True
        if SKIP.search(f) or re.search(r'\((\w|-)+\.c:\d+\)$', f):   # glibc frames carry glibc file names
            continue
        return False
    return False

per = collections.defaultdict(lambda: [0, 0, 0, 0])  # procs, errors, suppressed, procs with errors
site = []; through = []; noise = collections.Counter(); leaks = []
for f in sorted(os.listdir(logdir), key=lambda x: int(x.split('.')[0]) if x.split('.')[0].isdigit() else 0):
    if not f.endswith('.log'): continue
    pid = f[:-4]
    text = open(os.path.join(logdir, f), errors='replace').read()
    t = types.get(pid)
    if t is None:
        if 'DagschedWorkerMain' in text: t = 'dagsched worker'
        elif 'DagschedSchedulerMain' in text: t = 'dagsched scheduler'
        elif 'DagschedDbTaskMain' in text: t = 'dagsched database task'
        elif 'ERROR SUMMARY' not in text: t = 'shell task child (exec\'d /bin/sh, not traced)'
        else: t = 'other (never logged: aux process/backend)'
    m = None
    for m in re.finditer(r'ERROR SUMMARY: (\d+) errors from (\d+) contexts \(suppressed: (\d+) from (\d+)\)', text): pass
    p = per[t]; p[0] += 1
    if m:
        p[1] += int(m.group(1)); p[2] += int(m.group(3)); p[3] += int(m.group(1)) > 0
    for c in contexts(text):
        head = c[0]
        st = stacks(c)
        flat = '\n'.join(c)
        if 'definitely lost' in head:
            if re.search(SRC, flat): leaks.append((pid, t, flat))
            continue
        if head.startswith(('HEAP SUMMARY', 'LEAK SUMMARY')): continue
        ours_site = site_in_dagsched(st[0]) or any(site_in_dagsched(s) for s in st[1:])
        if ours_site:
            site.append((pid, t, flat))
        elif re.search(SRC, flat):
            through.append((pid, t, head, [l.strip() for l in st[0] if re.search(SRC, l)][:1]))
        else:
            noise[head[:80]] += 1

print('%-46s %6s %7s %11s %10s' % ('process type', 'procs', 'errors', 'suppressed', 'procs w/err'))
for t in sorted(per):
    p = per[t]
    print('%-46s %6d %7d %11d %10d' % (t, p[0], p[1], p[2], p[3]))
print('\nunsuppressed contexts entirely inside PostgreSQL/libc (noise): %d' % sum(noise.values()))
for k, v in noise.most_common(10):
    print('  %4d  %s' % (v, k))
print('\nunsuppressed contexts passing through dagsched but with the error site and origin in PostgreSQL: %d' % len(through))
for pid, t, head, fr in through:
    print('  pid %s (%s): %s  [via %s]' % (pid, t, head, fr[0] if fr else '?'))
print('\ncontexts whose error site or origin is dagsched code: %d' % len(site))
seen = set()
for pid, t, s in site:
    key = re.sub(r'0x[0-9A-Fa-f]+', '', s)
    if key in seen: continue
    seen.add(key)
    print('--- pid %s (%s)\n%s\n' % (pid, t, s))
print('definitely-lost leaks with a dagsched frame: %d' % len(leaks))
for pid, t, s in leaks:
    print('--- pid %s (%s)\n%s\n' % (pid, t, s))
sys.exit(1 if site else 0)
PY
rc=$?
echo
echo "logs: $logs/<pid>.log, server log: $srvlog"
exit $rc
