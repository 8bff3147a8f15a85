import { hostname } from 'node:os'
import type { Param, ReadResult, WriteResult } from '../entry.ts'
import { DdbError, StaleReadError } from '../errors.ts'
import { type LogSync, ReplicationLog } from '../log/replication-log.ts'
import type { Logger } from '../logger.ts'
import { openStore, sqlitePath } from '../store/open-store.ts'
import { nodeClaim } from '../store/ownership.ts'
import { newFiles, removeNewFiles } from '../store/sqlite-files.ts'
import type { Store } from '../store/store.ts'
import type { NodeStatus, SlaveHello } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'
import { ClientTransaction } from './client-transaction.ts'
import { recover } from './recovery.ts'
import { ReplicaSession } from './replica-session.ts'
import { Snapshots } from './snapshots.ts'
import { type ClassifiedStatement, Writer } from './writer.ts'

/** How often the master checks that its store still holds every published entry. */
const STORE_CHECK_MS = 1_000

export interface MasterOptions {
  /** Store URL: sqlite:<file> or mysql://user:pass@host:port/db. */
  db: string
  /** Replication log file. */
  log: string
  logSync: LogSync
  logger: Logger
  /** Called when the master cannot go on (its store cannot apply its own log). */
  onFatal(err: unknown): void
  /** A client transaction idle this long is rolled back, in ms (default TRANSACTION_IDLE_MS). */
  transactionIdleMs?: number
}

/**
 * Master owns the store, the replication log, the single writer and the
 * streams to its slaves. start() opens and recovers, so whoever serves it
 * afterwards (the front ends) never serves a store and log that disagree.
 */
export class Master {
  readonly role = 'master'
  readonly store: Store
  readonly log: ReplicationLog
  readonly #writer: Writer
  readonly #replicas = new Map<string, ReplicaSession>()
  readonly #logger: Logger
  readonly #transactionIdleMs: number | undefined
  /** Looks each second for entries the store lost (Writer.checkStore). */
  readonly #storeCheck: ReturnType<typeof setInterval>
  /** Consistent reads sent to slaves whose position is before the log's start. */
  readonly #snapshots: Snapshots
  /** Offsets whose following entries must stay in the log (a snapshot being sent), with how many pins each. */
  readonly #pins = new Map<number, number>()

  private constructor(store: Store, log: ReplicationLog, options: MasterOptions) {
    this.store = store
    this.log = log
    this.#logger = options.logger
    this.#transactionIdleMs = options.transactionIdleMs
    this.#writer = new Writer(store, log, options.logger.child({ component: 'writer' }), options.onFatal)
    this.#storeCheck = setInterval(() => void this.#writer.checkStore(), STORE_CHECK_MS)
    this.#storeCheck.unref()
    this.#snapshots = new Snapshots(
      store,
      log,
      this.#writer,
      options.logger.child({ component: 'snapshot' }),
      (offset) => this.pinLog(offset),
    )
    this.#writer.beforeDdl = () => this.#snapshots.abortForDdl()
  }

  /** Keeps every entry after `offset` in the log until the returned release is called. */
  pinLog(offset: number): () => void {
    this.#pins.set(offset, (this.#pins.get(offset) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.#pins.get(offset) ?? 1) - 1
      if (n === 0) this.#pins.delete(offset)
      else this.#pins.set(offset, n)
    }
  }

  /** The lowest offset pinned, or null: nothing after it may leave the log. */
  pinnedFloor(): number | null {
    return this.#pins.size === 0 ? null : Math.min(...this.#pins.keys())
  }

  /**
   * Takes the log and the store for this process alone (another node holding either
   * is refused, named), and recovers them into agreement. A start that fails leaves
   * behind no file it created.
   */
  static async start(options: MasterOptions): Promise<Master> {
    const claim = nodeClaim('master', hostname(), options.onFatal)
    const created = newFiles([options.log, sqlitePath(options.db)])
    let log: ReplicationLog | null = null
    let store: Store | null = null
    try {
      log = ReplicationLog.open(options.log, { sync: options.logSync, owner: claim.owner })
      store = await openStore(options.db, claim)
      await recover(store, log, options.logger.child({ component: 'recovery' }))
      return new Master(store, log, options)
    } catch (err) {
      await store?.close()
      log?.close()
      removeNewFiles(created)
      throw err
    }
  }

  get defaultDb(): string | null {
    return this.store.defaultDb
  }

  get dialect(): 'mysql' | 'sqlite' {
    return this.store.kind
  }

  write(db: string | null, statements: ClassifiedStatement[]): Promise<WriteResult> {
    return this.#writer.submit({ db, statements })
  }

  read(db: string | null, sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult> {
    return this.store.read(db, sql, params, settings)
  }

  /** Resolves once `offset` is published (a write in flight may still publish it); else STALE_READ after timeoutMs. */
  async waitForOffset(offset: number, timeoutMs: number): Promise<void> {
    const published = this.#writer.published
    if ((await published.wait(offset, timeoutMs)) !== 'reached') {
      throw new StaleReadError('master', published.current, offset, timeoutMs)
    }
  }

  async beginTransaction(db: string | null): Promise<ClientTransaction> {
    const store = this.store
    return new ClientTransaction(
      { begin: () => store.beginClientTransaction(), endsTransaction: (err) => store.endsTransaction(err) },
      this.#writer,
      db ?? this.store.defaultDb,
      this.#transactionIdleMs,
    )
  }

  position(): { logId: string; offset: number } {
    return { logId: this.log.id, offset: this.#writer.published.current }
  }

  status(): NodeStatus {
    return {
      role: 'master',
      offset: this.#writer.published.current,
      logId: this.log.id,
      store: this.store.displayUrl,
      readOnly: this.#writer.readOnly?.reason ?? null,
      replicas: [...this.#replicas.values()].map((r) => r.status()),
    }
  }

  /** Takes on a slave that said hello: refuses one of another log or ahead of this one, else streams to it from its position. */
  attachReplica(peer: Peer, hello: SlaveHello): ReplicaSession {
    const published = this.#writer.published.current
    if (hello.logId !== null && hello.logId !== this.log.id) {
      throw new DdbError(
        'LOG_MISMATCH',
        `slave ${hello.slaveId} holds entries of log ${hello.logId}, but this master's log is ${this.log.id}`,
        {
          hint: "rebuild the slave from an empty store (or a copy of the master's), or point it at its own master",
        },
      )
    }
    if (hello.position > published || (hello.logId === null && hello.position !== 0)) {
      throw new DdbError(
        'SLAVE_AHEAD',
        `slave ${hello.slaveId} is at offset ${hello.position}, but this master's log ends at ${published}`,
        {
          hint: 'the slave belongs to another history; rebuild it from an empty store',
        },
      )
    }
    this.#replicas.get(hello.slaveId)?.close('replaced by a new connection from the same slave')
    // A slave before the log's start (a new one of a master that adopted its data, or one away past retention) gets a snapshot first.
    const needsSnapshot = hello.position < this.log.start || (hello.logId === null && this.log.start > 0)
    const session = new ReplicaSession(
      peer,
      hello,
      this.log,
      this.#writer,
      this.#logger.child({ component: 'streamer' }),
      needsSnapshot ? this.#snapshots : null,
    )
    this.#replicas.set(hello.slaveId, session)
    this.#logger.info('slave attached', {
      slave: hello.slaveId,
      address: session.address,
      position: hello.position,
      offset: published,
      ...(needsSnapshot ? { snapshot: hello.snapshot ? `resume ${hello.snapshot.id}` : 'new' } : {}),
    })
    return session
  }

  /** Finishes queued writes, closes store and log (stop the front ends first). Safe twice. */
  async close(): Promise<void> {
    clearInterval(this.#storeCheck)
    for (const replica of this.#replicas.values()) replica.close('master shutting down')
    await this.#snapshots.close()
    await this.#writer.close()
    await this.store.close()
    this.log.close()
  }
}
