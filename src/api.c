/* stub */
#include "postgres.h"
#include "fmgr.h"
PG_FUNCTION_INFO_V1(dagsched_trigger);
PG_FUNCTION_INFO_V1(dagsched_wait);
PG_FUNCTION_INFO_V1(dagsched_cancel);
PG_FUNCTION_INFO_V1(dagsched_retry);
PG_FUNCTION_INFO_V1(dagsched_dag_changed);
Datum dagsched_trigger(PG_FUNCTION_ARGS) { elog(ERROR, "not yet"); }
Datum dagsched_wait(PG_FUNCTION_ARGS) { elog(ERROR, "not yet"); }
Datum dagsched_cancel(PG_FUNCTION_ARGS) { elog(ERROR, "not yet"); }
Datum dagsched_retry(PG_FUNCTION_ARGS) { elog(ERROR, "not yet"); }
Datum dagsched_dag_changed(PG_FUNCTION_ARGS) { return PointerGetDatum(NULL); }
