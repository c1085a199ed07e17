/*-------------------------------------------------------------------------
 *
 * shell.h
 *	  Running shell tasks: /bin/sh -c in its own process group, output
 *	  captured and bounded, timeouts and cancellation kill the whole tree.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/shell.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_SHELL_H
#define DAGSCHED_SHELL_H

#include "run.h"

/*
 * ereport(ERROR) unless the role may run programs on the server: superuser
 * or member of pg_execute_server_program.  Needs a transaction.
 */
extern void ShellCheckPrivilege(const char *owner);

/* Where a shell task finds its upstream results and leaves its own */
typedef struct ShellResultFiles
{
	char	   *result;			/* $DAGSCHED_RESULT_FILE */
	char	   *results;		/* $DAGSCHED_RESULTS_FILE */
} ShellResultFiles;

/*
 * Run task->command with /bin/sh -c outside any transaction.  Returns true
 * on exit status 0.  *output gets the tail of stdout+stderr (or NULL),
 * *error a description of the failure ("exit status 3", "killed by signal
 * 9", "timed out after 5000 ms").  Throws ERROR if cancelled (SIGINT) or
 * terminated, after killing the process group.
 */
extern bool ShellRunTask(const ClaimedTask *task,
						 const ShellResultFiles *files,
						 char **output, char **error);

#endif							/* DAGSCHED_SHELL_H */
