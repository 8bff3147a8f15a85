/**
 * What a few translations need to know about a table in the SQLite store (its
 * columns' defaults for DEFAULT in VALUES, whether it has an AUTOINCREMENT
 * rowid for TRUNCATE, its indexes' SQLite names for DROP INDEX), and how to read
 * it from SQLite's catalog with any synchronous query function (bun:sqlite's
 * `db.query(sql).all(...params)` is one).
 */
import { mysqlIndexName } from './sqlite-indexes.ts'

/** A column of a SQLite table. */
export interface ColumnInfo {
  name: string
  /** The declared type. */
  type: string
  notNull: boolean
  /** The default as SQL text (pragma table_info's dflt_value); null when the column has none. */
  default: string | null
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
  /** Its indexes: SQLite's name and MySQL's. */
  indexes: { sqliteName: string; name: string; unique: boolean }[]
}

/** Runs one query with positional parameters and returns its rows as objects. */
export type CatalogQuery = (sql: string, params: string[]) => Record<string, unknown>[]

/** Reads table `name` from the catalog; undefined when there is no such table. */
export function describeSqliteTable(query: CatalogQuery, name: string): TableInfo | undefined {
  const found = query("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name = ?", [name])[0]
  if (!found) return undefined
  const table = String(found.name)
  const columns = query(
    'SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid',
    [table],
  ).map(
    (c): ColumnInfo => ({
      name: String(c.name),
      type: String(c.type ?? ''),
      notNull: Number(c.notnull) === 1,
      default: c.dflt_value === null || c.dflt_value === undefined ? null : String(c.dflt_value),
      primaryKey: Number(c.pk),
      generated: Number(c.hidden) >= 2,
    }),
  )
  const keys = columns.filter((c) => c.primaryKey > 0)
  const rowid = keys.length === 1 && keys[0]!.type.toUpperCase() === 'INTEGER' ? keys[0]!.name : undefined
  const indexes = query('SELECT name, "unique" FROM pragma_index_list(?)', [table]).map((i) => ({
    sqliteName: String(i.name),
    name: mysqlIndexName(table, String(i.name)),
    unique: Number(i.unique) === 1,
  }))
  return {
    name: table,
    columns,
    autoIncrement: rowid !== undefined && /\bAUTOINCREMENT\b/i.test(String(found.sql)),
    rowid,
    indexes,
  }
}

/** What the translation of one statement knows about the session and the store. */
export interface SqliteContext {
  /** The database the MySQL client selected (USE, COM_INIT_DB, connect), or null: DATABASE() and information_schema's TABLE_SCHEMA. */
  database: string | null
  /** Looks a table up in the store; without it, translations that need a table's columns are refused. */
  table?: (name: string) => TableInfo | undefined
  /** The session's LAST_INSERT_ID(): the first id its last INSERT generated; without it LAST_INSERT_ID() is refused. */
  lastInsertId?: number
}
