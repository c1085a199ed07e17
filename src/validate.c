/* stub: replaced by the real implementation */
#include "postgres.h"
#include "fmgr.h"
PG_FUNCTION_INFO_V1(dagsched_dag_check);
PG_FUNCTION_INFO_V1(dagsched_task_check);
PG_FUNCTION_INFO_V1(dagsched_task_graph_check);
Datum dagsched_dag_check(PG_FUNCTION_ARGS) { elog(ERROR, "not yet"); }
Datum dagsched_task_check(PG_FUNCTION_ARGS) { elog(ERROR, "not yet"); }
Datum dagsched_task_graph_check(PG_FUNCTION_ARGS) { elog(ERROR, "not yet"); }
