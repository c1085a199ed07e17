/*-------------------------------------------------------------------------
 *
 * mapped.c
 *	  Mapped tasks: the rows of a task's map_over query become its
 *	  instances.
 *
 * A worker that claims a mapped task runs map_over instead of the task's
 * command, as the owner and with the task's context (so dagsched.result()
 * of the upstream tasks works in it), and in the same transaction queues
 * one instance per row (TaskMapped, transition.c): instances are task_run
 * rows of the task's name with map_index 0, 1, ..., each with its row as
 * map_item.  Mapping and queueing commit together, so after a crash the
 * task either maps again from scratch or has its instances as ordinary
 * queued rows: none lost, none made twice.
 *
 * The rows are turned into JSON here, in C, rather than by wrapping the
 * query in SQL of ours: the query is run exactly as written.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/mapped.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#include "mapped.h"

int			DagschedMaxMapInstances = 10000;

ArrayType  *
MappedItems(const ClaimedTask *task)
{
	int			ret;
	uint64		n;
	uint64		i;
	TupleDesc	tupdesc;
	Datum	   *elems;

	ret = SPI_execute(task->map_over, false, 0);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("map_over of task \"%s\" is not a query", task->task_name)));
	n = SPI_processed;
	if (n > (uint64) DagschedMaxMapInstances)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("map_over of task \"%s\" returned " UINT64_FORMAT " rows, more than dagsched.max_map_instances (%d)",
						task->task_name, n, DagschedMaxMapInstances),
				 errhint("Map over fewer rows (one instance per batch of them), or raise dagsched.max_map_instances.")));

	/* a record type of the rows' shape, for row_to_json() */
	tupdesc = BlessTupleDesc(CreateTupleDescCopy(SPI_tuptable->tupdesc));
	elems = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		Datum		row = heap_copy_tuple_as_datum(SPI_tuptable->vals[i], tupdesc);

		elems[i] = DirectFunctionCall1(row_to_json, row);
	}
	return construct_array(elems, (int) n, TEXTOID, -1, false, TYPALIGN_INT);
}
