import net from 'node:net'
import { DdbError, formatError } from '../errors.ts'
import { encodeFrame, FrameReader } from './frames.ts'
import type { Message } from './messages.ts'

/** How long close() lets already-sent frames flush before it drops the connection, in milliseconds. */
const CLOSE_FLUSH_MS = 5_000
/** How many of the first bytes received a Peer keeps, to say what a port that is not ddb's sent. */
const HEAD_BYTES = 64

/** What a Peer tells its owner. */
export interface PeerOptions {
  /** Largest frame body accepted, in bytes, until maxFrameBytes is set; default MAX_FRAME_BYTES. */
  maxFrameBytes?: number
  /** Called with each message, in arrival order. */
  onMessage: (msg: Message) => void
  /** Called exactly once when the connection ends: null for a normal close, else why it ended. */
  onClose: (reason: string | null) => void
}

/** PeerOptions plus how long connectPeer waits for the connection, in milliseconds. */
export interface ConnectOptions extends PeerOptions {
  timeoutMs: number
}

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EPIPE: 'connection closed by peer while writing',
  ETIMEDOUT: 'connection timed out',
}

function describeSocketError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code
  return (code !== undefined && SOCKET_ERRORS[code]) || err.message
}

function hostPort(host: string | undefined, port: number | undefined): string {
  return host?.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Marks a promise handled, so a caller that does not await send() cannot crash the process; awaiting it still throws. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {})
  return promise
}

/** Sends and receives whole messages over one TCP connection, with back-pressure both ways. */
export class Peer {
  /** The other end, as "host:port". */
  readonly remoteAddress: string
  readonly #socket: net.Socket
  readonly #reader: FrameReader
  readonly #onMessage: (msg: Message) => void
  readonly #onClose: (reason: string | null) => void
  #head: Uint8Array | null = null
  #closed = false
  #congested = false
  #drainWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = []

  constructor(socket: net.Socket, options: PeerOptions) {
    this.#socket = socket
    this.#reader = new FrameReader(options.maxFrameBytes)
    this.#onMessage = options.onMessage
    this.#onClose = options.onClose
    this.remoteAddress = hostPort(socket.remoteAddress, socket.remotePort)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#receive(chunk))
    socket.on('drain', () => this.#drained())
    socket.on('error', (err) => this.#finish(describeSocketError(err), false))
    socket.on('end', () => this.#finish(null, true))
    socket.on('close', () => this.#finish(null, false))
  }

  /** True when the socket's send buffer is full and the caller should await send() before sending more. */
  get congested(): boolean {
    return this.#congested
  }

  /** Raises (or lowers) the largest frame accepted from the next frame on: the handshake's end lifts the pre-auth cap. */
  set maxFrameBytes(bytes: number) {
    this.#reader.maxFrameBytes = bytes
  }

  /** The first bytes the other end sent (up to 64), empty before any: what a port that is not ddb's said. */
  get head(): Uint8Array {
    return this.#head ?? new Uint8Array()
  }

  /** True once the connection has ended, for any reason. */
  get closed(): boolean {
    return this.#closed
  }

  /** Sends one message. Resolves at once if the send buffer has room, else when it drains; rejects if the connection is closed. */
  send(msg: Message): Promise<void> {
    if (this.#closed) return quiet(Promise.reject(this.#closedError(`send ${msg.type}`)))
    let frame: Uint8Array
    try {
      frame = encodeFrame(msg)
    } catch (err) {
      return quiet(Promise.reject(err))
    }
    return this.sendFrame(frame)
  }

  /** send() of a message already encoded with encodeFrame: one message for many peers is encoded once. */
  sendFrame(frame: Uint8Array): Promise<void> {
    if (this.#closed) return quiet(Promise.reject(this.#closedError('send')))
    if (this.#socket.write(frame)) return Promise.resolve()
    this.#congested = true
    return quiet(new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject })))
  }

  /** Stops reading, so the sender's send() calls stall; messages already read in the current chunk are still delivered. */
  pause(): void {
    if (!this.#closed) this.#socket.pause()
  }

  /** Starts reading again after pause(). */
  resume(): void {
    if (!this.#closed) this.#socket.resume()
  }

  /** Closes the connection after flushing what was sent; reason null for a normal close. onClose runs once; safe to call twice. */
  close(reason: string | null = null): void {
    this.#finish(reason, true)
  }

  #receive(chunk: Uint8Array): void {
    if (this.#closed) return
    this.#head ??= Uint8Array.from(chunk.subarray(0, HEAD_BYTES))
    this.#reader.push(chunk)
    for (;;) {
      let msg: Message | null
      try {
        msg = this.#reader.next()
      } catch (err) {
        return this.#finish(formatError(err), false)
      }
      if (msg === null || this.#closed) return
      try {
        this.#onMessage(msg)
      } catch (err) {
        // A handler's bug ends this connection, never the node serving everyone else.
        return this.#finish(`handling ${msg.type}: ${formatError(err)}`, false)
      }
    }
  }

  #drained(): void {
    this.#congested = false
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const waiter of waiters) waiter.resolve()
  }

  #closedError(operation: string): DdbError {
    return new DdbError('CONNECTION_CLOSED', `${operation} to ${this.remoteAddress}: connection closed`)
  }

  /** Ends the connection once: flush lets already-written frames go out first (bounded by CLOSE_FLUSH_MS). */
  #finish(reason: string | null, flush: boolean): void {
    if (this.#closed) return
    this.#closed = true
    if (flush) {
      this.#socket.end()
      this.#socket.resume()
      const timer = setTimeout(() => this.#socket.destroy(), CLOSE_FLUSH_MS)
      timer.unref()
      this.#socket.once('close', () => clearTimeout(timer))
    } else {
      this.#socket.destroy()
    }
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const waiter of waiters) waiter.reject(this.#closedError('send'))
    this.#onClose(reason)
  }
}

/** Opens a connection and wraps it in a Peer; rejects with DdbError UNREACHABLE ("connect host:port: reason") on refusal, error or timeout. */
export function connectPeer(address: { host: string; port: number }, options: ConnectOptions): Promise<Peer> {
  const target = hostPort(address.host, address.port)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port })
    const fail = (reason: string) => {
      clearTimeout(timer)
      socket.destroy()
      reject(new DdbError('UNREACHABLE', `connect ${target}: ${reason}`))
    }
    const onError = (err: Error) => fail(describeSocketError(err))
    const timer = setTimeout(() => fail(`timed out after ${options.timeoutMs} ms`), options.timeoutMs)
    socket.once('error', onError)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.off('error', onError)
      resolve(new Peer(socket, options))
    })
  })
}
