/**
 * Relayed reads on a MySQL store: a client's plain read goes to a pooled server
 * connection of ddb's own, and the server's answer goes back to the client as
 * the packets the server sent, never decoded into rows (as ProxySQL relays
 * them). Decoding rows into JavaScript values and encoding them again was most of
 * what a point select cost ddb. The client's command arrives with sequence id 0
 * and so does ours, so the server's packets carry the ids the client expects.
 */
import type { Socket } from 'bun'
import {
  CLIENT,
  COM,
  framePacket,
  MAX_PACKET_PAYLOAD,
  nativePasswordResponse,
  SERVER_STATUS,
} from '../mysql-protocol.ts'

/** Where and as whom relay connections log in. */
export interface RelayTarget {
  host: string
  port: number
  /** The server's Unix socket, used instead of host:port when given. */
  socketPath?: string
  user: string
  password: string
  /** The database a new connection starts in. */
  database: string
}

/** What a relayed read needs of its connection: a database and session settings (SET SESSION … as text; '' for none). */
export interface RelayRead {
  db: string
  /** The SET SESSION statement that gives a connection the client's settings, or '' for the server's defaults. */
  settings: string
  /** The client's COM_QUERY payload, sent as it is. */
  command: Buffer
  /** True when the client speaks CLIENT_DEPRECATE_EOF: the server must end result sets as the client expects. */
  deprecateEof: boolean
  /** The client's collation: a relay connection logs in with it, so the answer is in the client's character set. */
  collation: number
  /** Who asks: its reads go to the connection it used last when that one is idle. */
  client?: object
}

/** A client's view of answers: how result sets end, and the character set they are in. */
type ClientKind = Pick<RelayRead, 'deprecateEof' | 'collation'>

/**
 * Most connections a relay keeps per kind of client (with or without CLIENT_DEPRECATE_EOF,
 * and collation). Enough for each of a busy application's connections to keep one of its own
 * (see Pool.take), fewer than a server's default max_connections (151).
 */
const MAX_CONNECTIONS = 32
const NATIVE_PASSWORD = 'mysql_native_password'
const BASE_CAPABILITIES =
  CLIENT.LONG_PASSWORD |
  CLIENT.LONG_FLAG |
  CLIENT.CONNECT_WITH_DB |
  CLIENT.PROTOCOL_41 |
  CLIENT.TRANSACTIONS |
  CLIENT.SECURE_CONNECTION |
  CLIENT.MULTI_RESULTS |
  CLIENT.PLUGIN_AUTH

/** The relay could not log in (an authentication method it does not speak, a refused login): reads take the decoding path. */
export class RelayUnavailableError extends Error {}

/**
 * A pool of relay connections to one MySQL server. relay() answers false when
 * it sent nothing (no connection could be had, or it broke before answering: the
 * caller runs the read the ordinary way, which reports that path's error), and
 * rejects only once part of an answer reached the client (whose connection must then close).
 */
export class MysqlRelay {
  readonly #target: RelayTarget
  readonly #pools = new Map<string, Pool>()
  /** The connection each client used last. */
  readonly #last = new WeakMap<object, RelayConnection>()
  /** Why relaying stopped for good (the server refused our login), or null. */
  #unavailable: string | null = null
  #closed = false

  constructor(target: RelayTarget) {
    this.#target = target
  }

  /** Runs the read on a relay connection, handing each piece of the server's answer to `send` as it arrives. */
  async relay(read: RelayRead, send: (framed: Buffer) => void): Promise<boolean> {
    if (this.#closed || this.#unavailable) return false
    const key = `${read.deprecateEof ? 'deprecate-eof' : 'eof'}/${read.collation}`
    let pool = this.#pools.get(key)
    if (!pool) {
      pool = new Pool()
      this.#pools.set(key, pool)
    }
    const last = read.client && this.#last.get(read.client)
    // An idle connection is taken without waiting: the read is sent in the caller's turn of the event loop.
    let conn = pool.take(read.settings, last) ?? (await pool.checkout(read.settings, () => this.#open(read)))
    if (!conn) return false
    if (read.client) this.#last.set(read.client, conn)
    let sent = false
    try {
      if (conn.settings !== read.settings && conn.settings !== '') {
        // Settings cannot be taken back one by one: a fresh connection has the server's defaults.
        conn.close()
        conn = await this.#open(read)
      }
      if (conn.settings !== read.settings) {
        await conn.command(Buffer.concat([Buffer.of(COM.QUERY), Buffer.from(read.settings)]))
        conn.settings = read.settings
      }
      if (conn.db !== read.db) {
        await conn.command(Buffer.concat([Buffer.of(COM.INIT_DB), Buffer.from(read.db)]))
        conn.db = read.db
      }
      await conn.query(read.command, (bytes) => {
        sent = true
        send(bytes)
      })
      return true
    } catch (err) {
      conn?.close()
      if (sent) throw err
      return false
    } finally {
      pool.checkin(conn, this.#closed)
    }
  }

  /** Closes every connection; relay() answers false from now on. */
  close(): void {
    this.#closed = true
    for (const pool of this.#pools.values()) pool.close()
  }

  async #open(client: ClientKind): Promise<RelayConnection> {
    try {
      return await RelayConnection.open(this.#target, client)
    } catch (err) {
      if (err instanceof RelayUnavailableError) this.#unavailable = err.message
      throw err
    }
  }
}

/** The connections of one kind of client: idle ones, how many are out, and who waits for one. */
class Pool {
  readonly #idle: RelayConnection[] = []
  readonly #waiting: Array<(c: RelayConnection | null) => void> = []
  #open = 0

  /**
   * An idle connection, or null: `preferred` (the one its client used last) when it is idle
   * and has these settings, else the most recently used one with them, else any. A client
   * that keeps its connection finds the server's thread for it warm, and spares the server
   * waking another (measured: +10–20% point selects at 16 clients against the most recent).
   */
  take(settings: string, preferred?: RelayConnection): RelayConnection | null {
    const idle = this.#idle
    for (let i = idle.length - 1; i >= 0; i--) {
      if (!idle[i]!.closed) continue
      idle.splice(i, 1)
      this.#open--
    }
    let i = preferred?.settings === settings ? idle.lastIndexOf(preferred) : -1
    if (i < 0) i = idle.findLastIndex((c) => c.settings === settings)
    if (i < 0) i = idle.length - 1
    return i < 0 ? null : idle.splice(i, 1)[0]!
  }

  /** An idle connection (take), a new one while under MAX_CONNECTIONS, or the next checked in; null when none can be opened. */
  async checkout(settings: string, open: () => Promise<RelayConnection>): Promise<RelayConnection | null> {
    const idle = this.take(settings)
    if (idle) return idle
    if (this.#open >= MAX_CONNECTIONS) return new Promise((resolve) => this.#waiting.push(resolve))
    this.#open++
    try {
      return await open()
    } catch {
      this.#open--
      return null
    }
  }

  /** Back after a read: to the next waiter or the idle list; a closed one frees its place. */
  checkin(conn: RelayConnection | null, closing: boolean): void {
    if (!conn || conn.closed || closing) {
      conn?.close()
      this.#open--
      // A waiter would wait for a connection that is no longer coming: it takes the decoding path.
      this.#waiting.shift()?.(null)
      return
    }
    const waiter = this.#waiting.shift()
    if (waiter) waiter(conn)
    else this.#idle.push(conn)
  }

  close(): void {
    for (const c of this.#idle.splice(0)) c.close()
    for (const w of this.#waiting.splice(0)) w(null)
  }
}

/** One logged-in connection to the server. */
class RelayConnection {
  db: string
  /** The SET SESSION text it ran ('' for none: the server's defaults). */
  settings = ''
  #socket: Socket | null = null
  /** Bytes received and not yet consumed. */
  #buffer: Buffer = Buffer.alloc(0)
  /** Consumes #buffer for the command in flight. */
  #reader: (() => void) | null = null
  #fail: ((err: Error) => void) | null = null
  readonly #client: ClientKind

  private constructor(db: string, client: ClientKind) {
    this.db = db
    this.#client = client
  }

  get closed(): boolean {
    return this.#socket === null
  }

  /** Connects and logs in (mysql_native_password); rejects with RelayUnavailableError when the server refuses. */
  static async open(target: RelayTarget, client: ClientKind): Promise<RelayConnection> {
    const conn = new RelayConnection(target.database, client)
    const socket = {
      data: (_s: Socket, data: Buffer) => conn.#received(data),
      close: () => conn.#lost(new Error('relay: the store closed the connection')),
      error: (_s: Socket, err: Error) => conn.#lost(err),
    }
    conn.#socket = target.socketPath
      ? await Bun.connect({ unix: target.socketPath, socket })
      : await Bun.connect({ hostname: target.host, port: target.port, socket })
    if (!target.socketPath) conn.#socket.setNoDelay(true)
    try {
      await conn.#login(target)
    } catch (err) {
      conn.close()
      throw err
    }
    return conn
  }

  /** Sends a command whose answer is one OK or ERR packet (COM_INIT_DB, SET); rejects on ERR. */
  async command(payload: Buffer): Promise<void> {
    const [reply] = await this.#exchange(payload, 0)
    if (reply![0] === 0xff) throw new Error(`relay: ${errorPacket(reply!).message}`)
  }

  /** Sends a COM_QUERY and hands each run of whole frames of the answer to `send`, until the answer's last packet. */
  query(payload: Buffer, send: (framed: Buffer) => void): Promise<void> {
    const parser = new ResponseParser(this.#client.deprecateEof)
    return this.#await(() => {
      const { complete, done } = parser.scan(this.#buffer)
      if (complete > 0) send(this.#buffer.subarray(0, complete))
      this.#buffer = this.#buffer.subarray(complete)
      return done
    }, framePacket(payload, 0).bytes)
  }

  close(): void {
    const socket = this.#socket
    this.#socket = null
    socket?.end()
  }

  async #login(target: RelayTarget): Promise<void> {
    const [greeting] = await this.#exchange(null, 0)
    const g = parseGreeting(greeting!)
    const capabilities = BASE_CAPABILITIES | (this.#client.deprecateEof ? CLIENT.DEPRECATE_EOF : 0)
    // MariaDB clears LONG_PASSWORD (its "CLIENT_MYSQL" bit); the rest the answers depend on must be there.
    const needed =
      CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH | (capabilities & CLIENT.DEPRECATE_EOF)
    const missing = needed & ~g.capabilities
    if (missing) throw new RelayUnavailableError(`the store's server lacks capabilities 0x${missing.toString(16)}`)
    const auth = g.plugin === NATIVE_PASSWORD ? nativePasswordResponse(target.password, g.scramble) : Buffer.alloc(0)
    const response = Buffer.concat([
      int4(capabilities),
      int4(MAX_PACKET_PAYLOAD),
      Buffer.of(this.#client.collation),
      Buffer.alloc(23),
      Buffer.from(`${target.user}\0`),
      Buffer.of(auth.length),
      auth,
      Buffer.from(`${target.database}\0${NATIVE_PASSWORD}\0`),
    ])
    let [reply] = await this.#exchange(response, 1)
    if (reply![0] === 0xfe) {
      // AuthSwitchRequest: the plugin's name, then its challenge (NUL-ended).
      const end = reply!.indexOf(0, 1)
      const plugin = reply!.subarray(1, end).toString()
      if (plugin !== NATIVE_PASSWORD) throw new RelayUnavailableError(`the store asks for ${plugin}`)
      const scramble = reply!.subarray(end + 1, end + 21)
      ;[reply] = await this.#exchange(nativePasswordResponse(target.password, scramble), 3)
    }
    if (reply![0] === 0xff)
      throw new RelayUnavailableError(`the store refused the login: ${errorPacket(reply!).message}`)
    if (reply![0] !== 0x00) throw new RelayUnavailableError(`unexpected login reply 0x${reply![0]!.toString(16)}`)
  }

  /** Sends a payload as frame `seq` (null: nothing), then collects the one packet that answers it. */
  async #exchange(payload: Buffer | null, seq: number): Promise<Buffer[]> {
    const packets: Buffer[] = []
    await this.#await(() => {
      if (this.#buffer.length < 4) return false
      const length = this.#buffer.readUIntLE(0, 3)
      if (this.#buffer.length < 4 + length) return false
      packets.push(this.#buffer.subarray(4, 4 + length))
      this.#buffer = this.#buffer.subarray(4 + length)
      return true
    }, payload && framePacket(payload, seq).bytes)
    return packets
  }

  /** Sends `bytes` (if any), then lets `consume` read what arrives until it says the answer is complete. */
  #await(consume: () => boolean, bytes: Buffer | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!this.#socket) return reject(new Error('relay: the connection is closed'))
      this.#fail = reject
      this.#reader = () => {
        let done: boolean
        try {
          done = consume()
        } catch (err) {
          return this.#lost(err as Error)
        }
        if (!done) return
        this.#reader = null
        this.#fail = null
        if (this.#buffer.length === 0) return resolve()
        this.#lost(new Error('relay: the store sent more than was asked for'))
        reject(new Error('relay: the store sent more than was asked for'))
      }
      if (bytes) this.#write(bytes)
      if (this.#buffer.length > 0) this.#reader()
    })
  }

  #write(bytes: Buffer): void {
    const written = this.#socket?.write(bytes) ?? 0
    // Commands are small: a socket that takes only part of one is broken for our purposes.
    if (written !== bytes.length) this.#lost(new Error('relay: the store did not take a whole command'))
  }

  #received(chunk: Buffer): void {
    this.#buffer = this.#buffer.length > 0 ? Buffer.concat([this.#buffer, chunk]) : chunk
    if (this.#reader) this.#reader()
  }

  #lost(err: Error): void {
    const fail = this.#fail
    this.#reader = null
    this.#fail = null
    this.close()
    fail?.(err)
  }
}

/** Where an answer stands, packet by packet. */
type Phase = 'first' | 'columns' | 'columnsEof' | 'rows'

/** An ERR packet's contents, as the server sent them. */
export interface ServerErrorPacket {
  errno: number
  sqlState: string
  message: string
}

/**
 * Follows a text-protocol answer packet by packet to its last one: an OK or ERR,
 * or a result set (column count, definitions, [EOF], rows, EOF or OK), again
 * while the status says more results follow. Only the first frame of a packet
 * longer than one frame is looked at. Also used on a client transaction's own
 * connection (mysql-session.ts), whose answers end with EOF packets.
 */
export class ResponseParser {
  /** The ERR packet that ended the answer, if one did. */
  error: ServerErrorPacket | null = null
  #phase: Phase = 'first'
  #columns = 0
  /** The frame before was full: this one continues its packet. */
  #continues = false
  readonly #deprecateEof: boolean

  constructor(deprecateEof: boolean) {
    this.#deprecateEof = deprecateEof
  }

  /** True when the next packet is a column definition. */
  get atColumn(): boolean {
    return this.#phase === 'columns' && !this.#continues
  }

  /** How many bytes of `bytes` are whole frames, and whether the last of them ended the answer. */
  scan(bytes: Buffer): { complete: number; done: boolean } {
    let at = 0
    while (bytes.length - at >= 4) {
      const length = bytes.readUIntLE(at, 3)
      if (bytes.length - at < 4 + length) break
      const payload = bytes.subarray(at + 4, at + 4 + length)
      at += 4 + length
      const first = !this.#continues
      this.#continues = length === MAX_PACKET_PAYLOAD
      if (first && this.#packet(payload)) return { complete: at, done: true }
    }
    return { complete: at, done: false }
  }

  /** One packet's first frame; true when it ends the answer. */
  #packet(p: Buffer): boolean {
    const header = p[0]
    switch (this.#phase) {
      case 'first':
        if (header === 0xff) return this.#failed(p)
        if (header === 0x00) return this.#last(okStatus(p))
        if (header === 0xfb) throw new Error('relay: the store asked for a local file')
        this.#columns = lenenc(p, 0).value
        this.#phase = 'columns'
        return false
      case 'columns':
        if (--this.#columns === 0) this.#phase = this.#deprecateEof ? 'rows' : 'columnsEof'
        return false
      case 'columnsEof':
        this.#phase = 'rows'
        return false
      case 'rows':
        if (header === 0xff) return this.#failed(p)
        // A row that starts with 0xFE holds a value of 16 MiB or more, so its packet fills a frame.
        if (header === 0xfe && p.length < MAX_PACKET_PAYLOAD)
          return this.#last(this.#deprecateEof ? okStatus(p) : p.readUInt16LE(3))
        return false
    }
  }

  /** An ERR packet ends the answer. */
  #failed(p: Buffer): true {
    this.error = errorPacket(p)
    return true
  }

  /** A result's last packet: the answer ends unless its status says more results follow. */
  #last(status: number): boolean {
    this.#phase = 'first'
    return (status & SERVER_STATUS.MORE_RESULTS_EXISTS) === 0
  }
}

/** An ERR packet's contents: header, errno, then '#' and the SQLSTATE (absent before the login), then the message. */
function errorPacket(p: Buffer): ServerErrorPacket {
  const marked = p[3] === 0x23
  return {
    errno: p.readUInt16LE(1),
    sqlState: marked ? p.subarray(4, 9).toString('latin1') : 'HY000',
    message: p.subarray(marked ? 9 : 3).toString('utf8'),
  }
}

/**
 * A column definition without MariaDB's extended metadata (a block after the six
 * names), for a client that did not ask for it from one of ddb's connections that did.
 */
export function withoutExtendedMetadata(definition: Buffer): Buffer {
  let at = 0
  for (let name = 0; name < 6; name++) {
    const { value, next } = lenenc(definition, at)
    at = next + value
  }
  const block = lenenc(definition, at)
  return Buffer.concat([definition.subarray(0, at), definition.subarray(block.next + block.value)])
}

/** The server's greeting (protocol 10): its capabilities, the 20-byte challenge and the authentication plugin. */
function parseGreeting(p: Buffer): { capabilities: number; scramble: Buffer; plugin: string } {
  // Refused before the login (too many connections, a blocked host): this time only; the next read tries again.
  if (p[0] === 0xff) throw new Error(`relay: the store refused the connection: ${errorPacket(p).message}`)
  if (p[0] !== 10) throw new RelayUnavailableError(`the store speaks protocol ${p[0]}, not 10`)
  let at = p.indexOf(0, 1) + 1 + 4 // version, connection id
  const part1 = p.subarray(at, at + 8)
  at += 9
  const low = p.readUInt16LE(at)
  at += 2 + 1 + 2 // capabilities, charset, status
  const capabilities = (low | (p.readUInt16LE(at) << 16)) >>> 0
  const authLength = p[at + 2]!
  at += 3 + 10
  const part2Length = Math.max(13, authLength - 8)
  const part2 = p.subarray(at, at + part2Length - 1)
  at += part2Length
  const end = p.indexOf(0, at)
  const plugin = p.subarray(at, end < 0 ? p.length : end).toString()
  return { capabilities, scramble: Buffer.concat([part1, part2]).subarray(0, 20), plugin }
}

/** The status flags of an OK packet (header, affected rows, insert id, status). */
function okStatus(p: Buffer): number {
  const affected = lenenc(p, 1)
  const insertId = lenenc(p, affected.next)
  return p.readUInt16LE(insertId.next)
}

/** A length-encoded integer at `at`, and where what follows it begins. */
function lenenc(p: Buffer, at: number): { value: number; next: number } {
  const b = p[at]!
  if (b < 0xfb) return { value: b, next: at + 1 }
  if (b === 0xfc) return { value: p.readUInt16LE(at + 1), next: at + 3 }
  if (b === 0xfd) return { value: p.readUIntLE(at + 1, 3), next: at + 4 }
  return { value: Number(p.readBigUInt64LE(at + 1)), next: at + 9 }
}

function int4(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}
