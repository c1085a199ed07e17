/*-------------------------------------------------------------------------
 *
 * remote.h
 *	  Running a SQL task on another PostgreSQL server over libpq.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/remote.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_REMOTE_H
#define DAGSCHED_REMOTE_H

#include "run.h"

/*
 * ereport(ERROR) unless the owner may use task->conninfo (rules for
 * non-superuser owners, e.g. no password in the string).
 */
extern void RemoteCheckAccess(const ClaimedTask *task,
							  bool owner_is_superuser);

/*
 * Run task->command on the server task->conninfo names, as one transaction,
 * outside any local transaction.  Returns true on success; *output gets the
 * command tag of the last statement, *error "SQLSTATE: message" of a remote
 * error (or a connection failure, with any password removed).  Honours
 * task->timeout_ms; throws ERROR when the calling worker is cancelled, after
 * cancelling the remote query.  A non-superuser owner's connection must have
 * used a password (see remote.c).
 */
extern bool RemoteRunTask(const ClaimedTask *task, bool owner_is_superuser,
						  char **output, char **error);

#endif							/* DAGSCHED_REMOTE_H */
