import { APPLY_BATCH_ENTRIES } from '../config.ts'
import { type Entry, entryChecksum } from '../entry.ts'
import { DdbError, DivergenceError, formatError, StoreBehindError } from '../errors.ts'
import { ForkError, type ReplicationLog } from '../log/replication-log.ts'
import type { Logger } from '../logger.ts'
import { OffsetWatch } from '../offset-watch.ts'
import type { SnapshotSchema } from '../snapshot.ts'
import { ApplyError, applyEntries, hasDdl } from '../store/apply.ts'
import type { Store, StoreState } from '../store/store.ts'
import type { ReplicationFilters, Welcome } from '../wire/messages.ts'
import { filterEntries } from './filter.ts'
import { heldDatabase, MysqlReplay, sqliteLiterals, sqliteSchemaOf } from './from-mysql.ts'
import type { SnapshotPoint } from './snapshot-loader.ts'

/** The slave's store cannot take its master's entries as they are: applying stops before anything changes. */
class WrongStoreError extends DdbError {
  readonly offset: number

  constructor(offset: number, code: string, message: string, hint: string) {
    super(code, message, { hint })
    this.offset = offset
  }
}

/** How a store takes a master's snapshot: its schema, and each chunk's rows, as the store's staging loads them. */
export interface SnapshotForm {
  schema: SnapshotSchema
  rows(rows: unknown[][]): unknown[][]
}

/** Entries received but not yet applied above which the slave stops reading from the master. */
const QUEUE_HIGH = APPLY_BATCH_ENTRIES * 4
/** How long progress waits to be acked, so that at a steady trickle the master gets one ack per interval, not one per entry. */
const ACK_INTERVAL_MS = 20

/** The connection entries come from, as the applier steers it. */
export interface Upstream {
  pause(): void
  resume(): void
  ack(applied: number, error: string | null): void
  /** Ends the connection (a gap, a corrupt entry, the store gone); it comes back by itself. */
  drop(reason: string): void
}

/**
 * Applier applies the master's entries to the slave's store in offset order,
 * many per store transaction, with the offset in the same transaction, and then
 * writes them, as the master sent them, into the slave's own log. It checks that
 * each entry continues the log's hash chain (a master of another history is
 * refused before anything applies), holds back the stream while too many wait
 * (back-pressure), acks what store and log both hold, and stops for good at an
 * entry that fails or diverges (never skipping one) until the slave is restarted.
 * Entries the filters skip still advance the offset, and are logged whole.
 */
export class Applier {
  /** The store's offset: what reads may wait for (read-your-writes). */
  readonly applied: OffsetWatch
  /** The log's newest offset: what this slave's own slaves may be streamed (a cascade). */
  readonly logged: OffsetWatch
  /** The entries last written to the log, for this slave's live slaves (see loggedAfter). */
  #lastLogged: Entry[] = []
  /** Called when the log starts afresh or is cut back (see logChanged): this slave's own slaves must attach again. */
  logReset: (() => void) | null = null
  readonly #store: Store
  /** The slave's own log: every entry the store holds, so the slave can be promoted, or serve others. */
  readonly #log: ReplicationLog
  readonly #filters: ReplicationFilters
  readonly #logger: Logger
  readonly #upstream: Upstream
  #state: StoreState
  #error: string | null = null
  #queue: Entry[] = []
  /** The offset the next entry from the master must have. */
  #next: number
  /** The hash of the entry before #next: the one it must chain to (null: unknown, see ReplicationLog.lastHash). */
  #chain: string | null
  #applying: Promise<void> | null = null
  /** The master's newest offset, as last heard. */
  #masterOffset: number
  /** The master's log id from its welcome; a fresh store records it with its first entries. */
  #masterLogId = ''
  /** The entry that may have half-applied before a crash or a lost store connection (see applyEntries). */
  #inDoubt: number
  /** …and up to which entries are in doubt, after the store lost commits (see applyEntries). */
  #doubtUpTo = 0
  #ackTimer: ReturnType<typeof setTimeout> | null = null
  /** The SQL the master's log is written in, from its welcome (null: an older master that does not say). */
  #masterDialect: 'mysql' | 'sqlite' | null = null
  /** The log id whose master's store was looked for on this slave's own server (MySQL). */
  #serverChecked: string | null = null
  /** Applying goes no further than this offset (a checksum's consistent read at it); null: no limit. */
  #limit: number | null = null
  /** The master's writes wait for this slave's acks (--sync-replicas): each applied batch is acked at once. */
  #ackAtOnce = false
  /** A SQLite store's translation of its MySQL master's entries; null when the dialects are the same. */
  #replay: MysqlReplay | null = null

  constructor(
    store: Store,
    log: ReplicationLog,
    state: StoreState,
    filters: ReplicationFilters,
    logger: Logger,
    upstream: Upstream,
  ) {
    this.#store = store
    this.#log = log
    this.#state = state
    this.#filters = filters
    this.#logger = logger
    this.#upstream = upstream
    this.applied = new OffsetWatch(state.offset)
    this.logged = new OffsetWatch(log.lastOffset())
    this.#next = this.position + 1
    this.#chain = log.hashAt(this.position)
    this.#masterOffset = state.offset
    this.#inDoubt = state.offset + 1
  }

  /**
   * Called (with --rejoin) when the master's entry at `offset` differs from the log's, which
   * the store does not hold: true once the log's entries from there were saved and removed.
   */
  forked: ((offset: number) => boolean) | null = null

  /** The history this slave follows: its store's log id, or, before it holds an entry, its master's (null: not heard yet). */
  get logId(): string | null {
    return this.#state.logId ?? (this.#masterLogId || null)
  }

  /** What the store holds: its offset and the log its entries came from. */
  get state(): StoreState {
    return this.#state
  }

  /**
   * Where the master's entries resume: the store's offset, or the log's last if the log
   * lacks some the store holds (a crash between the two commits; the master sends them
   * again, and they are only logged). What the master hears as this slave's position.
   */
  get position(): number {
    return Math.min(this.#state.offset, this.#log.lastOffset())
  }

  /** Why applying stopped, or null while it goes on. */
  get error(): string | null {
    return this.#error
  }

  get masterOffset(): number {
    return this.#masterOffset
  }

  /** When the oldest entry not yet applied ran on the master (ms since the epoch), or null. */
  get oldestPendingTs(): number | null {
    return this.#queue[0]?.ts ?? null
  }

  /** True while entries wait or are being applied, or applying has stopped. */
  get busy(): boolean {
    return this.#queue.length > 0 || this.#applying !== null || this.#error !== null
  }

  /** Resolves once nothing is being applied. */
  async drained(): Promise<void> {
    await this.#applying
  }

  /**
   * A new connection: entries continue from the store's offset. A master of an epoch lower
   * than the highest this slave has seen is refused (a new master was promoted: this one is
   * fenced); a higher one is recorded before any of its entries apply.
   */
  attached(welcome: Welcome): string | null {
    const epoch = welcome.epoch ?? 1
    if (epoch < this.#log.epoch)
      return `the node at this address is a master of epoch ${epoch}, but this slave has followed one of epoch ${this.#log.epoch}: it is fenced`
    this.#log.raiseEpoch(epoch)
    this.#masterDialect = welcome.dialect ?? null
    this.#ackAtOnce = welcome.sync === true
    this.#masterOffset = welcome.offset
    this.#masterLogId = welcome.logId ?? ''
    // A fresh store's log becomes a copy of its master's, from the beginning.
    const fresh = this.#state.logId === null && this.#log.lastOffset() === this.#log.start
    if (fresh && welcome.logId && (this.#log.id !== welcome.logId || this.#log.start !== 0))
      this.#log.reset(welcome.logId, 0, '', epoch)
    this.#resume()
    return null
  }

  /** Entries continue after the position, chained to the log's entry there. */
  #resume(): void {
    this.#next = this.position + 1
    this.#chain = this.#log.hashAt(this.position)
  }

  /**
   * Before a snapshot loads: how this store takes the master's snapshot (a MySQL master's
   * schema and rows translated for a SQLite store), or null, with applying stopped and the
   * reason in status, when it may not take the master's data (another dialect it cannot
   * replay; its master's server; a schema SQLite cannot hold).
   */
  async fits(
    logId: string,
    offset: number,
    schema: SnapshotSchema,
    dialect?: 'mysql' | 'sqlite',
  ): Promise<SnapshotForm | null> {
    try {
      if (dialect) this.#masterDialect = dialect
      this.#checkDialect(offset)
      await this.#checkNotOnMastersServer(logId, offset)
      if (!this.#replay) return { schema, rows: (rows) => rows }
      try {
        return { schema: sqliteSchemaOf(schema, this.#replay.database), rows: (rows) => rows.map(sqliteLiterals) }
      } catch (err) {
        const hint = 'replicate this database to a MySQL slave, or change the table on the master'
        throw new WrongStoreError(offset, 'SNAPSHOT_UNSUPPORTED', (err as Error).message, hint)
      }
    } catch (err) {
      if (!(err instanceof WrongStoreError)) throw err
      this.#stop(err)
      return null
    }
  }

  /** Applying stops for good (until a restart): no entry after `err.offset` applies, and the master hears why. */
  #stop(err: DdbError & { offset: number }): void {
    this.#error = formatError(err)
    this.#logger.error('replication stopped', { offset: err.offset, error: this.#error })
    this.#queue = []
    this.#upstream.pause()
    this.ack()
  }

  /**
   * The store took over a snapshot: it holds the master's data at `state.offset`, and
   * entries continue after it; the log now starts there, at the master's hash of that entry.
   */
  tookOver(state: StoreState, at: SnapshotPoint): void {
    this.#log.reset(state.logId ?? this.#masterLogId, state.offset, at.hash, at.epoch)
    this.logChanged()
    this.#setState(state)
    this.#resume()
    this.#inDoubt = state.offset + 1
    this.#doubtUpTo = 0
    this.#masterOffset = Math.max(this.#masterOffset, state.offset)
    this.ack()
  }

  /** The connection ended: what it brought and was not applied comes again on the next one. */
  detached(): void {
    this.#queue = []
  }

  /** The next entries of the stream: checked for gaps and damage, queued, applied. */
  receive(entries: Entry[]): void {
    if (this.#error !== null) return this.#upstream.pause() // stopped: apply nothing more until restarted
    for (const e of entries) {
      if (e.offset !== this.#next) return this.#upstream.drop(`expected entry ${this.#next}, got ${e.offset}`)
      if (entryChecksum(e) !== e.checksum)
        return this.#upstream.drop(`entry ${e.offset} arrived corrupt (checksum mismatch)`)
      // A log holding entries past the store's that the master never had (an old master rejoining) sets them aside.
      if (!this.#continuesLog(e) && !(this.forked?.(e.offset) && this.#continuesLog(e)))
        return this.#stop(new ForkError(this.#log.path, e.offset))
      this.#chain = e.hash
      this.#next++
    }
    this.#queue.push(...entries)
    this.#masterOffset = Math.max(this.#masterOffset, this.#next - 1)
    if (this.#queue.length >= QUEUE_HIGH) this.#upstream.pause()
    this.#kick()
  }

  /**
   * True when `e` is the log's entry at its offset, or chains to the one before: a master
   * whose history differs from this slave's (an old master, a fork) is found at the first
   * entry where they part, before it applies.
   */
  #continuesLog(e: Entry): boolean {
    if (e.offset <= this.#log.lastOffset()) return this.#log.hashAt(e.offset) === e.hash
    return this.#chain === null || this.#log.chainsTo(this.#chain, e)
  }

  /** The master is idle at `offset`. */
  heartbeat(offset: number): void {
    this.#masterOffset = offset
    this.ack()
  }

  /** Tells the master where this slave is: what its store and its log both hold. */
  ack(): void {
    this.#upstream.ack(this.position, this.#error)
  }

  /**
   * Called each second: while nothing is being applied, checks that the store still
   * holds what this slave applied. A MySQL server that crashed with
   * innodb_flush_log_at_trx_commit = 0 or 2 forgets its last commits; the slave then
   * resumes from what its store holds (the master's log has the rest).
   */
  async checkStore(): Promise<void> {
    if (this.busy) return
    const applied = this.#state.offset
    const state = await this.#store.readState().catch(() => null)
    // A batch applied while the state was read makes that read old, not a loss.
    if (state === null || this.busy || this.#state.offset !== applied || state.offset >= applied) return
    this.#storeLost(state)
  }

  #storeLost(state: StoreState): void {
    this.#logger.warn('the store lost transactions it had committed; resuming from its offset', {
      applied: this.#state.offset,
      store: state.offset,
    })
    this.#doubtUpTo = this.#state.offset // its DDL committed durably; its DML may be gone
    this.#setState(state)
    this.#inDoubt = state.offset + 1
    this.#queue = []
    this.#resume()
    this.#upstream.drop('the store lost transactions it had committed')
  }

  /** Stops acking and wakes every wait for an offset; resolves once the batch being applied ends. */
  async close(): Promise<void> {
    if (this.#ackTimer) clearTimeout(this.#ackTimer)
    this.applied.close()
    this.logged.close()
    await this.#applying
  }

  /** Stops applying after the batch in progress; resolves with the offset the store then holds (until release()). */
  async hold(): Promise<number> {
    this.#limit = -1
    await this.#applying
    this.#limit = this.#state.offset
    return this.#limit
  }

  /** While held: applies up to `offset`, and resolves once the store holds exactly that (STALE_READ after timeoutMs). */
  async advanceTo(offset: number, timeoutMs: number): Promise<void> {
    if (this.#limit === null || offset < this.#limit)
      throw new DdbError('CHECKSUM', `cannot hold at offset ${offset}: the slave is at ${this.#state.offset}`)
    this.#limit = offset
    this.#kick()
    const reached = await this.applied.wait(offset, timeoutMs)
    if (reached !== 'reached')
      throw new DdbError(
        'CHECKSUM',
        `the slave did not reach offset ${offset} within ${timeoutMs} ms (it is at ${this.#state.offset})`,
      )
  }

  /** Applies freely again after hold(). */
  release(): void {
    this.#limit = null
    this.#kick()
  }

  /** Applies what is queued, unless that is already under way. */
  #kick(): void {
    if (this.#queue.length === 0) return
    this.#applying ??= this.#applyQueued().finally(() => {
      this.#applying = null
    })
  }

  /** Applies queued entries batch by batch until the queue is empty, applying stops, or the limit is reached. */
  async #applyQueued(): Promise<void> {
    while (this.#queue.length > 0 && this.#error === null) {
      const room =
        this.#limit === null ? APPLY_BATCH_ENTRIES : Math.min(APPLY_BATCH_ENTRIES, this.#limit - this.#state.offset)
      if (room <= 0) break
      const batch = this.#queue.splice(0, room)
      const logId = this.#state.logId ?? this.#masterLogId
      try {
        this.#checkDialect(batch[0]!.offset)
        await this.#checkNotOnMastersServer(logId, batch[0]!.offset)
        // Entries the store holds already (its log lacked them) are only logged.
        const toApply = batch.filter((e) => e.offset > this.#state.offset)
        // Entries the filters skip are applied with no statements: the offset still advances.
        if (toApply.length > 0) await this.#apply(filterEntries(this.#filters, toApply), logId)
        this.#setState({ offset: Math.max(this.#state.offset, batch[batch.length - 1]!.offset), logId })
        this.#logThrough(batch, this.#state.offset)
      } catch (err) {
        const actual = await this.#store.readState().catch(() => this.#state)
        if (err instanceof StoreBehindError) {
          this.#storeLost(actual)
          continue
        }
        this.#setState(actual)
        if (err instanceof DivergenceError || err instanceof ApplyError || err instanceof WrongStoreError) {
          try {
            this.#logThrough(batch, actual.offset) // the entries before the culprit did apply
          } catch {
            // stopping anyway; the log is refilled from the master after a restart
          }
          this.#stop(err)
        } else if (err instanceof ForkError) {
          this.#stop(err)
        } else {
          // The store, or the log (LOG_WRITE: a full disk), failed: the master sends the rest again.
          const what = err instanceof DdbError && err.code === 'LOG_WRITE' ? "the slave's log" : 'the store'
          this.#inDoubt = this.#state.offset + 1
          this.#logger.warn(`${what} is unavailable; will reconnect and resume`, {
            applied: this.#state.offset,
            error: formatError(err),
          })
          this.#upstream.drop(`${what} is unavailable`)
        }
      }
      this.#ackSoon()
      if (this.#queue.length < QUEUE_HIGH / 2 && this.#error === null) this.#upstream.resume()
    }
  }

  /**
   * Writes the batch's entries up to `offset` (what the store now holds) into the log, as
   * the master sent them; those the log has already (a store that lost commits) are skipped.
   * A log that fails (disk full) is caught up from the master again after a reconnect.
   */
  #logThrough(batch: Entry[], offset: number): void {
    const last = this.#log.lastOffset()
    const unlogged = batch.filter((e) => e.offset > last && e.offset <= offset)
    try {
      this.#log.append(unlogged)
    } catch (err) {
      if (err instanceof ForkError) throw err
      throw new DdbError('LOG_WRITE', `the slave's log: ${(err as Error).message}`, { cause: err })
    }
    if (unlogged.length === 0) return
    this.#lastLogged = unlogged
    this.logged.publish(this.#log.lastOffset())
  }

  /**
   * The log was rewritten under what was streamed from it (a snapshot's takeover reset it,
   * a rejoin cut it back): what this slave's own slaves were sent may not be its history now.
   */
  logChanged(): void {
    this.#lastLogged = []
    this.logged.publish(this.#log.lastOffset())
    this.logReset?.()
  }

  /** The batch just logged, if it starts right after `offset` (a cascade's live slaves get it from memory). */
  loggedAfter(offset: number): Entry[] | null {
    return this.#lastLogged[0]?.offset === offset + 1 ? this.#lastLogged : null
  }

  /** Applies entries in order (see applyEntries); a MySQL master's translated for a SQLite store first. */
  async #apply(entries: Entry[], logId: string): Promise<void> {
    const apply = (run: Entry[]) =>
      applyEntries(this.#store, run, logId, this.#inDoubt, Math.max(this.#inDoubt, this.#doubtUpTo))
    const replay = this.#replay
    if (!replay) return apply(entries)
    // An entry is translated once those before it are applied: the translation reads their tables.
    let run: Entry[] = []
    for (const e of entries) {
      let translated: Entry
      try {
        translated = replay.entry(e)
      } catch (err) {
        await apply(run)
        throw err
      }
      run.push(translated)
      if (hasDdl(translated)) {
        await apply(run)
        run = []
      }
    }
    await apply(run)
  }

  /**
   * The log holds the statements as the master's store ran them, in its dialect. A
   * SQLite store replays a MySQL master's, translated, for the one database its
   * --replicate-db names; a MySQL store would not replay a SQLite master's the same
   * (SQLite's own SQL, which MySQL reads otherwise or not at all), so that is refused.
   */
  #checkDialect(offset: number): void {
    const master = this.#masterDialect
    if (master === null || master === this.#store.kind) {
      this.#replay = null // statements as they are (a master of the store's kind, after one of another)
      return
    }
    if (this.#replay) return
    if (master === 'mysql' && this.#store.catalog) {
      const held = heldDatabase(this.#filters.replicateDb)
      if (held !== null) {
        this.#replay = new MysqlReplay(held, this.#store.catalog.bind(this.#store))
        return
      }
      throw new WrongStoreError(
        offset,
        'DIALECT_MISMATCH',
        `slave store ${this.#store.displayUrl} is SQLite, which holds one database, and its master's log holds MySQL's databases`,
        'name the one database it copies with --replicate-db NAME',
      )
    }
    throw new WrongStoreError(
      offset,
      'DIALECT_MISMATCH',
      `slave store ${this.#store.displayUrl} is ${this.#store.kind}, but the master's log holds ${master} statements, which it would not replay the same`,
      `give the slave a ${master} store, as its master's`,
    )
  }

  /**
   * Entries name the master's databases, so on the master's own MySQL server they would
   * be replayed into the master's data: refused, once per log, before anything applies.
   */
  async #checkNotOnMastersServer(logId: string, offset: number): Promise<void> {
    if (!this.#store.masterOnSameServer || this.#serverChecked === logId) return
    const db = await this.#store.masterOnSameServer(logId)
    if (db !== null)
      throw new WrongStoreError(
        offset,
        'SHARED_SERVER',
        `slave store ${this.#store.displayUrl} is on the same MySQL server as its master's store (database ${db}): replaying would write into the master's databases`,
        'give the slave a MySQL server of its own',
      )
    this.#serverChecked = logId
  }

  #setState(state: StoreState): void {
    this.#state = state
    this.applied.publish(state.offset)
  }

  /** Acks progress within ACK_INTERVAL_MS (each ack costs the master a message); an error, or to a synchronous master, at once. */
  #ackSoon(): void {
    if (this.#error !== null || this.#ackAtOnce) return this.ack()
    this.#ackTimer ??= setTimeout(() => {
      this.#ackTimer = null
      this.ack()
    }, ACK_INTERVAL_MS)
  }
}
