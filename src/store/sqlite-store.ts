import { Database } from 'bun:sqlite'
import type { Param, ReadResult } from '../entry.ts'
import { DdbError, StoreError } from '../errors.ts'
import { FileLock } from '../file-lock.ts'
import type { Staging, StagingProgress, StoreSnapshot } from '../snapshot.ts'
import { checkRole, type NodeClaim, storeInUse } from './ownership.ts'
import { readOn, runOn, StatementCache, storeError, writeStateOn } from './sqlite-connection.ts'
import { FK_OFF, FK_ON, type ModeStatement, needsForeignKeysOff } from './sqlite-foreign-keys.ts'
import {
  createSqliteStaging,
  openSqliteSnapshot,
  openSqliteStaging,
  type SqliteTakeOver,
  takeOverOn,
} from './sqlite-snapshot.ts'
import { SqliteTxn } from './sqlite-txn.ts'
import { sqliteColumnType } from './sqlite-types.ts'
import type { RunResult, SnapshotHold, StatementShape, Store, StoreState, StoreStatement, StoreTxn } from './store.ts'
import { stateOf } from './values.ts'
import { WriterLock } from './writer-lock.ts'

/**
 * PRAGMA synchronous for the writer. NORMAL (the default) does not fsync each commit
 * in WAL mode: a power loss may forget the last ones, never corrupt the file. The
 * replication log is the durable record (the master answers a write once the log has
 * it), and recovery applies again whatever entries a store lacks, so a store needs no
 * fsync of its own; FULL pays one per commit for nothing. OFF could corrupt the file.
 */
export type SqliteSynchronous = 'FULL' | 'NORMAL'

/** Options for openSqliteStore. */
export interface SqliteStoreOptions {
  /** Default 'NORMAL'. */
  synchronous?: SqliteSynchronous
  /** The node that opens it to serve it: the file is then locked for this process alone. */
  claim?: NodeClaim
}

/** How long a SQLite connection waits for another process's lock before failing, in milliseconds. */
export const BUSY_TIMEOUT_MS = 5_000

const STATE_DDL =
  'CREATE TABLE IF NOT EXISTS ddb_state (id INTEGER PRIMARY KEY CHECK (id = 1), applied_offset INTEGER NOT NULL, log_id TEXT, pending_entries TEXT, store_id TEXT, role TEXT, owner TEXT)'
/** Columns a state table made by an older ddb lacks: the store's identity. */
const IDENTITY_COLUMNS = ['store_id', 'role', 'owner']

/**
 * Opens (creating if needed) the SQLite store in file `path`: WAL, one writer and
 * one reader connection. With a claim, the file is locked first, before anything in it changes.
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const displayUrl = `sqlite:${path}`
  let lock: FileLock | null = null
  let writer: Database | undefined
  try {
    if (options.claim) {
      lock = FileLock.tryAcquire(path)
      if (!lock) throw storeInUse(displayUrl, recordedOwner(path))
    }
    writer = new Database(path, { create: true, safeIntegers: true })
    writer.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
    checkIsStore(writer, displayUrl)
    writer.run('PRAGMA journal_mode = WAL')
    const synchronous = options.synchronous ?? 'NORMAL'
    writer.run(`PRAGMA synchronous = ${synchronous}`)
    writer.run('PRAGMA foreign_keys = ON')
    writer.run(STATE_DDL)
    const columns = new Set(
      (writer.query('PRAGMA table_info(ddb_state)').all() as Array<{ name: string }>).map((c) => c.name),
    )
    for (const c of IDENTITY_COLUMNS) if (!columns.has(c)) writer.run(`ALTER TABLE ddb_state ADD COLUMN ${c} TEXT`)
    writer.run('INSERT OR IGNORE INTO ddb_state (id, applied_offset, log_id, store_id) VALUES (1, 0, NULL, ?)', [
      crypto.randomUUID(),
    ])
    if (options.claim) claim(writer, displayUrl, options.claim)
    const reader = new Database(path, { readonly: true, safeIntegers: true })
    reader.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
    return new SqliteStore(displayUrl, writer, reader, lock, `synchronous=${synchronous}`)
  } catch (err) {
    writer?.close()
    lock?.release()
    if (err instanceof DdbError) throw err
    throw storeError(
      err,
      `open ${displayUrl}: `,
      'check that the directory exists and is writable, and that the file is a SQLite database',
    )
  }
}

/** Records the claiming node in the state row, once its role may take the store. */
function claim(writer: Database, displayUrl: string, node: NodeClaim): void {
  const row = writer.query('SELECT role, store_id FROM ddb_state WHERE id = 1').get() as {
    role: string | null
    store_id: string | null
  }
  checkRole(displayUrl, row.role, node)
  writer.run('UPDATE ddb_state SET role = ?, owner = ?, store_id = coalesce(store_id, ?) WHERE id = 1', [
    node.role,
    node.owner,
    crypto.randomUUID(),
  ])
}

/** The owner the node holding the file recorded, read without disturbing it. */
function recordedOwner(path: string): string | null {
  try {
    const db = new Database(path, { readonly: true })
    try {
      return (
        (db.query('SELECT owner FROM ddb_state WHERE id = 1').get() as { owner: string | null } | null)?.owner ?? null
      )
    } finally {
      db.close()
    }
  } catch {
    return null
  }
}

/** Refuses a ddb log passed as a store, before anything in it changes. */
function checkIsStore(db: Database, displayUrl: string): void {
  const tables = new Set(
    (db.query("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as Array<{ name: string }>).map(
      (t) => t.name,
    ),
  )
  if (tables.has('entries') && tables.has('meta') && !tables.has('ddb_state'))
    throw new DdbError('NOT_A_STORE', `open ${displayUrl}: this is a ddb replication log, not a store`, {
      hint: 'pass the log with --log and the store with --db',
    })
}

/** The bun:sqlite Store: writes on one connection, serialized by a lock; reads on another. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const
  readonly defaultDb = null
  readonly ddlCommitsImplicitly = false
  /** A DEFERRABLE INITIALLY DEFERRED foreign key is checked at COMMIT, which then fails and leaves the transaction open. */
  readonly commitCanRefuse = true

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
  readonly durability: string
  readonly #writer: Database
  readonly #statements: StatementCache
  readonly #reader: Database
  readonly #readerStatements: StatementCache
  readonly #lock = new WriterLock()
  /** The file's lock while a node serves it (see FileLock). */
  readonly #fileLock: FileLock | null
  /** The writer connection's PRAGMA foreign_keys, as a mode. */
  #foreignKeys = FK_ON
  #closed = false

  constructor(
    displayUrl: string,
    writer: Database,
    reader: Database,
    fileLock: FileLock | null = null,
    durability = 'synchronous=NORMAL',
  ) {
    this.displayUrl = displayUrl
    this.durability = durability
    this.#fileLock = fileLock
    this.#writer = writer
    this.#statements = new StatementCache(writer)
    this.#reader = reader
    this.#readerStatements = new StatementCache(reader)
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

  /**
   * 'fk-off' when a statement's session turned foreign_key_checks off (no checks and no
   * cascades, as in MySQL), or when it is a DROP TABLE: with foreign keys on, SQLite's
   * DROP TABLE first deletes every row, which cascades to (or is refused by) the rows
   * that reference them, and the table rebuild the MySQL translation does for ALTER
   * TABLE … ADD FOREIGN KEY drops and renames the table (SQLite's own documentation has
   * it run with foreign keys off). Else 'fk-on'.
   */
  transactionMode(statements: readonly ModeStatement[]): string {
    return statements.some(needsForeignKeysOff) ? FK_OFF : FK_ON
  }

  async begin(mode: string = FK_ON): Promise<StoreTxn> {
    const release = await this.#acquire()
    try {
      this.#beginIn(mode)
    } catch (err) {
      release()
      throw storeError(err)
    }
    return new SqliteTxn(this.#writer, this.#statements, release, { mode })
  }

  /**
   * SQLite has one writer: a client's transaction holds it, as SQLite's own lock would.
   * Its BEGIN waits for its first statement, which says the mode it needs.
   */
  async beginClientTransaction(): Promise<StoreTxn> {
    const release = await this.#acquire()
    return new SqliteTxn(this.#writer, this.#statements, release, { begin: (mode) => this.#beginIn(mode) })
  }

  async runAutocommit(statement: StoreStatement): Promise<RunResult> {
    const release = await this.#acquire()
    try {
      this.#setForeignKeys(this.transactionMode([statement]))
      return runOn(this.#statements, statement.sql, statement.params)
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
    return readOn(this.#readerStatements, sql, params)
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

  async openSnapshot(hold: SnapshotHold): Promise<StoreSnapshot> {
    this.#checkOpen()
    return openSqliteSnapshot(this.#path, hold)
  }

  async staging(): Promise<Staging | null> {
    this.#checkOpen()
    return openSqliteStaging(this.#path, this.#takeOver)
  }

  async beginStaging(progress: Pick<StagingProgress, 'id' | 'offset' | 'logId'>): Promise<Staging> {
    this.#checkOpen()
    return createSqliteStaging(this.#path, progress, this.#takeOver)
  }

  /** A finished staging file replaces the store's data on the writer, foreign keys off (the rows are the master's, all at once). */
  readonly #takeOver: SqliteTakeOver = async (stagingPath, schema, progress) => {
    const release = await this.#acquire()
    try {
      this.#setForeignKeys(FK_OFF)
      this.#statements.clear() // their tables are about to be dropped
      takeOverOn(this.#writer, stagingPath, schema, progress)
    } catch (err) {
      throw storeError(err, `take over the snapshot in ${this.displayUrl}: `)
    } finally {
      release()
    }
  }

  get #path(): string {
    return this.displayUrl.slice('sqlite:'.length)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#statements.clear()
    this.#readerStatements.clear()
    this.#reader.close()
    this.#writer.close()
    this.#fileLock?.release() // after the connections: see FileLock
  }

  /** BEGIN IMMEDIATE in `mode`, on the writer (whose lock the caller holds). */
  #beginIn(mode: string): void {
    this.#setForeignKeys(mode)
    this.#writer.run('BEGIN IMMEDIATE')
  }

  /** PRAGMA foreign_keys for `mode`: outside a transaction, where SQLite does not ignore it. */
  #setForeignKeys(mode: string): void {
    if (mode !== FK_ON && mode !== FK_OFF)
      throw new StoreError(`${this.displayUrl}: unknown transaction mode '${mode}'`)
    if (mode === this.#foreignKeys) return
    if (this.#writer.inTransaction) throw new StoreError(`${this.displayUrl}: PRAGMA foreign_keys inside a transaction`)
    this.#writer.run(`PRAGMA foreign_keys = ${mode === FK_ON ? 'ON' : 'OFF'}`)
    this.#foreignKeys = mode
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
