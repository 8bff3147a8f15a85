import mysql from 'mysql2/promise'
import type { Param, ReadResult } from '../entry.ts'
import { DdbError, StoreError } from '../errors.ts'
import type { Staging, StagingProgress, StoreSnapshot } from '../snapshot.ts'
import type { IdTable } from '../sql/insert-id.ts'
import { quoteIdentifier } from '../sql/lexer.ts'
import { MysqlStoreLock } from './mysql-lock.ts'
import { MysqlRelay } from './mysql-relay.ts'
import {
  BEHIND_GUARD_KEY,
  BEHIND_GUARD_TABLE,
  columnTypeOf,
  type MysqlConnection,
  type MysqlField,
  readResult,
  Session,
  schemaChange,
  storeError,
} from './mysql-session.ts'
import { createMysqlStaging, openMysqlSnapshot, openMysqlStaging, PROGRESS_DDL } from './mysql-snapshot.ts'
import { MysqlTxn, STATE_TABLE, stateStatements } from './mysql-txn.ts'
import { checkRole, type NodeClaim } from './ownership.ts'
import type {
  RelayedRead,
  RunResult,
  SnapshotHold,
  StatementShape,
  Store,
  StoreState,
  StoreStatement,
  StoreTxn,
} from './store.ts'
import { stateOf, toDriverValue } from './values.ts'
import { WriterLock } from './writer-lock.ts'

/** Where a MySQL store lives, as openStore parsed it from a mysql:// URL. */
export interface MysqlStoreConfig {
  host: string
  port: number
  /** The server's Unix socket: connections go there instead of host:port. */
  socketPath?: string
  user: string
  password: string
  /** The database sessions start in; created at open when missing. */
  database: string
  /** The URL with the password masked. */
  displayUrl: string
  /** The time zone writer sessions are pinned to (set once known; null: the server's). */
  timeZone?: string | null
  /** The server's innodb_rollback_on_timeout (read at open). */
  rollbackOnTimeout?: boolean
  /** The server's VERSION() (read at open). */
  version?: string
  /** The server's innodb_flush_log_at_trx_commit (read at open). */
  flushAtCommit?: number
}

/** How long opening a MySQL connection may take, in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
/** How many connections serve read(). */
export const READ_POOL_SIZE = 4
/** How many finished client transactions' connections are kept open for the next ones. */
const CLIENT_SESSIONS_KEPT = 8

// The slice of a mysql2/promise pool this store uses (the only module that imports mysql2; a connection's slice is in mysql-session.ts).
// Its `connection` (the driver's connection under the wrapper) is the same for every checkout of one pooled connection.
interface MysqlPoolConnection extends MysqlConnection {
  /** COM_STMT_PREPARE: the statement's result columns and parameters, as the server reports them. */
  prepare(sql: string): Promise<{ statement: { columns: MysqlField[]; parameters: MysqlField[] } }>
  /** Closes the prepared statement and forgets it. */
  unprepare(sql: string): void
  release(): void
}
interface MysqlPool {
  getConnection(): Promise<MysqlPoolConnection>
  end(): Promise<void>
}

const STATE_DDL = `CREATE TABLE IF NOT EXISTS ${STATE_TABLE} (
  db VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
  applied_offset BIGINT NOT NULL, log_id VARCHAR(64) NULL, pending_entries LONGTEXT NULL,
  store_id VARCHAR(64) NULL, role VARCHAR(16) NULL, owner VARCHAR(255) NULL) ENGINE=InnoDB`
/** Where ddb before per-database state kept one state row per server. */
const OLD_STATE_TABLE = 'ddb.replication_state'

/**
 * Opens a MySQL store: creates the URL's database and the `ddb` state database when
 * missing. With a claim, the store's lock is taken first, before anything changes.
 */
export async function openMysqlStore(config: MysqlStoreConfig, claim?: NodeClaim): Promise<MysqlStore> {
  const lock = claim
    ? await MysqlStoreLock.take({
        database: config.database,
        displayUrl: config.displayUrl,
        connect: () => connect(config),
        holder: () => recordedOwner(config),
        ...(claim.onLost ? { onLost: claim.onLost } : {}),
      })
    : null
  const writer = await connect(config).catch(async (err) => {
    await lock?.release()
    throw err
  })
  try {
    // utf8mb4 only applies when the database is created here (servers may default to latin1).
    await writer.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(config.database)} CHARACTER SET utf8mb4`)
    await writer.query('CREATE DATABASE IF NOT EXISTS ddb CHARACTER SET utf8mb4')
    await writer.query(STATE_DDL)
    await writer.query(PROGRESS_DDL)
    await writer.query(`CREATE TABLE IF NOT EXISTS ${BEHIND_GUARD_TABLE} (name VARCHAR(32) PRIMARY KEY) ENGINE=InnoDB`)
    await writer.query(`INSERT IGNORE INTO ${BEHIND_GUARD_TABLE} (name) VALUES (?)`, [BEHIND_GUARD_KEY])
    await writer.query(`INSERT IGNORE INTO ${STATE_TABLE} (db, applied_offset, store_id) VALUES (?, 0, UUID())`, [
      config.database,
    ])
    await adoptServerWideState(writer, config.database)
    if (claim) {
      const [rows] = await writer.query(`SELECT role FROM ${STATE_TABLE} WHERE db = ?`, [config.database])
      checkRole(config.displayUrl, (rows as Array<{ role: string | null }>)[0]?.role ?? null, claim)
      await writer.query(`UPDATE ${STATE_TABLE} SET role = ?, owner = ? WHERE db = ?`, [
        claim.role,
        claim.owner.slice(0, 255),
        config.database,
      ])
    }
  } catch (err) {
    writer.conn.destroy()
    await lock?.release()
    if (err instanceof DdbError) throw err
    throw storeError(err, `open ${config.displayUrl}: `)
  }
  // The driver's types leave out the prepared statement's column and parameter definitions, which MysqlPool names.
  const pool = mysql.createPool({
    ...connectionOptions(config),
    database: config.database,
    connectionLimit: READ_POOL_SIZE,
  }) as unknown as MysqlPool
  // Pin the zone NOW() renders in, so it stays the same across reconnects (a SYSTEM zone becomes its offset).
  const [rows] = await writer.query(
    `SELECT IF(@@session.time_zone = 'SYSTEM', TIME_FORMAT(TIMEDIFF(NOW(), UTC_TIMESTAMP()), '%H:%i'), @@session.time_zone) AS tz, @@innodb_rollback_on_timeout AS rollback_on_timeout, VERSION() AS version, @@innodb_flush_log_at_trx_commit AS flush`,
  )
  const [server] = rows as Array<{ tz: string; rollback_on_timeout: number; version: string; flush: number }>
  const zone = String(server!.tz)
  const timeZone = /^[+-]/.test(zone) ? zone : /^\d/.test(zone) ? `+${zone}` : zone
  await writer.query('SET SESSION time_zone = ?', [timeZone])
  writer.pinnedZone = timeZone
  const rollbackOnTimeout = Number(server!.rollback_on_timeout) === 1
  return new MysqlStore(
    { ...config, timeZone, rollbackOnTimeout, version: String(server!.version), flushAtCommit: Number(server!.flush) },
    writer,
    pool,
    lock,
  )
}

/**
 * A server whose ddb kept one state row for the whole server (before per-database
 * rows): that row is the state of the first store opened on it now, which takes it
 * over; the old table goes, so no other store can take it too.
 */
async function adoptServerWideState(writer: Session, database: string): Promise<void> {
  const [tables] = await writer.query(
    "SELECT 1 FROM information_schema.tables WHERE table_schema = 'ddb' AND table_name = 'replication_state'",
  )
  if ((tables as unknown[]).length === 0) return
  await writer.query(
    `UPDATE ${STATE_TABLE} s JOIN ${OLD_STATE_TABLE} o ON o.id = 1
     SET s.applied_offset = o.applied_offset, s.log_id = o.log_id, s.pending_entries = o.pending_entries
     WHERE s.db = ? AND s.log_id IS NULL AND s.applied_offset = 0`,
    [database],
  )
  await writer.query(`DROP TABLE ${OLD_STATE_TABLE}`)
}

/** The owner a node holding the store recorded in its state row, or null. */
async function recordedOwner(config: MysqlStoreConfig): Promise<string | null> {
  const session = await connect(config)
  try {
    const [rows] = await session.query(`SELECT owner FROM ${STATE_TABLE} WHERE db = ?`, [config.database])
    return (rows as Array<{ owner: string | null }>)[0]?.owner ?? null
  } finally {
    await session.end()
  }
}

/** The mysql2 Store: one writer connection serialized by a lock, and a small pool for reads. */
export class MysqlStore implements Store {
  readonly kind = 'mysql' as const
  readonly ddlCommitsImplicitly = true
  /** InnoDB checks constraints per statement: a COMMIT refuses nothing. */
  readonly commitCanRefuse = false

  /** One kind of transaction: the settings a statement carries are sent with it (SET SESSION), as it runs. */
  transactionMode(): string {
    return ''
  }

  get timeZone(): string | null {
    return this.#config.timeZone ?? null
  }

  ddlAlreadyApplied(err: unknown): boolean {
    return err instanceof StoreError && DDL_ALREADY_APPLIED.has(Number(err.storeCode))
  }

  endsTransaction(err: unknown): boolean {
    if (!(err instanceof StoreError)) return false
    return (
      err.storeCode === ER_LOCK_DEADLOCK ||
      (err.storeCode === ER_LOCK_WAIT_TIMEOUT && this.#config.rollbackOnTimeout === true)
    )
  }
  readonly displayUrl: string
  readonly defaultDb: string
  readonly #config: MysqlStoreConfig
  readonly #pool: MysqlPool
  readonly #lock = new WriterLock()
  /** The database each pooled connection switched to (unlisted: defaultDb). */
  readonly #readerDbs = new WeakMap<object, string>()
  /** The session settings each pooled connection has (unlisted: none, the server's defaults). */
  readonly #readerSettings = new WeakMap<object, Record<string, Param>>()
  #writer: Session | null
  /** Connections of finished client transactions, ready for the next. */
  readonly #idleClientSessions: Session[] = []
  #closing: Promise<void> | null = null
  /** The store's ownership while a node serves it. */
  readonly #ownership: MysqlStoreLock | null
  /** Plain reads of MySQL-port clients, relayed as packets (mysql-relay.ts). */
  readonly #relay: MysqlRelay

  constructor(config: MysqlStoreConfig, writer: Session, pool: MysqlPool, ownership: MysqlStoreLock | null = null) {
    this.#config = config
    this.#ownership = ownership
    this.displayUrl = config.displayUrl
    this.defaultDb = config.database
    this.#writer = writer
    this.#pool = pool
    this.#relay = new MysqlRelay(config)
  }

  /** On a connection of its own, opened before the hold. */
  async openSnapshot(hold: SnapshotHold): Promise<StoreSnapshot> {
    return openMysqlSnapshot((await connect(this.#config)).conn, this.defaultDb, hold)
  }

  async staging(): Promise<Staging | null> {
    const { conn } = await connect(this.#config)
    const staging = await openMysqlStaging(conn, this.defaultDb).catch((err) => {
      conn.destroy()
      throw storeError(err)
    })
    if (!staging) conn.destroy()
    return staging
  }

  async beginStaging(progress: Pick<StagingProgress, 'id' | 'offset' | 'logId'>): Promise<Staging> {
    const { conn } = await connect(this.#config)
    return createMysqlStaging(conn, this.defaultDb, progress).catch((err) => {
      conn.destroy()
      throw storeError(err)
    })
  }

  async readState(): Promise<StoreState> {
    const { rows } = await this.read(
      null,
      `SELECT applied_offset, log_id, pending_entries FROM ${STATE_TABLE} WHERE db = ?`,
      [this.defaultDb],
    )
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
    let session = this.#idleClientSessions.pop()
    while (session?.broken) {
      void session.end() // it dropped while idle
      session = this.#idleClientSessions.pop()
    }
    const before = session ? [session.resetClock()] : []
    session ??= await connect(this.#config)
    const own = session
    return new MysqlTxn(own, this.defaultDb, () => this.#keepClientSession(own), before)
  }

  /** A finished client transaction's connection: kept for the next one (opening one costs a login and round trips), unless broken or enough are kept. */
  #keepClientSession(session: Session): void {
    if (session.broken || this.#closing || this.#idleClientSessions.length >= CLIENT_SESSIONS_KEPT)
      return void session.end()
    this.#idleClientSessions.push(session)
  }

  async runAutocommit(statement: StoreStatement): Promise<RunResult> {
    const s = { ...statement, db: statement.db ?? this.defaultDb }
    return this.#withWriter(async (session) => (await session.runPacket([], [s], []))[0]!)
  }

  async writeState(state: StoreState): Promise<void> {
    await this.#withWriter(async (session) => {
      for (const sql of stateStatements(session, state, this.defaultDb)) await session.query(sql)
    })
  }

  get version(): string | null {
    return this.#config.version ?? null
  }

  get durability(): string {
    return `innodb_flush_log_at_trx_commit=${this.#config.flushAtCommit ?? 'unknown'}`
  }

  /** SHOW SESSION VARIABLES: each value as the server reports it, ON/OFF as 1/0, numbers as numbers. */
  async sessionDefaults(names: string[]): Promise<Record<string, Param>> {
    if (names.length === 0) return {}
    const { rows } = await this.read(
      null,
      `SHOW SESSION VARIABLES WHERE Variable_name IN (${names.map(() => '?').join(', ')})`,
      names,
    )
    return Object.fromEntries(rows.map(([name, value]) => [String(name).toLowerCase(), settingValue(value)]))
  }

  /** Sets it on a pooled connection, reads it back, and puts the default back. */
  checkSetting(name: string, value: Param): Promise<Param | null> {
    return this.#withReader(null, async (conn) => {
      const variable = quoteIdentifier(name)
      await conn.query(`SET SESSION ${variable} = ?`, [toDriverValue(value)])
      try {
        const [rows] = await conn.query({ sql: `SELECT @@SESSION.${variable}`, rowsAsArray: true })
        return settingValue((rows as unknown[][])[0]?.[0] ?? null)
      } finally {
        await conn.query(`SET SESSION ${variable} = DEFAULT`).catch(() => {})
      }
    })
  }

  read(db: string | null, sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult> {
    return this.#withReader(db, async (conn) => {
      if (settings) await this.#settle(conn, settings)
      const [result, fields] = await conn.query(
        { sql, rowsAsArray: true },
        params.length ? params.map(toDriverValue) : undefined,
      )
      const schema = schemaChange(result)
      if (schema !== undefined) this.#readerDbs.set(conn.connection, schema)
      if (!Array.isArray(result)) return { columns: [], rows: [] }
      return readResult(result, fields ?? [])
    })
  }

  relayRead(read: RelayedRead, send: (framed: Buffer) => void): Promise<boolean> {
    if (this.#closing) return Promise.resolve(false)
    const settings = read.settings && Object.keys(read.settings).length > 0 ? settingsStatement(read.settings) : ''
    return this.#relay.relay({ ...read, db: read.db ?? this.defaultDb, settings }, send)
  }

  async masterOnSameServer(logId: string): Promise<string | null> {
    const { rows } = await this.read(
      null,
      `SELECT db FROM ${STATE_TABLE} WHERE role = 'master' AND log_id = ? AND db <> ? LIMIT 1`,
      [logId, this.defaultDb],
    )
    return rows[0] ? String(rows[0][0]) : null
  }

  /** Prepares the statement on the server (COM_STMT_PREPARE), which reports its columns, then closes it. */
  async columnsOf(db: string, name: string): Promise<IdTable | undefined> {
    const { rows } = await this.read(
      db,
      'SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [db, name],
    )
    if (rows.length === 0) return undefined
    const id = rows.find((r) => /auto_increment/i.test(String(r[1])))
    return { columns: rows.map((r) => ({ name: String(r[0]) })), autoIncrement: id ? String(id[0]) : undefined }
  }

  describe(db: string | null, sql: string): Promise<StatementShape> {
    return this.#withReader(db, async (conn) => {
      const prepared = await conn.prepare(sql)
      conn.unprepare(sql)
      const { columns, parameters } = prepared.statement
      return { columns: columns.map((f) => ({ name: f.name, type: columnTypeOf(f) })), params: parameters.length }
    })
  }

  /**
   * A pooled connection's settings to `settings` before a read: what it has, by
   * connection, and a SET SESSION for the difference (DEFAULT for what it no longer has).
   */
  async #settle(conn: MysqlPoolConnection, settings: Record<string, Param>): Promise<void> {
    const had = this.#readerSettings.get(conn.connection) ?? {}
    const parts: string[] = []
    for (const name of Object.keys(had)) if (!(name in settings)) parts.push(`${quoteIdentifier(name)} = DEFAULT`)
    for (const [name, value] of Object.entries(settings)) {
      if (had[name] !== value) parts.push(conn.format(`${quoteIdentifier(name)} = ?`, [toDriverValue(value)]))
    }
    if (parts.length === 0) return
    this.#readerSettings.delete(conn.connection)
    await conn.query(`SET SESSION ${parts.join(', ')}`)
    this.#readerSettings.set(conn.connection, settings)
  }

  /** Runs fn on a pooled reader connection in database `db` (null: the URL's). */
  async #withReader<T>(db: string | null, fn: (conn: MysqlPoolConnection) => Promise<T>): Promise<T> {
    this.#checkOpen()
    let conn: MysqlPoolConnection
    try {
      conn = await this.#pool.getConnection()
    } catch (err) {
      throw connectError(err, this.#config)
    }
    try {
      const target = db ?? this.defaultDb
      if ((this.#readerDbs.get(conn.connection) ?? this.defaultDb) !== target) {
        await conn.query(`USE ${quoteIdentifier(target)}`)
        this.#readerDbs.set(conn.connection, target)
      }
      return await fn(conn)
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
      const idle = this.#idleClientSessions.splice(0)
      this.#relay.close()
      await Promise.allSettled([writer?.end(), ...idle.map((s) => s.end()), this.#pool.end()])
      await this.#ownership?.release() // last: no other node may write while this one still does
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
    this.#writer = session
    return session
  }

  #checkOpen(): void {
    if (this.#closing) throw new StoreError(`${this.displayUrl}: store is closed`)
  }
}

/** `SET SESSION a = …, b = …`: a fresh connection with these settings. */
function settingsStatement(settings: Record<string, Param>): string {
  const parts = Object.entries(settings).map(([name, value]) =>
    mysql.format(`${quoteIdentifier(name)} = ?`, [toDriverValue(value)]),
  )
  return `SET SESSION ${parts.join(', ')}`
}

/** A setting's value as ddb keeps it: ON/OFF as 1/0 (as SELECT @@x reports booleans), whole numbers as numbers. */
function settingValue(v: unknown): Param {
  if (v === null || v === undefined) return null
  if (typeof v === 'number') return v
  const s = String(v)
  if (s === 'ON') return 1
  if (s === 'OFF') return 0
  return /^-?\d{1,15}$/.test(s) ? Number(s) : s
}

/** InnoDB rolled the whole transaction back. */
const ER_LOCK_DEADLOCK = 1213
/** A row lock was not granted in time: the statement is undone, or the transaction under innodb_rollback_on_timeout. */
const ER_LOCK_WAIT_TIMEOUT = 1205

/**
 * Errors a DDL statement meets when it runs a second time after a crash:
 * ER_DB_CREATE_EXISTS 1007, ER_DB_DROP_EXISTS 1008, ER_TABLE_EXISTS_ERROR 1050,
 * ER_BAD_TABLE_ERROR 1051, ER_DUP_FIELDNAME 1060, ER_DUP_KEYNAME 1061,
 * ER_CANT_DROP_FIELD_OR_KEY 1091, ER_NO_SUCH_TABLE 1146 (RENAME/TRUNCATE of a table already renamed or dropped).
 */
const DDL_ALREADY_APPLIED = new Set([1007, 1008, 1050, 1051, 1060, 1061, 1091, 1146])

function connectionOptions(config: MysqlStoreConfig) {
  return {
    ...(config.socketPath ? { socketPath: config.socketPath } : { host: config.host, port: config.port }),
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
    // mysql2's types leave out `connection`, the driver's own connection under the promise wrapper (MysqlConnection).
    const conn = (await mysql.createConnection({
      ...connectionOptions(config),
      multipleStatements: true,
    })) as unknown as MysqlConnection
    await conn.query(`SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')`)
    if (config.timeZone) await conn.query('SET SESSION time_zone = ?', [config.timeZone])
    return new Session(conn, config.timeZone ?? null)
  } catch (err) {
    throw connectError(err, config)
  }
}

function connectError(err: unknown, config: Pick<MysqlStoreConfig, 'displayUrl' | 'socketPath'>): StoreError {
  const code = (err as { code?: string }).code
  const detail =
    code === 'ECONNREFUSED'
      ? 'connection refused'
      : code === 'ETIMEDOUT'
        ? 'timed out'
        : code === 'ENOTFOUND'
          ? 'unknown host'
          : code === 'ENOENT'
            ? 'no such socket'
            : err instanceof Error
              ? err.message
              : String(err)
  const hint =
    code === 'ER_ACCESS_DENIED_ERROR'
      ? 'check the user and password in the --db URL'
      : `check that MySQL is running and that the --db URL names its ${config.socketPath ? 'socket' : 'host and port'}`
  return new StoreError(`connect ${config.displayUrl}: ${detail}`, { cause: err, storeCode: code, hint })
}
