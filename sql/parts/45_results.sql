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
