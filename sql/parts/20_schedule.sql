/*
 * Schedules
 */
CREATE FUNCTION dagsched.next_fire(schedule text,
								   after timestamptz DEFAULT pg_catalog.now(),
								   timezone text DEFAULT 'UTC')
RETURNS timestamptz
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dagsched_next_fire';

COMMENT ON FUNCTION dagsched.next_fire(text, timestamptz, text) IS
'the first tick of schedule strictly after "after", read in timezone; NULL if it never fires';

