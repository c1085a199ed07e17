/* stub: replaced by the real implementation */
#include "postgres.h"
#include "fmgr.h"
PG_FUNCTION_INFO_V1(dagsched_next_fire);
Datum dagsched_next_fire(PG_FUNCTION_ARGS) { elog(ERROR, "not yet"); }
