import {
  formatHostPort,
  HEARTBEAT_MS,
  type HostPort,
  PEER_TIMEOUT_MS,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
} from '../config.ts'
import type { Entry } from '../entry.ts'
import { DdbError, formatError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { type HelloFields, hello } from '../wire/handshake.ts'
import type { Message, Welcome } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'

/** While the master stays unreachable with the same error, how often that is logged again. */
const UNREACHABLE_LOG_MS = 60_000

/** Codes of a handshake that failed before the master could answer; any other code is the master's refusal. */
const NOT_REACHED = new Set(['UNREACHABLE', 'PROTOCOL', 'CONNECTION_LOST'])

/** What the link asks of the slave's applier, and tells it. */
export interface LinkEvents {
  /** The hello to attach with: this slave's id, its position and log, where its clients reach it. */
  hello(): Extract<HelloFields, { peer: 'slave' }>
  /** Resolves once nothing is being applied: a new connection resumes from the store's offset. */
  drained(): Promise<void>
  attached(welcome: Welcome): void
  entries(entries: Entry[]): void
  heartbeat(masterOffset: number): void
  detached(): void
  /** True while entries wait to be applied: a master that is silent meanwhile is only slow to be read. */
  busy(): boolean
  /** Once a second while attached. */
  tick(): void
}

/**
 * MasterLink is a slave's connection to its master: it attaches (the
 * handshake), hands every message of the stream to the applier, carries acks
 * back, and after any disconnect reconnects by itself, waiting 100 ms at first
 * and doubling up to 5 s. A master silent for PEER_TIMEOUT_MS is dropped.
 */
export class MasterLink {
  /** The master's address, as host:port. */
  readonly address: string
  readonly #master: HostPort
  readonly #secret: string
  readonly #logger: Logger
  readonly #events: LinkEvents
  #peer: Peer | null = null
  #stopped = false
  #lastHeard = 0
  #wake: (() => void) | null = null
  #timer: ReturnType<typeof setInterval> | null = null
  /** Since when the master has been unreachable (null: it is not), its last error, and when that was last logged. */
  #unreachableSince: number | null = null
  #unreachableError = ''
  #unreachableLogged = 0

  constructor(master: HostPort, secret: string, logger: Logger, events: LinkEvents) {
    this.#master = master
    this.address = formatHostPort(master)
    this.#secret = secret
    this.#logger = logger
    this.#events = events
  }

  /** True while attached to the master. */
  get connected(): boolean {
    return this.#peer !== null
  }

  /** Starts attaching, and keeps the link up until close(). */
  start(): void {
    this.#timer = setInterval(() => this.#tick(), HEARTBEAT_MS)
    void this.#run()
  }

  /** Tells the master how far this slave has applied, and why it stopped if it did. */
  ack(applied: number, error: string | null): void {
    this.#peer?.send({ type: 'ack', applied, error }).catch(() => {})
  }

  /** Stops reading from the master (the applier is full, or stopped); the master's sends stall. */
  pause(): void {
    this.#peer?.pause()
  }

  resume(): void {
    this.#peer?.resume()
  }

  /** Ends the current connection; the link reconnects after its back-off. */
  drop(reason: string): void {
    this.#peer?.close(reason)
  }

  /** Ends the link for good. Safe twice. */
  close(): void {
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.#peer?.close(null)
    this.#wake?.()
  }

  /** Attaches, streams until disconnected, waits, and again. */
  async #run(): Promise<void> {
    let delay = RECONNECT_MIN_MS
    while (!this.#stopped) {
      const attached = await this.#attachOnce()
      if (this.#stopped) return
      delay = attached ? RECONNECT_MIN_MS : Math.min(delay * 2, RECONNECT_MAX_MS)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  /** One connection's life; resolves when it ends, true if it was welcomed. */
  async #attachOnce(): Promise<boolean> {
    await this.#events.drained()
    let ended!: () => void
    const closed = new Promise<void>((resolve) => {
      ended = resolve
    })
    const fields = this.#events.hello()
    try {
      const { peer } = await hello(this.#master, {
        secret: this.#secret,
        hello: fields,
        onWelcome: (welcome, peer) => {
          this.#peer = peer
          this.#lastHeard = Date.now()
          this.#unreachableSince = null
          this.#logger.info('attached to master', {
            master: this.address,
            applied: fields.position,
            masterOffset: welcome.offset,
          })
          this.#events.attached(welcome)
        },
        onMessage: (m) => this.#onMessage(m),
        onClose: (reason) => {
          this.#logger.warn('disconnected from master', { master: this.address, reason: reason ?? 'closed' })
          this.#peer = null
          this.#events.detached()
          ended()
        },
      })
      if (this.#stopped) peer.close(null)
    } catch (err) {
      if (err instanceof DdbError && !NOT_REACHED.has(err.code)) {
        this.#logger.error('master refused this slave', { master: this.address, reason: err.message, hint: err.hint })
      } else {
        this.#unreachable(formatError(err))
      }
      return false
    }
    await closed
    return true
  }

  #onMessage(m: Message): void {
    this.#lastHeard = Date.now()
    switch (m.type) {
      case 'entries':
        return this.#events.entries(m.entries)
      case 'heartbeat':
        return this.#events.heartbeat(m.offset)
      default:
        this.#peer?.close(`unexpected ${m.type} message from the master`)
    }
  }

  /**
   * Logs a failed attempt to reach the master: the first one, a changed error,
   * and then one line a minute saying for how long, not every retry.
   */
  #unreachable(error: string): void {
    const now = Date.now()
    const same = this.#unreachableSince !== null && error === this.#unreachableError
    if (same && now - this.#unreachableLogged < UNREACHABLE_LOG_MS) return
    this.#unreachableSince ??= now
    this.#unreachableError = error
    this.#unreachableLogged = now
    const seconds = Math.round((now - this.#unreachableSince) / 1000)
    this.#logger.warn(seconds > 0 ? 'still cannot reach master' : 'cannot reach master', {
      master: this.address,
      error,
      ...(seconds > 0 ? { seconds } : {}),
    })
  }

  /** Once a second: the applier acks its position; a master gone silent is dropped. */
  #tick(): void {
    if (!this.#peer) return
    this.#events.tick()
    if (!this.#events.busy() && Date.now() - this.#lastHeard > PEER_TIMEOUT_MS) {
      this.#peer.close(`master silent for ${PEER_TIMEOUT_MS} ms`)
    }
  }
}
