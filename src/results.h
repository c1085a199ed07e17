/*-------------------------------------------------------------------------
 *
 * results.h
 *	  Task results: what a task hands to the tasks after it.  A SQL task sets
 *	  its result with dagsched.set_result(), a shell task writes it to the
 *	  file named by $DAGSCHED_RESULT_FILE; the worker stores it with the
 *	  task's success, and dagsched.result() reads it back downstream.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/results.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_RESULTS_H
#define DAGSCHED_RESULTS_H

#include "utils/jsonb.h"

/* dagsched.max_result_size, bytes */
extern int	DagschedMaxResultSize;

/*
 * The worker's task context: set around each task it runs, so that
 * set_result(), result(), map_item() and map_index() work there and
 * nowhere else.
 */
extern void ResultsTaskBegin(int64 run_id, const char *task_name,
							 int map_index, const char *map_item);
extern void ResultsTaskEnd(void);

/* Forget the result of an attempt (or of a try rolled back) */
extern void ResultsForget(void);

/* The result the attempt set last and that was not rolled back, or NULL */
extern Jsonb *ResultsPending(void);

/* Shell tasks: parse the file's text as the result; false and *error if bad */
extern bool ResultsSetFromText(const char *text, size_t len,
							   const char *what, char **error);

/* Shell tasks: the results of the task's upstream tasks, a JSON object */
extern char *ResultsUpstreamObject(int64 run_id, const char *task_name);

#endif							/* DAGSCHED_RESULTS_H */
