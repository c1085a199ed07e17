/*-------------------------------------------------------------------------
 *
 * dagsched.h
 *	  Settings and entry points shared by the parts of dagsched.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/dagsched.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_H
#define DAGSCHED_H

#include "postgres.h"

/* Settings (GUCs), defined in dagsched.c */
extern char *DagschedDatabaseName;
extern int	DagschedMaxWorkers;
extern int	DagschedHistoryRetention;	/* seconds */
extern int	DagschedWorkerIdleTimeout;	/* seconds */
extern bool DagschedLogTasks;
extern int	DagschedMaxCommandSize; /* bytes */

/* Task context, visible to tasks as dagsched.* settings */
extern char *DagschedCtxRunId;
extern char *DagschedCtxLogicalTime;
extern char *DagschedCtxDagName;
extern char *DagschedCtxTaskName;
extern char *DagschedCtxParams;
extern char *DagschedCtxAttempt;

/*
 * PostgreSQL 16 replaced the per-object ACL check functions with
 * object_aclcheck().  Only 15 is built and tested here.
 */
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_database.h"
#include "utils/acl.h"
#define DagschedDatabaseAclCheck(dboid, roleid, mode) \
	object_aclcheck(DatabaseRelationId, (dboid), (roleid), (mode))
#else
#include "utils/acl.h"
#define DagschedDatabaseAclCheck(dboid, roleid, mode) \
	pg_database_aclcheck((dboid), (roleid), (mode))
#endif

/*
 * PostgreSQL 17 moved the local transaction id of a PGPROC into its vxid
 * (storage/proc.h).  Only 15 is built and tested here.
 */
#if PG_VERSION_NUM >= 170000
#define DagschedMyLocalXid() (MyProc->vxid.lxid)
#else
#define DagschedMyLocalXid() (MyProc->lxid)
#endif

/* true when loaded through shared_preload_libraries */
extern bool DagschedPreloaded;

/* Background worker entry points (scheduler.c, worker.c) */
extern void DagschedInstallDropHook(void);

extern PGDLLEXPORT void DagschedSchedulerMain(Datum main_arg);
extern PGDLLEXPORT void DagschedWorkerMain(Datum main_arg);

#endif							/* DAGSCHED_H */
