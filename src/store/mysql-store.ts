import mysql from 'mysql2/promise'
import { COLUMN_CHARSET, COLUMN_TYPE, type ColumnType, type Param, type ReadResult } from '../entry.ts'
import { StoreError } from '../errors.ts'
import type { RunResult, Store, StoreState, StoreStatement, StoreTxn } from './store.ts'
import { stateOf, toDriverValue, toJsonRow } from './values.ts'
import { WriterLock } from './writer-lock.ts'

/** Where a MySQL store lives, as openStore parsed it from a mysql:// URL. */
export interface MysqlStoreConfig {
  host: string
  port: number
  user: string
  password: string
  /** The database sessions start in; created at open when missing. */
  database: string
  /** The URL with the password masked. */
  displayUrl: string
  /** The time zone writer sessions are pinned to (set once known; null: the server's). */
  timeZone?: string | null
}

/** How long opening a MySQL connection may take, in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
/** How many connections serve read(). */
export const READ_POOL_SIZE = 4

// The slice of mysql2/promise this store uses (the only module that imports mysql2).
interface MysqlField {
  name: string
  /** enum_field_types code. */
  columnType?: number
  columnLength?: number
  decimals: number
  /** A number for result sets (the driver gives names only when asked to). */
  flags: number | string[]
  characterSet?: number
}
interface MysqlConnection {
  query(sql: string, values?: unknown[]): Promise<[unknown, MysqlField[] | undefined]>
  /** Binds values into sql client-side, exactly as query(sql, values) would. */
  format(sql: string, values: unknown[]): string
  on(event: 'error', listener: (err: Error) => void): unknown
  end(): Promise<void>
  destroy(): void
}
interface MysqlPoolConnection extends MysqlConnection {
  /** The driver's connection object under this wrapper: the same for every checkout of one pooled connection. */
  readonly connection: object
  release(): void
}
interface MysqlPool {
  getConnection(): Promise<MysqlPoolConnection>
  end(): Promise<void>
}
interface ResultHeader {
  affectedRows: number
  insertId: number | string
  /** Session state the server reported (CLIENT_SESSION_TRACK): `schema` after a USE or a dropped database. */
  stateChanges?: { schema?: string }
}

const STATE_TABLE = 'ddb.replication_state'
const STATE_DDL = `CREATE TABLE IF NOT EXISTS ${STATE_TABLE} (id TINYINT PRIMARY KEY, applied_offset BIGINT NOT NULL, log_id VARCHAR(64) NULL, pending_entries LONGTEXT NULL) ENGINE=InnoDB`
const WRITE_STATE = `UPDATE ${STATE_TABLE} SET applied_offset = ?, log_id = ?, pending_entries = ? WHERE id = 1`
const stateValues = (state: StoreState) => [state.offset, state.logId, state.pending ?? null]

/** Opens a MySQL store: creates the URL's database and the `ddb` state database when missing. */
export async function openMysqlStore(config: MysqlStoreConfig): Promise<MysqlStore> {
  const writer = await connect(config)
  try {
    // utf8mb4 only applies when the database is created here (servers may default to latin1).
    await writer.query(`CREATE DATABASE IF NOT EXISTS ${quoteId(config.database)} CHARACTER SET utf8mb4`)
    await writer.query('CREATE DATABASE IF NOT EXISTS ddb CHARACTER SET utf8mb4')
    await writer.query(STATE_DDL)
    await writer.query(`INSERT IGNORE INTO ${STATE_TABLE} (id, applied_offset, log_id) VALUES (1, 0, NULL)`)
  } catch (err) {
    writer.conn.destroy()
    throw storeError(err, `open ${config.displayUrl}: `)
  }
  const pool: MysqlPool = mysql.createPool({
    ...connectionOptions(config),
    database: config.database,
    connectionLimit: READ_POOL_SIZE,
  })
  // Pin the zone NOW() renders in, so it stays the same across reconnects (a SYSTEM zone becomes its offset).
  const [rows] = await writer.query(`SELECT IF(@@session.time_zone = 'SYSTEM', TIME_FORMAT(TIMEDIFF(NOW(), UTC_TIMESTAMP()), '%H:%i'), @@session.time_zone) AS tz`)
  const zone = String((rows as Array<{ tz: string }>)[0]!.tz)
  const timeZone = /^[+-]/.test(zone) ? zone : /^\d/.test(zone) ? `+${zone}` : zone
  await writer.query('SET SESSION time_zone = ?', [timeZone])
  return new MysqlStore({ ...config, timeZone }, writer, pool)
}

/** The mysql2 Store: one writer connection serialized by a lock, and a small pool for reads. */
export class MysqlStore implements Store {
  readonly kind = 'mysql' as const
  readonly ddlCommitsImplicitly = true

  get timeZone(): string | null {
    return this.#config.timeZone ?? null
  }

  ddlAlreadyApplied(err: unknown): boolean {
    return err instanceof StoreError && DDL_ALREADY_APPLIED.has(Number(err.storeCode))
  }
  readonly displayUrl: string
  readonly defaultDb: string
  readonly #config: MysqlStoreConfig
  readonly #pool: MysqlPool
  readonly #lock = new WriterLock()
  /** The database each pooled connection switched to (unlisted: defaultDb). */
  readonly #readerDbs = new WeakMap<object, string>()
  #writer: Session | null
  #closing: Promise<void> | null = null

  constructor(config: MysqlStoreConfig, writer: Session, pool: MysqlPool) {
    this.#config = config
    this.displayUrl = config.displayUrl
    this.defaultDb = config.database
    this.#writer = writer
    this.#pool = pool
  }

  async readState(): Promise<StoreState> {
    const { rows } = await this.read(null, `SELECT applied_offset, log_id, pending_entries FROM ${STATE_TABLE} WHERE id = 1`, [])
    const row = rows[0]
    if (!row) throw new StoreError(`read state ${this.displayUrl}: the ${STATE_TABLE} row is missing`)
    return stateOf(row)
  }

  async begin(): Promise<StoreTxn> {
    const release = await this.#acquire()
    try {
      return new MysqlTxn(await this.#session(), this.defaultDb, release)
    } catch (err) {
      release()
      throw storeError(err)
    }
  }

  /** A connection of its own for the client's transaction, closed when it ends. */
  async beginClientTransaction(): Promise<StoreTxn> {
    this.#checkOpen()
    const session = await connect(this.#config)
    return new MysqlTxn(session, this.defaultDb, () => void session.end())
  }

  async runAutocommit(statement: StoreStatement): Promise<RunResult> {
    const s = { ...statement, db: statement.db ?? this.defaultDb }
    return this.#withWriter(async (session) => (await session.runPacket([], [s], []))[0]!)
  }

  async writeState(state: StoreState): Promise<void> {
    await this.#withWriter((session) => session.query(WRITE_STATE, stateValues(state)))
  }

  async read(db: string | null, sql: string, params: Param[]): Promise<ReadResult> {
    this.#checkOpen()
    let conn: MysqlPoolConnection
    try {
      conn = await this.#pool.getConnection()
    } catch (err) {
      throw connectError(err, this.displayUrl)
    }
    try {
      const target = db ?? this.defaultDb
      if ((this.#readerDbs.get(conn.connection) ?? this.defaultDb) !== target) {
        await conn.query(`USE ${quoteId(target)}`)
        this.#readerDbs.set(conn.connection, target)
      }
      const [result, fields] = await conn.query(sql, params.length ? params.map(toDriverValue) : undefined)
      const schema = schemaChange(result)
      if (schema !== undefined) this.#readerDbs.set(conn.connection, schema)
      if (!Array.isArray(result)) return { columns: [], rows: [] }
      return readResult(result, fields ?? [])
    } catch (err) {
      throw storeError(err)
    } finally {
      conn.release()
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const writer = this.#writer
      this.#writer = null
      await Promise.allSettled([writer?.end(), this.#pool.end()])
    })()
    return this.#closing
  }

  async #withWriter<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    const release = await this.#acquire()
    try {
      return await fn(await this.#session())
    } catch (err) {
      throw storeError(err)
    } finally {
      release()
    }
  }

  async #acquire(): Promise<() => void> {
    this.#checkOpen()
    const release = await this.#lock.acquire()
    if (this.#closing) {
      release()
      this.#checkOpen()
    }
    return release
  }

  /** The writer session, reconnected first when the last one broke. */
  async #session(): Promise<Session> {
    if (this.#writer && !this.#writer.broken) return this.#writer
    this.#writer?.conn.destroy()
    this.#writer = null
    const session = await connect(this.#config)
    if (this.#closing) {
      await session.end()
      this.#checkOpen()
    }
    return (this.#writer = session)
  }

  #checkOpen(): void {
    if (this.#closing) throw new StoreError(`${this.displayUrl}: store is closed`)
  }
}

/**
 * One START TRANSACTION … COMMIT on the writer session; holds the writer lock
 * until it ends. Statements that need no answer of their own (START
 * TRANSACTION, SAVEPOINT, the state row's UPDATE) wait and travel in the next
 * packet, so a write costs one round trip for its statements and one for COMMIT.
 */
class MysqlTxn implements StoreTxn {
  readonly #session: Session
  readonly #defaultDb: string
  #release: (() => void) | null
  #queued: string[] = ['START TRANSACTION']
  #started = false

  constructor(session: Session, defaultDb: string, release: () => void) {
    this.#session = session
    this.#defaultDb = defaultDb
    this.#release = release
  }

  async run(db: string | null, sql: string, params: Param[]): Promise<RunResult> {
    return (await this.runMany([{ db, sql, params }]))[0]!
  }

  async runMany(statements: StoreStatement[], state?: StoreState): Promise<RunResult[]> {
    this.#checkOpen()
    const after = state ? [this.#session.format(WRITE_STATE, stateValues(state))] : []
    try {
      return await this.#session.runPacket(this.#takeQueued(), statements.map((s) => ({ ...s, db: s.db ?? this.#defaultDb })), after)
    } catch (err) {
      throw storeError(err)
    }
  }

  /**
   * runMany, the state row and COMMIT in ONE packet, for a slave's small batch
   * (one round trip instead of two). After each statement with an expected row
   * count, a guard inserts the state row's key again unless the count matches:
   * the duplicate-key error stops the packet before COMMIT, so a diverged batch
   * is never committed. On any error nothing is committed: roll back.
   */
  async runManyAndCommit(statements: StoreStatement[], expected: Array<number | null>, state: StoreState): Promise<RunResult[]> {
    this.#checkOpen()
    const guards = expected.map((n) => (n === null ? null : `INSERT INTO ${STATE_TABLE} (id, applied_offset) SELECT 1, 0 FROM DUAL WHERE ROW_COUNT() <> ${n}`))
    const after = [this.#session.format(WRITE_STATE, stateValues(state)), 'COMMIT']
    let results: RunResult[]
    try {
      results = await this.#session.runPacket(this.#takeQueued(), statements.map((s) => ({ ...s, db: s.db ?? this.#defaultDb })), after, guards)
    } catch (err) {
      throw storeError(err)
    }
    this.#end()
    return results
  }

  async read(db: string | null, sql: string, params: Param[]): Promise<ReadResult> {
    this.#checkOpen()
    try {
      await this.#session.runPacket(this.#takeQueued(), [], [])
      return await this.#session.read(db ?? this.#defaultDb, sql, params)
    } catch (err) {
      throw storeError(err)
    }
  }

  async savepoint(name: string): Promise<void> {
    this.#checkOpen()
    this.#queued.push(`SAVEPOINT ${quoteId(name)}`)
  }

  rollbackTo(name: string): Promise<void> {
    return this.#exec(`ROLLBACK TO SAVEPOINT ${quoteId(name)}`)
  }

  async setState(state: StoreState): Promise<void> {
    this.#checkOpen()
    this.#queued.push(this.#session.format(WRITE_STATE, stateValues(state)))
  }

  async commit(): Promise<void> {
    await this.#exec('COMMIT')
    this.#end()
  }

  async rollback(): Promise<void> {
    if (!this.#release) return
    if (this.#started && !this.#session.broken) {
      // A failed ROLLBACK leaves the session in an unknown state: drop it so the next begin() reconnects.
      await this.#session.query('ROLLBACK').catch(() => this.#session.markBroken())
    }
    this.#end()
  }

  /** Transaction control waiting to go out; from here on the server has a transaction to roll back. */
  #takeQueued(): string[] {
    const queued = this.#queued
    this.#queued = []
    this.#started = true
    return queued
  }

  async #exec(sql: string): Promise<void> {
    this.#checkOpen()
    try {
      await this.#session.runPacket(this.#takeQueued(), [], [sql])
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

/** A connection plus the database it is in; broken once the driver reports a fatal error. */
class Session {
  readonly conn: MysqlConnection
  #db: string | null = null
  /** The session's pinned clock (SET TIMESTAMP), in ms; undefined when unknown. */
  #ts: number | undefined = undefined
  /** The session's time_zone as last set here; undefined when unknown. */
  #zone: string | undefined = undefined
  #broken = false

  constructor(conn: MysqlConnection) {
    this.conn = conn
    conn.on('error', () => this.markBroken())
  }

  get broken(): boolean {
    return this.#broken
  }

  markBroken(): void {
    this.#broken = true
  }

  /** Binds params into sql client-side, as the driver does for query(sql, params). */
  format(sql: string, params: unknown[]): string {
    return params.length > 0 ? this.conn.format(sql, params) : sql
  }

  /**
   * Sends `before`, then each statement (switching databases with USE where it
   * changes; followed by its guard, if any), then `after`, as ONE multi-statement packet; resolves with the
   * statements' results. Statements are joined with a newline before the ';'
   * so a trailing `-- comment` cannot swallow the separator.
   */
  async runPacket(before: string[], statements: StoreStatement[], after: string[], guards: Array<string | null> = []): Promise<RunResult[]> {
    const texts = [...before]
    const mine: number[] = []
    let db = this.#db
    let ts = this.#ts
    let zone = this.#zone
    for (const s of statements) {
      if (s.db !== db && s.db !== null) {
        texts.push(`USE ${quoteId(s.db)}`)
        db = s.db
      }
      if (s.ts !== undefined && s.ts !== ts) {
        texts.push(`SET TIMESTAMP = ${(s.ts / 1000).toFixed(3)}`)
        ts = s.ts
      }
      if (s.timeZone && s.timeZone !== zone) {
        texts.push(this.format('SET time_zone = ?', [s.timeZone]))
        zone = s.timeZone
      }
      if (s.insertId) texts.push(`SET INSERT_ID = ${s.insertId}`)
      mine.push(texts.length)
      texts.push(this.format(s.sql, s.params.map(toDriverValue)))
      const guard = guards[mine.length - 1]
      if (guard) texts.push(guard) // right after its statement: ROW_COUNT() is that statement's
      // INSERT_ID stays set until a statement generates a value: one that did not must not lend it to a later one.
      if (s.insertId) texts.push('SET INSERT_ID = 0')
    }
    texts.push(...after)
    if (texts.length === 0) return []
    this.#db = null // unknown until the packet succeeds
    this.#ts = undefined
    this.#zone = undefined
    const [result] = await this.query(texts.join('\n;\n'))
    const results = texts.length === 1 ? [result] : (result as unknown[])
    for (const r of results) db = schemaChange(r) ?? db
    this.#db = db
    this.#ts = ts
    this.#zone = zone
    return mine.map((i) => runResult(results[i]))
  }

  /** Runs a statement that returns rows in database `db` on this connection. */
  async read(db: string, sql: string, params: Param[]): Promise<ReadResult> {
    if (this.#db !== db) {
      await this.query(`USE ${quoteId(db)}`)
      this.#db = db
    }
    const [result, fields] = await this.query(sql, params.length ? params.map(toDriverValue) : undefined)
    if (!Array.isArray(result)) return { columns: [], rows: [] }
    return readResult(result, fields ?? [])
  }

  /** Runs sql (client-side binding when values are given); a fatal driver error marks the session broken. */
  async query(sql: string, values?: unknown[]): Promise<[unknown, MysqlField[] | undefined]> {
    try {
      return values ? await this.conn.query(sql, values) : await this.conn.query(sql)
    } catch (err) {
      if ((err as { fatal?: boolean }).fatal) this.markBroken()
      throw err
    }
  }

  async end(): Promise<void> {
    try {
      await this.conn.end()
    } catch {
      this.conn.destroy()
    }
  }
}

/**
 * Errors a DDL statement meets when it runs a second time after a crash:
 * ER_DB_CREATE_EXISTS 1007, ER_DB_DROP_EXISTS 1008, ER_TABLE_EXISTS_ERROR 1050,
 * ER_BAD_TABLE_ERROR 1051, ER_DUP_FIELDNAME 1060, ER_DUP_KEYNAME 1061,
 * ER_CANT_DROP_FIELD_OR_KEY 1091, ER_NO_SUCH_TABLE 1146 (RENAME/TRUNCATE of a table already renamed or dropped).
 */
const DDL_ALREADY_APPLIED = new Set([1007, 1008, 1050, 1051, 1060, 1061, 1091, 1146])

function connectionOptions(config: MysqlStoreConfig) {
  return {
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    jsonStrings: true,
    multipleStatements: false,
    charset: 'utf8mb4',
    timezone: '+00:00',
    connectTimeout: DEFAULT_CONNECT_TIMEOUT_MS,
    // The driver would capture a stack trace on every query for its errors: a measurable cost per write.
    trace: false,
  }
}

/**
 * Opens a writer session with no database selected (it may not exist yet).
 * It sends many statements per packet, so the server must split them where
 * ddb's lexer did: NO_BACKSLASH_ESCAPES would move where a string ends.
 */
async function connect(config: MysqlStoreConfig): Promise<Session> {
  try {
    const conn: MysqlConnection = await mysql.createConnection({ ...connectionOptions(config), multipleStatements: true })
    await conn.query(`SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')`)
    if (config.timeZone) await conn.query('SET SESSION time_zone = ?', [config.timeZone])
    return new Session(conn)
  } catch (err) {
    throw connectError(err, config.displayUrl)
  }
}

function connectError(err: unknown, displayUrl: string): StoreError {
  const code = (err as { code?: string }).code
  const detail =
    code === 'ECONNREFUSED' ? 'connection refused'
    : code === 'ETIMEDOUT' ? 'timed out'
    : code === 'ENOTFOUND' ? 'unknown host'
    : err instanceof Error ? err.message : String(err)
  const hint =
    code === 'ER_ACCESS_DENIED_ERROR' ? 'check the user and password in the --db URL'
    : 'check that MySQL is running and that the --db URL names its host and port'
  return new StoreError(`connect ${displayUrl}: ${detail}`, { cause: err, storeCode: code, hint })
}

/** Server errors that mean the connection went away, so the statement's outcome is unknown. */
const CONNECTION_GONE_ERRNOS = new Set([1053 /* ER_SERVER_SHUTDOWN */, 1927 /* ER_CONNECTION_KILLED */])

/**
 * Wraps a mysql2 error: its message; storeCode = the server's errno (the driver's
 * code for network errors); rejectedByServer when the server answered with an error.
 */
function storeError(err: unknown, prefix = ''): StoreError {
  if (err instanceof StoreError) return err
  const e = err as { message?: string; errno?: number; code?: string; sqlState?: string; fatal?: boolean }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  const fromServer = Boolean(e?.sqlState) && !e.fatal && !CONNECTION_GONE_ERRNOS.has(e.errno ?? 0)
  return new StoreError(prefix + message, {
    cause: err,
    storeCode: e?.sqlState ? e.errno : e?.code,
    rejectedByServer: fromServer,
  })
}

/** A read's rows and columns, with each column's type from the driver's field metadata. */
function readResult(rows: unknown[], fields: MysqlField[]): ReadResult {
  return {
    columns: fields.map((f) => f.name),
    rows: rows.map((r) => toJsonRow(r as Record<string, unknown>)),
    columnTypes: fields.map(columnTypeOf),
  }
}

/** A column's type as the server described it (mysql2's FieldPacket). */
export function columnTypeOf(f: MysqlField): ColumnType {
  return {
    type: f.columnType ?? COLUMN_TYPE.VAR_STRING,
    length: f.columnLength ?? 0,
    decimals: f.decimals,
    flags: typeof f.flags === 'number' ? f.flags : 0,
    charset: f.characterSet ?? COLUMN_CHARSET.BINARY,
  }
}

/** A statement's RunResult: rows affected and insert id; zeros for a statement that returned rows. */
function runResult(result: unknown): RunResult {
  if (Array.isArray(result)) return { affectedRows: 0, insertId: 0 }
  const header = result as ResultHeader
  return { affectedRows: header.affectedRows, insertId: Number(header.insertId) }
}

/** The database a statement switched its session to, if it did ('' when it dropped the current one). */
function schemaChange(result: unknown): string | undefined {
  return Array.isArray(result) ? undefined : (result as ResultHeader).stateChanges?.schema
}

function quoteId(name: string): string {
  return '`' + name.replaceAll('`', '``') + '`'
}
