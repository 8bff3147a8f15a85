/** Running statements on one bun:sqlite connection of a SQLite store: the statement cache, reads, runs, errors. */
import type { Database, Statement } from 'bun:sqlite'
import type { Param, ReadResult } from '../entry.ts'
import { StoreBehindError, StoreError } from '../errors.ts'
import { FOREIGN_KEY_FAILED, foreignKeyError } from './sqlite-foreign-keys.ts'
import { sqliteColumnType } from './sqlite-types.ts'
import type { RunResult, StoreState } from './store.ts'
import { toDriverValue, toJsonRow } from './values.ts'

/** Most prepared statements kept for reuse (a replayed log repeats the same parameterized texts). */
const STATEMENT_CACHE_SIZE = 256

/**
 * Prepared statements of one connection by SQL text, the least recently used
 * finalized past STATEMENT_CACHE_SIZE (bun's own query() cache never forgets,
 * and replayed statements with literals are mostly unique).
 */
export class StatementCache {
  readonly db: Database
  readonly #statements = new Map<string, Statement>()

  constructor(db: Database) {
    this.db = db
  }

  get(sql: string): Statement {
    let stmt = this.#statements.get(sql)
    if (stmt) {
      this.#statements.delete(sql)
    } else {
      stmt = this.db.prepare(sql)
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        const [oldest, old] = this.#statements.entries().next().value!
        old.finalize()
        this.#statements.delete(oldest)
      }
    }
    this.#statements.set(sql, stmt)
    return stmt
  }

  clear(): void {
    for (const stmt of this.#statements.values()) stmt.finalize()
    this.#statements.clear()
  }
}

/** Runs a statement that returns rows on the cache's connection, prepared once per text (a profile of point selects spent 7% preparing). */
export function readOn(cache: StatementCache, sql: string, params: Param[]): ReadResult {
  try {
    const stmt = cache.get(sql)
    const rows = stmt.values(...params.map(toDriverValue)) as unknown[][]
    return {
      columns: stmt.columnNames,
      rows: rows.map(toJsonRow),
      columnTypes: stmt.declaredTypes.map(sqliteColumnType),
    }
  } catch (err) {
    throw storeError(err)
  }
}

export function runOn(cache: StatementCache, sql: string, params: Param[]): RunResult {
  try {
    const { changes, lastInsertRowid } = cache.get(sql).run(...params.map(toDriverValue))
    return { affectedRows: changes, insertId: Number(lastInsertRowid) }
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === FOREIGN_KEY_FAILED) throw foreignKeyError(err, cache.db, sql)
    throw storeError(err)
  }
}

/** Writes the state row; with state.previous, only over that offset (else StoreBehindError, as on MySQL). */
export function writeStateOn(cache: StatementCache, state: StoreState): void {
  const sql = 'UPDATE ddb_state SET applied_offset = ?, log_id = ?, pending_entries = ? WHERE id = 1'
  const values = [state.offset, state.logId, state.pending ?? null]
  if (state.previous === undefined) return void runOn(cache, sql, values)
  const { affectedRows } = runOn(cache, `${sql} AND applied_offset = ?`, [...values, state.previous])
  if (affectedRows !== 1) throw new StoreBehindError(`SQLite state row not at offset ${state.previous}`)
}

/** SQLite result codes after which the database file's state is in doubt (not a refused statement). */
const IO_FAILURE = /^SQLITE_(IOERR|CORRUPT|FULL|CANTOPEN|NOTADB|NOMEM)/

/** SQLite's extended codes that have a MySQL counterpart a client would branch on. */
const MYSQL_ERRNO_BY_CODE: Record<string, number> = {
  SQLITE_CONSTRAINT_UNIQUE: 1062,
  SQLITE_CONSTRAINT_PRIMARYKEY: 1062,
  SQLITE_CONSTRAINT_NOTNULL: 1048,
  SQLITE_CONSTRAINT_FOREIGNKEY: 1452, // a COMMIT's deferred check; a statement's says which row (foreignKeyError)
}

/**
 * SQLite reports most statement errors as plain SQLITE_ERROR; these messages have a
 * MySQL errno that clients and migration tools branch on (a missing table, a column
 * already added, a syntax error).
 */
const MYSQL_ERRNO_BY_MESSAGE: readonly [RegExp, number][] = [
  [/^no such table:/, 1146],
  [/^no such column:/, 1054],
  [/^table .* already exists/, 1050],
  [/^index .* already exists/, 1061],
  [/^duplicate column name:/, 1060],
  [/^no such index:/, 1091],
  [/syntax error$|^incomplete input$/, 1064],
]

/** The MySQL errno of a SQLite error: by its extended code, else by its message; undefined without a counterpart. */
function mysqlErrnoOf(code: string | undefined, message: string): number | undefined {
  if (code === undefined) return undefined
  if (code !== 'SQLITE_ERROR') return MYSQL_ERRNO_BY_CODE[code]
  return MYSQL_ERRNO_BY_MESSAGE.find(([pattern]) => pattern.test(message))?.[1]
}

/**
 * Wraps a bun:sqlite error: SQLite's message and code, and the MySQL errno a MySQL
 * client is told; rejectedByServer unless the file itself failed.
 */
export function storeError(err: unknown, prefix = '', hint?: string): StoreError {
  const message = err instanceof Error ? err.message : String(err)
  const code = (err as { code?: unknown } | null)?.code
  const storeCode = typeof code === 'string' ? code : undefined
  const mysqlErrno = mysqlErrnoOf(storeCode, message)
  return new StoreError(prefix + message, {
    cause: err,
    storeCode,
    ...(mysqlErrno !== undefined ? { mysqlErrno } : {}),
    hint,
    rejectedByServer: !IO_FAILURE.test(storeCode ?? ''),
  })
}
