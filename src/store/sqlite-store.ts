import { Database, type Statement } from 'bun:sqlite'
import type { ColumnType, Param, ReadResult } from '../entry.ts'
import { StoreError } from '../errors.ts'
import { COLUMN_CHARSET, COLUMN_FLAG, COLUMN_TYPE } from '../mysql-protocol.ts'
import { quoteIdentifier } from '../sql/lexer.ts'
import type { RunResult, StatementShape, Store, StoreState, StoreStatement, StoreTxn } from './store.ts'
import { stateOf, toDriverValue, toJsonRow } from './values.ts'
import { WriterLock } from './writer-lock.ts'

/** PRAGMA synchronous for the writer: FULL fsyncs every commit (the default). */
export type SqliteSynchronous = 'FULL' | 'NORMAL' | 'OFF'

/** Options for openSqliteStore. */
export interface SqliteStoreOptions {
  /** Default 'FULL'. */
  synchronous?: SqliteSynchronous
}

/** How long a SQLite connection waits for another process's lock before failing, in milliseconds. */
export const BUSY_TIMEOUT_MS = 5_000

const STATE_DDL =
  'CREATE TABLE IF NOT EXISTS ddb_state (id INTEGER PRIMARY KEY CHECK (id = 1), applied_offset INTEGER NOT NULL, log_id TEXT, pending_entries TEXT)'

/** Opens (creating if needed) the SQLite store in file `path`: WAL, one writer and one reader connection. */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const displayUrl = `sqlite:${path}`
  let writer: Database | undefined
  try {
    writer = new Database(path, { create: true, safeIntegers: true })
    writer.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
    writer.run('PRAGMA journal_mode = WAL')
    writer.run(`PRAGMA synchronous = ${options.synchronous ?? 'FULL'}`)
    writer.run(STATE_DDL)
    writer.run('INSERT OR IGNORE INTO ddb_state (id, applied_offset, log_id) VALUES (1, 0, NULL)')
    const reader = new Database(path, { readonly: true, safeIntegers: true })
    reader.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
    return new SqliteStore(displayUrl, writer, reader)
  } catch (err) {
    writer?.close()
    throw storeError(
      err,
      `open ${displayUrl}: `,
      'check that the directory exists and is writable, and that the file is a SQLite database',
    )
  }
}

/** The bun:sqlite Store: writes on one connection, serialized by a lock; reads on another. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const
  readonly defaultDb = null
  readonly ddlCommitsImplicitly = false

  /** SQLite's clock functions only know UTC (the master rewrites them into literals). */
  readonly timeZone = null

  /** SQLite DDL is transactional: a crash never leaves it half-recorded. */
  ddlAlreadyApplied(): boolean {
    return false
  }

  /** A failed SQLite statement undoes only itself. */
  endsTransaction(): boolean {
    return false
  }

  /** SQLite has no server, no version and no session variables. */
  readonly version = null

  async sessionDefaults(): Promise<Record<string, Param>> {
    return {}
  }

  async checkSetting(): Promise<Param | null> {
    return null
  }
  readonly displayUrl: string
  readonly #writer: Database
  readonly #statements: StatementCache
  readonly #reader: Database
  readonly #lock = new WriterLock()
  #closed = false

  constructor(displayUrl: string, writer: Database, reader: Database) {
    this.displayUrl = displayUrl
    this.#writer = writer
    this.#statements = new StatementCache(writer)
    this.#reader = reader
  }

  async readState(): Promise<StoreState> {
    const { rows } = await this.read(
      null,
      'SELECT applied_offset, log_id, pending_entries FROM ddb_state WHERE id = 1',
      [],
    )
    const row = rows[0]
    if (!row) throw new StoreError(`read state ${this.displayUrl}: the ddb_state row is missing`)
    return stateOf(row)
  }

  async begin(): Promise<StoreTxn> {
    const release = await this.#acquire()
    try {
      this.#writer.run('BEGIN IMMEDIATE')
    } catch (err) {
      release()
      throw storeError(err)
    }
    return new SqliteTxn(this.#writer, this.#statements, release)
  }

  /** SQLite has one writer: a client's transaction holds it, as SQLite's own lock would. */
  beginClientTransaction(): Promise<StoreTxn> {
    return this.begin()
  }

  async runAutocommit({ sql, params }: StoreStatement): Promise<RunResult> {
    const release = await this.#acquire()
    try {
      return runOn(this.#statements, sql, params)
    } finally {
      release()
    }
  }

  async writeState(state: StoreState): Promise<void> {
    const release = await this.#acquire()
    try {
      writeStateOn(this.#statements, state)
    } finally {
      release()
    }
  }

  async read(_db: string | null, sql: string, params: Param[]): Promise<ReadResult> {
    this.#checkOpen()
    return readOn(this.#reader, sql, params)
  }

  catalog(sql: string, params: string[]): Record<string, unknown>[] {
    this.#checkOpen()
    return this.#reader.query(sql).all(...params) as Record<string, unknown>[]
  }

  /** Prepares the statement on the reader connection: its column names and declared types, without running it. */
  async describe(_db: string | null, sql: string): Promise<StatementShape> {
    this.#checkOpen()
    try {
      const stmt = this.#reader.prepare(sql)
      try {
        const types = stmt.declaredTypes
        return {
          columns: stmt.columnNames.map((name, i) => ({ name, type: sqliteColumnType(types[i]) })),
          params: stmt.paramsCount,
        }
      } finally {
        stmt.finalize()
      }
    } catch (err) {
      throw storeError(err)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#statements.clear()
    this.#reader.close()
    this.#writer.close()
  }

  async #acquire(): Promise<() => void> {
    this.#checkOpen()
    const release = await this.#lock.acquire()
    if (this.#closed) {
      release()
      this.#checkOpen()
    }
    return release
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError(`${this.displayUrl}: store is closed`)
  }
}

/** One BEGIN IMMEDIATE … COMMIT on the writer; holds the writer lock until it ends. */
class SqliteTxn implements StoreTxn {
  readonly #db: Database
  readonly #statements: StatementCache
  #release: (() => void) | null

  constructor(db: Database, statements: StatementCache, release: () => void) {
    this.#db = db
    this.#statements = statements
    this.#release = release
  }

  async run(_db: string | null, sql: string, params: Param[]): Promise<RunResult> {
    this.#checkOpen()
    return runOn(this.#statements, sql, params)
  }

  async read(_db: string | null, sql: string, params: Param[]): Promise<ReadResult> {
    this.#checkOpen()
    return readOn(this.#db, sql, params)
  }

  async runMany(statements: StoreStatement[], state?: StoreState): Promise<RunResult[]> {
    this.#checkOpen()
    const results = statements.map((s) => runOn(this.#statements, s.sql, s.params))
    if (state) writeStateOn(this.#statements, state)
    return results
  }

  async savepoint(name: string): Promise<void> {
    this.#exec(`SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async rollbackTo(name: string): Promise<void> {
    this.#exec(`ROLLBACK TO SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async release(name: string): Promise<void> {
    this.#exec(`RELEASE SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async setState(state: StoreState): Promise<void> {
    this.#checkOpen()
    writeStateOn(this.#statements, state)
  }

  async commit(): Promise<void> {
    this.#exec('COMMIT')
    this.#end()
  }

  async rollback(): Promise<void> {
    if (!this.#release) return
    try {
      if (this.#db.inTransaction) this.#db.run('ROLLBACK')
    } catch {
      // The store was closed, or SQLite already rolled back: nothing left to undo.
    }
    this.#end()
  }

  #exec(sql: string): void {
    this.#checkOpen()
    try {
      this.#db.run(sql)
    } catch (err) {
      throw storeError(err)
    }
  }

  #end(): void {
    this.#release?.()
    this.#release = null
  }

  #checkOpen(): void {
    if (!this.#release) throw new StoreError('transaction is finished')
  }
}

/** Most prepared statements kept for reuse (a replayed log repeats the same parameterized texts). */
const STATEMENT_CACHE_SIZE = 256

/**
 * Prepared statements of one connection by SQL text, the least recently used
 * finalized past STATEMENT_CACHE_SIZE (bun's own query() cache never forgets,
 * and replayed statements with literals are mostly unique).
 */
class StatementCache {
  readonly #db: Database
  readonly #statements = new Map<string, Statement>()

  constructor(db: Database) {
    this.#db = db
  }

  get(sql: string): Statement {
    let stmt = this.#statements.get(sql)
    if (stmt) {
      this.#statements.delete(sql)
    } else {
      stmt = this.#db.prepare(sql)
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

/** Runs a statement that returns rows on connection `db`. */
function readOn(db: Database, sql: string, params: Param[]): ReadResult {
  try {
    const stmt = db.prepare(sql)
    try {
      const rows = stmt.values(...params.map(toDriverValue)) as unknown[][]
      return {
        columns: stmt.columnNames,
        rows: rows.map(toJsonRow),
        columnTypes: stmt.declaredTypes.map(sqliteColumnType),
      }
    } finally {
      stmt.finalize()
    }
  } catch (err) {
    throw storeError(err)
  }
}

/** MySQL's longest length, for TEXT and BLOB columns SQLite does not bound. */
const UNBOUNDED_LENGTH = 0xffff_ffff

/**
 * A column's MySQL type from its declared SQLite type, by SQLite's affinity
 * rules (INT → BIGINT, CHAR/CLOB/TEXT → VARCHAR, BLOB → BLOB, REAL/FLOA/DOUB →
 * DOUBLE); of the NUMERIC-affinity names, DECIMAL/NUMERIC, BOOL(EAN), DATE,
 * DATETIME, TIMESTAMP and TIME keep their MySQL meaning. null (the caller
 * infers from the values) for an expression, a column declared without a type,
 * or another NUMERIC name.
 */
export function sqliteColumnType(declared: string | null | undefined): ColumnType | null {
  if (!declared) return null
  const d = declared.toUpperCase()
  const size = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(d)
  const n = size ? Number(size[1]) : undefined
  const binary = { charset: COLUMN_CHARSET.BINARY, decimals: 0 }
  const num = { ...binary, flags: COLUMN_FLAG.NUM }
  if (d.includes('INT')) return { ...num, type: COLUMN_TYPE.LONGLONG, length: 20 }
  if (/CHAR|CLOB|TEXT/.test(d)) {
    const length = n !== undefined && /CHAR/.test(d) ? n * 4 : UNBOUNDED_LENGTH
    return { type: COLUMN_TYPE.VAR_STRING, length, decimals: 0, flags: 0, charset: COLUMN_CHARSET.UTF8MB4 }
  }
  if (d.includes('BLOB'))
    return { ...binary, type: COLUMN_TYPE.BLOB, length: UNBOUNDED_LENGTH, flags: COLUMN_FLAG.BLOB | COLUMN_FLAG.BINARY }
  if (/REAL|FLOA|DOUB/.test(d)) return { ...num, type: COLUMN_TYPE.DOUBLE, length: 22, decimals: 0x1f }
  const base = d.replace(/\(.*$/s, '').trim()
  const fsp = n !== undefined ? Math.min(n, 6) : 0
  switch (base) {
    case 'DECIMAL':
    case 'DEC':
    case 'NUMERIC': {
      const precision = n ?? 10
      const scale = size?.[2] !== undefined ? Number(size[2]) : 0
      return { ...num, type: COLUMN_TYPE.NEWDECIMAL, length: precision + (scale > 0 ? 2 : 1), decimals: scale }
    }
    case 'BOOL':
    case 'BOOLEAN':
      return { ...num, type: COLUMN_TYPE.TINY, length: 1 }
    case 'DATE':
      return { ...binary, type: COLUMN_TYPE.DATE, length: 10, flags: COLUMN_FLAG.BINARY }
    case 'DATETIME':
    case 'TIMESTAMP':
      return {
        ...binary,
        type: base === 'DATETIME' ? COLUMN_TYPE.DATETIME : COLUMN_TYPE.TIMESTAMP,
        length: 19 + (fsp ? fsp + 1 : 0),
        decimals: fsp,
        flags: COLUMN_FLAG.BINARY,
      }
    case 'TIME':
      return {
        ...binary,
        type: COLUMN_TYPE.TIME,
        length: 10 + (fsp ? fsp + 1 : 0),
        decimals: fsp,
        flags: COLUMN_FLAG.BINARY,
      }
    default:
      return null
  }
}

function runOn(cache: StatementCache, sql: string, params: Param[]): RunResult {
  try {
    const { changes, lastInsertRowid } = cache.get(sql).run(...params.map(toDriverValue))
    return { affectedRows: changes, insertId: Number(lastInsertRowid) }
  } catch (err) {
    throw storeError(err)
  }
}

function writeStateOn(cache: StatementCache, state: StoreState): void {
  runOn(cache, 'UPDATE ddb_state SET applied_offset = ?, log_id = ?, pending_entries = ? WHERE id = 1', [
    state.offset,
    state.logId,
    state.pending ?? null,
  ])
}

/** SQLite result codes after which the database file's state is in doubt (not a refused statement). */
const IO_FAILURE = /^SQLITE_(IOERR|CORRUPT|FULL|CANTOPEN|NOTADB|NOMEM)/

/** Wraps a bun:sqlite error: SQLite's message and code; rejectedByServer unless the file itself failed. */
function storeError(err: unknown, prefix = '', hint?: string): StoreError {
  const message = err instanceof Error ? err.message : String(err)
  const code = (err as { code?: unknown } | null)?.code
  const storeCode = typeof code === 'string' ? code : undefined
  return new StoreError(prefix + message, {
    cause: err,
    storeCode,
    hint,
    rejectedByServer: !IO_FAILURE.test(storeCode ?? ''),
  })
}
