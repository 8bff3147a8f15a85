/**
 * Translates MySQL-dialect SQL (what MySQL clients, ORMs, mysqldump and sysbench
 * send) to SQLite's, for a SQLite store: what SQLite can be made to do the same
 * is rewritten, what it cannot is refused with DdbError('UNSUPPORTED', reason).
 * Statements SQLite would read the same way come back as the same text.
 * docs/SQLITE-DIALECT.md lists every rule; in short:
 *
 * Translated
 * - Literals and operators (literals.ts): backslash escapes, "double
 *   quoted" strings, N'…', _charset introducers, 0x…/X'…' (a BLOB), b'…'/0b…
 *   (an integer), DATE '…', COLLATE names, `||` = OR, `&&` = AND, `<=>` = IS,
 *   exact `/`, LIKE's backslash escape (written so that ddb's lexer reads the
 *   translation again as SQLite does).
 * - Functions (functions.ts): NOW(), CURDATE(), CURTIME(), UTC_*,
 *   UNIX_TIMESTAMP(), FROM_UNIXTIME(), DATEDIFF(), DATE_FORMAT(), CONCAT() (NULL
 *   if any argument is), IF(), GREATEST/LEAST, LENGTH (bytes), CHAR_LENGTH,
 *   INSTR/LOCATE/POSITION (case-insensitive), SUBSTRING … FROM … FOR, RAND(),
 *   GROUP_CONCAT(… ORDER BY … SEPARATOR …), CAST/CONVERT to MySQL types,
 *   JSON_EXTRACT/JSON_UNQUOTE, DATABASE() (the selected name, or NULL).
 *   (LAST_INSERT_ID() is the session's value before it gets here.)
 * - Queries (queries.ts): LIMIT a, b; FROM DUAL; index hints, FOR UPDATE,
 *   LOCK IN SHARE MODE, SELECT modifiers dropped; db.t → t.
 * - DML (assignments.ts, insert.ts, dml.ts): INSERT
 *   IGNORE, ON DUPLICATE KEY UPDATE … VALUES(c), REPLACE, INSERT … SET, DEFAULT
 *   and () in VALUES, 0 for an AUTO_INCREMENT id (unless NO_AUTO_VALUE_ON_ZERO),
 *   MySQL's left-to-right SET, UPDATE/DELETE … ORDER BY … LIMIT. Column defaults
 *   that are not constants (CURRENT_TIMESTAMP …) are written into each INSERT
 *   by writeDefaults (defaults.ts), after this and before makeDeterministic.
 * - DDL (create-table.ts, columns.ts, types.ts,
 *   indexes.ts, ddl.ts, alter.ts): CREATE TABLE with
 *   AUTO_INCREMENT keys, MySQL types with CHECKs for MySQL's strict-mode limits,
 *   case-insensitive text, inline indexes as CREATE INDEX, table options;
 *   CREATE/DROP INDEX, DROP TABLE a, b, TRUNCATE, RENAME TABLE, CREATE VIEW,
 *   CREATE/DROP TRIGGER (triggers.ts), CREATE DATABASE IF NOT EXISTS
 *   (nothing to run), the ALTER TABLE actions SQLite has, ADD FOREIGN KEY by
 *   rebuilding the table.
 * - The catalog (catalog.ts, show.ts): information_schema.TABLES,
 *   COLUMNS, STATISTICS, KEY_COLUMN_USAGE, TABLE_CONSTRAINTS,
 *   REFERENTIAL_CONSTRAINTS, SCHEMATA, VIEWS, TRIGGERS, PARTITIONS, FILES,
 *   ROUTINES; SHOW [FULL] TABLES, SHOW DATABASES, SHOW [FULL] COLUMNS, DESCRIBE,
 *   SHOW INDEX, SHOW CREATE TABLE/VIEW/TRIGGER, SHOW TRIGGERS, SHOW TABLE
 *   STATUS, SHOW CREATE DATABASE.
 *
 * Known differences that remain (collation beyond ASCII, DECIMAL as SQLite
 * numbers, unvalidated dates, what DROP and TRUNCATE do to a referenced table …)
 * are listed at the end of docs/SQLITE-DIALECT.md.
 *
 * Refused (each with its reason): ON UPDATE CURRENT_TIMESTAMP, FULLTEXT and
 * SPATIAL indexes, SET/BIT/spatial column types, AUTO_INCREMENT off a
 * single-column primary key, unique prefix indexes, PARTITION BY, non-durable
 * engines, CREATE TABLE … LIKE/SELECT, ALTER TABLE actions that change a column
 * or constraint in place, multiple-table UPDATE/DELETE, UPDATE/DELETE IGNORE,
 * SQL_CALC_FOUND_ROWS, WITH ROLLUP, RAND(seed), LIKE BINARY, `!`, DROP DATABASE,
 * other information_schema tables and SHOW statements, EXPLAIN of a statement,
 * triggers SQLite cannot run as MySQL would, table names that differ from an
 * existing one only in case.
 *
 * A pure function of its input: it imports only src/sql and src/errors.ts. What
 * it needs from the store (a table's columns) comes through SqliteContext.table,
 * what it needs from the session (the selected database, sql_mode) through the context.
 * In a write, run it before makeDeterministic (dialect 'sqlite'), which then
 * pins the CURRENT_TIMESTAMP and random() this writes.
 */
import { classifyTokens } from '../classify.ts'
import { isWord, type Token, tokenize } from '../lexer.ts'
import { translateAlterTable } from './alter.ts'
import { rewriteAssignments } from './assignments.ts'
import { translateCatalog } from './catalog.ts'
import { translateCreateTable } from './create-table.ts'
import {
  translateCreateIndex,
  translateCreateView,
  translateDatabase,
  translateDropIndex,
  translateDropTable,
  translateRenameTable,
  translateTruncate,
} from './ddl.ts'
import { translateDelete, translateUpdate } from './dml.ts'
import { refuse, TokenEdits } from './edits.ts'
import { translateFunctions } from './functions.ts'
import { translateInsert } from './insert.ts'
import { translateLiterals } from './literals.ts'
import { translateQueries } from './queries.ts'
import { translateShow } from './show.ts'
import type { SqliteContext } from './table-info.ts'
import { translateCreateTrigger, translateDropTrigger } from './triggers.ts'

export type { SqliteContext, TableInfo } from './table-info.ts'
export { cachedTables, describeSqliteTable } from './table-info.ts'

/** Statement kinds the session handles itself (USE, SET, BEGIN …): never rewritten. */
const UNTOUCHED = new Set(['session', 'transaction', 'unsupported'])

/** Words after EXPLAIN/DESCRIBE that make it explain a statement rather than describe a table. */
const EXPLAINED = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'REPLACE',
  'WITH',
  'TABLE',
  'VALUES',
  'FORMAT',
  'EXTENDED',
  'PARTITIONS',
  'ANALYZE',
  'FOR',
])

/**
 * Translates one MySQL-dialect statement, already lexed by src/sql/lexer.ts,
 * to the SQLite statements that do the same, in order: usually one (the same
 * text when nothing needed translating), several for a CREATE TABLE with
 * indexes or DROP TABLE a, b, none for CREATE DATABASE IF NOT EXISTS. Throws
 * DdbError('UNSUPPORTED', reason) for what SQLite cannot do the same way.
 */
export function toSqlite(sql: string, tokens: Token[], context: SqliteContext): string[] {
  const { kind, keyword } = classifyTokens(tokens)
  if (UNTOUCHED.has(kind)) return [sql]
  const assigned = rewriteAssignments(sql, tokens, keyword)
  const edits = assigned === undefined ? new TokenEdits(sql, tokens) : new TokenEdits(assigned, tokenize(assigned))
  const first = edits.tokens[0]
  if (isWord(first, 'SHOW') || isWord(first, 'EXPLAIN') || isWord(first, 'DESCRIBE') || isWord(first, 'DESC'))
    return [describe(edits, context)]
  translateLiterals(edits)
  translateQueries(edits, context.onlyDatabase)
  translateCatalog(edits, context.database)
  translateFunctions(edits, context)
  const statements = structural(edits, keyword, context)
  return statements ?? [edits.changed ? edits.text() : edits.sql]
}

/** SHOW, DESCRIBE and EXPLAIN t as a catalog query; EXPLAIN of a statement is refused, SQLite's EXPLAIN QUERY PLAN kept. */
function describe(edits: TokenEdits, ctx: SqliteContext): string {
  const [first, next] = edits.tokens
  if (!isWord(first, 'SHOW')) {
    if (isWord(next, 'QUERY')) return edits.sql
    if (next?.type === 'punct' || (next?.type === 'word' && EXPLAINED.has(next.value)))
      throw refuse(
        `${first!.value} of a statement`,
        "SQLite's plans have another shape than MySQL's; run EXPLAIN QUERY PLAN yourself",
      )
  }
  translateLiterals(edits) // the LIKE and WHERE of SHOW … LIKE 'x' / WHERE …
  return translateShow(edits, ctx.database, ctx.table)
}

/** The statement-specific translation of `keyword`; undefined when the token edits are the whole of it. */
function structural(edits: TokenEdits, keyword: string, ctx: SqliteContext): string[] | undefined {
  const leads = (word: string): boolean => isWord(edits.tokens[0], word)
  switch (keyword) {
    case 'CREATE TABLE': {
      const table = edits.tokens.findIndex((t) => isWord(t, 'TABLE'))
      // SQLite's own CREATE VIRTUAL TABLE … USING module(…): no MySQL to translate.
      if (edits.tokens.slice(0, table).some((t) => isWord(t, 'VIRTUAL'))) return undefined
      return translateCreateTable(edits, ctx)
    }
    case 'ALTER TABLE':
      return translateAlterTable(edits, ctx)
    case 'CREATE INDEX':
      return translateCreateIndex(edits)
    case 'DROP INDEX':
      return translateDropIndex(edits, ctx)
    case 'DROP TABLE':
      return translateDropTable(edits, 'TABLE', ctx)
    case 'DROP VIEW':
      return translateDropTable(edits, 'VIEW', ctx)
    case 'CREATE VIEW':
    case 'ALTER VIEW':
      return translateCreateView(edits)
    case 'CREATE TRIGGER':
      return translateCreateTrigger(edits, ctx, (text) => toSqlite(text, tokenize(text), ctx))
    case 'DROP TRIGGER':
      return translateDropTrigger(edits)
    case 'TRUNCATE TABLE':
      return translateTruncate(edits, ctx)
    case 'RENAME TABLE':
      return translateRenameTable(edits)
    case 'CREATE DATABASE':
    case 'CREATE SCHEMA':
    case 'DROP DATABASE':
    case 'DROP SCHEMA':
    case 'ALTER DATABASE':
    case 'ALTER SCHEMA':
      return translateDatabase(edits, keyword)
    case 'INSERT':
    case 'REPLACE':
      if (leads(keyword)) translateInsert(edits, ctx, keyword)
      return undefined
    case 'TABLE': // MySQL 8's TABLE t [ORDER BY …] [LIMIT …]
      if (leads('TABLE')) edits.replace(0, 'SELECT * FROM')
      return undefined
    case 'UPDATE': {
      const text = leads('UPDATE') ? translateUpdate(edits, ctx) : undefined
      return text === undefined ? undefined : [text]
    }
    case 'DELETE': {
      const text = leads('DELETE') ? translateDelete(edits) : undefined
      return text === undefined ? undefined : [text]
    }
  }
  return undefined
}
