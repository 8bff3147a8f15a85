/**
 * What a few translations need to know about a table in the SQLite store (its
 * columns' defaults for DEFAULT in VALUES and the defaults ddb writes into each
 * INSERT, whether it has an AUTOINCREMENT rowid for TRUNCATE and for 0 as an id,
 * its indexes' SQLite names for DROP INDEX, its triggers), and how to read it
 * from SQLite's catalog with any synchronous query function (bun:sqlite's
 * `db.query(sql).all(...params)` is one).
 *
 * A written default: SQLite evaluates a column default on each node as it
 * inserts, so a default that is not a constant (CURRENT_TIMESTAMP, NOW(3),
 * (RAND()) …) would give each node its own value. CREATE TABLE (columns.ts)
 * gives such a column the sentinel default `'ddb-default:<hex>:<hex>'` (the
 * SQLite expression, then MySQL's text, as UTF-8 hex) and a CHECK that refuses
 * the sentinel; ddb writes the expression into every INSERT that leaves the
 * column out (defaults.ts), where makeDeterministic pins it, and a write
 * that did not (a trigger's, one sent while the table changed) fails instead of
 * storing each node's own value. The catalog shows the MySQL text.
 */
import { isPunct, isWord, type Token, tokenize } from '../lexer.ts'
import { hasSqlMode } from '../sql-mode.ts'
import { mysqlIndexName } from './indexes.ts'

/** A column of a SQLite table. */
export interface ColumnInfo {
  name: string
  /** The declared type. */
  type: string
  notNull: boolean
  /** The default as SQLite SQL text (pragma table_info's dflt_value; a written default's expression); null when the column has none. */
  default: string | null
  /** Whether the default is one ddb writes into each INSERT (see the module comment). */
  written: boolean
  /** Position in the primary key from 1; 0 when not part of it. */
  primaryKey: number
  /** Whether the column is generated (it takes no value in INSERT). */
  generated: boolean
}

/** A table of the SQLite store. */
export interface TableInfo {
  name: string
  /** The columns in order, generated ones included. */
  columns: ColumnInfo[]
  /** Whether the table's rowid is AUTOINCREMENT, so sqlite_sequence has a row for it once it has had one. */
  autoIncrement: boolean
  /** The column that is the rowid (INTEGER PRIMARY KEY), if any. */
  rowid?: string
  /** Its CREATE TABLE as SQLite keeps it. */
  sql: string
  /** Its indexes: SQLite's name and MySQL's, its key columns (undefined for an expression), its CREATE INDEX (undefined for SQLite's own). */
  indexes: { sqliteName: string; name: string; unique: boolean; columns: (string | undefined)[]; sql?: string }[]
  /** Its triggers, in creation order. */
  triggers: TriggerInfo[]
  /** Views and other tables' triggers whose text names this table: SQLite checks them when a table is renamed. */
  dependents: { type: 'view' | 'trigger'; name: string; sql: string }[]
  /** Whether it holds a row; undefined when the lookup cannot tell. */
  hasRows?: () => boolean
}

/** A trigger on a table. */
export interface TriggerInfo {
  name: string
  /** Its CREATE TRIGGER as SQLite keeps it (absent where the trigger's head alone was read). */
  sql?: string
  timing: 'BEFORE' | 'AFTER' | 'INSTEAD OF'
  event: 'INSERT' | 'UPDATE' | 'DELETE'
}

/**
 * When and on what a CREATE TRIGGER (lexed) fires: what follows TRIGGER [IF NOT
 * EXISTS] [schema.]name; SQLite's default timing is BEFORE. `end`: the index just
 * past the event word.
 */
export function triggerHead(tokens: Token[]): Omit<TriggerInfo, 'name'> & { end: number } {
  let k = tokens.findIndex((t) => isWord(t, 'TRIGGER')) + 1
  if (isWord(tokens[k], 'IF')) k += 3
  k += isPunct(tokens[k + 1], '.') ? 3 : 1
  let timing: TriggerInfo['timing'] = 'BEFORE'
  if (isWord(tokens[k], 'BEFORE') || isWord(tokens[k], 'AFTER')) timing = tokens[k++]!.value as 'BEFORE' | 'AFTER'
  else if (isWord(tokens[k], 'INSTEAD')) {
    timing = 'INSTEAD OF'
    k += 2
  }
  const event = tokens[k]?.value
  return { timing, event: event === 'UPDATE' || event === 'DELETE' ? event : 'INSERT', end: k + 1 }
}

/** The tokens of SQL that ddb's lexer may not read (SQLite's own text, 'a\\' …): none then. */
function lexed(sql: string): Token[] {
  try {
    return tokenize(sql)
  } catch {
    return []
  }
}

/** How a written default's sentinel begins (inside its quotes). */
export const WRITTEN_DEFAULT = 'ddb-default:'

/** The sentinel default (a SQL string literal) of a written default: SQLite's expression and MySQL's text. */
export function writtenDefault(sqlite: string, mysql: string): string {
  const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex').toUpperCase()
  return `'${WRITTEN_DEFAULT}${hex(sqlite)}:${hex(mysql)}'`
}

/** The expressions of a written default, from its sentinel as pragma table_info shows it; undefined for any other default. */
export function readWrittenDefault(dflt: string | null): { sqlite: string; mysql: string } | undefined {
  const m = dflt === null ? null : /^'ddb-default:([0-9A-F]*):([0-9A-F]*)'$/.exec(dflt)
  if (!m) return undefined
  const text = (hex: string): string => Buffer.from(hex, 'hex').toString('utf8')
  return { sqlite: text(m[1]!), mysql: text(m[2]!) }
}

/** Runs one query with positional parameters and returns its rows as objects. */
export type CatalogQuery = (sql: string, params: string[]) => Record<string, unknown>[]

/**
 * Tables of `query`'s store as of now, each read once and kept until the schema changes
 * (PRAGMA schema_version, which any DDL bumps): call it once per statement to translate.
 */
export function cachedTables(query: CatalogQuery): () => (name: string) => TableInfo | undefined {
  let version: unknown
  let tables = new Map<string, TableInfo | undefined>()
  return () => {
    const now = query('PRAGMA schema_version', [])[0]?.schema_version
    if (now !== version) [version, tables] = [now, new Map()]
    const current = tables
    return (name) => {
      const key = name.toLowerCase()
      if (!current.has(key)) current.set(key, describeSqliteTable(query, name))
      return current.get(key)
    }
  }
}

/** Reads table `name` from the catalog; undefined when there is no such table. */
export function describeSqliteTable(query: CatalogQuery, name: string): TableInfo | undefined {
  // SQLite finds a table by its name in any case, so the lookup does too.
  const found = query(
    "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE ORDER BY name = ? DESC",
    [name, name],
  )[0]
  if (!found) return undefined
  const table = String(found.name)
  const columns = query(
    'SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid',
    [table],
  ).map((c): ColumnInfo => {
    const dflt = c.dflt_value === null || c.dflt_value === undefined ? null : String(c.dflt_value)
    const written = readWrittenDefault(dflt)
    return {
      name: String(c.name),
      type: String(c.type ?? ''),
      notNull: Number(c.notnull) === 1,
      default: written ? written.sqlite : dflt,
      written: written !== undefined,
      primaryKey: Number(c.pk),
      generated: Number(c.hidden) >= 2,
    }
  })
  const keys = columns.filter((c) => c.primaryKey > 0)
  const rowid = keys.length === 1 && keys[0]!.type.toUpperCase() === 'INTEGER' ? keys[0]!.name : undefined
  const indexes = (): TableInfo['indexes'] =>
    query(
      'SELECT il.name, il."unique", s.sql FROM pragma_index_list(?) AS il LEFT JOIN sqlite_schema AS s ON s.type = \'index\' AND s.name = il.name',
      [table],
    ).map((i) => ({
      sqliteName: String(i.name),
      name: mysqlIndexName(table, String(i.name)),
      unique: Number(i.unique) === 1,
      columns: query('SELECT name FROM pragma_index_info(?) ORDER BY seqno', [String(i.name)]).map((c) =>
        c.name === null ? undefined : String(c.name),
      ),
      ...(i.sql === null || i.sql === undefined ? {} : { sql: String(i.sql) }),
    }))
  const triggers = (): TriggerInfo[] =>
    query("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ? ORDER BY rowid", [table]).map(
      (t): TriggerInfo => {
        const { timing, event } = triggerHead(lexed(String(t.sql)))
        return { name: String(t.name), sql: String(t.sql), timing, event }
      },
    )
  const dependents = (): TableInfo['dependents'] =>
    query(
      "SELECT type, name, sql FROM sqlite_schema WHERE (type = 'view' OR (type = 'trigger' AND tbl_name <> ?)) AND instr(lower(sql), lower(?)) > 0 ORDER BY rowid",
      [table, table],
    ).map((d) => ({ type: d.type === 'view' ? 'view' : 'trigger', name: String(d.name), sql: String(d.sql) }))
  const base = {
    name: table,
    columns,
    autoIncrement: rowid !== undefined && /\bAUTOINCREMENT\b/i.test(String(found.sql)),
    rowid,
    sql: String(found.sql),
    // Read each time it is asked: the session keeps a TableInfo until the schema changes, not the rows.
    hasRows: () => query(`SELECT 1 AS found FROM "${table.replaceAll('"', '""')}" LIMIT 1`, []).length > 0,
  }
  // What only some translations need is read when first asked for.
  return withLazy<typeof base, Pick<TableInfo, 'indexes' | 'triggers' | 'dependents'>>(base, {
    indexes,
    triggers,
    dependents,
  })
}

/** `base` with properties computed by the functions the first time each is read. */
function withLazy<B extends object, L extends object>(base: B, compute: { [K in keyof L]: () => L[K] }): B & L {
  for (const key of Object.keys(compute) as (keyof L)[]) {
    Object.defineProperty(base, key, {
      enumerable: true,
      configurable: true,
      get() {
        const value = compute[key]()
        Object.defineProperty(base, key, { value, enumerable: true })
        return value
      },
    })
  }
  return base as B & L
}

/** What the translation of one statement knows about the session and the store. */
export interface SqliteContext {
  /** The database the MySQL client selected (USE, COM_INIT_DB, connect), or null: DATABASE() and information_schema's TABLE_SCHEMA. */
  database: string | null
  /** Looks a table up in the store; without it, translations that need a table's columns are refused. */
  table?: (name: string) => TableInfo | undefined
  /** The session's sql_mode (MySQL's default when absent): NO_AUTO_VALUE_ON_ZERO makes 0 an id, not a request for one. */
  sqlMode?: string
  /**
   * The one MySQL database this store holds (a SQLite slave of a MySQL master): a name
   * qualified by another database is refused, as it names a table this store does not have.
   */
  onlyDatabase?: string
}

/** Whether the context's sql_mode has NO_AUTO_VALUE_ON_ZERO. */
export function noAutoValueOnZero(ctx: SqliteContext): boolean {
  return hasSqlMode(ctx.sqlMode, 'NO_AUTO_VALUE_ON_ZERO')
}
