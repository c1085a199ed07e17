/*
 * t/catalog_snapshot.sql -- everything the dagsched extension puts into a
 * database, as sorted text lines "section | object | detail".
 *
 * t/090_upgrade.pl runs it in a database where 0.1 was updated with
 * ALTER EXTENSION dagsched UPDATE and in one with a fresh CREATE EXTENSION,
 * and requires the two outputs to be identical.  Run it by hand to compare
 * any two catalogs:
 *
 *   psql -XAt -d db1 -f t/catalog_snapshot.sql > a.txt
 *   psql -XAt -d db2 -f t/catalog_snapshot.sql > b.txt
 *   diff a.txt b.txt
 *
 * No OID, no attnum, no row data: only what a user's catalog would differ in.
 * The server in this environment stamps every new column with an attribute
 * option pg_attver=<number> that differs between any two creations of the
 * same column; it is left out (every other column option is kept).
 * Columns are listed by their position among the live columns (a column
 * dropped and added again moves to the end, and shows as moved).
 */
WITH ext AS (
	SELECT oid, extname, extnamespace, extrelocatable, extversion,
		   extconfig, extcondition
	FROM pg_catalog.pg_extension WHERE extname = 'dagsched'
),
member AS (
	SELECT d.classid, d.objid, d.objsubid
	FROM pg_catalog.pg_depend d, ext
	WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
	  AND d.refobjid = ext.oid AND d.deptype = 'e'
),
rel AS (
	SELECT c.oid::pg_catalog.regclass::text AS name, c.*
	FROM pg_catalog.pg_class c
	WHERE c.oid IN (SELECT objid FROM member
					WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass)
	   OR c.oid IN (SELECT i.indexrelid FROM pg_catalog.pg_index i
					WHERE i.indrelid IN (SELECT objid FROM member
										 WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass))
),
func AS (
	SELECT p.oid::pg_catalog.regprocedure::text AS name, p.*
	FROM pg_catalog.pg_proc p
	WHERE p.oid IN (SELECT objid FROM member
					WHERE classid = 'pg_catalog.pg_proc'::pg_catalog.regclass)
),
lines(section, object, detail) AS (
	-- the extension itself
	SELECT 'extension', extname::text,
		   pg_catalog.format('version=%s relocatable=%s schema=%s',
							 extversion, extrelocatable,
							 extnamespace::pg_catalog.regnamespace)
	FROM ext
	-- every member object
	UNION ALL
	SELECT 'member', pg_catalog.pg_describe_object(classid, objid, objsubid), ''
	FROM member
	-- tables dumped with the data (pg_extension_config_dump) and their filter
	UNION ALL
	SELECT 'config_dump', c.cfg::pg_catalog.regclass::text,
		   coalesce(ext.extcondition[c.n], '<no condition>')
	FROM ext, unnest(ext.extconfig) WITH ORDINALITY AS c(cfg, n)
	-- relations: kind, options, row security, owner, privileges
	UNION ALL
	SELECT 'relation', name,
		   pg_catalog.format('kind=%s am=%s persistence=%s options=%s rls=%s '
							 'force_rls=%s replident=%s owner=%s acl=%s',
							 relkind, (SELECT am.amname FROM pg_catalog.pg_am am WHERE am.oid = relam),
							 relpersistence,
							 reloptions, relrowsecurity,
							 relforcerowsecurity, relreplident,
							 relowner::pg_catalog.regrole, relacl)
	FROM rel
	-- columns, in order, with type, collation, default, not null, identity
	UNION ALL
	SELECT 'column', r.name || '.' ||
		   pg_catalog.lpad((pg_catalog.row_number() OVER (PARTITION BY a.attrelid
														  ORDER BY a.attnum))::text,
						   3, '0'),
		   pg_catalog.format('%I %s collation=%s not_null=%s default=%s identity=%s '
							 'generated=%s storage=%s compression=%s acl=%s options=%s',
							 a.attname,
							 pg_catalog.format_type(a.atttypid, a.atttypmod),
							 CASE WHEN a.attcollation <> 0
								  THEN a.attcollation::pg_catalog.regcollation::text END,
							 a.attnotnull,
							 pg_catalog.pg_get_expr(ad.adbin, ad.adrelid),
							 a.attidentity, a.attgenerated, a.attstorage,
							 a.attcompression, a.attacl,
							 ARRAY(SELECT o FROM unnest(a.attoptions) o
								   WHERE o NOT LIKE 'pg\_attver=%' ORDER BY 1))
	FROM rel r
	JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid
	LEFT JOIN pg_catalog.pg_attrdef ad
		   ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	WHERE a.attnum > 0 AND NOT a.attisdropped
	-- sequences (identity columns and others)
	UNION ALL
	SELECT 'sequence', r.name,
		   pg_catalog.format('type=%s start=%s inc=%s min=%s max=%s cache=%s cycle=%s',
							 s.seqtypid::pg_catalog.regtype, s.seqstart,
							 s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
							 s.seqcycle)
	FROM rel r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
	-- views
	UNION ALL
	SELECT 'view', name, pg_catalog.pg_get_viewdef(oid)
	FROM rel WHERE relkind IN ('v', 'm')
	-- indexes, including those of constraints
	UNION ALL
	SELECT 'index', r.name, pg_catalog.pg_get_indexdef(r.oid)
	FROM rel r WHERE r.relkind IN ('i', 'I')
	-- constraints of tables and domains
	UNION ALL
	SELECT 'constraint',
		   coalesce(co.conrelid::pg_catalog.regclass::text,
					co.contypid::pg_catalog.regtype::text) || ' ' || co.conname,
		   pg_catalog.pg_get_constraintdef(co.oid)
	FROM pg_catalog.pg_constraint co
	WHERE co.conrelid IN (SELECT oid FROM rel)
	   OR co.contypid IN (SELECT objid FROM member
						  WHERE classid = 'pg_catalog.pg_type'::pg_catalog.regclass)
	-- row-level security policies
	UNION ALL
	SELECT 'policy', pol.polrelid::pg_catalog.regclass::text || ' ' || pol.polname,
		   pg_catalog.format('permissive=%s cmd=%s roles=%s using=%s check=%s',
							 pol.polpermissive, pol.polcmd,
							 ARRAY(SELECT CASE WHEN r = 0 THEN 'public'
											   ELSE r::pg_catalog.regrole::text END
								   FROM unnest(pol.polroles) r ORDER BY 1),
							 pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
							 pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid))
	FROM pg_catalog.pg_policy pol
	WHERE pol.polrelid IN (SELECT oid FROM rel)
	-- triggers (those of foreign keys are internal, named by OID, and come
	-- with their constraint)
	UNION ALL
	SELECT 'trigger', t.tgrelid::pg_catalog.regclass::text || ' ' || t.tgname,
		   pg_catalog.pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
	FROM pg_catalog.pg_trigger t
	WHERE t.tgrelid IN (SELECT oid FROM rel) AND NOT t.tgisinternal
	-- rules other than the views' own
	UNION ALL
	SELECT 'rule', ru.ev_class::pg_catalog.regclass::text || ' ' || ru.rulename,
		   pg_catalog.pg_get_ruledef(ru.oid)
	FROM pg_catalog.pg_rewrite ru
	WHERE ru.ev_class IN (SELECT oid FROM rel) AND ru.rulename <> '_RETURN'
	-- functions and procedures: full definition, owner, privileges
	UNION ALL
	SELECT 'function', name,
		   CASE WHEN prokind IN ('f', 'p', 'w')
				THEN pg_catalog.pg_get_functiondef(oid)
				ELSE 'kind=' || prokind::text END ||
		   pg_catalog.format(' owner=%s acl=%s', proowner::pg_catalog.regrole,
							 proacl)
	FROM func
	-- types that are members (enums with their labels, domains)
	UNION ALL
	SELECT 'type', ty.oid::pg_catalog.regtype::text,
		   pg_catalog.format('kind=%s base=%s not_null=%s default=%s labels=%s acl=%s',
							 ty.typtype,
							 CASE WHEN ty.typbasetype <> 0
								  THEN ty.typbasetype::pg_catalog.regtype::text END,
							 ty.typnotnull, ty.typdefault,
							 ARRAY(SELECT e.enumlabel FROM pg_catalog.pg_enum e
								   WHERE e.enumtypid = ty.oid ORDER BY e.enumsortorder),
							 ty.typacl)
	FROM pg_catalog.pg_type ty
	WHERE ty.oid IN (SELECT objid FROM member
					 WHERE classid = 'pg_catalog.pg_type'::pg_catalog.regclass)
	-- schemas that are members, and the extension's schema
	UNION ALL
	SELECT 'schema', n.nspname::text,
		   pg_catalog.format('owner=%s acl=%s', n.nspowner::pg_catalog.regrole,
							 n.nspacl)
	FROM pg_catalog.pg_namespace n, ext
	WHERE n.oid = ext.extnamespace
	   OR n.oid IN (SELECT objid FROM member
					WHERE classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass)
	-- comments on members and on their columns
	UNION ALL
	SELECT 'comment', pg_catalog.pg_describe_object(de.classoid, de.objoid, de.objsubid),
		   de.description
	FROM pg_catalog.pg_description de
	WHERE (de.classoid, de.objoid) IN (SELECT classid, objid FROM member)
	   OR (de.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
		   AND de.objoid IN (SELECT oid FROM rel))
	   OR (de.classoid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
		   AND de.objoid IN (SELECT co.oid FROM pg_catalog.pg_constraint co
							 WHERE co.conrelid IN (SELECT oid FROM rel)))
	   OR (de.classoid = 'pg_catalog.pg_trigger'::pg_catalog.regclass
		   AND de.objoid IN (SELECT t.oid FROM pg_catalog.pg_trigger t
							 WHERE t.tgrelid IN (SELECT oid FROM rel)))
	   OR (de.classoid = 'pg_catalog.pg_policy'::pg_catalog.regclass
		   AND de.objoid IN (SELECT pol.oid FROM pg_catalog.pg_policy pol
							 WHERE pol.polrelid IN (SELECT oid FROM rel)))
	-- the privileges the extension script granted (pg_dump restores these)
	UNION ALL
	SELECT 'init_privs', pg_catalog.pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
		   pg_catalog.format('%s %s', ip.privtype, ip.initprivs)
	FROM pg_catalog.pg_init_privs ip
	WHERE (ip.classoid, ip.objoid) IN (SELECT classid, objid FROM member)
	   OR (ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
		   AND ip.objoid IN (SELECT oid FROM rel))
	   OR ip.objoid = (SELECT extnamespace FROM ext)
)
-- one line per item: newlines in definitions are written as \n
SELECT pg_catalog.replace(section || ' | ' || object || ' | ' ||
						  coalesce(detail, '<null>'), E'\n', '\n')
FROM lines
ORDER BY section, object, detail;
