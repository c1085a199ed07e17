/*
 * Task results (src/results.c): a task hands a JSON value to the tasks
 * after it.  Only a task dagsched is running may call these.
 */
CREATE FUNCTION dagsched.set_result(value jsonb)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'dagsched_set_result';

COMMENT ON FUNCTION dagsched.set_result(jsonb) IS
'set the result of the running task (the last call wins; stored when the task succeeds, with its effects); only inside a task dagsched runs';

CREATE FUNCTION dagsched.result(task_name text)
RETURNS jsonb
LANGUAGE c STABLE STRICT
AS 'MODULE_PATHNAME', 'dagsched_result';

COMMENT ON FUNCTION dagsched.result(text) IS
'the result of a task in the run of the running task (NULL when it set none); only inside a task dagsched runs';

/*
 * Mapped tasks (src/mapped.c): an instance's row of the map_over query and
 * its position.  Only inside a task dagsched runs; NULL in a task that is
 * not an instance of a mapped task.
 */
CREATE FUNCTION dagsched.map_item()
RETURNS jsonb
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'dagsched_map_item';

COMMENT ON FUNCTION dagsched.map_item() IS
'the row of map_over this instance of a mapped task runs for, as a JSON object (column name: value); NULL in a task that is not mapped; only inside a task dagsched runs';

CREATE FUNCTION dagsched.map_index()
RETURNS integer
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'dagsched_map_index';

COMMENT ON FUNCTION dagsched.map_index() IS
'the position (0, 1, ...) of this instance of a mapped task among the rows of map_over; NULL in a task that is not mapped; only inside a task dagsched runs';
