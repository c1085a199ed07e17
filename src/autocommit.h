/*-------------------------------------------------------------------------
 *
 * autocommit.h
 *	  Running a task's statements one by one, each a top-level statement in
 *	  its own transaction (task.autocommit = true).
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/autocommit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_AUTOCOMMIT_H
#define DAGSCHED_AUTOCOMMIT_H

/*
 * Run "command" statement by statement, as psql in autocommit mode would,
 * in the current session and as its user.  Called outside any transaction.
 * "timeout_ms" (0: none) bounds the whole command.  Returns true on
 * success, false when a statement failed (the later ones did not run).
 * *output receives the last statement's command tag and the messages the
 * statements raised (also on failure); *error the failure.  Both are
 * palloc'd in the caller's memory context, which must not be a
 * transaction's.
 */
extern bool AutocommitRun(const char *command, int timeout_ms,
						  char **output, char **error);

#endif							/* DAGSCHED_AUTOCOMMIT_H */
