/*
 * History retention (the scheduler calls purge_history every minute)
 */
CREATE FUNCTION dagsched.purge_history(older_than interval DEFAULT NULL,
									   batch_size integer DEFAULT 1000,
									   max_batches integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cutoff		timestamptz;
	removed		bigint := 0;
	n			integer;
	batches		integer := 0;
BEGIN
	IF batch_size IS NULL OR batch_size < 1 THEN
		RAISE EXCEPTION 'batch_size must be at least 1, not %', batch_size
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	cutoff := pg_catalog.now() - coalesce(older_than,
		(SELECT s.setting::integer * interval '1 second'
		   FROM pg_catalog.pg_settings s
		  WHERE s.name = 'dagsched.history_retention'),
		interval '30 days');
	LOOP
		-- finished runs only: a run in flight is never touched
		DELETE FROM dagsched.dag_run
		 WHERE run_id IN (SELECT r.run_id FROM dagsched.dag_run r
						   WHERE r.state IN ('success', 'failed', 'cancelled')
							 AND r.finished_at < cutoff
						   ORDER BY r.finished_at
						   LIMIT batch_size
						   FOR UPDATE SKIP LOCKED);
		GET DIAGNOSTICS n = ROW_COUNT;
		removed := removed + n;
		batches := batches + 1;
		EXIT WHEN n < batch_size OR batches >= coalesce(max_batches, batches + 1);
	END LOOP;
	RETURN removed;
END
$$;

COMMENT ON FUNCTION dagsched.purge_history(interval, integer, integer) IS
'delete finished runs (with their task runs and attempts) that finished longer ago than older_than (default: dagsched.history_retention), batch_size runs per statement; returns how many runs were removed';
