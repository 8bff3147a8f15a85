import { hostname } from 'node:os'
import { type ChecksumForm, checksumTables } from '../checksum.ts'
import type { Param, ReadResult, WriteOptions, WriteResult } from '../entry.ts'
import { DdbError, StaleReadError } from '../errors.ts'
import { type LogSync, ReplicationLog } from '../log/replication-log.ts'
import type { Logger } from '../logger.ts'
import { openStore, sqlitePath } from '../store/open-store.ts'
import { nodeClaim } from '../store/ownership.ts'
import { newFiles, removeNewFiles } from '../store/sqlite-files.ts'
import type { Store } from '../store/store.ts'
import { checkHello } from '../stream/check-hello.ts'
import { type PruneResult, Pruner } from '../stream/pruner.ts'
import { ReplicaSession } from '../stream/replica-session.ts'
import { KEEP_EVERYTHING, type RetentionPolicy } from '../stream/retention.ts'
import type { ChecksumResult, NodeStatus, SlaveHello } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'
import { ClientTransaction } from './client-transaction.ts'
import { LogPins } from './log-pins.ts'
import { recover } from './recovery.ts'
import { ReplicaRoster } from './replica-roster.ts'
import { Snapshots } from './snapshots.ts'
import { ASYNCHRONOUS, SyncAcks, type SyncPolicy } from './sync-acks.ts'
import { type ClassifiedStatement, Writer } from './writer.ts'

/** How often the master checks that its store still holds every published entry. */
const STORE_CHECK_MS = 1_000

/** How a master runs, on a store and log it has opened (start) or been handed (promoted). */
export interface MasterRunOptions {
  logger: Logger
  /** How many slaves must have applied a write before it is answered (default: none, asynchronous). */
  sync?: SyncPolicy
  /** Called when the master cannot go on (its store cannot apply its own log). */
  onFatal(err: unknown): void
  /** A client transaction idle this long is rolled back, in ms (default TRANSACTION_IDLE_MS). */
  transactionIdleMs?: number
  /** Which entries the log may drop (default: none, it keeps everything). */
  retention?: RetentionPolicy
}

export interface MasterOptions extends MasterRunOptions {
  /** Store URL: sqlite:<file> or mysql://user:pass@host:port/db. */
  db: string
  /** Replication log file. */
  log: string
  logSync: LogSync
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
  /** Every slave that attached, now or before a restart (the log's registry). */
  readonly #replicas: ReplicaRoster
  readonly #pins = new LogPins()
  readonly #pruner: Pruner
  readonly #logger: Logger
  readonly #transactionIdleMs: number | undefined
  /** Looks each second for entries the store lost (Writer.checkStore). */
  readonly #storeCheck: ReturnType<typeof setInterval>
  /** Consistent reads sent to slaves whose position is before the log's start. */
  readonly #snapshots: Snapshots
  /** What writes wait for before they are answered (--sync-replicas). */
  readonly #sync: SyncAcks
  /** Why this master is fenced (a newer master exists: see fence), or null. */
  #fenced: string | null = null

  private constructor(store: Store, log: ReplicationLog, options: MasterRunOptions) {
    this.store = store
    this.log = log
    this.#logger = options.logger
    this.#transactionIdleMs = options.transactionIdleMs
    this.#writer = new Writer(store, log, options.logger.child({ component: 'writer' }), options.onFatal)
    this.#storeCheck = setInterval(() => void this.#writer.checkStore(), STORE_CHECK_MS)
    this.#storeCheck.unref()
    this.#replicas = new ReplicaRoster(log.replicas, options.logger.child({ component: 'registry' }))
    this.#pruner = new Pruner(
      log,
      options.retention ?? KEEP_EVERYTHING,
      {
        published: () => this.#writer.published.current,
        replicas: () => this.#replicas.holds(),
        pinned: () => this.#pins.floor(),
      },
      options.logger.child({ component: 'pruner' }),
    )
    this.#snapshots = new Snapshots(
      store,
      log,
      this.#writer,
      options.logger.child({ component: 'snapshot' }),
      (offset) => this.pinLog(offset, 'a snapshot being sent'),
    )
    this.#writer.beforeDdl = () => this.#snapshots.abortForDdl()
    this.#sync = new SyncAcks(
      options.sync ?? ASYNCHRONOUS,
      { applied: () => this.#replicas.appliedByConnected(), published: () => this.#writer.published.current },
      options.logger.child({ component: 'sync' }),
    )
    this.#writer.acknowledged = (offset, replicas) => this.#sync.wait(offset, replicas)
    const fencedBy = log.fencedBy
    if (fencedBy !== null) this.fence(fencedBy, 'a node, before this master restarted,')
  }

  /** Whether writes wait for slaves to apply them: slaves then ack each batch at once. */
  get synchronous(): boolean {
    return this.#sync.policy.replicas > 0
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

  /**
   * A promoted slave's store and log become a master's, in the same process (`ddb promote`):
   * its log has every entry its store holds, so recovery only checks that they agree.
   */
  static async promoted(store: Store, log: ReplicationLog, options: MasterRunOptions): Promise<Master> {
    await recover(store, log, options.logger.child({ component: 'recovery' }))
    return new Master(store, log, options)
  }

  get defaultDb(): string | null {
    return this.store.defaultDb
  }

  get dialect(): 'mysql' | 'sqlite' {
    return this.store.kind
  }

  write(db: string | null, statements: ClassifiedStatement[], options: WriteOptions = {}): Promise<WriteResult> {
    return this.#writer.submit({ db, statements }, options.syncReplicas)
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

  position(): { logId: string; offset: number; epoch: number } {
    return { logId: this.log.id, offset: this.#writer.published.current, epoch: this.log.epoch }
  }

  /** The log's hashes at `offsets`: null for one it does not hold or has not published. */
  logHashes(offsets: number[]): Array<string | null> {
    const published = this.#writer.published.current
    return offsets.map((o) => (o <= published ? this.log.hashAt(o) : null))
  }

  /**
   * A node has seen a master of a higher epoch (a slave promoted while this one was away):
   * this master stops taking writes at once, for good, and writes waiting for slaves' acks
   * are refused, not acknowledged. Reads and status go on.
   */
  fence(epoch: number, by: string): void {
    if (this.#fenced !== null || epoch <= this.log.epoch) return
    this.#fenced = `this master (epoch ${this.log.epoch}) is fenced: ${by} follows a newer master, of epoch ${epoch}`
    const refusal = new DdbError('FENCED', `write refused: ${this.#fenced}`, {
      hint: 'send writes to the new master; restart this node as a slave of it to rejoin (see the failover runbook)',
    })
    try {
      this.log.recordFence(epoch)
    } catch (err) {
      this.#logger.warn('could not record the fence in the log (it holds until a restart)', { error: err })
    }
    this.#logger.error('fenced: a newer master exists; refusing every write', { epoch, by })
    this.#writer.fence(refusal)
    this.#sync.fence(refusal)
  }

  status(): NodeStatus {
    return {
      role: 'master',
      offset: this.#writer.published.current,
      logId: this.log.id,
      store: this.store.displayUrl,
      dialect: this.store.kind,
      readOnly: this.#fenced ?? this.#writer.readOnly?.reason ?? null,
      epoch: this.log.epoch,
      logStart: this.log.start,
      replicas: this.#replicas.statuses(this.log.start),
      sync: this.#sync.status(),
    }
  }

  /**
   * Keeps the entries after `offset` in the log until the returned function is called:
   * whatever will read the log from there (a snapshot sent at `offset`, which its slave
   * then follows from offset + 1) pins it first. The pruner never removes a pinned entry.
   */
  pinLog(offset: number, by = 'a snapshot in progress'): () => void {
    return this.#pins.pin(offset, by)
  }

  /** The lowest offset pinned (the pruner keeps every entry after it), or null. */
  pinnedFloor(): number | null {
    return this.#pins.floor()?.offset ?? null
  }

  /** `ddb replica forget`: removes a slave that is not connected from the registry, so the log stops waiting for it. */
  forgetReplica(id: string): void {
    this.#replicas.forget(id)
  }

  /** `ddb log prune --before N`: removes the entries before N unless a live slave or a pin still needs them. */
  pruneLog(before: number): Promise<PruneResult> {
    return this.#pruner.pruneBefore(before)
  }

  /**
   * Takes on a slave that said hello: refuses one of another log, ahead of this one, or
   * whose history forked from it, else streams to it from its position. A slave that has
   * seen a higher epoch fences this master.
   */
  attachReplica(peer: Peer, hello: SlaveHello): ReplicaSession {
    // First: a slave that has seen a newer master fences this one, whatever else it says.
    this.fence(hello.epoch ?? 1, `slave ${hello.slaveId}`)
    if (this.#fenced !== null) throw new DdbError('FENCED', this.#fenced, { hint: 'point the slave at the new master' })
    const published = this.#writer.published.current
    checkHello(this.log, published, hello)
    this.#replicas.session(hello.slaveId)?.close('replaced by a new connection from the same slave')
    // A slave before the log's start (a new one of a master that adopted its data, or one away past retention) gets a snapshot first.
    const needsSnapshot = hello.position < this.log.start || hello.snapshotOnly === true || hello.rebuild === true
    const session = new ReplicaSession(
      peer,
      hello,
      this.log,
      this.#writer,
      this.#logger.child({ component: 'streamer' }),
      hello.snapshotOnly ? {} : { closed: (s) => this.#replicas.detached(s), acked: () => this.#sync.acked() },
      needsSnapshot ? this.#snapshots : null,
    )
    // `ddb snapshot --out` takes a snapshot and goes: it is no replica the log should wait for.
    if (!hello.snapshotOnly) this.#replicas.attach(session)
    this.#logger.info('slave attached', {
      slave: hello.slaveId,
      address: session.address,
      position: hello.position,
      offset: published,
      ...(needsSnapshot ? { snapshot: hello.snapshot ? `resume ${hello.snapshot.id}` : 'new' } : {}),
    })
    return session
  }

  /** `ddb checksum`, step 1: a consistent read at the published offset (writes pause only while it is taken). */
  async checksumOpen(): Promise<{ offset: number; token: string }> {
    const { id, snapshot } = await this.#snapshots.open('checksum', undefined)
    this.#snapshots.release(id, false) // kept a while for step 2, then closed
    return { offset: snapshot.offset, token: id }
  }

  /** Step 2: every table's checksum from the read of step 1, in each form asked for (both in one pass: slaves of either kind). */
  async checksum(at: { token?: string; forms?: ChecksumForm[] }): Promise<ChecksumResult> {
    if (at.token === undefined) throw new DdbError('USAGE', 'the master checksums the read checksum-open opened')
    const snapshot = this.#snapshots.get(at.token)
    try {
      const forms = at.forms ?? ['raw']
      const { raw, neutral } = await checksumTables(snapshot, { forms })
      return { offset: snapshot.offset, tables: raw, ...(forms.includes('neutral') ? { neutral } : {}) }
    } finally {
      this.#snapshots.release(at.token, true)
    }
  }

  /** Finishes queued writes, closes store and log (stop the front ends first). Safe twice. */
  async close(): Promise<void> {
    clearInterval(this.#storeCheck)
    await this.#pruner.close()
    this.#sync.close()
    this.#replicas.close('master shutting down')
    await this.#snapshots.close()
    await this.#writer.close()
    await this.store.close()
    this.log.close()
  }
}
