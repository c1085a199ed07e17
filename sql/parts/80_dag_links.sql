/*
 * DAG-to-DAG: a DAG listing others in upstream_dags runs after each
 * successful run of any of them.  The links must name DAGs the user can see
 * and must not form a cycle; checked at commit, so DAGs can be inserted in
 * any order.  The cycle walk (in C: it takes a lock and reads the latest
 * committed rows, so that two transactions cannot each add half of a cycle)
 * is src/validate.c's dagsched_dag_links_cycle.
 */
CREATE FUNCTION dagsched.dag_links_cycle(dag_name text) RETURNS text
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dagsched_dag_links_cycle';

COMMENT ON FUNCTION dagsched.dag_links_cycle(text) IS
'internal (trigger dag_links_check): the cycle through dag_name formed by upstream_dags as "a -> b -> a", or NULL; waits for other link checks to commit and reads the latest committed rows';

CREATE FUNCTION dagsched.dag_links_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	missing		text;
	cycle		text;
BEGIN
	-- the row may have changed or gone since the statement that queued us
	SELECT d.upstream_dags INTO NEW.upstream_dags
	  FROM dagsched.dag d WHERE d.dag_name = NEW.dag_name;
	IF NOT FOUND OR cardinality(NEW.upstream_dags) = 0 THEN
		RETURN NULL;
	END IF;

	SELECT u INTO missing
	  FROM unnest(NEW.upstream_dags) AS u
	 WHERE NOT EXISTS (SELECT 1 FROM dagsched.dag d WHERE d.dag_name = u)
	 LIMIT 1;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'DAG "%" runs after unknown DAG "%"', NEW.dag_name,
			dagsched.shorten(missing)
			USING ERRCODE = 'foreign_key_violation',
				  DETAIL = 'upstream_dags must name existing DAGs that you can see.';
	END IF;

	IF NEW.dag_name = ANY (NEW.upstream_dags) THEN
		RAISE EXCEPTION 'DAG "%" runs after itself', NEW.dag_name
			USING ERRCODE = 'invalid_object_definition',
				  DETAIL = format('Cycle: %s -> %s', NEW.dag_name, NEW.dag_name);
	END IF;

	-- coming back to this DAG through upstream links is a cycle
	cycle := dagsched.dag_links_cycle(NEW.dag_name);
	IF cycle IS NOT NULL THEN
		RAISE EXCEPTION 'DAGs form a cycle through upstream_dags of DAG "%"', NEW.dag_name
			USING ERRCODE = 'invalid_object_definition',
				  DETAIL = format('Cycle: %s', cycle);
	END IF;
	RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER dag_links_check
	AFTER INSERT OR UPDATE OF upstream_dags ON dagsched.dag
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION dagsched.dag_links_check();

/*
 * Auto-pause: the reason dagsched paused a DAG stays until someone unpauses
 * it.
 */
CREATE FUNCTION dagsched.dag_clear_paused_reason() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT NEW.paused THEN
		NEW.paused_reason := NULL;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER dag_clear_paused_reason
	BEFORE UPDATE OF paused ON dagsched.dag
	FOR EACH ROW EXECUTE FUNCTION dagsched.dag_clear_paused_reason();

-- names longer than any DAG name are refused before they reach the index
CREATE FUNCTION dagsched.dag_links_names() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bad		text;
BEGIN
	SELECT u INTO bad FROM unnest(NEW.upstream_dags) AS u
	 WHERE u IS NULL OR octet_length(u) > @MAX_NAME_LEN@ LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'DAG "%" runs after unknown DAG "%"',
			dagsched.shorten(NEW.dag_name), coalesce(dagsched.shorten(bad), 'NULL')
			USING ERRCODE = 'foreign_key_violation',
				  DETAIL = 'DAG names are at most @MAX_NAME_LEN@ bytes long.';
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER dag_links_names
	BEFORE INSERT OR UPDATE OF upstream_dags ON dagsched.dag
	FOR EACH ROW EXECUTE FUNCTION dagsched.dag_links_names();
