/**
 * MySQL's information_schema read from SQLite's catalog. A reference to
 * information_schema.TABLES, COLUMNS, STATISTICS, KEY_COLUMN_USAGE,
 * TABLE_CONSTRAINTS, REFERENTIAL_CONSTRAINTS, SCHEMATA or VIEWS becomes a
 * subquery over sqlite_schema and pragma_table_xinfo / pragma_index_list /
 * pragma_index_xinfo / pragma_foreign_key_list with MySQL's column names and
 * values, so the client's own WHERE, JOIN and ORDER BY apply to it. Other
 * information_schema tables are refused.
 *
 * TABLE_SCHEMA is the database the client selected (what DATABASE() returns),
 * or 'main' when it selected none; ddb's own table ddb_state and SQLite's
 * sqlite_% tables are left out. Column types come from the declared type, or
 * from the `/*mysql `col` type*\/` comment CREATE TABLE left where the
 * declared type does not say it (columns.ts); `/*mysql_bin `col`*\/`
 * marks a binary collation. Not known, so NULL or empty: row counts and sizes,
 * times, AUTO_INCREMENT, comments. Foreign keys are named t_ibfk_1, t_ibfk_2 …
 * in declaration order (SQLite does not keep constraint names).
 */
import { isPunct, type Token } from '../lexer.ts'
import { nameOf, refuse, sqlName, sqlString, type TokenEdits } from './edits.ts'
import { WRITTEN_DEFAULT } from './table-info.ts'

/** SQL for a name quoted the MySQL way: `name`. */
export const quoted = (expr: string): string => `'\`' || replace(${expr}, '\`', '\`\`') || '\`'`

/** The user's tables and views in sqlite_schema AS m. */
const USER_TABLES = "m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite!_%' ESCAPE '!' AND m.name <> 'ddb_state'"

/** MySQL's name of index il of table m (SQLite names it `table.index`, see indexes.ts). */
const INDEX_NAME =
  "CASE WHEN substr(il.name, 1, length(m.name) + 1) = m.name || '.' THEN substr(il.name, length(m.name) + 2) WHEN instr(il.name, '.') > 0 THEN substr(il.name, instr(il.name, '.') + 1) ELSE il.name END"

/** Whether column c's default is a written default (table-info.ts): its sentinel is 'ddb-default:<hex>:<hex>'. */
const IS_WRITTEN = `coalesce(c.dflt_value LIKE '''${WRITTEN_DEFAULT}%''', 0)`

/** The MySQL text of column c's written default (the sentinel's second hex), else its dflt_value. */
const WRITTEN_MYSQL = (() => {
  const hexes = `substr(c.dflt_value, ${WRITTEN_DEFAULT.length + 2}, length(c.dflt_value) - ${WRITTEN_DEFAULT.length + 2})`
  return `CASE WHEN ${IS_WRITTEN} THEN CAST(unhex(substr(${hexes}, instr(${hexes}, ':') + 1)) AS TEXT) ELSE c.dflt_value END`
})()

/** Integer types' NUMERIC_PRECISION. */
const PRECISION =
  "CASE x.dt WHEN 'tinyint' THEN 3 WHEN 'smallint' THEN 5 WHEN 'mediumint' THEN 7 WHEN 'int' THEN 10 WHEN 'bigint' THEN CASE WHEN x.ct LIKE '% unsigned' THEN 20 ELSE 19 END WHEN 'decimal' THEN coalesce(x.len, 10) WHEN 'float' THEN 12 WHEN 'double' THEN 22 END"

const TEXT_TYPES = "('char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set')"

/**
 * One row per column with MySQL's COLUMNS values, plus raw ones SHOW needs:
 * _default (SQLite's default text), _generated, _pk.
 */
export function columnRows(schema: string): string {
  const key = `'/*mysql ' || ${quoted('c.name')} || ' '`
  const base = `SELECT m.name AS t, m.sql AS s, c.cid, c.name, c.type, c."notnull", ${WRITTEN_MYSQL} AS dflt_value, ${IS_WRITTEN} AS _written, c.pk, c.hidden, ${key} AS k, '/*mysql_bin ' || ${quoted('c.name')} || '*/' AS kb FROM sqlite_schema AS m, pragma_table_xinfo(m.name) AS c WHERE ${USER_TABLES} AND c.hidden <> 1`
  const marker =
    "CASE WHEN instr(b.s, b.k) > 0 THEN substr(b.s, instr(b.s, b.k) + length(b.k), instr(substr(b.s, instr(b.s, b.k) + length(b.k)), '*/') - 1) END"
  const fallback =
    "CASE upper(b.type) WHEN 'BOOLEAN' THEN 'tinyint(1)' WHEN 'BOOL' THEN 'tinyint(1)' WHEN 'INTEGER' THEN 'bigint' WHEN '' THEN 'blob' ELSE lower(b.type) END"
  const typed = `SELECT b.*, coalesce(${marker}, ${fallback}) AS ct FROM (${base}) AS b`
  const dt =
    "lower(CASE WHEN instr(y.ct, '(') > 0 THEN substr(y.ct, 1, instr(y.ct, '(') - 1) WHEN instr(y.ct, ' ') > 0 THEN substr(y.ct, 1, instr(y.ct, ' ') - 1) ELSE y.ct END)"
  const len =
    "CASE WHEN instr(y.ct, '(') > 0 AND substr(y.ct, 1, 4) NOT IN ('enum') THEN CAST(substr(y.ct, instr(y.ct, '(') + 1) AS INTEGER) END"
  const scale =
    "CASE WHEN instr(y.ct, ',') > 0 AND y.ct LIKE 'decimal%' THEN CAST(substr(y.ct, instr(y.ct, ',') + 1) AS INTEGER) END"
  const sized = `SELECT y.*, ${dt} AS dt, ${len} AS len, ${scale} AS scale FROM (${typed}) AS y`
  const autoIncrement = `x.pk = 1 AND upper(x.type) = 'INTEGER' AND x.s LIKE '%AUTOINCREMENT%' AND (SELECT count(*) FROM pragma_table_info(x.t) WHERE pk > 0) = 1`
  const unique = `EXISTS (SELECT 1 FROM pragma_index_list(x.t) AS il WHERE il."unique" AND il.origin <> 'pk' AND (SELECT count(*) FROM pragma_index_info(il.name)) = 1 AND (SELECT name FROM pragma_index_info(il.name)) = x.name)`
  const multiple =
    'EXISTS (SELECT 1 FROM pragma_index_list(x.t) AS il, pragma_index_info(il.name) AS ii WHERE ii.seqno = 0 AND ii.name = x.name)'
  const text = `x.dt IN ${TEXT_TYPES}`
  return `SELECT 'def' AS TABLE_CATALOG, ${schema} AS TABLE_SCHEMA, x.t AS TABLE_NAME, x.name AS COLUMN_NAME, x.cid + 1 AS ORDINAL_POSITION,
 CASE WHEN x._written THEN x.dflt_value WHEN x.dflt_value IS NULL OR upper(x.dflt_value) = 'NULL' OR (${autoIncrement}) THEN NULL WHEN x.dflt_value LIKE '''%''' THEN replace(substr(x.dflt_value, 2, length(x.dflt_value) - 2), '''''', '''') ELSE x.dflt_value END AS COLUMN_DEFAULT,
 CASE WHEN x."notnull" OR x.pk > 0 THEN 'NO' ELSE 'YES' END AS IS_NULLABLE, x.dt AS DATA_TYPE,
 CASE WHEN x.dt IN ('char', 'varchar', 'binary', 'varbinary') THEN x.len WHEN x.dt IN ('tinytext', 'tinyblob') THEN 255 WHEN x.dt IN ('text', 'blob') THEN 65535 WHEN x.dt IN ('mediumtext', 'mediumblob') THEN 16777215 WHEN x.dt IN ('longtext', 'longblob') THEN 4294967295 END AS CHARACTER_MAXIMUM_LENGTH,
 CASE WHEN x.dt IN ('char', 'varchar') THEN 4 * x.len WHEN x.dt IN ('binary', 'varbinary') THEN x.len WHEN x.dt IN ('tinytext', 'tinyblob') THEN 255 WHEN x.dt IN ('text', 'blob') THEN 65535 WHEN x.dt IN ('mediumtext', 'mediumblob') THEN 16777215 WHEN x.dt IN ('longtext', 'longblob') THEN 4294967295 END AS CHARACTER_OCTET_LENGTH,
 ${PRECISION} AS NUMERIC_PRECISION,
 CASE WHEN x.dt IN ('tinyint', 'smallint', 'mediumint', 'int', 'bigint') THEN 0 WHEN x.dt = 'decimal' THEN coalesce(x.scale, 0) END AS NUMERIC_SCALE,
 CASE WHEN x.dt IN ('datetime', 'timestamp', 'time') THEN coalesce(x.len, 0) END AS DATETIME_PRECISION,
 CASE WHEN ${text} THEN 'utf8mb4' END AS CHARACTER_SET_NAME,
 CASE WHEN ${text} THEN CASE WHEN instr(x.s, x.kb) > 0 THEN 'utf8mb4_bin' ELSE 'utf8mb4_general_ci' END END AS COLLATION_NAME,
 x.ct AS COLUMN_TYPE,
 CASE WHEN x.pk > 0 THEN 'PRI' WHEN ${unique} THEN 'UNI' WHEN ${multiple} THEN 'MUL' ELSE '' END AS COLUMN_KEY,
 CASE WHEN ${autoIncrement} THEN 'auto_increment' WHEN x.hidden = 2 THEN 'VIRTUAL GENERATED' WHEN x.hidden = 3 THEN 'STORED GENERATED' WHEN x._written THEN 'DEFAULT_GENERATED' ELSE '' END AS EXTRA,
 'select,insert,update,references' AS PRIVILEGES, '' AS COLUMN_COMMENT, '' AS GENERATION_EXPRESSION, NULL AS SRS_ID,
 CASE WHEN ${autoIncrement} THEN NULL ELSE x.dflt_value END AS _default, x._written AS _written, x.pk AS _pk
 FROM (${sized}) AS x`
}

/** The MySQL columns of information_schema.COLUMNS. */
const COLUMNS_COLUMNS =
  'TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_TYPE, COLUMN_KEY, EXTRA, PRIVILEGES, COLUMN_COMMENT, GENERATION_EXPRESSION, SRS_ID'

/** The MySQL columns of information_schema.STATISTICS. */
const STATISTICS_COLUMNS =
  'TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, NON_UNIQUE, INDEX_SCHEMA, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, COLLATION, CARDINALITY, SUB_PART, PACKED, NULLABLE, INDEX_TYPE, COMMENT, INDEX_COMMENT, IS_VISIBLE, EXPRESSION'

/** information_schema.TABLES. */
export function tablesQuery(schema: string): string {
  const table = (yes: string, view = 'NULL'): string => `CASE m.type WHEN 'view' THEN ${view} ELSE ${yes} END`
  return `SELECT 'def' AS TABLE_CATALOG, ${schema} AS TABLE_SCHEMA, m.name AS TABLE_NAME, ${table("'BASE TABLE'", "'VIEW'")} AS TABLE_TYPE, ${table("'InnoDB'")} AS ENGINE, ${table('10')} AS VERSION, ${table("'Dynamic'")} AS ROW_FORMAT, NULL AS TABLE_ROWS, NULL AS AVG_ROW_LENGTH, NULL AS DATA_LENGTH, NULL AS MAX_DATA_LENGTH, NULL AS INDEX_LENGTH, NULL AS DATA_FREE, NULL AS AUTO_INCREMENT, NULL AS CREATE_TIME, NULL AS UPDATE_TIME, NULL AS CHECK_TIME, ${table("'utf8mb4_general_ci'")} AS TABLE_COLLATION, NULL AS CHECKSUM, '' AS CREATE_OPTIONS, ${table("''", "'VIEW'")} AS TABLE_COMMENT FROM sqlite_schema AS m WHERE ${USER_TABLES}`
}

/** One row per indexed column (information_schema.STATISTICS), the primary key as PRIMARY; _order sorts indexes in creation order. */
export function statisticsQuery(schema: string): string {
  const tail = 'NULL AS CARDINALITY, NULL AS SUB_PART, NULL AS PACKED'
  const primary = `SELECT 'def' AS TABLE_CATALOG, ${schema} AS TABLE_SCHEMA, m.name AS TABLE_NAME, 0 AS NON_UNIQUE, ${schema} AS INDEX_SCHEMA, 'PRIMARY' AS INDEX_NAME, c.pk AS SEQ_IN_INDEX, c.name AS COLUMN_NAME, 'A' AS COLLATION, ${tail}, '' AS NULLABLE, 'BTREE' AS INDEX_TYPE, '' AS COMMENT, '' AS INDEX_COMMENT, 'YES' AS IS_VISIBLE, NULL AS EXPRESSION, 0 AS _order FROM sqlite_schema AS m, pragma_table_info(m.name) AS c WHERE m.type = 'table' AND ${USER_TABLES} AND c.pk > 0`
  const nullable = `coalesce((SELECT CASE WHEN tc."notnull" OR tc.pk > 0 THEN '' ELSE 'YES' END FROM pragma_table_info(m.name) AS tc WHERE tc.cid = ii.cid), 'YES')`
  const others = `SELECT 'def', ${schema}, m.name, 1 - il."unique", ${schema}, ${INDEX_NAME}, ii.seqno + 1, ii.name, CASE WHEN ii."desc" THEN 'D' ELSE 'A' END, ${tail}, ${nullable}, 'BTREE', '', '', 'YES', NULL, 1000 - il.seq FROM sqlite_schema AS m, pragma_index_list(m.name) AS il, pragma_index_xinfo(il.name) AS ii WHERE m.type = 'table' AND ${USER_TABLES} AND il.origin <> 'pk' AND ii.key = 1`
  return `${primary} UNION ALL ${others}`
}

/** Foreign keys of table m as rows, with MySQL's constraint name and the referenced column. */
export const FOREIGN_KEYS = `SELECT m.name AS t, m.name || '_ibfk_' || ((SELECT max(id) FROM pragma_foreign_key_list(m.name)) - fk.id + 1) AS name, fk.seq, fk."from" AS col, fk."table" AS ref, coalesce(fk."to", (SELECT name FROM pragma_table_info(fk."table") WHERE pk = fk.seq + 1)) AS refcol, fk.on_update, fk.on_delete FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS fk WHERE m.type = 'table' AND ${USER_TABLES}`

/** information_schema.KEY_COLUMN_USAGE: primary and unique keys' columns, and foreign keys' with what they reference. */
export function keyColumnUsageQuery(schema: string): string {
  const head = `SELECT 'def' AS CONSTRAINT_CATALOG, ${schema} AS CONSTRAINT_SCHEMA`
  const keys = `${head}, s.INDEX_NAME AS CONSTRAINT_NAME, 'def' AS TABLE_CATALOG, ${schema} AS TABLE_SCHEMA, s.TABLE_NAME, s.COLUMN_NAME, s.SEQ_IN_INDEX AS ORDINAL_POSITION, NULL AS POSITION_IN_UNIQUE_CONSTRAINT, NULL AS REFERENCED_TABLE_SCHEMA, NULL AS REFERENCED_TABLE_NAME, NULL AS REFERENCED_COLUMN_NAME FROM (${statisticsQuery(schema)}) AS s WHERE s.NON_UNIQUE = 0 AND s.COLUMN_NAME IS NOT NULL`
  const foreign = `${head}, f.name, 'def', ${schema}, f.t, f.col, f.seq + 1, f.seq + 1, ${schema}, f.ref, f.refcol FROM (${FOREIGN_KEYS}) AS f`
  return `${keys} UNION ALL ${foreign}`
}

/** information_schema.TABLE_CONSTRAINTS. */
function tableConstraintsQuery(schema: string): string {
  return `SELECT DISTINCT 'def' AS CONSTRAINT_CATALOG, ${schema} AS CONSTRAINT_SCHEMA, k.CONSTRAINT_NAME, ${schema} AS TABLE_SCHEMA, k.TABLE_NAME, CASE WHEN k.REFERENCED_TABLE_NAME IS NOT NULL THEN 'FOREIGN KEY' WHEN k.CONSTRAINT_NAME = 'PRIMARY' THEN 'PRIMARY KEY' ELSE 'UNIQUE' END AS CONSTRAINT_TYPE, 'YES' AS ENFORCED FROM (${keyColumnUsageQuery(schema)}) AS k`
}

/** information_schema.REFERENTIAL_CONSTRAINTS. */
function referentialConstraintsQuery(schema: string): string {
  return `SELECT DISTINCT 'def' AS CONSTRAINT_CATALOG, ${schema} AS CONSTRAINT_SCHEMA, f.name AS CONSTRAINT_NAME, 'def' AS UNIQUE_CONSTRAINT_CATALOG, ${schema} AS UNIQUE_CONSTRAINT_SCHEMA, 'PRIMARY' AS UNIQUE_CONSTRAINT_NAME, 'NONE' AS MATCH_OPTION, f.on_update AS UPDATE_RULE, f.on_delete AS DELETE_RULE, f.t AS TABLE_NAME, f.ref AS REFERENCED_TABLE_NAME FROM (${FOREIGN_KEYS}) AS f`
}

/** information_schema.PARTITIONS: one row per table, none of them partitioned. */
function partitionsQuery(schema: string): string {
  const nulls = (names: string): string =>
    names
      .split(' ')
      .map((n) => `NULL AS ${n}`)
      .join(', ')
  return `SELECT 'def' AS TABLE_CATALOG, ${schema} AS TABLE_SCHEMA, m.name AS TABLE_NAME, ${nulls('PARTITION_NAME SUBPARTITION_NAME PARTITION_ORDINAL_POSITION SUBPARTITION_ORDINAL_POSITION PARTITION_METHOD SUBPARTITION_METHOD PARTITION_EXPRESSION SUBPARTITION_EXPRESSION PARTITION_DESCRIPTION TABLE_ROWS AVG_ROW_LENGTH DATA_LENGTH MAX_DATA_LENGTH INDEX_LENGTH DATA_FREE CREATE_TIME UPDATE_TIME CHECK_TIME CHECKSUM')}, '' AS PARTITION_COMMENT, '' AS NODEGROUP, NULL AS TABLESPACE_NAME FROM sqlite_schema AS m WHERE m.type = 'table' AND ${USER_TABLES}`
}

/** The columns of information_schema.FILES, which has no rows: a SQLite store has no tablespaces or log files (as MariaDB's FILES). */
const FILES_COLUMNS =
  'FILE_ID FILE_NAME FILE_TYPE TABLESPACE_NAME TABLE_CATALOG TABLE_SCHEMA TABLE_NAME LOGFILE_GROUP_NAME LOGFILE_GROUP_NUMBER ENGINE FULLTEXT_KEYS DELETED_ROWS UPDATE_COUNT FREE_EXTENTS TOTAL_EXTENTS EXTENT_SIZE INITIAL_SIZE MAXIMUM_SIZE AUTOEXTEND_SIZE CREATION_TIME LAST_UPDATE_TIME LAST_ACCESS_TIME RECOVER_TIME TRANSACTION_COUNTER VERSION ROW_FORMAT TABLE_ROWS AVG_ROW_LENGTH DATA_LENGTH MAX_DATA_LENGTH INDEX_LENGTH DATA_FREE CREATE_TIME UPDATE_TIME CHECK_TIME CHECKSUM STATUS EXTRA'

/** The columns of information_schema.ROUTINES, which has no rows: SQLite has no stored procedures or functions. */
const ROUTINES_COLUMNS =
  'SPECIFIC_NAME ROUTINE_CATALOG ROUTINE_SCHEMA ROUTINE_NAME ROUTINE_TYPE DATA_TYPE CHARACTER_MAXIMUM_LENGTH CHARACTER_OCTET_LENGTH NUMERIC_PRECISION NUMERIC_SCALE DATETIME_PRECISION CHARACTER_SET_NAME COLLATION_NAME DTD_IDENTIFIER ROUTINE_BODY ROUTINE_DEFINITION EXTERNAL_NAME EXTERNAL_LANGUAGE PARAMETER_STYLE IS_DETERMINISTIC SQL_DATA_ACCESS SQL_PATH SECURITY_TYPE CREATED LAST_ALTERED SQL_MODE ROUTINE_COMMENT DEFINER CHARACTER_SET_CLIENT COLLATION_CONNECTION DATABASE_COLLATION'

/** A table with these columns (space-separated) and no rows. */
function noRows(columns: string): string {
  return `SELECT ${columns
    .split(' ')
    .map((c) => `NULL AS ${c}`)
    .join(', ')} WHERE 0`
}

/**
 * The parts of trigger m: its MySQL body and sql_mode from the comment
 * triggers.ts writes (`/*mysql_trigger <hex> <sql_mode>*\/`), else
 * SQLite's own body; its time and event from its head (the text before ON).
 */
export function triggerRows(schema: string): string {
  const marker = "'/*mysql_trigger '"
  const rest = `substr(m.sql, instr(m.sql, ${marker}) + length(${marker}))`
  const inside = `substr(${rest}, 1, instr(${rest}, '*/') - 1)`
  const head =
    "' ' || upper(replace(replace(replace(substr(m.sql, 1, instr(upper(m.sql), ' ON ')), char(10), ' '), char(13), ' '), char(9), ' '))"
  const body = `CASE WHEN instr(m.sql, ${marker}) > 0 THEN CAST(unhex(substr(${inside}, 1, instr(${inside}, ' ') - 1)) AS TEXT) ELSE substr(m.sql, instr(upper(m.sql), 'BEGIN')) END`
  const mode = `CASE WHEN instr(m.sql, ${marker}) > 0 THEN substr(${inside}, instr(${inside}, ' ') + 1) ELSE '' END`
  const timing = `CASE WHEN h.head LIKE '% AFTER %' THEN 'AFTER' WHEN h.head LIKE '% INSTEAD OF %' THEN 'INSTEAD OF' ELSE 'BEFORE' END`
  const event = `CASE WHEN h.head LIKE '% INSERT %' THEN 'INSERT' WHEN h.head LIKE '% UPDATE %' OR h.head LIKE '% UPDATE' THEN 'UPDATE' ELSE 'DELETE' END`
  return `SELECT 'def' AS TRIGGER_CATALOG, ${schema} AS TRIGGER_SCHEMA, h.name AS TRIGGER_NAME, ${event} AS EVENT_MANIPULATION, 'def' AS EVENT_OBJECT_CATALOG, ${schema} AS EVENT_OBJECT_SCHEMA, h.tbl_name AS EVENT_OBJECT_TABLE, 1 AS ACTION_ORDER, NULL AS ACTION_CONDITION, h.body AS ACTION_STATEMENT, 'ROW' AS ACTION_ORIENTATION, ${timing} AS ACTION_TIMING, NULL AS ACTION_REFERENCE_OLD_TABLE, NULL AS ACTION_REFERENCE_NEW_TABLE, 'OLD' AS ACTION_REFERENCE_OLD_ROW, 'NEW' AS ACTION_REFERENCE_NEW_ROW, NULL AS CREATED, h.mode AS SQL_MODE, '' AS DEFINER, 'utf8mb4' AS CHARACTER_SET_CLIENT, 'utf8mb4_general_ci' AS COLLATION_CONNECTION, 'utf8mb4_general_ci' AS DATABASE_COLLATION FROM (SELECT m.name, m.tbl_name, m.rowid AS seq, ${head} AS head, ${body} AS body, ${mode} AS mode FROM sqlite_schema AS m WHERE m.type = 'trigger') AS h`
}

/** The information_schema tables there are, by uppercased name. */
const VIEWS: Record<string, (schema: string) => string> = {
  TABLES: tablesQuery,
  COLUMNS: (schema) => `SELECT ${COLUMNS_COLUMNS} FROM (${columnRows(schema)})`,
  STATISTICS: (schema) => `SELECT ${STATISTICS_COLUMNS} FROM (${statisticsQuery(schema)})`,
  KEY_COLUMN_USAGE: keyColumnUsageQuery,
  TABLE_CONSTRAINTS: tableConstraintsQuery,
  REFERENTIAL_CONSTRAINTS: referentialConstraintsQuery,
  SCHEMATA: (schema) =>
    `SELECT 'def' AS CATALOG_NAME, ${schema} AS SCHEMA_NAME, 'utf8mb4' AS DEFAULT_CHARACTER_SET_NAME, 'utf8mb4_general_ci' AS DEFAULT_COLLATION_NAME, NULL AS SQL_PATH, 'NO' AS DEFAULT_ENCRYPTION`,
  TRIGGERS: triggerRows,
  PARTITIONS: partitionsQuery,
  FILES: () => noRows(FILES_COLUMNS),
  ROUTINES: () => noRows(ROUTINES_COLUMNS),
  VIEWS: (schema) =>
    `SELECT TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, IS_UPDATABLE, DEFINER, SECURITY_TYPE, CHARACTER_SET_CLIENT, COLLATION_CONNECTION FROM (${viewRows(schema)})`,
}

/**
 * information_schema.VIEWS, plus _create (MySQL's CREATE VIEW): MySQL's text from
 * the comment ddl.ts writes (`/*mysql_view <hex of the column list> <hex
 * of the query>*\/`), else SQLite's own. A SQLite view is read-only and runs with
 * the reader's rights (ddb has one user): IS_UPDATABLE NO, SECURITY_TYPE INVOKER.
 */
export function viewRows(schema: string): string {
  const marker = "'/*mysql_view '"
  const rest = `substr(m.sql, instr(m.sql, ${marker}) + length(${marker}))`
  const inside = `substr(${rest}, 1, instr(${rest}, '*/') - 1)`
  const has = `instr(m.sql, ${marker}) > 0`
  const columns = `CAST(unhex(substr(${inside}, 1, instr(${inside}, ' ') - 1)) AS TEXT)`
  const query = `CAST(unhex(substr(${inside}, instr(${inside}, ' ') + 1)) AS TEXT)`
  const own = "ltrim(substr(m.sql, instr(upper(replace(replace(m.sql, char(10), ' '), char(9), ' ')), ' AS ') + 4))"
  const definition = `CASE WHEN ${has} THEN ${query} ELSE ${own} END`
  const create = `'CREATE VIEW ' || ${quoted('m.name')} || ' ' || CASE WHEN ${has} AND ${columns} <> '' THEN ${columns} || ' ' ELSE '' END || 'AS ' || ${definition}`
  return `SELECT 'def' AS TABLE_CATALOG, ${schema} AS TABLE_SCHEMA, m.name AS TABLE_NAME, ${definition} AS VIEW_DEFINITION, 'NONE' AS CHECK_OPTION, 'NO' AS IS_UPDATABLE, '' AS DEFINER, 'INVOKER' AS SECURITY_TYPE, 'utf8mb4' AS CHARACTER_SET_CLIENT, 'utf8mb4_general_ci' AS COLLATION_CONNECTION, ${create} AS _create FROM sqlite_schema AS m WHERE m.type = 'view' AND ${USER_TABLES}`
}

/** The schema name information_schema reports: the selected database, or 'main'. */
export function schemaLiteral(database: string | null): string {
  return sqlString(database ?? 'main')
}

/** Words after a table reference that are not its alias. */
const NOT_ALIAS = new Set(
  'WHERE JOIN LEFT RIGHT INNER CROSS NATURAL FULL OUTER STRAIGHT_JOIN ON USING GROUP ORDER LIMIT UNION EXCEPT INTERSECT HAVING WINDOW FOR LOCK INTO'.split(
    ' ',
  ),
)

/** Replaces each information_schema.X in the statement with its subquery. */
export function translateCatalog(edits: TokenEdits, database: string | null): void {
  const { tokens } = edits
  for (let i = 0; i + 2 < tokens.length; i++) {
    if (nameOf(tokens[i])?.toLowerCase() !== 'information_schema' || !isPunct(tokens[i + 1], '.')) continue
    const table = nameOf(tokens[i + 2])
    if (table === undefined) continue
    const view = VIEWS[table.toUpperCase()]
    if (!view) throw refuse(`information_schema.${table}`, `a SQLite store has only ${Object.keys(VIEWS).join(', ')}`)
    const alias = hasAlias(tokens[i + 3]) ? '' : ` AS ${sqlName(table)}`
    edits.replaceRange(i, i + 3, `(${view(schemaLiteral(database))})${alias}`)
    i += 2
  }
}

/** Whether the token after a table reference starts its alias. */
function hasAlias(t: Token | undefined): boolean {
  if (t?.type === 'identifier') return true
  return t?.type === 'word' && (t.value === 'AS' || !NOT_ALIAS.has(t.value))
}
