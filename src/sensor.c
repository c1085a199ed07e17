/*-------------------------------------------------------------------------
 *
 * sensor.c
 *	  The runner for sensors (task.kind = 'sensor'): a boolean query poked
 *	  as the task's owner until it returns true or the task's timeout
 *	  passes.
 *
 * A poke is one short transaction of a worker, like a SQL task's attempt
 * (taskexec.c runs it with the same checks, identity and context): true
 * ends the task in success in that transaction; false sets it "sensing"
 * with a next_poke_at (transition.c, TaskSensing) and commits, and the
 * worker moves on.  Between pokes the sensor holds no worker, no
 * connection and no snapshot; the scheduler queues it again when its next
 * poke is due, like a retry.  A poke is not an attempt: only the final
 * outcome is one.
 *
 * The timeout counts from the first poke (task_run.started_at, which the
 * pokes after it keep): a poke starting or ending past it, or cut off by
 * it, fails the task with "sensor timed out after <timeout>".  Retries
 * apply to that failure as to any other.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/sensor.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/timestamp.h"

#include "taskexec.h"

/* The failure's text, as task_run.error records it */
char *
SensorTimeoutText(const ClaimedTask *task)
{
	return psprintf("%s: sensor timed out after %s",
					unpack_sql_state(ERRCODE_QUERY_CANCELED),
					task->timeout_text ? task->timeout_text : "its timeout");
}

/* ERROR when the sensor's timeout has passed (the poke's transaction ends) */
void
SensorCheckTimeout(const ClaimedTask *task)
{
	if (task->sensor_deadline == 0 ||
		GetCurrentTimestamp() < task->sensor_deadline)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("sensor timed out after %s",
					task->timeout_text ? task->timeout_text : "its timeout"),
			 errdetail("Its condition was still not true after %d pokes.",
					   task->pokes),
			 errhint("Raise the task's timeout, or check why its condition stays false.")));
}

/*
 * What the task timer gets for one poke: the time left until the timeout
 * (at least 1 ms), or 0 for none.  A slow poke is cut off at the timeout.
 */
int
SensorRemainingMs(const ClaimedTask *task)
{
	int64		left;

	if (task->sensor_deadline == 0)
		return 0;
	left = (task->sensor_deadline - GetCurrentTimestamp()) / 1000;
	return (int) Max(Min(left, (int64) PG_INT32_MAX), 1);
}

/*
 * One poke: the first column of the first row.  No row or NULL is not
 * true yet; a query that is not one boolean column of at most one row is
 * the task's error (validation catches most of these when it is written).
 */
static bool
sensor_poke(const ClaimedTask *task, char **output)
{
	int			ret;
	bool		isnull;
	Datum		d;

	ret = SPI_execute(task->command, false, 2);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("command of sensor \"%s\" is not a query", task->task_name)));
	if (SPI_tuptable->tupdesc->natts != 1 ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 1) != BOOLOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("command of sensor \"%s\" must return one boolean column",
						task->task_name)));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("command of sensor \"%s\" returned more than one row",
						task->task_name)));
	if (SPI_processed == 0)
		return false;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull || !DatumGetBool(d))
		return false;
	*output = psprintf("sensor: true at poke %d", task->pokes);
	return true;
}

const TaskRunner TaskRunnerSensor = {
	.name = "sensor",
	.mode = TASK_RUNNER_IN_XACT,
	.check_access = NULL,
	.run = NULL,
	.poke = sensor_poke,
};
