import { hostname } from 'node:os'
import { type ChecksumForm, checksumTables } from '../checksum.ts'
import type { HostPort } from '../config.ts'
import type { Param, ReadResult, Statement, WriteResult } from '../entry.ts'
import { DdbError, NotMasterError, StaleReadError } from '../errors.ts'
import type { LogSync, ReplicationLog } from '../log/replication-log.ts'
import type { Logger } from '../logger.ts'
import type { StoreSnapshot } from '../snapshot.ts'
import type { Classification } from '../sql/classify.ts'
import { openStore, sqlitePath } from '../store/open-store.ts'
import { nodeClaim } from '../store/ownership.ts'
import { newFiles, removeNewFiles } from '../store/sqlite-files.ts'
import type { Store } from '../store/store.ts'
import { checkHello } from '../stream/check-hello.ts'
import { type PruneResult, Pruner } from '../stream/pruner.ts'
import { ReplicaSession } from '../stream/replica-session.ts'
import { KEEP_EVERYTHING, type RetentionPolicy } from '../stream/retention.ts'
import { Client } from '../wire/client.ts'
import type { ChecksumResult, NodeStatus, ReplicationFilters, SlaveHello } from '../wire/messages.ts'
import type { Peer } from '../wire/peer.ts'
import { Applier } from './applier.ts'
import { NO_FILTERS } from './filter.ts'
import { WriteForwarder } from './forwarder.ts'
import { heldDatabase } from './from-mysql.ts'
import { MasterLink } from './link.ts'
import { findFork, saveDivergent } from './rejoin.ts'
import { defaultSlaveLog, openSlaveLog } from './slave-log.ts'
import { readSnapshotFile } from './snapshot-file.ts'
import { SnapshotLoader } from './snapshot-loader.ts'

/** Longest a checksum holds a slave's applying (step 1 to step 2, and reaching the master's offset). */
const CHECKSUM_HOLD_MS = 30_000

export interface SlaveOptions {
  /** The nodes that may be its master: it follows whichever is, at the highest epoch. */
  masters: HostPort[]
  /** Store URL: sqlite:<file> or mysql://user:pass@host:port/db. */
  db: string
  /** The ddb port's configured address (its port names the slave unless `id` does). */
  listen: HostPort
  secret: string
  /** How the master names this slave; default hostname:listen-port. */
  id?: string
  /** Forward clients' INSERT/UPDATE/DELETE/REPLACE to the master instead of refusing them; default false. */
  forwardWrites?: boolean
  /** Which databases' entries to apply (--replicate-db / --ignore-db); default all. */
  filters?: ReplicationFilters
  logger: Logger
  /** Called when the slave cannot go on (it lost its store's lock to another node). */
  onFatal?(err: unknown): void
  /** A snapshot file (`ddb snapshot --out`) to load into an empty store before following the master. */
  fromSnapshot?: string
  /**
   * An old master rejoining (`--rejoin`): it may take a master's store, and where its log
   * and its new master's part, its own entries are saved to a file and set aside, its store
   * rebuilt by snapshot when it holds any of them.
   */
  rejoin?: boolean
  /** Which entries its own log may drop (default: none): it prunes as a master does, held by its own slaves. */
  retention?: RetentionPolicy
  /** The slave's own log file; default beside a SQLite store, else ddb-slave-log.sqlite (see defaultSlaveLog). */
  log?: string
  logSync?: LogSync
}

/**
 * Slave keeps its store a copy of the master's, in three parts: the link to the
 * master (attach, reconnect), the applier (entries into the store, in order),
 * and this façade, which serves reads, refuses writes or (forwardWrites) passes
 * DML on to the master, and reports status.
 */
export class Slave {
  readonly role = 'slave'
  readonly store: Store
  /** Every entry the store holds, as its master logged it: what a promotion or a cascade serves. */
  readonly log: ReplicationLog
  readonly #options: SlaveOptions
  readonly #id: string
  readonly #filters: ReplicationFilters
  readonly #link: MasterLink
  readonly #applier: Applier
  /** Loads the master's snapshot when this slave's position is before its log's start. */
  readonly #loader: SnapshotLoader
  /** Passes clients' DML on to the master (--forward-writes). */
  readonly #forwarder: WriteForwarder
  /** Where this slave's clients reach it, as the master's status shows it. */
  #advertised: string | null = null
  #closed = false
  /** Releases a checksum's hold on applying if its client never came back for step 2. */
  #holdTimer: ReturnType<typeof setTimeout> | null = null
  /** The slaves that follow this one (a cascade), by id. */
  readonly #downstream = new Map<string, ReplicaSession>()
  /** Prunes the slave's own log by --retain-* (what its own connected slaves have not applied stays). */
  readonly #pruner: Pruner

  private constructor(
    store: Store,
    log: ReplicationLog,
    applier: (link: MasterLink) => Applier,
    loader: SnapshotLoader,
    options: SlaveOptions,
  ) {
    this.store = store
    this.log = log
    this.#options = options
    this.#id = options.id ?? `${hostname()}:${options.listen.port}`
    this.#filters = options.filters ?? NO_FILTERS
    // Forwarded writes go to the master the link follows, never to one of a lower epoch than it has seen.
    this.#forwarder = new WriteForwarder(() => ({ master: this.#link.master, epoch: this.log.epoch }), options.secret)
    this.#link = new MasterLink(options.masters, options.secret, options.logger, {
      hello: () => ({
        peer: 'slave',
        slaveId: this.#id,
        position: this.#applier.position,
        logId: this.#applier.state.logId,
        hash: this.log.hashAt(this.#applier.position),
        epoch: this.log.epoch,
        ...(this.log.rebuildPending ? { rebuild: true } : {}),
        ...(options.masters.length > 1 ? { masterOnly: true } : {}),
        listen: this.#advertised,
        ...(this.#loader.resume ? { snapshot: this.#loader.resume } : {}),
      }),
      drained: () => this.#applier.drained(),
      attached: (welcome) => this.#applier.attached(welcome),
      entries: (entries) => this.#applier.receive(entries),
      heartbeat: (offset) => this.#applier.heartbeat(offset),
      detached: () => {
        this.#applier.detached()
        this.#loader.detached()
      },
      snapshot: (m) => this.#loader.receive(m),
      refused: (err) => this.#rejoin(err),
      busy: () => this.#applier.busy,
      tick: () => {
        this.#applier.ack()
        void this.#applier.checkStore()
      },
    })
    this.#applier = applier(this.#link)
    this.#loader = loader
    this.#pruner = new Pruner(
      log,
      options.retention ?? KEEP_EVERYTHING,
      {
        published: () => this.#applier.position,
        replicas: () => [...this.#downstream.values()],
        pinned: () => null,
      },
      options.logger.child({ component: 'pruner' }),
    )
    this.#applier.logReset = () => {
      for (const s of this.#downstream.values()) s.close("this slave's log was rewritten (a snapshot, or a rejoin)")
      this.#downstream.clear()
    }
    if (this.#setsAside) {
      this.#applier.forked = (offset) => this.#setAside(offset)
      // What a master's store holds past its log (a crash between the two commits) cannot be compared: rebuilt.
      if (this.#applier.state.offset > log.lastOffset() && !log.rebuildPending) log.markRebuild()
    }
  }

  /**
   * Takes the store for this process alone (refused while another node holds it, or
   * when it is a master's); replicate() then starts following the master. A start that
   * fails leaves behind no file it created.
   */
  static async open(options: SlaveOptions): Promise<Slave> {
    const storeFile = sqlitePath(options.db)
    const logPath = options.log ?? defaultSlaveLog(storeFile)
    const created = newFiles([storeFile, logPath])
    const claim = { ...nodeClaim('slave', hostname(), options.onFatal), rejoin: options.rejoin === true }
    let store: Store | null = null
    let log: ReplicationLog | null = null
    try {
      store = await openStore(options.db, claim)
      const filters = options.filters ?? NO_FILTERS
      const opened = store
      let applier: Applier | null = null
      // First, as it may finish a takeover a crash interrupted: the store's state is read after it.
      const loader = await SnapshotLoader.open(opened, filters, options.logger.child({ component: 'snapshot' }), {
        fits: (logId, offset, schema, dialect) => applier!.fits(logId, offset, schema, dialect),
        tookOver: (state, at) => applier!.tookOver(state, at),
      })
      const state = await store.readState()
      const slaveLog = openSlaveLog(
        logPath,
        {
          sync: options.logSync ?? 'full',
          owner: claim.owner,
          storeUrl: store.displayUrl,
          tookOverSnapshot: loader.finishedTakeover,
        },
        state,
        options.logger,
      )
      log = slaveLog
      const slave = new Slave(
        opened,
        slaveLog,
        (link) => {
          applier = new Applier(opened, slaveLog, state, filters, options.logger, link)
          return applier
        },
        loader,
        options,
      )
      if (options.fromSnapshot) await slave.#loadSnapshotFile(options.fromSnapshot)
      return slave
    } catch (err) {
      log?.close()
      await store?.close()
      removeNewFiles(created)
      throw err
    }
  }

  /**
   * `--from-snapshot`: an empty store loads the file and then follows the master from the
   * snapshot's offset; a store that already holds that snapshot (a restart) just goes on;
   * one that holds other data is refused.
   */
  async #loadSnapshotFile(path: string): Promise<void> {
    const state = this.#applier.state
    if (state.logId !== null || state.offset !== 0) {
      const header = await firstMessage(path)
      if (header.logId === state.logId && state.offset >= header.offset) {
        this.#options.logger.info('the store already holds this snapshot; --from-snapshot has nothing to load', {
          file: path,
          offset: state.offset,
        })
        return
      }
      throw new DdbError(
        'SNAPSHOT_FILE',
        `--from-snapshot ${path}: store ${this.store.displayUrl} already holds data (offset ${state.offset} of log ${state.logId ?? 'none'})`,
        { hint: 'load a snapshot into an empty store, or start the slave without --from-snapshot' },
      )
    }
    this.#options.logger.info('loading a snapshot file', { file: path })
    if (!(await this.#loader.loadFile(path)))
      throw new DdbError('SNAPSHOT_FILE', `--from-snapshot ${path}: ${this.#applier.error}`)
  }

  /** Starts replicating in the background; `advertised` is where this slave's clients reach it (its ddb port). */
  replicate(advertised: string | null): void {
    this.#advertised = advertised
    this.#link.start()
    this.#options.logger.info('slave started', {
      listen: advertised ?? '',
      master: this.#link.address,
      store: this.store.displayUrl,
      storeSync: this.store.durability,
      log: this.log.path,
      applied: this.#applier.state.offset,
      forwardWrites: this.#options.forwardWrites ?? false,
      replicateDb: this.#filters.replicateDb.join(','),
      ignoreDb: this.#filters.ignoreDb.join(','),
    })
  }

  get defaultDb(): string | null {
    return this.store.defaultDb
  }

  get dialect(): 'mysql' | 'sqlite' {
    return this.store.kind
  }

  /**
   * A client's write. Refused, naming the master; with forwardWrites, one DML
   * statement is sent on to the master, through its normal write path, and the
   * master's answer (its offset) comes back. DDL is never forwarded.
   */
  async write(
    db: string | null,
    statements: Array<{ statement: Statement; classification: Classification }>,
  ): Promise<WriteResult> {
    const master = this.#link.address
    if (!this.#options.forwardWrites) throw new NotMasterError(master)
    if (statements.some((s) => s.classification.kind !== 'write')) {
      throw new DdbError(
        'NOT_MASTER',
        `DDL refused: this slave forwards only INSERT, UPDATE, DELETE and REPLACE; send DDL to the master at ${master}`,
      )
    }
    const [only] = statements
    if (!only || statements.length !== 1) {
      throw new DdbError(
        'NOT_MASTER',
        `write refused: this slave forwards single statements only; send transactions to the master at ${master}`,
      )
    }
    return this.#forwarder.forward(db, only.statement)
  }

  read(db: string | null, sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult> {
    return this.store.read(db, sql, params, settings)
  }

  /** Resolves once the store holds entry `offset`; rejects with StaleReadError after timeoutMs. */
  async waitForOffset(offset: number, timeoutMs: number): Promise<void> {
    const applied = this.#applier.applied
    switch (await applied.wait(offset, timeoutMs)) {
      case 'reached':
        return
      case 'closed':
        throw new DdbError('SHUTTING_DOWN', 'read-your-writes: this slave is shutting down')
      case 'timeout':
        throw new StaleReadError('slave', applied.current, offset, timeoutMs)
    }
  }

  position(): { logId: string | null; offset: number; epoch: number } {
    return { logId: this.#applier.logId, offset: this.#applier.state.offset, epoch: this.log.epoch }
  }

  /** Lag is null (unknown) while disconnected or stopped: what this slave last heard of the master is stale then. */
  status(): NodeStatus {
    const applied = this.#applier.state.offset
    const stopped = this.#applier.error !== null
    const known = this.#link.connected && !stopped
    const lagEntries = known ? Math.max(0, this.#applier.masterOffset - applied) : null
    const oldest = this.#applier.oldestPendingTs
    return {
      role: 'slave',
      master: this.#link.address,
      applied,
      connected: this.#link.connected,
      lagEntries,
      lagSeconds:
        lagEntries === null ? null : lagEntries > 0 && oldest !== null ? Math.max(0, (Date.now() - oldest) / 1000) : 0,
      store: this.store.displayUrl,
      dialect: this.store.kind,
      // A link problem is the reason it is not connected: once connected again, it is history.
      error: this.#applier.error ?? (this.#link.connected ? null : this.#link.problem),
      stopped,
      filters: { replicateDb: [...this.#filters.replicateDb], ignoreDb: [...this.#filters.ignoreDb] },
      snapshot: this.#loader.status,
      log: { path: this.log.path, id: this.log.id, start: this.log.start, offset: this.log.lastOffset() },
      epoch: this.log.epoch,
      replicas: [...this.#downstream.values()].map((s) => s.status()),
    }
  }

  /** `ddb checksum`, step 1: applying stops where it is (for at most CHECKSUM_HOLD_MS) until checksum() says at which offset to read. */
  async checksumOpen(): Promise<{ offset: number; token: string }> {
    const offset = await this.#applier.hold()
    if (this.#holdTimer) clearTimeout(this.#holdTimer)
    this.#holdTimer = setTimeout(() => this.#applier.release(), CHECKSUM_HOLD_MS)
    this.#holdTimer.unref()
    return { offset, token: '' }
  }

  /**
   * Step 2: applies up to the master's offset, takes a consistent read there, applies on, and
   * checksums the read. Its filters go with the answer, so the master's tables it does not hold
   * are not compared; in the neutral form a SQLite store's tables are named with the one
   * database of its MySQL master it holds.
   */
  async checksum(at: { offset?: number; forms?: ChecksumForm[] }): Promise<ChecksumResult> {
    if (at.offset === undefined) throw new DdbError('USAGE', "a slave takes checksums at its master's offset")
    let snapshot: StoreSnapshot
    try {
      await this.#applier.advanceTo(at.offset, CHECKSUM_HOLD_MS)
      snapshot = await this.store.openSnapshot((takeView) => takeView()) // nothing applies meanwhile: held
    } finally {
      if (this.#holdTimer) clearTimeout(this.#holdTimer)
      this.#holdTimer = null
      this.#applier.release()
    }
    try {
      const forms = at.forms ?? ['raw']
      const database = this.store.kind === 'sqlite' ? heldDatabase(this.#filters.replicateDb) : null
      const { raw, neutral } = await checksumTables(snapshot, { forms, database })
      const filters = { replicateDb: [...this.#filters.replicateDb], ignoreDb: [...this.#filters.ignoreDb] }
      return { offset: snapshot.offset, tables: raw, ...(forms.includes('neutral') ? { neutral } : {}), filters }
    } finally {
      await snapshot.close()
    }
  }

  /**
   * --rejoin, the master refused this node because their histories part (LOG_FORK, or this
   * node is ahead): finds where, saves this node's entries after it to a file, and sets them
   * aside; a store that holds any of them is rebuilt by snapshot. True when something
   * changed and the link should attach again at once.
   */
  async #rejoin(err: DdbError): Promise<boolean> {
    if (!this.#setsAside || (err.code !== 'LOG_FORK' && err.code !== 'SLAVE_AHEAD')) return false
    if (this.log.rebuildPending) return false
    const client = await Client.connect(this.#link.master, this.#options.secret)
    try {
      const fork = await findFork(this.log, client)
      const rebuild = this.#applier.state.offset > fork || fork < this.log.start
      const file = this.#setAsideAfter(fork, client.epoch)
      if (rebuild) this.log.markRebuild()
      this.#options.logger.warn(
        "rejoining: this node's history parts from its master's; its own entries are set aside",
        {
          master: this.#link.address,
          fork,
          file: file ?? 'none (no entries past the fork)',
          rebuild: rebuild ? 'by snapshot' : 'no',
        },
      )
      return true
    } finally {
      client.close()
    }
  }

  /** --rejoin, mid-stream: the master's entry at `offset` differs from the log's, which the store does not hold yet. */
  #setAside(offset: number): boolean {
    if (offset <= this.#applier.state.offset) return false // the store holds it: only a rebuild helps (restart)
    const file = this.#setAsideAfter(offset - 1, this.log.epoch)
    this.#options.logger.warn("rejoining: this node's log entries its master never had are set aside", {
      master: this.#link.address,
      fork: offset - 1,
      file,
    })
    return true
  }

  /**
   * Whether a fork with the master is resolved by setting this node's entries aside (a
   * file) and rebuilding: an old master rejoining (--rejoin), or a slave given several
   * nodes, which follows whichever is master; a slave of one master stops (LOG_FORK).
   */
  get #setsAside(): boolean {
    return this.#options.rejoin === true || this.#options.masters.length > 1
  }

  /** `ddb log prune --before N` on a slave: its own log, as a master's (its connected slaves hold what they lack). */
  pruneLog(before: number): Promise<PruneResult> {
    return this.#pruner.pruneBefore(before)
  }

  /**
   * Saves the log's entries after `fork` to the divergent file and removes them from the
   * log; this slave's own slaves attach again. Returns the file, or null when there were none.
   */
  #setAsideAfter(fork: number, masterEpoch: number): string | null {
    const file = saveDivergent(this.log, { fork, master: this.#link.address, masterEpoch, slaveId: this.#id })
    if (fork >= this.log.start) this.log.truncateAfter(fork)
    this.#applier.logChanged()
    return file
  }

  /**
   * A slave of this slave (a cascade) attaches: it is streamed this slave's log, entry for
   * entry as the master's (same offsets, hashes, checksums), as far as this slave has logged.
   * Refused when it needs a snapshot (a slave cannot send one), has seen a newer epoch than
   * this slave follows, or is this slave itself.
   */
  attachReplica(peer: Peer, hello: SlaveHello): ReplicaSession {
    if (hello.slaveId === this.#id) throw new DdbError('USAGE', `slave ${this.#id} cannot follow itself`)
    if (this.#applier.logId === null)
      throw new DdbError('NOT_READY', 'this slave has not reached its master yet: it has no log to stream', {
        hint: 'it is retried by itself',
      })
    if (hello.snapshotOnly || hello.rebuild || hello.position < this.log.start)
      throw new DdbError(
        'NEEDS_SNAPSHOT',
        `slave ${hello.slaveId} needs a snapshot (its position ${hello.position} is before this slave's log, which starts after ${this.log.start}), and a slave does not send snapshots`,
        { hint: 'bootstrap it from the master, then point it here' },
      )
    if ((hello.epoch ?? 1) > this.log.epoch)
      throw new DdbError(
        'FENCED',
        `slave ${hello.slaveId} has seen epoch ${hello.epoch}, but this slave follows a master of epoch ${this.log.epoch}`,
        { hint: 'point it at the newest master' },
      )
    checkHello(this.log, this.#applier.logged.current, hello, 'slave')
    this.#downstream.get(hello.slaveId)?.close('replaced by a new connection from the same slave')
    const feed = { published: this.#applier.logged, publishedAfter: (o: number) => this.#applier.loggedAfter(o) }
    const session = new ReplicaSession(
      peer,
      hello,
      this.log,
      feed,
      this.#options.logger.child({ component: 'streamer' }),
      {
        closed: (s) => {
          if (this.#downstream.get(s.id) === s) this.#downstream.delete(s.id)
        },
      },
    )
    this.#downstream.set(hello.slaveId, session)
    this.#options.logger.info('slave attached', {
      slave: hello.slaveId,
      position: hello.position,
      offset: feed.published.current,
    })
    return session
  }

  /**
   * `ddb promote`: stops following the master and hands over the store and the log, which
   * then hold the same entries, for a Master to take (the slave is closed, they are not).
   * Refused while applying has stopped, or while the log lacks entries the store holds.
   */
  async handOver(): Promise<{ store: Store; log: ReplicationLog }> {
    if (this.#closed) throw new DdbError('PROMOTE_REFUSED', 'this slave is shutting down')
    if (this.#applier.error !== null)
      throw new DdbError('PROMOTE_REFUSED', `this slave has stopped applying: ${this.#applier.error}`, {
        hint: 'promote another slave, or rebuild this one first',
      })
    // A crash between the store's commit and the log's leaves the log behind until the master refills it.
    if (this.log.lastOffset() < this.#applier.state.offset)
      throw new DdbError(
        'PROMOTE_REFUSED',
        `this slave's log ends at ${this.log.lastOffset()}, its store at ${this.#applier.state.offset}: it cannot yet serve what it holds`,
        { hint: 'let it reach its master to refill its log, or promote another slave' },
      )
    await this.#stopFollowing()
    return { store: this.store, log: this.log }
  }

  /** Stops replicating and closes the store and the log (stop the front ends first). Safe twice. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.#stopFollowing()
    await this.store.close()
    this.log.close()
  }

  /** Ends the link, pruning and forwarding, and resolves once the batch being applied is applied and logged. */
  async #stopFollowing(): Promise<void> {
    this.#closed = true
    this.#link.close()
    if (this.#holdTimer) clearTimeout(this.#holdTimer)
    await this.#pruner.close()
    await this.#forwarder.close()
    await this.#applier.close()
  }
}

/** A snapshot file's snapshot-begin: its log and offset. */
async function firstMessage(path: string): Promise<{ logId: string; offset: number }> {
  for await (const m of readSnapshotFile(path)) if (m.type === 'snapshot-begin') return m
  throw new DdbError('SNAPSHOT_FILE', `snapshot file ${path}: no snapshot in it`)
}
