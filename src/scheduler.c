/*-------------------------------------------------------------------------
 *
 * scheduler.c
 *	  The scheduler: a static background worker, one per cluster, on the
 *	  primary only.  It creates runs when schedule ticks come due, starts
 *	  one-off runs whose time has come, starts task workers when queued
 *	  tasks outnumber free workers, queues retries whose delay has passed
 *	  and recovers attempts whose worker died.
 *
 * It never runs user code.  It sleeps on its latch until the earliest next
 * tick or retry; a statement trigger on dagsched.dag sets the latch when a
 * change commits, so edits are seen at once without polling.  The next ticks
 * live in dag.next_run_at (indexed), so a restart or failover loses nothing
 * and the wake-up time costs one index probe.
 *
 * The two trigger functions at the end run in users' backends: they tell
 * the scheduler, at commit, that the catalog changed or the extension was
 * created.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/scheduler.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "atcommit.h"
#include "catalog.h"
#include "commands/trigger.h"
#include "cron.h"
#include "dagsched.h"
#include "run.h"
#include "shmem.h"
#include "version.h"

/* longest sleep: housekeeping still happens at least this often */
#define SCHED_MAX_SLEEP_MS		60000
/* back-off after an unexpected error, instead of a crash loop */
#define SCHED_ERROR_SLEEP_MS	5000
/* out of background worker slots: try again this often (nothing wakes us) */
#define SCHED_NO_SLOT_RETRY_MS	1000
/* bound the work of one loop, so the scheduler stays responsive */
#define SCHED_MAX_DUE_DAGS		100
#define SCHED_MAX_CATCHUP_RUNS	1000
/* history: one small batch per transaction, at least once a minute */
#define SCHED_PURGE_INTERVAL_MS	60000
#define SCHED_PURGE_BATCH		500

static MemoryContext SchedContext = NULL;
static BackgroundWorkerHandle **WorkerHandles = NULL;
static bool launch_failed_logged = false;
static bool launch_starved = false; /* the last launch found no free slot */
static TimestampTz last_purge = 0;
static bool purge_more = false;

typedef struct SchedLoopResult
{
	bool		extension_ready;
	bool		catalog_waiting;	/* installed, but another version */
	int			queued;			/* tasks waiting for a worker */
	int			woken;			/* tasks queued in this loop */
	bool		have_wakeup;
	TimestampTz wakeup;
} SchedLoopResult;

static void sched_loop(bool *recovered, SchedLoopResult *result);
static int	sched_fire_dag(int row, SPITupleTable *tuptable, TimestampTz now);
static void sched_launch_workers(int queued);
static long sched_sleep_ms(const SchedLoopResult *result);
static void sched_purge(void);
static long sched_after_loop(const SchedLoopResult *result, long sleep_ms);

static void
sched_dag_error_callback(void *arg)
{
	errcontext("dagsched scheduler, DAG \"%s\"", (char *) arg);
}

void
DagschedSchedulerMain(Datum main_arg)
{
	bool		recovered = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(DagschedDatabaseName, NULL, 0);
	pgstat_report_appname("dagsched scheduler");
	DagschedSchedulerAttach();

	/*
	 * A role that may DELETE from the catalog may also LOCK it; do not wait
	 * on such a lock forever: give up, log, and try again a little later.
	 */
	SetConfigOption("lock_timeout", "5s", PGC_SUSET, PGC_S_OVERRIDE);

	SchedContext = AllocSetContextCreate(TopMemoryContext,
										 "dagsched scheduler",
										 ALLOCSET_DEFAULT_SIZES);
	WorkerHandles = MemoryContextAllocZero(TopMemoryContext,
										   sizeof(BackgroundWorkerHandle *) *
										   Dagsched->nslots);

	ereport(LOG,
			(errmsg("dagsched scheduler started in database \"%s\"",
					DagschedDatabaseName)));

	for (;;)
	{
		SchedLoopResult result;
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		MemoryContextReset(SchedContext);
		memset(&result, 0, sizeof(result));

		PG_TRY();
		{
			sched_loop(&recovered, &result);
			sleep_ms = sched_sleep_ms(&result);
		}
		PG_CATCH();
		{
			/* log and carry on: one bad row must not stop every DAG */
			MemoryContextSwitchTo(SchedContext);
			EmitErrorReport();
			FlushErrorState();
			QueryCancelPending = false;
			AbortCurrentTransaction();
			sleep_ms = SCHED_ERROR_SLEEP_MS;
		}
		PG_END_TRY();
		pgstat_report_activity(STATE_IDLE, NULL);

		if (result.extension_ready)
			sleep_ms = sched_after_loop(&result, sleep_ms);

		if (sleep_ms > 0)
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Outside the loop's transaction: wake workers for the tasks it queued,
 * start more if queued tasks outnumber free workers, purge a batch of
 * history when it is due.  Returns how long to sleep.
 */
static long
sched_after_loop(const SchedLoopResult *result, long sleep_ms)
{
	if (result->woken > 0)
		DagschedWakeWorkers(result->woken);
	sched_launch_workers(result->queued);
	if (launch_starved)
		sleep_ms = Min(sleep_ms, SCHED_NO_SLOT_RETRY_MS);

	if (purge_more ||
		TimestampDifferenceExceeds(last_purge, GetCurrentTimestamp(),
								   SCHED_PURGE_INTERVAL_MS))
		sched_purge();
	if (purge_more)
		sleep_ms = Min(sleep_ms, 100);
	return sleep_ms;
}

/*
 * One pass, in one transaction: recover after a restart (first pass only),
 * create the runs that are due, queue due retries, fail attempts whose
 * worker is gone, and find when to wake next.
 */
static void
sched_loop(bool *recovered, SchedLoopResult *result)
{
	TimestampTz now;
	uint64		ndue;
	uint64		i;
	SPITupleTable *due;
	DagschedCatalogState catalog;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "dagsched scheduler: checking DAGs");

	catalog = DagschedCatalogCheck();
	if (catalog != DAGSCHED_CATALOG_READY)
	{
		/*
		 * CREATE EXTENSION wakes us when it commits; ALTER EXTENSION UPDATE
		 * does not, so a catalog of another version is polled.
		 */
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		result->extension_ready = false;
		result->catalog_waiting = (catalog == DAGSCHED_CATALOG_OTHER_VERSION);
		return;
	}
	result->extension_ready = true;

	if (!*recovered)
	{
		int			nfinished;
		int			nrecovered;

		result->woken += RunRecoverOrphans(true, &nrecovered);
		result->woken += RunFinishStranded(&nfinished);
		*recovered = true;
	}

	now = GetCurrentTimestamp();
	if (SPI_execute("SELECT dag_name, schedule, timezone, catchup, next_run_at "
					"FROM dagsched.dag "
					"WHERE NOT paused AND next_run_at OPERATOR(pg_catalog.<=) "
					"  pg_catalog.clock_timestamp() "
					"ORDER BY next_run_at LIMIT " CppAsString2(SCHED_MAX_DUE_DAGS),
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read due DAGs");
	ndue = SPI_processed;
	due = SPI_tuptable;
	for (i = 0; i < ndue; i++)
		result->woken += sched_fire_dag(i, due, now);

	result->woken += RunQueueDueRetries();
	result->woken += RunQueueDuePokes();
	result->woken += RunStartScheduled();
	(void) RunCheckDeadlines();
	{
		int			nrecovered;
		int			nfinished;
		int			nmapped;

		/* an attempt of a dead worker may have been its run's last task */
		result->woken += RunRecoverOrphans(false, &nrecovered);

		/*
		 * A worker that died between an instance's end and its look at the
		 * mapped task's end leaves that task waiting: found here.
		 */
		result->woken += RunFinishStrandedMapped(&nmapped);
		if (nrecovered > 0 || nmapped > 0)
			result->woken += RunFinishStranded(&nfinished);
	}
	result->queued = CatalogCountQueued();
	result->have_wakeup = CatalogNextWakeup(&result->wakeup);

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/* Move next_run_at on, unless the user changed the schedule meanwhile. */
static void
sched_advance(const char *dag_name, bool has_next, TimestampTz next,
			  Datum old_next)
{
	Oid			argtypes[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = CStringGetTextDatum(dag_name);
	if (has_next)
		values[1] = TimestampTzGetDatum(next);
	else
		nulls[1] = 'n';
	values[2] = old_next;
	if (SPI_execute_with_args("UPDATE dagsched.dag SET next_run_at = $2 "
							  "WHERE dag_name OPERATOR(pg_catalog.=) $1 "
							  " AND next_run_at OPERATOR(pg_catalog.=) $3",
							  3, argtypes, values, nulls, false, 0) < 0)
		elog(ERROR, "could not advance the schedule");
}

/*
 * Create the runs of one due DAG and advance its next_run_at.  A
 * subtransaction keeps a DAG whose runs cannot be created (no tasks, say)
 * from blocking the others; its tick is still consumed.  Returns how many
 * tasks became queued.
 */
static int
sched_fire_dag(int row, SPITupleTable *tuptable, TimestampTz now)
{
	HeapTuple	tup = tuptable->vals[row];
	TupleDesc	desc = tuptable->tupdesc;
	char	   *dag_name = SPI_getvalue(tup, desc, 1);
	char	   *schedule = SPI_getvalue(tup, desc, 2);
	char	   *tzname = SPI_getvalue(tup, desc, 3);
	bool		isnull;
	bool		catchup = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	TimestampTz tick = DatumGetTimestampTz(SPI_getbinval(tup, desc, 5, &isnull));
	TimestampTz next;
	bool		has_next;
	CronSchedule sched;
	pg_tz	   *tz;
	char		errbuf[256];
	int			nruns = 0;
	int			nqueued = 0;
	ErrorContextCallback errcallback;

	errcallback.callback = sched_dag_error_callback;
	errcallback.arg = dag_name;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (schedule == NULL || !CronParse(schedule, &sched, errbuf, sizeof(errbuf)))
	{
		/* cannot happen: dag_check validated it; stop firing it */
		ereport(WARNING, (errmsg("dagsched: ignoring DAG with invalid schedule")));
		has_next = false;
		goto advance;
	}
	tz = CronLookupTimezone(tzname);
	has_next = CronNextFire(&sched, tick, tz, &next);

	if (!catchup)
	{
		/* only the latest missed tick runs */
		while (has_next && next <= now)
		{
			tick = next;
			has_next = CronNextFire(&sched, tick, tz, &next);
		}
	}

	for (;;)
	{
		const char *trigger = (has_next && next <= now) ? "catchup" : "schedule";
		int			q;

		(void) RunCreateOrLog(dag_name, tick, trigger,
							  DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")),
							  &q, "scheduled tick");
		nqueued += q;
		nruns++;

		if (!catchup || !has_next || next > now ||
			nruns >= SCHED_MAX_CATCHUP_RUNS)
			break;
		tick = next;
		has_next = CronNextFire(&sched, tick, tz, &next);
	}

advance:
	sched_advance(dag_name, has_next, next,
				  SPI_getbinval(tup, desc, 5, &isnull));
	error_context_stack = errcallback.previous;
	return nqueued;
}

/*
 * Start workers while queued tasks outnumber free and starting workers,
 * up to dagsched.max_workers.  Registration does not wait for the worker to
 * start.  Running out of background worker slots is logged once (and its
 * end once), not retried in a tight loop: a slot freed by another extension
 * or a parallel query signals nobody, so the caller tries again after
 * SCHED_NO_SLOT_RETRY_MS while tasks wait.
 */
static void
sched_launch_workers(int queued)
{
	int			attached;
	int			nfree;			/* attached, holding no task */
	int			starting = 0;
	int			free_handle = -1;
	int			i;
	int			want;
	int			max_workers = Min(DagschedMaxWorkers, Dagsched->nslots);

	launch_starved = false;
	DagschedCountWorkers(&attached, &nfree);
	for (i = 0; i < Dagsched->nslots; i++)
	{
		pid_t		pid;
		BgwHandleStatus status;

		if (WorkerHandles[i] == NULL)
			continue;
		status = GetBackgroundWorkerPid(WorkerHandles[i], &pid);
		if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED)
		{
			pfree(WorkerHandles[i]);
			WorkerHandles[i] = NULL;
		}
		else if (status == BGWH_NOT_YET_STARTED || !DagschedPidIsAttached(pid))
			starting++;
	}

	want = Min(queued - nfree - starting, max_workers - attached - starting);
	for (i = 0; i < Dagsched->nslots && want > 0; i++)
	{
		BackgroundWorker worker;
		BackgroundWorkerHandle *handle;

		if (WorkerHandles[i] != NULL)
			continue;
		free_handle = i;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
			BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = BGW_NEVER_RESTART;
		strlcpy(worker.bgw_library_name, "dagsched", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "DagschedWorkerMain", BGW_MAXLEN);
		strlcpy(worker.bgw_name, "dagsched worker", BGW_MAXLEN);
		strlcpy(worker.bgw_type, "dagsched worker", BGW_MAXLEN);
		worker.bgw_main_arg = (Datum) 0;
		worker.bgw_notify_pid = MyProcPid;

		if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		{
			if (!launch_failed_logged)
				ereport(LOG,
						(errmsg("dagsched: could not start a task worker: no free background worker slot"),
						 errhint("Raise max_worker_processes, or lower dagsched.max_workers.")));
			launch_failed_logged = true;
			launch_starved = true;
			return;
		}
		if (launch_failed_logged)
			ereport(LOG,
					(errmsg("dagsched: a background worker slot is free again; task workers start")));
		launch_failed_logged = false;
		WorkerHandles[free_handle] = handle;
		want--;
	}
}

static long
sched_sleep_ms(const SchedLoopResult *result)
{
	long		secs;
	int			usecs;
	long		ms;

	if (!result->extension_ready)
		return result->catalog_waiting ? DAGSCHED_CATALOG_POLL_MS :
			SCHED_MAX_SLEEP_MS;
	if (!result->have_wakeup)
		return SCHED_MAX_SLEEP_MS;

	TimestampDifference(GetCurrentTimestamp(), result->wakeup, &secs, &usecs);
	/* round up: waking a hair early would only loop once more */
	ms = secs * 1000 + (usecs + 999) / 1000;
	return Min(ms, SCHED_MAX_SLEEP_MS);
}

/*
 * Remove one batch of finished runs older than dagsched.history_retention,
 * in a transaction of its own so that no lock is held for long; when the
 * batch was full, the next loop comes soon and takes another.
 */
static void
sched_purge(void)
{
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		values[2];

	last_purge = GetCurrentTimestamp();
	values[0] = Int32GetDatum(DagschedHistoryRetention);
	values[1] = Int32GetDatum(SCHED_PURGE_BATCH);

	PG_TRY();
	{
		int64		removed;
		bool		isnull;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "dagsched scheduler: purging history");
		if (SPI_execute_with_args("SELECT dagsched.purge_history("
								  " pg_catalog.make_interval(secs => $1), $2, 1)",
								  2, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not purge history");
		removed = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1,
											  &isnull));
		purge_more = (removed >= SCHED_PURGE_BATCH);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(SchedContext);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		purge_more = false;
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(dagsched_dag_changed);
PG_FUNCTION_INFO_V1(dagsched_extension_created);
PG_FUNCTION_INFO_V1(dagsched_pool_changed);

/*
 * Statement trigger on dagsched.dag: wake the scheduler when the change
 * commits, so that new schedules are seen without polling.
 */
Datum
dagsched_dag_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "dagsched_dag_changed: not called by trigger manager");

	if (DagschedShmemReady() && Dagsched->scheduler_pid != MyProcPid)
		AtCommitWakeScheduler();
	return PointerGetDatum(NULL);
}

/*
 * Statement trigger on dagsched.pool: a change of slots takes effect at
 * once.  Idle workers look for work when it commits (more slots: tasks
 * waiting for one start now); the scheduler starts more if they are few.
 */
Datum
dagsched_pool_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "dagsched_pool_changed: not called by trigger manager");

	if (DagschedShmemReady())
		AtCommitWakeWorkers(DagschedMaxWorkers);
	return PointerGetDatum(NULL);
}

/*
 * Called by the install script: the scheduler, waiting for the extension,
 * starts as soon as CREATE EXTENSION commits.
 */
Datum
dagsched_extension_created(PG_FUNCTION_ARGS)
{
	if (!DagschedShmemReady())
		ereport(WARNING,
				(errmsg("dagsched is not loaded through shared_preload_libraries"),
				 errdetail("Runs are recorded, but no scheduler or worker will run them."),
				 errhint("Add dagsched to shared_preload_libraries and restart the server.")));
	AtCommitWakeScheduler();
	PG_RETURN_VOID();
}
