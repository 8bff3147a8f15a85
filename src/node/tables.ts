/**
 * The store's tables as a session needs to know them: on a SQLite store, for the
 * MySQL-dialect translator and written defaults (sql/sqlite/table-info.ts); on
 * both, for the insert id MySQL would report (sql/insert-id.ts). Reading a table
 * takes a few catalog queries, and writes go to the same few tables, so lookups
 * are kept per node: on SQLite until the schema changes (PRAGMA schema_version,
 * which any DDL bumps; a session asks once per statement); on MySQL until DDL runs
 * through this node (forgetTables).
 */
import type { IdTable } from '../sql/insert-id.ts'
import { cachedTables, type TableInfo } from '../sql/sqlite/dialect.ts'
import type { NodeApi } from './api.ts'

/** Looks a table up by name (in any case, as SQLite does); undefined when there is none. */
export type TableLookup = (name: string) => TableInfo | undefined

const sqliteCaches = new WeakMap<NodeApi, () => TableLookup>()
const mysqlCaches = new WeakMap<NodeApi, Map<string, Promise<IdTable | undefined>>>()

/** A SQLite store's table lookup as of now; undefined when the node's store has no catalog (MySQL). */
export function sqliteTables(node: NodeApi): TableLookup | undefined {
  const { store } = node
  if (node.dialect !== 'sqlite' || !store.catalog) return undefined
  let tables = sqliteCaches.get(node)
  if (!tables) {
    tables = cachedTables(store.catalog.bind(store))
    sqliteCaches.set(node, tables)
  }
  return tables()
}

/** A SQLite table as the insert id reads it. */
export function idTableOf(info: TableInfo | undefined): IdTable | undefined {
  return info && { columns: info.columns, autoIncrement: info.autoIncrement ? info.rowid : undefined }
}

/** Table `name` of database `db` on a MySQL store, as the insert id reads it; undefined when there is no such table. */
export function mysqlIdTable(node: NodeApi, db: string | null, name: string): Promise<IdTable | undefined> {
  const { store } = node
  if (db === null || !store.columnsOf) return Promise.resolve(undefined)
  let cache = mysqlCaches.get(node)
  if (!cache) {
    cache = new Map()
    mysqlCaches.set(node, cache)
  }
  const key = `${db}.${name}`
  let table = cache.get(key)
  if (!table) {
    table = store.columnsOf(db, name)
    cache.set(key, table)
    table.catch(() => cache.delete(key))
  }
  return table
}

/** After DDL through this node: a MySQL store's tables are read again. */
export function forgetTables(node: NodeApi): void {
  mysqlCaches.delete(node)
}
