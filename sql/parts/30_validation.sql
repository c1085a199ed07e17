/*
 * Validation triggers (src/validate.c)
 */
CREATE FUNCTION dagsched.dag_check() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'dagsched_dag_check';

CREATE FUNCTION dagsched.task_check() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'dagsched_task_check';

CREATE FUNCTION dagsched.task_graph_check() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'dagsched_task_graph_check';

CREATE FUNCTION dagsched.dag_changed() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'dagsched_dag_changed';

CREATE TRIGGER dag_check
	BEFORE INSERT OR UPDATE ON dagsched.dag
	FOR EACH ROW EXECUTE FUNCTION dagsched.dag_check();

-- the scheduler learns of every committed change at once
CREATE TRIGGER dag_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON dagsched.dag
	FOR EACH STATEMENT EXECUTE FUNCTION dagsched.dag_changed();

CREATE TRIGGER task_check
	BEFORE INSERT OR UPDATE OR DELETE ON dagsched.task
	FOR EACH ROW EXECUTE FUNCTION dagsched.task_check();

-- graph checks once per DAG, at commit, whatever order rows came in
CREATE CONSTRAINT TRIGGER task_graph_check
	AFTER INSERT OR UPDATE OR DELETE ON dagsched.task
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION dagsched.task_graph_check();

-- a change of a pool's slots takes effect at once: workers look again
CREATE FUNCTION dagsched.pool_changed() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'dagsched_pool_changed';

CREATE TRIGGER pool_changed
	AFTER INSERT OR UPDATE OR DELETE ON dagsched.pool
	FOR EACH STATEMENT EXECUTE FUNCTION dagsched.pool_changed();
