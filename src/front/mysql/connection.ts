import type net from 'node:net'
import type { Logger } from '../../logger.ts'
import { COM, framePacket } from '../../mysql-protocol.ts'
import type { NodeApi } from '../../node/api.ts'
import { serverVersion } from '../../node/variables.ts'
import type { MysqlUser } from './auth.ts'
import { Commands } from './commands.ts'
import { Login } from './login.ts'
import { errPacket, MalformedPacketError, type Packet, PacketReader, PacketTooLargeError } from './packets.ts'
import type { MysqlError } from './results.ts'

/** Most bytes a client may send before it has logged in. */
export const MAX_PREAUTH_PACKET_BYTES = 64 * 1024
/** Commands a client may have waiting before the listener stops reading from its socket. */
export const MAX_QUEUED_COMMANDS = 16
/** How long a started packet may wait for its remaining bytes before the connection is closed (MySQL's net_read_timeout). */
export const DEFAULT_PARTIAL_PACKET_TIMEOUT_MS = 30_000

export interface ConnectionOptions {
  node: NodeApi
  users: MysqlUser[]
  logger: Logger
  connectionId: number
  /** Largest message a logged-in client may send (bytes). */
  maxMessageBytes: number
  /** How long a client may take to log in (ms). */
  handshakeTimeoutMs: number
  /** How long a started packet may wait for the rest of its bytes (ms); default DEFAULT_PARTIAL_PACKET_TIMEOUT_MS. */
  partialPacketTimeoutMs?: number
}

/**
 * The version the greeting announces: the store's (a MariaDB one behind the "5.5.5-"
 * MariaDB puts first for old MySQL clients, which clients strip), or the MySQL ddb speaks for SQLite.
 */
function handshakeVersion(node: NodeApi): string {
  const version = serverVersion(node)
  return /mariadb/i.test(version) ? `5.5.5-${version}` : version
}

/**
 * MysqlConnection is one client of a node's MySQL listener: packets in and out
 * of its socket, with back-pressure both ways and timeouts for a client that
 * stalls. Its packets go to the login (login.ts) until the client has logged
 * in, then to its commands (commands.ts), one at a time in arrival order.
 */
export class MysqlConnection {
  readonly #socket: net.Socket
  readonly #o: ConnectionOptions
  readonly #reader = new PacketReader(MAX_PREAUTH_PACKET_BYTES)
  readonly #peer: string
  #login: Login
  #commands: Commands | null = null
  #closed = false
  #seq = 0
  #out: Buffer[] = []
  #queue: Promise<void> = Promise.resolve()
  #loginTimer: ReturnType<typeof setTimeout> | undefined
  #partialTimer: ReturnType<typeof setTimeout> | undefined
  /** Commands received and not yet answered. */
  #waiting = 0
  /** True while the socket's write buffer is full. */
  #draining = false
  /** Called once when the connection has closed. */
  onClose: () => void = () => {}

  constructor(socket: net.Socket, options: ConnectionOptions) {
    this.#socket = socket
    this.#o = options
    this.#peer = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '')
    this.#login = new Login(options.users, this.#peer, options.logger)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (err) => this.#close(`socket error: ${err.message}`))
    socket.on('close', () => this.#close(null))
    this.#loginTimer = setTimeout(
      () => this.#fail({ errno: 1043, sqlState: '08S01', message: 'Bad handshake: login timed out' }),
      options.handshakeTimeoutMs,
    )
    this.#send(this.#login.greeting(options.connectionId, handshakeVersion(options.node)))
    this.#flush()
  }

  /** Ends the connection now (node shutdown). */
  destroy(): void {
    this.#socket.destroy()
    this.#close(null)
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    let packets: Packet[]
    try {
      packets = this.#reader.push(chunk)
    } catch (err) {
      if (err instanceof PacketTooLargeError) {
        this.#seq = (err.sequenceId + 1) & 0xff
        this.#fail({
          errno: 1153,
          sqlState: '08S01',
          message: `Got a packet bigger than 'max_allowed_packet' bytes (${err.announced} > ${err.limit})`,
        })
        return
      }
      this.#fail({ errno: 1105, sqlState: 'HY000', message: `internal error: ${(err as Error).message}` })
      return
    }
    clearTimeout(this.#partialTimer)
    if (this.#reader.pendingBytes > 0) this.#armPartialTimer()
    for (const p of packets) {
      // With none in flight a command starts now, in this callback: a relayed read reaches the store before the event loop turns.
      const started = this.#waiting++ === 0 ? this.#onPacket(p) : this.#queue.then(() => this.#onPacket(p))
      this.#queue = started
        .catch((err) => {
          if (err instanceof MalformedPacketError) this.#fail({ errno: 1047, sqlState: '08S01', message: err.message })
          else this.#fail({ errno: 1105, sqlState: 'HY000', message: `internal error: ${(err as Error).message}` })
        })
        .finally(() => {
          this.#waiting--
          this.#resumeIfIdle()
        })
    }
    // A client that sends commands faster than they run waits in its socket, not in our memory.
    if (this.#waiting >= MAX_QUEUED_COMMANDS) this.#socket.pause()
  }

  /** A packet that lies about its length (or a stalled client) must not hold the connection forever; while we have paused the socket, the wait is ours, not the client's. */
  #armPartialTimer(): void {
    this.#partialTimer = setTimeout(() => {
      if (this.#socket.isPaused()) this.#armPartialTimer()
      else this.#fail({ errno: 1159, sqlState: '08S01', message: 'Got timeout reading communication packets' })
    }, this.#o.partialPacketTimeoutMs ?? DEFAULT_PARTIAL_PACKET_TIMEOUT_MS)
  }

  #resumeIfIdle(): void {
    if (!this.#closed && this.#waiting < MAX_QUEUED_COMMANDS && !this.#draining && this.#socket.isPaused())
      this.#socket.resume()
  }

  async #onPacket(p: Packet): Promise<void> {
    if (this.#closed) return
    this.#seq = (p.sequenceId + 1) & 0xff
    if (!this.#commands) await this.#onLoginPacket(p.payload)
    else if (p.payload[0] === COM.CHANGE_USER) await this.#changeUser(this.#commands, p.payload)
    else await this.#commands.handle(p.payload)
    this.#flush()
  }

  async #onLoginPacket(payload: Buffer): Promise<void> {
    const step = this.#login.receive(payload)
    if (step.kind === 'reply') return this.#send(step.payload)
    if (step.kind === 'refused') return this.#fail(step.error)
    const commands = new Commands(
      this.#o.node,
      { connectionId: this.#o.connectionId, ...step },
      {
        send: (payload) => this.#send(payload),
        sendFramed: (bytes) => {
          // A relayed answer goes out as it arrives, from the store's socket callback.
          this.#out.push(bytes)
          this.#flush()
        },
        error: (e) => this.#send(errPacket(e.errno, e.sqlState, e.message)),
        quit: () => this.destroy(),
      },
    )
    if (step.database !== null && !(await commands.useInitial(step.database))) {
      await commands.close()
      return this.#fail({ errno: 1049, sqlState: '42000', message: `Unknown database '${step.database}'` })
    }
    this.#commands = commands
    clearTimeout(this.#loginTimer)
    this.#reader.maxMessageBytes = this.#o.maxMessageBytes
    this.#send(commands.ok())
  }

  /** COM_CHANGE_USER: the session ends (an open transaction rolls back), and the client logs in again as the user it names. */
  async #changeUser(commands: Commands, payload: Buffer): Promise<void> {
    this.#commands = null
    await commands.close()
    const { login, reply } = Login.changeUser(payload, commands, this.#o.users, this.#peer, this.#o.logger)
    this.#login = login
    this.#send(reply)
  }

  #send(payload: Buffer): void {
    const { bytes, next } = framePacket(payload, this.#seq)
    this.#seq = next
    this.#out.push(bytes)
  }

  #flush(): void {
    if (this.#out.length === 0 || this.#closed) return
    const data = this.#out.length === 1 ? this.#out[0]! : Buffer.concat(this.#out)
    this.#out = []
    if (!this.#socket.write(data) && !this.#draining) {
      // The client reads slower than we answer: stop reading its commands until our answers drain.
      this.#draining = true
      this.#socket.pause()
      this.#socket.once('drain', () => {
        this.#draining = false
        this.#resumeIfIdle()
      })
    }
  }

  /** Sends an ERR packet, then closes the connection. */
  #fail(e: MysqlError): void {
    if (this.#closed) return
    this.#out = []
    this.#send(errPacket(e.errno, e.sqlState, e.message))
    this.#flush()
    this.#socket.end()
    this.#close(`${e.errno}: ${e.message}`)
  }

  #close(reason: string | null): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#loginTimer)
    clearTimeout(this.#partialTimer)
    if (reason) {
      this.#o.logger.warn('mysql connection closed', { peer: this.#peer, user: this.#login.user || undefined, reason })
    }
    // Give the in-flight command a chance to finish before its transaction rolls back.
    void this.#queue.finally(() => this.#commands?.close()).catch(() => {})
    if (!this.#socket.destroyed) setTimeout(() => this.#socket.destroy(), 1_000).unref()
    this.onClose()
  }
}
