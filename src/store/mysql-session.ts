import type { ColumnType, Param, ReadResult } from '../entry.ts'
import { StoreBehindError, StoreError } from '../errors.ts'
import { COLUMN_CHARSET, COLUMN_TYPE, framePacket } from '../mysql-protocol.ts'
import { quoteIdentifier } from '../sql/lexer.ts'
import { ResponseParser, type ServerErrorPacket, withoutExtendedMetadata } from './mysql-relay.ts'
import type { RunResult, StoreStatement } from './store.ts'
import { toDriverValue, toJsonRow } from './values.ts'

// The slice of a mysql2/promise connection the MySQL store uses (mysql-store.ts is the only module that imports mysql2).
export interface MysqlField {
  name: string
  /** enum_field_types code. */
  columnType?: number
  columnLength?: number
  decimals: number
  /** A number for result sets (the driver gives names only when asked to). */
  flags: number | string[]
  characterSet?: number
}
export interface MysqlConnection {
  /** rowsAsArray: rows come back as arrays of values, so two columns of one name both stay. */
  query(
    sql: string | { sql: string; rowsAsArray: boolean },
    values?: unknown[],
  ): Promise<[unknown, MysqlField[] | undefined]>
  /** Binds values into sql client-side, exactly as query(sql, values) would. */
  format(sql: string, values: unknown[]): string
  on(event: 'error', listener: (err: Error) => void): unknown
  end(): Promise<void>
  destroy(): void
  /** The driver's connection underneath: a relayed read queues a command of its own there. */
  readonly connection: DriverConnection
}

/**
 * The slice of mysql2's own connection (not its promise wrapper) a relayed read
 * needs: its command queue, its socket, and the sequence id it checks packets
 * against. A command is mysql2's protocol: execute() sees each packet of its
 * answer (none at first, when it sends), and true ends it; onResult(err) hears of
 * a lost connection.
 */
interface DriverConnection {
  addCommand(command: DriverCommand): unknown
  write(bytes: Buffer): void
  sequenceId: number
  /** True when it asked a MariaDB server for extended column metadata (mysql2 does whenever it is offered). */
  readonly _mariadbExtendedMetadata?: boolean
}
interface DriverCommand {
  execute(packet: DriverPacket | undefined, connection: DriverConnection): boolean
  onResult(err: Error): void
}
/** A packet as mysql2's parser hands it over: its payload is buffer[start + 4, end). */
interface DriverPacket {
  sequenceId: number
  buffer: Buffer
  start: number
  end: number
}

/** The collation ddb's connections log in with (mysql2's 'utf8mb4'), which writes run in on every node. */
const DRIVER_COLLATION = 45
const DRIVER_COLLATION_NAME = 'utf8mb4_general_ci'
/** Collation names by id, as the store's server reported them. */
const collationNames = new Map<number, string>()

/** Answers bigger than this go to the client in pieces; smaller ones in one write. */
const RELAY_FLUSH_BYTES = 64 * 1024
interface ResultHeader {
  affectedRows: number
  insertId: number | string
  /** Session state the server reported (CLIENT_SESSION_TRACK): `schema` after a USE or a dropped database. */
  stateChanges?: { schema?: string }
}

/** A connection plus the database it is in; broken once the driver reports a fatal error. */
export class Session {
  readonly conn: MysqlConnection
  #db: string | null = null
  /** The session's pinned clock (SET TIMESTAMP), in ms; undefined when unknown. */
  #ts: number | undefined = undefined
  /** The session's time_zone as last set here; undefined when unknown. */
  #zone: string | undefined = undefined
  /** The settings changed on this connection (SET SESSION), by name (the others are the server's defaults); null when unknown. */
  #settings: Record<string, Param> | null = {}
  /** Every setting ever sent on this connection: what to reset when a failed packet leaves them unknown. */
  readonly #touched = new Set<string>()
  #broken = false
  /** The collation the connection's results are described in (SET NAMES; the driver logs in with DRIVER_COLLATION); null when unknown. */
  #collation: number | null = DRIVER_COLLATION
  /** The time zone a statement that names none runs in: the store's pinned zone (null: the server's). */
  pinnedZone: string | null

  constructor(conn: MysqlConnection, pinnedZone: string | null = null) {
    this.conn = conn
    this.pinnedZone = pinnedZone
    this.#zone = pinnedZone ?? undefined
    conn.on('error', () => this.markBroken())
  }

  get broken(): boolean {
    return this.#broken
  }

  markBroken(): void {
    this.#broken = true
  }

  /**
   * The statement that unpins the session's clock (SET TIMESTAMP = DEFAULT),
   * for a connection a new transaction reuses: its reads must not see the last
   * one's time. The session's clock is unknown until the statement has run.
   */
  resetClock(): string {
    this.#ts = undefined
    return 'SET TIMESTAMP = DEFAULT'
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
  async runPacket(
    before: string[],
    statements: StoreStatement[],
    after: string[],
    guards: Array<string | null> = [],
  ): Promise<RunResult[]> {
    const texts = [...before]
    // Writes run in the collation every node replays them in, whatever a relayed read of the client's set.
    const names = statements.length > 0 && this.#collation !== DRIVER_COLLATION
    if (names) texts.push(`SET NAMES utf8mb4 COLLATE ${DRIVER_COLLATION_NAME}`)
    const collation = names ? DRIVER_COLLATION : this.#collation
    const mine: number[] = []
    let db = this.#db
    let ts = this.#ts
    let zone = this.#zone
    let settings = this.#settings
    for (const s of statements) {
      if (s.db !== db && s.db !== null) {
        texts.push(`USE ${quoteIdentifier(s.db)}`)
        db = s.db
      }
      if (s.ts !== undefined && s.ts !== ts) {
        texts.push(`SET TIMESTAMP = ${(s.ts / 1000).toFixed(3)}`)
        ts = s.ts
      }
      const want = s.timeZone ?? this.pinnedZone
      if (want && want !== zone) {
        texts.push(this.format('SET time_zone = ?', [want]))
        zone = want
      }
      const change = this.#settingsChange(settings, s.settings ?? {})
      if (change) {
        texts.push(change)
        settings = s.settings ?? {}
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
    this.#settings = null // unknown until the packet succeeds
    this.#collation = null
    const [result] = await this.query(texts.join('\n;\n'))
    const results = texts.length === 1 ? [result] : (result as unknown[])
    for (const r of results) db = schemaChange(r) ?? db
    this.#db = db
    this.#ts = ts
    this.#zone = zone
    this.#settings = settings
    this.#collation = collation
    return mine.map((i) => runResult(results[i]))
  }

  /** The SET SESSION that turns settings `from` into `to` (what `from` changed and `to` does not name goes back to DEFAULT), or null. */
  #settingsChange(from: Record<string, Param> | null, to: Record<string, Param>): string | null {
    const parts: string[] = []
    // Unknown (a packet failed part-way): every setting this connection may have changed is reset.
    for (const name of from === null ? this.#touched : Object.keys(from)) {
      if (!(name in to)) parts.push(`${quoteIdentifier(name)} = DEFAULT`)
    }
    for (const [name, value] of Object.entries(to)) {
      if (from === null || from[name] !== value)
        parts.push(this.format(`${quoteIdentifier(name)} = ?`, [toDriverValue(value)]))
    }
    for (const name of Object.keys(to)) this.#touched.add(name)
    return parts.length > 0 ? `SET SESSION ${parts.join(', ')}` : null
  }

  /**
   * Runs a statement that returns rows in database `db` on this connection, with these
   * session settings; `before` (statements a transaction still owes the server) goes first.
   */
  async read(
    before: string[],
    db: string,
    sql: string,
    params: Param[],
    settings: Record<string, Param> = {},
  ): Promise<ReadResult> {
    await this.#bringTo(before, db, settings)
    const [result, fields] = await this.query(
      { sql, rowsAsArray: true },
      params.length ? params.map(toDriverValue) : undefined,
    )
    if (!Array.isArray(result)) return { columns: [], rows: [] }
    return readResult(result, fields ?? [])
  }

  /**
   * Runs a client's COM_QUERY payload as it is, on this connection in database `db`
   * with these settings and the client's collation, handing `send` the server's answer
   * as framed packets with the sequence ids the client expects (its command came as 0,
   * as ours goes), never decoded. `before` as for read(). The driver's connection
   * negotiated no CLIENT_DEPRECATE_EOF, so result sets end with EOF packets. Resolves
   * with the ERR packet the answer ended with, or null.
   */
  async relay(
    before: string[],
    read: { db: string; settings: Record<string, Param>; collation: number; command: Buffer },
    send: (framed: Buffer) => void,
  ): Promise<ServerErrorPacket | null> {
    // The result's column definitions name the client's collation, as its own login to the server would.
    await this.#bringTo(before, read.db, read.settings, read.collation)
    return new Promise((resolve, reject) => {
      const parser = new ResponseParser(false)
      let pending: Buffer[] = []
      let size = 0
      const flush = () => {
        if (pending.length > 0) send(pending.length === 1 ? pending[0]! : Buffer.concat(pending))
        pending = []
        size = 0
      }
      this.conn.connection.addCommand({
        execute: (packet, connection) => {
          if (!packet) {
            const { bytes, next } = framePacket(read.command, 0)
            connection.write(bytes)
            connection.sequenceId = next
            return false
          }
          // Framing copies it (the driver's parser reuses its buffers); a packet it joined from several frames is split again.
          let payload = packet.buffer.subarray(packet.start + 4, packet.end)
          if (parser.atColumn && connection._mariadbExtendedMetadata) payload = withoutExtendedMetadata(payload)
          const framed = framePacket(payload, packet.sequenceId).bytes
          pending.push(framed)
          size += framed.length
          // Throwing here is fatal to the driver's connection, which then calls onResult.
          const { done } = parser.scan(framed)
          if (done || size >= RELAY_FLUSH_BYTES) flush()
          if (done) resolve(parser.error)
          return done
        },
        onResult: (err) => {
          if ((err as { fatal?: boolean }).fatal) this.markBroken()
          reject(err)
        },
      })
    })
  }

  /** The SET NAMES that makes the server describe results in collation `id`, as to a client that logged in with it. */
  async #setNames(id: number): Promise<string> {
    let name = collationNames.get(id)
    if (!name) {
      const [rows] = await this.query('SELECT COLLATION_NAME AS name FROM information_schema.COLLATIONS WHERE ID = ?', [
        id,
      ])
      name = (rows as Array<{ name: string }>)[0]?.name
      if (!name) throw new StoreError(`the store's server knows no collation ${id}`)
      collationNames.set(id, name)
    }
    return `SET NAMES utf8mb4 COLLATE ${quoteIdentifier(name)}`
  }

  /**
   * Brings the connection to database `db`, these settings (the time zone among them) and,
   * when given, results described in `collation`, after `before`: in one packet, or none
   * when it is there already.
   */
  async #bringTo(before: string[], db: string, settings: Record<string, Param>, collation?: number): Promise<void> {
    const texts = [...before]
    if (this.#db !== db) texts.push(`USE ${quoteIdentifier(db)}`)
    const { time_zone, ...rest } = settings
    const zone = typeof time_zone === 'string' ? time_zone : this.pinnedZone
    if (zone && zone !== this.#zone) texts.push(this.format('SET time_zone = ?', [zone]))
    const change = this.#settingsChange(this.#settings, rest)
    if (change) texts.push(change)
    const names = collation !== undefined && collation !== this.#collation
    if (names) texts.push(await this.#setNames(collation))
    if (texts.length === 0) return
    const zoneThen = this.#zone
    const collationThen = this.#collation
    // Unknown until the packet succeeds.
    this.#db = null
    this.#zone = undefined
    this.#settings = null
    this.#collation = null
    await this.query(texts.join('\n;\n'))
    this.#db = db
    this.#zone = zone || zoneThen
    this.#settings = rest
    this.#collation = names ? collation : collationThen
  }

  /** Runs sql (client-side binding when values are given); a fatal driver error marks the session broken. */
  async query(
    sql: string | { sql: string; rowsAsArray: boolean },
    values?: unknown[],
  ): Promise<[unknown, MysqlField[] | undefined]> {
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

/** Server errors that mean the connection went away, so the statement's outcome is unknown. */
const CONNECTION_GONE_ERRNOS = new Set([1053 /* ER_SERVER_SHUTDOWN */, 1927 /* ER_CONNECTION_KILLED */])

/** One row (BEHIND_GUARD_KEY), whose key inserted again fails: the guard after a state UPDATE that matched no row. */
export const BEHIND_GUARD_TABLE = 'ddb.offset_guard'
export const BEHIND_GUARD_KEY = 'store-behind-its-log'
const ER_DUP_ENTRY = 1062

/**
 * Wraps a mysql2 error: its message; storeCode = the server's errno (the driver's
 * code for network errors); rejectedByServer when the server answered with an error.
 */
export function storeError(err: unknown, prefix = ''): StoreError {
  if (err instanceof StoreError) return err
  const e = err as { message?: string; errno?: number; code?: string; sqlState?: string; fatal?: boolean }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (e?.errno === ER_DUP_ENTRY && message.includes(BEHIND_GUARD_KEY)) return new StoreBehindError('MySQL state row')
  const fromServer = Boolean(e?.sqlState) && !e.fatal && !CONNECTION_GONE_ERRNOS.has(e.errno ?? 0)
  return new StoreError(prefix + message, {
    cause: err,
    storeCode: e?.sqlState ? e.errno : e?.code,
    rejectedByServer: fromServer,
  })
}

/** A read's rows (queried with rowsAsArray) and columns, with each column's type from the driver's field metadata. */
export function readResult(rows: unknown[], fields: MysqlField[]): ReadResult {
  return {
    columns: fields.map((f) => f.name),
    rows: rows.map((r) => toJsonRow(r as unknown[])),
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
export function schemaChange(result: unknown): string | undefined {
  return Array.isArray(result) ? undefined : (result as ResultHeader).stateChanges?.schema
}
