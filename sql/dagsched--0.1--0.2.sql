/* sql/dagsched--0.1--0.2.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION dagsched UPDATE TO '0.2'" to load this file. \quit

-- Every catalog change of 0.2 appears here as well as in sql/parts, so that
-- ALTER EXTENSION dagsched UPDATE on a 0.1 catalog gives exactly the catalog
-- CREATE EXTENSION dagsched gives (t/090_upgrade.pl compares the two).
-- Append each change in the order it is made in sql/parts.
