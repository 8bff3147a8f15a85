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
import { LogThrottle } from '../log-throttle.ts'
import type { Logger, LogLevel } from '../logger.ts'
import { Client } from '../wire/client.ts'
import { type HelloFields, hello } from '../wire/handshake.ts'
import { isSnapshotMessage, type Message, type SnapshotMessage, type Welcome } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'

/** How often a slave given several nodes (`--master a,b,c`) asks the others whether one is a master of another epoch. */
const PROBE_MS = 2_000

/** Codes of a handshake that failed before the master could answer; any other code is the master's refusal. */
const NOT_REACHED = new Set(['UNREACHABLE', 'PROTOCOL', 'HANDSHAKE_TIMEOUT', 'CONNECTION_LOST'])

/** What the link asks of the slave's applier, and tells it. */
export interface LinkEvents {
  /** The hello to attach with: this slave's id, its position and log, where its clients reach it. */
  hello(): Extract<HelloFields, { peer: 'slave' }>
  /** Resolves once nothing is being applied: a new connection resumes from the store's offset. */
  drained(): Promise<void>
  /** The master welcomed this slave; a reason to refuse it (a fenced master's lower epoch), or null. */
  attached(welcome: Welcome): string | null
  entries(entries: Entry[]): void
  heartbeat(masterOffset: number): void
  detached(): void
  /** True while entries wait to be applied: a master that is silent meanwhile is only slow to be read. */
  busy(): boolean
  /** Once a second while attached. */
  tick(): void
  /** The master refused this slave: true if the slave dealt with it (a rejoin set its divergent entries aside) and attaches again at once. */
  refused(err: DdbError): Promise<boolean>
  /** A snapshot message (the slave's position was before the log's start); the next waits until it resolves. */
  snapshot(m: SnapshotMessage): Promise<void>
}

/**
 * MasterLink is a slave's connection to its master: it attaches (the
 * handshake), hands every message of the stream to the applier, carries acks
 * back, and after any disconnect reconnects by itself, waiting 100 ms at first
 * and doubling up to 5 s. The wait starts again from 100 ms only after a
 * connection proved healthy (a heartbeat came, or the slave applied entries),
 * so a master that drops the slave right after the welcome is not hammered.
 * A master silent for PEER_TIMEOUT_MS is dropped. Whatever keeps the link from
 * working is its `problem`, logged when it starts and then once a minute.
 */
export class MasterLink {
  /** The nodes that may be the master (`--master a,b,c`): the link follows whichever is, at the highest epoch. */
  readonly #masters: HostPort[]
  /** Which of them the link attaches to next, or is attached to. */
  #current = 0
  /** A master of a higher epoch the probe found: the next attach goes there. */
  #switchTo: number | null = null
  #probing = false
  #lastProbe = 0
  readonly #secret: string
  readonly #logger: Logger
  readonly #events: LinkEvents
  #peer: Peer | null = null
  #stopped = false
  #lastHeard = 0
  #wake: (() => void) | null = null
  #timer: ReturnType<typeof setInterval> | null = null
  /** Why the link does not work (null once a connection proved healthy), and since when. */
  #problem: string | null = null
  #problemSince = 0
  /** The snapshot message being loaded, and the messages queued behind it; null when none is. */
  #loading: Promise<void> | null = null
  /** The current connection: the slave's position when it attached, and whether it has proved healthy. */
  #attachedAt = 0
  #healthy = false
  readonly #throttle = new LogThrottle()

  constructor(masters: HostPort[], secret: string, logger: Logger, events: LinkEvents) {
    this.#masters = masters
    this.#secret = secret
    this.#logger = logger
    this.#events = events
  }

  /** The master (the node attached to, or tried next). */
  get master(): HostPort {
    return this.#masters[this.#current]!
  }

  /** …as host:port. */
  get address(): string {
    return formatHostPort(this.master)
  }

  /** True while attached to the master. */
  get connected(): boolean {
    return this.#peer !== null
  }

  /** Why replication through this link does not work right now (unreachable, refused, dropped …), or null. */
  get problem(): string | null {
    return this.#problem
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
      if (await this.#attachOnce()) delay = RECONNECT_MIN_MS
      if (this.#stopped) return
      if (this.#switchTo !== null) {
        this.#current = this.#switchTo
        this.#switchTo = null
        continue
      }
      // The next candidate, at once; the back-off once every one was tried.
      this.#current = (this.#current + 1) % this.#masters.length
      if (this.#current !== 0) continue
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      delay = Math.min(delay * 2, RECONNECT_MAX_MS)
    }
  }

  /** One connection's life; resolves when it ends, true if it proved healthy. */
  async #attachOnce(): Promise<boolean> {
    await this.#loading // a snapshot chunk still being loaded from the last connection
    this.#loading = null
    await this.#events.drained()
    let ended!: () => void
    const closed = new Promise<void>((resolve) => {
      ended = resolve
    })
    const fields = this.#events.hello()
    this.#attachedAt = fields.position
    this.#healthy = false
    /** Set when the master said why it ends the stream: that, not the close, is the problem. */
    let masterError = false
    try {
      const { peer } = await hello(this.#masters[this.#current]!, {
        secret: this.#secret,
        hello: fields,
        onWelcome: (welcome, peer) => {
          this.#peer = peer
          this.#lastHeard = Date.now()
          // While the master drops the slave over and over, once a minute is enough.
          if (this.#problem === null || this.#throttle.pass('attached') !== null) {
            this.#logger.info('attached to master', {
              master: this.address,
              applied: fields.position,
              masterOffset: welcome.offset,
            })
          }
          const refusal = this.#events.attached(welcome)
          if (refusal !== null) {
            masterError = true
            this.#fail('error', 'refused the master', refusal)
            peer.close(null)
          }
        },
        onMessage: (m) => {
          if (m.type !== 'error') return this.#onMessage(m)
          masterError = true
          this.#fail(
            'error',
            'master cannot stream to this slave',
            `the master at ${this.address} cannot stream: ${formatError(new DdbError(m.code, m.message, { hint: m.hint }))}`,
          )
          this.#peer?.close(null)
        },
        onClose: (reason) => {
          this.#peer = null
          this.#events.detached()
          if (!this.#stopped && !masterError) this.#ended(reason ?? 'closed')
          ended()
        },
      })
      if (this.#stopped) peer.close(null)
    } catch (err) {
      if (err instanceof DdbError && !NOT_REACHED.has(err.code)) {
        if (await this.#events.refused(err).catch(() => false)) {
          this.#switchTo = this.#current // attach to the same master again
          return true
        }
        this.#fail(
          'error',
          'master refused this slave',
          `the master at ${this.address} refused this slave: ${formatError(err)}`,
        )
      } else {
        this.#fail('warn', 'cannot reach master', formatError(err))
      }
      return false
    }
    await closed
    return this.#healthy
  }

  /** A connection that was welcomed ended: a lost link if it had proved healthy, else a problem that keeps the back-off growing. */
  #ended(why: string): void {
    if (this.#checkHealthy()) {
      this.#logger.warn('disconnected from master', { master: this.address, reason: why })
      this.#setProblem(`connection to the master at ${this.address} lost: ${why}`)
    } else {
      this.#fail(
        'warn',
        'connection to master ended right after attaching',
        `connection to the master at ${this.address} ended right after attaching: ${why}`,
      )
    }
  }

  #onMessage(m: Message): void {
    this.#lastHeard = Date.now()
    const snapshot = isSnapshotMessage(m)
    if (!snapshot && this.#loading === null) return this.#dispatch(m)
    this.#inOrderAfterLoad(m, snapshot)
  }

  /**
   * A snapshot message, or any message after one still loading: each waits for the one
   * before (entries after the snapshot need the store to have taken it over), and
   * nothing more is read from the master meanwhile, so the socket's back-pressure reaches it.
   */
  #inOrderAfterLoad(m: Message, snapshot: boolean): void {
    const peer = this.#peer
    if (!peer) return
    peer.pause()
    const step = (this.#loading ?? Promise.resolve()).then(async () => {
      if (peer.closed) return
      if (!snapshot) return this.#dispatch(m)
      await this.#events.snapshot(m as SnapshotMessage)
      this.#healthy = true // a chunk loaded: the back-off starts again from its shortest
      this.#problem = null
      // A chunk's load is synchronous on SQLite: let the node answer its clients (status, reads) between chunks.
      await new Promise((resolve) => setImmediate(resolve))
    })
    const done: Promise<void> = step.then(
      () => {
        if (this.#loading !== done) return
        this.#loading = null
        peer.resume()
      },
      (err: unknown) => {
        if (this.#loading === done) this.#loading = null
        this.#fail('error', 'snapshot load failed', `loading the master's snapshot failed: ${formatError(err)}`)
        peer.close(null)
      },
    )
    this.#loading = done
  }

  #dispatch(m: Message): void {
    switch (m.type) {
      case 'entries':
        return this.#events.entries(m.entries)
      case 'heartbeat':
        this.#healthy = true
        this.#problem = null
        return this.#events.heartbeat(m.offset)
      default:
        this.#peer?.close(`unexpected ${m.type} message from the master`)
    }
  }

  /** True once this connection has proved healthy: a heartbeat came, or the slave has applied entries since it attached. */
  #checkHealthy(): boolean {
    if (!this.#healthy && this.#events.hello().position > this.#attachedAt) this.#healthy = true
    if (this.#healthy) this.#problem = null
    return this.#healthy
  }

  #setProblem(problem: string): void {
    if (this.#problem === null) this.#problemSince = Date.now()
    this.#problem = problem
  }

  /** Records why the link does not work and logs it: the first time, then once a minute saying for how long. */
  #fail(level: LogLevel, event: string, problem: string): void {
    this.#setProblem(problem)
    if (this.#throttle.pass(`${event}|${problem}`) === null) return
    const seconds = Math.round((Date.now() - this.#problemSince) / 1000)
    this.#logger[level](seconds > 0 ? `still: ${event}` : event, {
      master: this.address,
      error: problem,
      ...(seconds > 0 ? { seconds } : {}),
    })
  }

  /**
   * While attached, now and then: asks the other nodes what they are. A master of a higher
   * epoch is followed (this one was left behind by a promotion); one of a lower epoch is
   * told it is fenced (an old master that came back, or woke up), so it takes no more writes.
   */
  async #probe(): Promise<void> {
    if (this.#probing || this.#masters.length < 2 || Date.now() - this.#lastProbe < PROBE_MS) return
    this.#probing = true
    this.#lastProbe = Date.now()
    const { epoch, slaveId } = this.#events.hello()
    const seen = epoch ?? 1
    try {
      for (const [i, address] of this.#masters.entries()) {
        if (i === this.#current || this.#stopped) continue
        const client = await Client.connect(address, this.#secret).catch(() => null)
        if (!client) continue
        try {
          if (client.role !== 'master') continue
          if (client.epoch > seen) {
            this.#logger.info('found a master of a higher epoch; following it', {
              master: formatHostPort(address),
              epoch: client.epoch,
              was: this.address,
            })
            this.#switchTo = i
            this.#peer?.close(`a master of epoch ${client.epoch} is at ${formatHostPort(address)}`)
            return
          }
          if (client.epoch < seen) await client.fence(seen, `slave ${slaveId}`).catch(() => {})
        } finally {
          client.close()
        }
      }
    } finally {
      this.#probing = false
    }
  }

  /** Once a second: the applier acks its position; a master gone silent is dropped. */
  #tick(): void {
    if (!this.#peer) return
    void this.#probe()
    this.#checkHealthy()
    this.#events.tick()
    if (!this.#events.busy() && this.#loading === null && Date.now() - this.#lastHeard > PEER_TIMEOUT_MS) {
      this.#peer.close(`master silent for ${PEER_TIMEOUT_MS} ms`)
    }
  }
}
