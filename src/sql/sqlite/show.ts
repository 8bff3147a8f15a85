/**
 * MySQL's SHOW statements (and DESCRIBE) as SELECTs over the catalog views of
 * catalog.ts, with MySQL's column names:
 *
 * - SHOW [FULL] TABLES [FROM db] [LIKE … | WHERE …] → Tables_in_<db> [, Table_type]
 * - SHOW DATABASES / SCHEMAS → the selected database (or main)
 * - SHOW [FULL] COLUMNS|FIELDS FROM t [LIKE … | WHERE …], DESCRIBE t [col]
 *   → Field, Type, [Collation,] Null, Key, Default, Extra [, Privileges, Comment]
 * - SHOW INDEX|INDEXES|KEYS FROM t [WHERE …] → Table, Non_unique, Key_name, …
 * - SHOW CREATE TABLE t → MySQL-looking DDL rebuilt from the catalog: columns
 *   with their MySQL types, NOT NULL, DEFAULT, AUTO_INCREMENT, the primary key,
 *   unique and other keys, foreign keys (CHECK constraints are not shown)
 * - SHOW TABLE STATUS, SHOW CREATE DATABASE
 *
 * A table that does not exist fails with SQLite's "no such table", as MySQL fails.
 * Other SHOW statements are refused.
 */
import { DdbError } from '../../errors.ts'
import { isWord, type Token } from '../lexer.ts'
import {
  columnRows,
  FOREIGN_KEYS,
  quoted,
  schemaLiteral,
  statisticsQuery,
  tablesQuery,
  triggerRows,
  viewRows,
} from './catalog.ts'
import { nameOf, readTableName, refuse, sqlName, sqlString, type TokenEdits } from './edits.ts'
import { LIKE_ESCAPE } from './literals.ts'
import type { TableInfo } from './table-info.ts'

/** Translates SHOW/DESCRIBE; `edits` holds the literal rewrites, for LIKE patterns and WHERE clauses. */
export function translateShow(
  edits: TokenEdits,
  database: string | null,
  table?: (name: string) => TableInfo | undefined,
): string {
  const { tokens } = edits
  const words = tokens.map((t) => (t.type === 'word' ? t.value : ''))
  let k = 1
  if (words[0] !== 'SHOW') return columns(edits, 1, false, database) // DESCRIBE, DESC, EXPLAIN t
  const full = words[k] === 'FULL'
  if (full) k++
  switch (words[k]) {
    case 'TABLES':
      return tables(edits, k + 1, full, database)
    case 'DATABASES':
    case 'SCHEMAS':
      return filtered(
        edits,
        k + 1,
        `SELECT SCHEMA_NAME AS "Database" FROM (SELECT ${schemaLiteral(database)} AS SCHEMA_NAME)`,
        '"Database"',
      )
    case 'COLUMNS':
    case 'FIELDS':
      return columns(edits, k + 2, full, database)
    case 'INDEX':
    case 'INDEXES':
    case 'KEYS':
      return indexes(edits, k + 2, database)
    case 'TABLE':
      if (words[k + 1] === 'STATUS') return tableStatus(edits, k + 2, database)
      break
    case 'TRIGGERS':
      return triggers(edits, k + 1, database)
    case 'CREATE':
      if (words[k + 1] === 'TABLE' || words[k + 1] === 'VIEW')
        return createTable(tokens, k + 2, words[k + 1] === 'VIEW', table)
      if (words[k + 1] === 'TRIGGER') return createTrigger(tokens, k + 2, database)
      if (words[k + 1] === 'DATABASE' || words[k + 1] === 'SCHEMA') {
        const name = nameOf(tokens[k + 2]) ?? database ?? 'main'
        const ddl = `CREATE DATABASE ${sqlName(name)} /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */`
        return `SELECT ${sqlString(name)} AS "Database", ${sqlString(ddl)} AS "Create Database"`
      }
  }
  throw refuse(edits.source(0, k + 1), 'a SQLite store has no such information')
}

/** `select` narrowed by the LIKE 'pattern' or WHERE expr at tokens[k] (on column `column` for LIKE). */
function filtered(edits: TokenEdits, k: number, select: string, column: string, order = ''): string {
  const { tokens } = edits
  // The pattern already carries LIKE_ESCAPE (literals.ts).
  if (isWord(tokens[k], 'LIKE'))
    return `SELECT * FROM (${select}) WHERE ${column} LIKE ${edits.text(k + 1, k + 2)}${order}`
  if (isWord(tokens[k], 'WHERE')) return `SELECT * FROM (${select}) WHERE ${edits.text(k + 1, end(tokens))}${order}`
  return `${select}${order}`
}

/** The index just past the last token, before a closing `;`. */
function end(tokens: Token[]): number {
  return tokens.at(-1)?.text === ';' ? tokens.length - 1 : tokens.length
}

/** Skips FROM|IN db at tokens[k]; returns where the rest begins and the database named, if any. */
function fromDatabase(tokens: Token[], k: number): { k: number; db?: string } {
  if (!isWord(tokens[k], 'FROM') && !isWord(tokens[k], 'IN')) return { k }
  return { k: k + 2, db: nameOf(tokens[k + 1]) }
}

/** A condition that makes the query fail with "no such table" when `table` does not exist, as MySQL's SHOW would. */
function mustExist(table: string): string {
  return `NOT EXISTS (SELECT 1 FROM ${sqlName(table)} WHERE 0)`
}

function tables(edits: TokenEdits, from: number, full: boolean, database: string | null): string {
  const { k, db } = fromDatabase(edits.tokens, from)
  const name = db ?? database
  if (name === null) throw new DdbError('NO_DATABASE', 'SHOW TABLES: no database selected; select one with USE')
  const like = isWord(edits.tokens[k], 'LIKE') ? ` (${edits.tokens[k + 1]?.value})` : ''
  const column = sqlName(`Tables_in_${name}${like}`)
  const type = full ? ', TABLE_TYPE AS Table_type' : ''
  return filtered(
    edits,
    k,
    `SELECT TABLE_NAME AS ${column}${type} FROM (${tablesQuery(schemaLiteral(name))})`,
    column,
    ` ORDER BY 1`,
  )
}

function columns(edits: TokenEdits, from: number, full: boolean, database: string | null): string {
  const { tokens } = edits
  const { name: table, end: after } = readTableName(tokens, from)
  const { k } = fromDatabase(tokens, after)
  const collation = full ? ' COLLATION_NAME AS "Collation",' : ''
  const more = full ? ', PRIVILEGES AS "Privileges", COLUMN_COMMENT AS "Comment"' : ''
  const select = `SELECT COLUMN_NAME AS "Field", COLUMN_TYPE AS "Type",${collation} IS_NULLABLE AS "Null", COLUMN_KEY AS "Key", COLUMN_DEFAULT AS "Default", EXTRA AS "Extra"${more} FROM (${columnRows(schemaLiteral(database))}) WHERE TABLE_NAME = ${sqlString(table)} COLLATE NOCASE AND ${mustExist(table)} ORDER BY ORDINAL_POSITION`
  // DESCRIBE t col, DESCRIBE t 'pattern'
  const pattern = tokens[k]
  if (pattern && !isWord(pattern, 'LIKE') && !isWord(pattern, 'WHERE') && pattern.text !== ';') {
    const value = pattern.type === 'string' ? edits.text(k, k + 1) : sqlString(nameOf(pattern) ?? pattern.text)
    return `SELECT * FROM (${select}) WHERE "Field" LIKE ${value} ${LIKE_ESCAPE}`
  }
  return filtered(edits, k, select, '"Field"')
}

function indexes(edits: TokenEdits, from: number, database: string | null): string {
  const { tokens } = edits
  const { name: table, end: after } = readTableName(tokens, from)
  const { k } = fromDatabase(tokens, after)
  const select = `SELECT TABLE_NAME AS "Table", NON_UNIQUE AS "Non_unique", INDEX_NAME AS "Key_name", SEQ_IN_INDEX AS "Seq_in_index", COLUMN_NAME AS "Column_name", COLLATION AS "Collation", CARDINALITY AS "Cardinality", SUB_PART AS "Sub_part", PACKED AS "Packed", NULLABLE AS "Null", INDEX_TYPE AS "Index_type", COMMENT AS "Comment", INDEX_COMMENT AS "Index_comment", IS_VISIBLE AS "Visible", EXPRESSION AS "Expression" FROM (${statisticsQuery(schemaLiteral(database))}) WHERE TABLE_NAME = ${sqlString(table)} COLLATE NOCASE AND ${mustExist(table)} ORDER BY INDEX_NAME <> 'PRIMARY', NON_UNIQUE, _order, SEQ_IN_INDEX`
  return filtered(edits, k, select, '"Key_name"')
}

function tableStatus(edits: TokenEdits, from: number, database: string | null): string {
  const { k, db } = fromDatabase(edits.tokens, from)
  const select = `SELECT TABLE_NAME AS "Name", ENGINE AS "Engine", VERSION AS "Version", ROW_FORMAT AS "Row_format", TABLE_ROWS AS "Rows", AVG_ROW_LENGTH AS "Avg_row_length", DATA_LENGTH AS "Data_length", MAX_DATA_LENGTH AS "Max_data_length", INDEX_LENGTH AS "Index_length", DATA_FREE AS "Data_free", AUTO_INCREMENT AS "Auto_increment", CREATE_TIME AS "Create_time", UPDATE_TIME AS "Update_time", CHECK_TIME AS "Check_time", TABLE_COLLATION AS "Collation", CHECKSUM AS "Checksum", CREATE_OPTIONS AS "Create_options", TABLE_COMMENT AS "Comment" FROM (${tablesQuery(schemaLiteral(db ?? database))})`
  return filtered(edits, k, select, '"Name"', ' ORDER BY 1')
}

/** MySQL's CREATE TRIGGER of a row of triggerRows. */
const TRIGGER_DDL = `'CREATE TRIGGER ' || ${quoted('TRIGGER_NAME')} || ' ' || ACTION_TIMING || ' ' || EVENT_MANIPULATION || ' ON ' || ${quoted('EVENT_OBJECT_TABLE')} || ' FOR EACH ROW ' || ACTION_STATEMENT`

/** SHOW TRIGGERS [FROM db] [LIKE 'table' | WHERE …]. */
function triggers(edits: TokenEdits, from: number, database: string | null): string {
  const { k, db } = fromDatabase(edits.tokens, from)
  const select = `SELECT TRIGGER_NAME AS "Trigger", EVENT_MANIPULATION AS "Event", EVENT_OBJECT_TABLE AS "Table", ACTION_STATEMENT AS "Statement", ACTION_TIMING AS "Timing", CREATED AS "Created", SQL_MODE AS "sql_mode", DEFINER AS "Definer", CHARACTER_SET_CLIENT AS character_set_client, COLLATION_CONNECTION AS collation_connection, DATABASE_COLLATION AS "Database Collation" FROM (${triggerRows(schemaLiteral(db ?? database))})`
  return filtered(edits, k, select, '"Table"', ' ORDER BY "Table", "Event", "Timing"')
}

/** SHOW CREATE TRIGGER name: MySQL's statement, rebuilt from the trigger (its MySQL body as written, when ddb translated it). */
function createTrigger(tokens: Token[], from: number, database: string | null): string {
  const { name } = readTableName(tokens, from)
  return `SELECT TRIGGER_NAME AS "Trigger", SQL_MODE AS sql_mode, ${TRIGGER_DDL} AS "SQL Original Statement", CHARACTER_SET_CLIENT AS character_set_client, COLLATION_CONNECTION AS collation_connection, DATABASE_COLLATION AS "Database Collation", CREATED AS "Created" FROM (${triggerRows(schemaLiteral(database))}) WHERE TRIGGER_NAME = ${sqlString(name)} COLLATE NOCASE`
}

/**
 * SHOW CREATE TABLE t or SHOW CREATE VIEW v; for a view, MySQL's columns View and
 * Create View (dump tools tell a view so). With the catalog, SHOW CREATE TABLE
 * of a view is known to be one; without it, a view's row is in the columns of a table.
 */
function createTable(
  tokens: Token[],
  from: number,
  view: boolean,
  lookup: ((name: string) => TableInfo | undefined) | undefined,
): string {
  const { name: table } = readTableName(tokens, from)
  const views = `FROM (${viewRows("'main'")}) AS v WHERE v.TABLE_NAME = ${sqlString(table)} COLLATE NOCASE`
  const viewForm = `SELECT v.TABLE_NAME AS "View", v._create AS "Create View", v.CHARACTER_SET_CLIENT AS character_set_client, v.COLLATION_CONNECTION AS collation_connection ${views} AND ${mustExist(table)}`
  if (view || (lookup && !lookup(table))) return viewForm
  const body = `(SELECT group_concat(line, ',' || char(10)) FROM (SELECT line FROM (${createTableLines(sqlString(table))}) ORDER BY grp, pos))`
  const ddl = `'CREATE TABLE ' || ${quoted('m.name')} || ' (' || char(10) || ${body} || char(10) || ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci'`
  const asTable = `SELECT m.name AS "Table", ${ddl} AS "Create Table" FROM sqlite_schema AS m WHERE m.type = 'table' AND m.name = ${sqlString(table)} COLLATE NOCASE AND ${mustExist(table)}`
  return lookup ? asTable : `${asTable} UNION ALL SELECT v.TABLE_NAME, v._create ${views}`
}

/** The lines of SHOW CREATE TABLE for table `t` (a SQL string): (grp, pos, line) rows. */
function createTableLines(t: string): string {
  const cols = `(${columnRows("'main'")})`
  const nullDefault = "WHEN IS_NULLABLE = 'YES' THEN ' DEFAULT NULL'"
  const literal = `_default LIKE '''%''' OR _default GLOB '[0-9-]*' OR upper(_default) IN ('NULL', 'CURRENT_TIMESTAMP', 'CURRENT_DATE', 'CURRENT_TIME', 'TRUE', 'FALSE')`
  const clock = "upper(_default) = 'CURRENT_TIMESTAMP' OR upper(_default) GLOB 'CURRENT_TIMESTAMP([0-6])'"
  const defaultText = `CASE WHEN EXTRA = 'auto_increment' THEN ' AUTO_INCREMENT' WHEN _default IS NOT NULL THEN ' DEFAULT ' || CASE WHEN _written THEN CASE WHEN ${clock} THEN _default ELSE '(' || _default || ')' END WHEN ${literal} THEN _default ELSE '(' || _default || ')' END ${nullDefault} ELSE '' END`
  const column = `SELECT 0 AS grp, ORDINAL_POSITION AS pos, '  ' || ${quoted('COLUMN_NAME')} || ' ' || COLUMN_TYPE || CASE WHEN COLLATION_NAME = 'utf8mb4_bin' THEN ' COLLATE utf8mb4_bin' ELSE '' END || CASE WHEN IS_NULLABLE = 'NO' THEN ' NOT NULL' ELSE '' END || ${defaultText} AS line FROM ${cols} WHERE TABLE_NAME = ${t} COLLATE NOCASE`
  const part = `${quoted('COLUMN_NAME')} || CASE WHEN COLLATION = 'D' THEN ' DESC' ELSE '' END`
  const keyLine = (grp: number, head: string, where: string): string =>
    `SELECT ${grp}, min(_order), ${head} || ' (' || group_concat(${part}, ',') || ')' FROM (SELECT * FROM (${statisticsQuery("'main'")}) WHERE TABLE_NAME = ${t} COLLATE NOCASE AND ${where} ORDER BY SEQ_IN_INDEX) GROUP BY INDEX_NAME`
  const primary = keyLine(1, "'  PRIMARY KEY'", "INDEX_NAME = 'PRIMARY'")
  const unique = keyLine(2, `'  UNIQUE KEY ' || ${quoted('INDEX_NAME')}`, "INDEX_NAME <> 'PRIMARY' AND NON_UNIQUE = 0")
  const key = keyLine(3, `'  KEY ' || ${quoted('INDEX_NAME')}`, 'NON_UNIQUE = 1')
  const action = (rule: string, what: string): string =>
    `CASE WHEN ${rule} IN ('NO ACTION', 'RESTRICT') THEN '' ELSE ' ON ${what} ' || ${rule} END`
  const foreign = `SELECT 4, min(seq), '  CONSTRAINT ' || ${quoted('name')} || ' FOREIGN KEY (' || group_concat(${quoted('col')}, ',') || ') REFERENCES ' || ${quoted('ref')} || ' (' || group_concat(${quoted('refcol')}, ',') || ')' || ${action('on_delete', 'DELETE')} || ${action('on_update', 'UPDATE')} FROM (SELECT * FROM (${FOREIGN_KEYS}) WHERE t = ${t} COLLATE NOCASE ORDER BY seq) GROUP BY name`
  return [column, primary, unique, key, foreign].join(' UNION ALL ')
}
