/*-------------------------------------------------------------------------
 *
 * dagsched.c
 *	  Module entry point: settings, shared memory hooks and the scheduler's
 *	  registration.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/dagsched.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "dagsched.h"
#include "mapped.h"
#include "notify.h"
#include "results.h"
#include "shmem.h"

PG_MODULE_MAGIC;

char	   *DagschedDatabaseName = NULL;
int			DagschedMaxWorkers = 8;
int			DagschedHistoryRetention = 30 * 24 * 3600;
int			DagschedWorkerIdleTimeout = 60;
bool		DagschedLogTasks = false;
int			DagschedMaxCommandSize = 1024 * 1024;

char	   *DagschedCtxRunId = NULL;
char	   *DagschedCtxLogicalTime = NULL;
char	   *DagschedCtxDagName = NULL;
char	   *DagschedCtxTaskName = NULL;
char	   *DagschedCtxParams = NULL;
char	   *DagschedCtxAttempt = NULL;

bool		DagschedPreloaded = false;

void		_PG_init(void);

static void
define_context_setting(const char *name, const char *desc, char **var)
{
	DefineCustomStringVariable(name, desc,
							   "Set by dagsched for the task it runs; empty elsewhere.",
							   var, "", PGC_USERSET,
							   GUC_NOT_IN_SAMPLE | GUC_NO_RESET_ALL,
							   NULL, NULL, NULL);
}

/*
 * Defines every setting and the NOTIFY hook; when preloaded, also asks for
 * shared memory, installs the DROP hook and registers the scheduler.  Long
 * only because each setting is one DefineCustom call with its
 * description (what SHOW ALL and pg_settings print).
 */
void
_PG_init(void)
{
	BackgroundWorker worker;

	DefineCustomStringVariable("dagsched.database_name",
							   "Database that holds the dagsched catalog.",
							   "The scheduler and the task workers connect to it.",
							   &DagschedDatabaseName, "postgres",
	/* a postmaster setting may only be defined while preloading */
							   process_shared_preload_libraries_in_progress ?
							   PGC_POSTMASTER : PGC_SIGHUP,
							   0, NULL, NULL, NULL);
	DefineCustomIntVariable("dagsched.max_workers",
							"Maximum number of task worker processes.",
							"Also bounded by max_worker_processes.",
							&DagschedMaxWorkers, 8, 1, MAX_BACKENDS,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("dagsched.history_retention",
							"Finished runs older than this are purged.",
							NULL,
							&DagschedHistoryRetention, 30 * 24 * 3600,
							60, INT_MAX, PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("dagsched.worker_idle_timeout",
							"An idle task worker exits after this long.",
							"Idle workers take new tasks at once; starting one costs a fork and a connection.",
							&DagschedWorkerIdleTimeout, 60, 1, 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("dagsched.log_tasks",
							 "Log a line when each task starts and succeeds.",
							 "Failures are always logged.",
							 &DagschedLogTasks, false, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("dagsched.max_command_size",
							"Largest command a task may hold.",
							"Checked when a task is written.  Longer code belongs in a function or procedure the task calls.",
							&DagschedMaxCommandSize, 1024 * 1024, 1024,
							256 * 1024 * 1024, PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dagsched.max_result_size",
							"Largest result a task may set.",
							"A task setting a larger result fails.  Large data belongs in a table; pass its key.",
							&DagschedMaxResultSize, 1024 * 1024, 0,
							MaxAllocSize / 2, PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("dagsched.max_map_instances",
							"Most instances a mapped task may have.",
							"A mapped task whose map_over query returns more rows fails.",
							&DagschedMaxMapInstances, 10000, 0, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	define_context_setting("dagsched.run_id", "Run of the task being run.",
						   &DagschedCtxRunId);
	define_context_setting("dagsched.logical_time",
						   "Schedule tick the run stands for.",
						   &DagschedCtxLogicalTime);
	define_context_setting("dagsched.dag_name", "DAG of the task being run.",
						   &DagschedCtxDagName);
	define_context_setting("dagsched.task_name", "Task being run.",
						   &DagschedCtxTaskName);
	define_context_setting("dagsched.params", "Parameters of the run (JSON).",
						   &DagschedCtxParams);
	define_context_setting("dagsched.attempt", "Attempt number of the task.",
						   &DagschedCtxAttempt);

	MarkGUCPrefixReserved("dagsched");
	DagschedNotifyInit();

	if (!process_shared_preload_libraries_in_progress)
		return;

	DagschedPreloaded = true;
	DagschedShmemInit();
	DagschedInstallDropHook();

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* primary only: after a promotion the postmaster starts it */
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	strlcpy(worker.bgw_library_name, "dagsched", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "DagschedSchedulerMain", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "dagsched scheduler", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "dagsched scheduler", BGW_MAXLEN);
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}
