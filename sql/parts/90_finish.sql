/*
 * Last: tell the scheduler, waiting for the extension, to start.
 */
CREATE FUNCTION dagsched.extension_created() RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'dagsched_extension_created';
SELECT dagsched.extension_created();
DROP FUNCTION dagsched.extension_created();
