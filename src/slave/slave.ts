import { hostname } from 'node:os'
import {
  APPLY_BATCH_ENTRIES,
  formatHostPort,
  HANDSHAKE_TIMEOUT_MS,
  HEARTBEAT_MS,
  type HostPort,
  PEER_TIMEOUT_MS,
  RECONNECT_MAX_MS,
  RECONNECT_MIN_MS,
} from '../config.ts'
import { type Entry, entryChecksum, type Param, type ReadResult, type WriteResult } from '../entry.ts'
import { DdbError, DivergenceError, formatError, NotMasterError, StaleReadError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { WriteStatement } from '../master/writer.ts'
import { type Server, startServer } from '../server/server.ts'
import type { NodeApi } from '../server/session.ts'
import { ApplyError, applyEntries } from '../store/apply.ts'
import { openStore } from '../store/open-store.ts'
import type { Store, StoreState } from '../store/store.ts'
import { authProof } from '../wire/auth.ts'
import { type Message, type NodeStatus, PROTOCOL_VERSION, type ReplicationFilters } from '../wire/messages.ts'
import { connectPeer, type Peer } from '../wire/peer.ts'
import { filterEntries, NO_FILTERS } from './filter.ts'
import { WriteForwarder } from './forwarder.ts'

export interface SlaveOptions {
  master: HostPort
  /** Store URL: sqlite:<file> or mysql://user:pass@host:port/db. */
  db: string
  listen: HostPort
  secret: string
  /** How the master names this slave; default hostname:listen-port. */
  id?: string
  /** Forward clients' INSERT/UPDATE/DELETE/REPLACE to the master instead of refusing them; default false. */
  forwardWrites?: boolean
  /** Which databases' entries to apply (--replicate-db / --ignore-db); default all. */
  filters?: ReplicationFilters
  logger: Logger
}

/** Entries received but not yet applied above which the slave stops reading from the master. */
const QUEUE_HIGH = APPLY_BATCH_ENTRIES * 4
/** While the master stays unreachable with the same error, how often that is logged again. */
const UNREACHABLE_LOG_MS = 60_000
/** How long progress waits to be acked, so that at a steady trickle the master gets one ack per interval, not one per entry. */
const ACK_INTERVAL_MS = 20

/**
 * Slave keeps its store a copy of the master's: it attaches with its position
 * (the offset its store holds), applies every later entry in order, many per
 * store transaction, and reconnects by itself after any disconnect. It serves
 * reads meanwhile and refuses writes, or (forwardWrites) passes DML on to the
 * master. Entries its filters skip still advance its offset. If an entry fails
 * or diverges it stops applying (never skips), keeps serving reads, and says why
 * in its status.
 */
export class Slave implements NodeApi {
  readonly role = 'slave'
  readonly store: Store
  readonly #options: SlaveOptions
  readonly #logger: Logger
  readonly #masterAddress: string
  readonly #id: string
  #state: StoreState
  #server: Server | null = null
  #peer: Peer | null = null
  #connected = false
  #stopped = false
  #error: string | null = null
  #queue: Entry[] = []
  #next = 0
  #applying: Promise<void> | null = null
  #masterOffset = 0
  /** The entry that may have half-applied before a crash or a lost store connection (see applyEntries). */
  #inDoubt: number
  /** The master's log id from its welcome; a fresh store records it with its first entries. */
  #masterLogId = ''
  #lastHeard = 0
  #wakeReconnect: (() => void) | null = null
  #timer: ReturnType<typeof setInterval> | null = null
  #ackTimer: ReturnType<typeof setTimeout> | null = null
  /** Since when the master has been unreachable (null: it is not), its last error, and when that was last logged. */
  #unreachableSince: number | null = null
  #unreachableError = ''
  #unreachableLogged = 0
  readonly #filters: ReplicationFilters
  /** Reads waiting for the store to reach an offset (read-your-writes). */
  readonly #offsetWaiters = new Set<{ offset: number; wake(): void; fail(err: unknown): void }>()
  /** Passes clients' DML on to the master (--forward-writes). */
  readonly #forwarder: WriteForwarder

  private constructor(store: Store, state: StoreState, options: SlaveOptions) {
    this.store = store
    this.#state = state
    this.#options = options
    this.#logger = options.logger
    this.#masterAddress = formatHostPort(options.master)
    this.#forwarder = new WriteForwarder(options.master, options.secret)
    this.#id = options.id ?? `${hostname()}:${options.listen.port}`
    this.#masterOffset = state.offset
    this.#inDoubt = state.offset + 1
    this.#filters = options.filters ?? NO_FILTERS
  }

  /** Opens the store, starts serving reads, and starts replicating in the background. */
  static async start(options: SlaveOptions): Promise<Slave> {
    const store = await openStore(options.db)
    try {
      const slave = new Slave(store, await store.readState(), options)
      slave.#server = await startServer({
        listen: options.listen,
        role: 'slave',
        secret: options.secret,
        node: slave,
        logger: options.logger,
        welcome: () => ({ logId: slave.#state.logId, offset: slave.#state.offset }),
      })
      slave.#timer = setInterval(() => slave.#tick(), HEARTBEAT_MS)
      void slave.#replicate()
      options.logger.info('slave started', {
        listen: slave.address,
        master: slave.#masterAddress,
        store: store.displayUrl,
        applied: slave.#state.offset,
        forwardWrites: options.forwardWrites ?? false,
        replicateDb: slave.#filters.replicateDb.join(','),
        ignoreDb: slave.#filters.ignoreDb.join(','),
      })
      return slave
    } catch (err) {
      await store.close()
      throw err
    }
  }

  get defaultDb(): string | null {
    return this.store.defaultDb
  }

  get dialect(): 'mysql' | 'sqlite' {
    return this.store.kind
  }

  get address(): string {
    return this.#server?.address ?? ''
  }

  /**
   * A client's write. Refused, naming the master; with forwardWrites, one DML
   * statement is sent on to the master, through its normal write path, and the
   * master's answer (its offset) comes back. DDL is never forwarded.
   */
  async write(db: string | null, statements: WriteStatement[]): Promise<WriteResult> {
    if (!this.#options.forwardWrites) throw new NotMasterError(this.#masterAddress)
    if (statements.some((s) => s.classification.kind !== 'write')) {
      throw new DdbError(
        'NOT_MASTER',
        `DDL refused: this slave forwards only INSERT, UPDATE, DELETE and REPLACE; send DDL to the master at ${this.#masterAddress}`,
      )
    }
    if (statements.length !== 1) {
      throw new DdbError(
        'NOT_MASTER',
        `write refused: this slave forwards single statements only; send transactions to the master at ${this.#masterAddress}`,
      )
    }
    return this.#forwarder.forward(db, statements[0]!.statement)
  }

  read(db: string | null, sql: string, params: Param[]): Promise<ReadResult> {
    return this.store.read(db, sql, params)
  }

  /** Resolves once the store holds entry `offset`; rejects with StaleReadError after timeoutMs. */
  waitForOffset(offset: number, timeoutMs: number): Promise<void> {
    if (this.#state.offset >= offset) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter = {
        offset,
        wake: () => {
          clearTimeout(timer)
          this.#offsetWaiters.delete(waiter)
          resolve()
        },
        fail: (err: unknown) => {
          clearTimeout(timer)
          this.#offsetWaiters.delete(waiter)
          reject(err)
        },
      }
      const timer = setTimeout(
        () => waiter.fail(new StaleReadError('slave', this.#state.offset, offset, timeoutMs)),
        timeoutMs,
      )
      this.#offsetWaiters.add(waiter)
    })
  }

  status(): NodeStatus {
    const applied = this.#state.offset
    const lagEntries = Math.max(0, this.#masterOffset - applied)
    const oldest = this.#queue[0]
    return {
      role: 'slave',
      master: this.#masterAddress,
      applied,
      connected: this.#connected,
      lagEntries,
      lagSeconds: lagEntries > 0 && oldest ? Math.max(0, (Date.now() - oldest.ts) / 1000) : 0,
      store: this.store.displayUrl,
      error: this.#error,
      filters: { replicateDb: [...this.#filters.replicateDb], ignoreDb: [...this.#filters.ignoreDb] },
    }
  }

  /** Records the store's new state and wakes the reads waiting for an offset it reached. */
  #setState(state: StoreState): void {
    this.#state = state
    for (const w of [...this.#offsetWaiters]) if (state.offset >= w.offset) w.wake()
  }

  /** Connects, streams until disconnected, waits, and again: 100 ms doubling to 5 s. */
  async #replicate(): Promise<void> {
    let delay = RECONNECT_MIN_MS
    while (!this.#stopped) {
      const attached = await this.#attachOnce()
      if (this.#stopped) return
      delay = attached ? RECONNECT_MIN_MS : Math.min(delay * 2, RECONNECT_MAX_MS)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay)
        this.#wakeReconnect = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  /** One connection's life; resolves when it ends, true if it got as far as streaming. */
  async #attachOnce(): Promise<boolean> {
    let attached = false
    await this.#applying
    return new Promise<boolean>((resolve) => {
      let greeted = false
      const handshake = setTimeout(() => this.#peer?.close('handshake timed out'), HANDSHAKE_TIMEOUT_MS)
      const onMessage = (m: Message) => {
        this.#lastHeard = Date.now()
        if (!greeted) {
          greeted = true
          if (m.type !== 'greeting') return this.#peer?.close(`expected greeting, got ${m.type}`)
          return void this.#peer
            ?.send({
              type: 'hello',
              protocol: PROTOCOL_VERSION,
              peer: 'slave',
              auth: authProof(this.#options.secret, m.nonce),
              slaveId: this.#id,
              position: this.#state.offset,
              logId: this.#state.logId,
              listen: this.address || null,
            })
            .catch(() => {})
        }
        if (!attached) {
          clearTimeout(handshake)
          if (m.type === 'error') {
            this.#logger.error('master refused this slave', {
              master: this.#masterAddress,
              reason: m.message,
              hint: m.hint,
            })
            return this.#peer?.close(null)
          }
          if (m.type !== 'welcome') return this.#peer?.close(`expected welcome, got ${m.type}`)
          attached = true
          this.#connected = true
          this.#masterOffset = m.offset
          this.#masterLogId = m.logId ?? ''
          this.#next = this.#state.offset + 1
          this.#logger.info('attached to master', {
            master: this.#masterAddress,
            applied: this.#state.offset,
            masterOffset: m.offset,
          })
          this.#unreachableSince = null
          return
        }
        this.#onStreamMessage(m)
      }
      const onClose = (reason: string | null) => {
        clearTimeout(handshake)
        if (attached)
          this.#logger.warn('disconnected from master', { master: this.#masterAddress, reason: reason ?? 'closed' })
        this.#peer = null
        this.#connected = false
        this.#queue = []
        resolve(attached)
      }
      connectPeer(this.#options.master, { timeoutMs: HANDSHAKE_TIMEOUT_MS, onMessage, onClose }).then(
        (peer) => {
          this.#peer = peer
          if (this.#stopped) peer.close(null)
        },
        (err) => {
          clearTimeout(handshake)
          this.#unreachable(formatError(err))
          resolve(false)
        },
      )
    })
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
      master: this.#masterAddress,
      error,
      ...(seconds > 0 ? { seconds } : {}),
    })
  }

  #onStreamMessage(m: Message): void {
    switch (m.type) {
      case 'entries': {
        if (this.#error !== null) return this.#peer?.pause() // stopped: apply nothing more until restarted
        for (const e of m.entries) {
          if (e.offset !== this.#next) return this.#peer?.close(`expected entry ${this.#next}, got ${e.offset}`)
          if (entryChecksum(e) !== e.checksum)
            return this.#peer?.close(`entry ${e.offset} arrived corrupt (checksum mismatch)`)
          this.#next++
        }
        this.#queue.push(...m.entries)
        this.#masterOffset = Math.max(this.#masterOffset, this.#next - 1)
        if (this.#queue.length >= QUEUE_HIGH) this.#peer?.pause()
        this.#applying ??= this.#applyQueued().finally(() => (this.#applying = null))
        return
      }
      case 'heartbeat':
        this.#masterOffset = m.offset
        return this.#ack()
      default:
        this.#peer?.close(`unexpected ${m.type} message from the master`)
    }
  }

  /** Applies queued entries batch by batch until the queue is empty or applying stops. */
  async #applyQueued(): Promise<void> {
    while (this.#queue.length > 0 && this.#error === null) {
      const batch = this.#queue.splice(0, APPLY_BATCH_ENTRIES)
      const logId = this.#state.logId ?? this.#masterLogId
      try {
        // Entries the filters skip are applied with no statements: the offset still advances.
        await applyEntries(this.store, filterEntries(this.#filters, batch), logId, this.#inDoubt)
        this.#setState({ offset: batch[batch.length - 1]!.offset, logId })
      } catch (err) {
        this.#setState(await this.store.readState().catch(() => this.#state))
        if (err instanceof DivergenceError || err instanceof ApplyError) {
          this.#error = formatError(err)
          this.#logger.error('replication stopped', { offset: err.offset, error: this.#error })
          this.#queue = []
          this.#peer?.pause()
        } else {
          this.#inDoubt = this.#state.offset + 1
          this.#logger.warn('store unavailable; will reconnect and resume', {
            applied: this.#state.offset,
            error: formatError(err),
          })
          this.#peer?.close('store unavailable')
        }
      }
      this.#ackSoon()
      if (this.#queue.length < QUEUE_HIGH / 2 && this.#error === null) this.#peer?.resume()
    }
  }

  /** Acks progress within ACK_INTERVAL_MS (each ack costs the master a message); an error at once. */
  #ackSoon(): void {
    if (this.#error !== null) return this.#ack()
    this.#ackTimer ??= setTimeout(() => {
      this.#ackTimer = null
      this.#ack()
    }, ACK_INTERVAL_MS)
  }

  #ack(): void {
    this.#peer?.send({ type: 'ack', applied: this.#state.offset, error: this.#error }).catch(() => {})
  }

  /** Once a second: tell the master where we are; drop a master that went silent. */
  #tick(): void {
    if (!this.#connected) return
    this.#ack()
    const idle = this.#queue.length === 0 && this.#applying === null && this.#error === null
    if (idle && Date.now() - this.#lastHeard > PEER_TIMEOUT_MS)
      this.#peer?.close(`master silent for ${PEER_TIMEOUT_MS} ms`)
  }

  /** Stops replicating and serving; closes the store. Safe twice. */
  async close(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    if (this.#ackTimer) clearTimeout(this.#ackTimer)
    this.#peer?.close(null)
    this.#wakeReconnect?.()
    await this.#forwarder.close()
    for (const w of [...this.#offsetWaiters])
      w.fail(new DdbError('SHUTTING_DOWN', 'read-your-writes: this slave is shutting down'))
    await this.#applying
    await this.#server?.close()
    await this.store.close()
  }
}
