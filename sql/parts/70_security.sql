/*
 * Security model
 *
 * Every role may define DAGs; a role sees and changes only the DAGs (and
 * their runs) whose owner it is a member of.  Superusers see everything.
 * Run tables are written only by the extension: trigger(), cancel() and
 * retry() check that the caller can see the DAG or run (through the
 * policies below) before acting on it.  Tasks run as the DAG's owner.
 */

-- true when the current user is a member of role "owner"; false for a
-- role that no longer exists, instead of an error that would break every
-- query on the table
CREATE FUNCTION dagsched.is_member(owner name) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
				   WHERE r.rolname OPERATOR(pg_catalog.=) owner
					 AND pg_catalog.pg_has_role(r.oid, 'MEMBER'))
$$;

COMMENT ON FUNCTION dagsched.is_member(name) IS
'true when the current user is a member of the given role (the row-level security test of every dagsched table)';

ALTER TABLE dagsched.dag ENABLE ROW LEVEL SECURITY;
ALTER TABLE dagsched.task ENABLE ROW LEVEL SECURITY;
ALTER TABLE dagsched.dag_run ENABLE ROW LEVEL SECURITY;
ALTER TABLE dagsched.task_run ENABLE ROW LEVEL SECURITY;
ALTER TABLE dagsched.task_attempt ENABLE ROW LEVEL SECURITY;

CREATE POLICY dag_owner ON dagsched.dag
	USING (dagsched.is_member(owner))
	WITH CHECK (dagsched.is_member(owner));

CREATE POLICY task_owner ON dagsched.task
	USING (EXISTS (SELECT 1 FROM dagsched.dag d
				   WHERE d.dag_name OPERATOR(pg_catalog.=) task.dag_name))
	WITH CHECK (EXISTS (SELECT 1 FROM dagsched.dag d
						WHERE d.dag_name OPERATOR(pg_catalog.=) task.dag_name));

CREATE POLICY dag_run_owner ON dagsched.dag_run
	USING (dagsched.is_member(owner));

CREATE POLICY task_run_owner ON dagsched.task_run
	USING (EXISTS (SELECT 1 FROM dagsched.dag_run r
				   WHERE r.run_id OPERATOR(pg_catalog.=) task_run.run_id));

CREATE POLICY task_attempt_owner ON dagsched.task_attempt
	USING (EXISTS (SELECT 1 FROM dagsched.dag_run r
				   WHERE r.run_id OPERATOR(pg_catalog.=) task_attempt.run_id));

GRANT USAGE ON SCHEMA dagsched TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON dagsched.dag, dagsched.task TO PUBLIC;
GRANT SELECT ON dagsched.dag_run, dagsched.task_run, dagsched.task_attempt
	TO PUBLIC;

-- pools are shared: everyone sees and uses them; their owners change them
ALTER TABLE dagsched.pool ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_read ON dagsched.pool FOR SELECT USING (true);
CREATE POLICY pool_insert ON dagsched.pool FOR INSERT
	WITH CHECK (dagsched.is_member(owner));
CREATE POLICY pool_update ON dagsched.pool FOR UPDATE
	USING (dagsched.is_member(owner)) WITH CHECK (dagsched.is_member(owner));
CREATE POLICY pool_delete ON dagsched.pool FOR DELETE
	USING (dagsched.is_member(owner));
GRANT SELECT, INSERT, UPDATE, DELETE ON dagsched.pool TO PUBLIC;
