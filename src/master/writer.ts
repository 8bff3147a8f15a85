import { CATCH_UP_PAGE_ENTRIES, GROUP_COMMIT_MAX } from '../config.ts'
import type { Entry, EntryDraft, Param, Statement, WriteResult } from '../entry.ts'
import { DdbError, formatError, StoreError } from '../errors.ts'
import type { ReplicationLog } from '../log/replication-log.ts'
import type { Logger } from '../logger.ts'
import { OffsetWatch } from '../offset-watch.ts'
import type { Classification } from '../sql/classify.ts'
import { applyEntries, storeStatement } from '../store/apply.ts'
import type { RunResult, Store, StoreStatement, StoreTxn } from '../store/store.ts'
import { CommitOrder } from './commit-order.ts'

/** A statement to write, with the classification the session already made (each statement is lexed once). */
export interface ClassifiedStatement {
  statement: Statement
  classification: Classification
  /**
   * Session settings the statement runs under on the master only (lock wait and
   * statement timeouts): they change how it runs, not what it writes, so they are
   * not logged, and a slave never replays with them.
   */
  runWith?: Record<string, Param>
}

/** One client's write: statements that become one entry. */
export interface WriteRequest {
  db: string | null
  statements: ClassifiedStatement[]
}

interface Pending {
  req: WriteRequest
  /** The kind of store transaction it needs (Store.transactionMode): a batch holds writes of one mode. */
  mode: string
  /** Runs in a batch of its own: its batch's COMMIT was refused, and which write caused it is unknown. */
  alone?: boolean
  resolve: (r: WriteResult) => void
  reject: (err: unknown) => void
}

interface Executed {
  pending: Pending
  draft: EntryDraft
  results: RunResult[]
}

/** How long the writer waits between attempts to reach a store that failed mid-commit. */
const RECONCILE_RETRY_MS = 1_000
/** How often a read-only master tries its log again. */
const LOG_RETRY_MS = 1_000

/** Why the master refuses writes for now: its log cannot be written. */
export interface ReadOnly {
  reason: string
  /** When it began (ms since the epoch). */
  since: number
}

/** A write refused while the master is read-only (MySQL clients see error 1290, as from a read-only server). */
export class ReadOnlyError extends DdbError {
  constructor(reason: string) {
    super('READ_ONLY', `write refused: the master is read-only because its log cannot be written (${reason})`, {
      hint: 'reads go on; writing resumes by itself once the log can be written again (free space on its disk)',
    })
    this.name = 'ReadOnlyError'
  }
}

/**
 * Writer is the master's single writer: every write goes through it, in log
 * order. Writes that queue while a commit is in flight share the next store
 * transaction and the next log commit (group commit), each behind its own
 * savepoint so one client's failing statement fails only that client.
 *
 * For a batch: BEGIN; run each request; set the store's offset to the batch's
 * last; append the entries to the log (durable); COMMIT the store; answer.
 * A batch holds writes of one transaction mode (Store.transactionMode: on SQLite,
 * foreign keys on or off, which it sets only before BEGIN): it ends before the
 * first write that needs another, which starts the next batch, so log order stays.
 * A crash before the log commit loses nothing acknowledged; a crash after it
 * leaves entries the store lacks, which recovery replays (recovery.ts).
 */
export class Writer {
  readonly #store: Store
  readonly #log: ReplicationLog
  readonly #logger: Logger
  readonly #onFatal: (err: unknown) => void
  #queue: Pending[] = []
  #draining: Promise<void> | null = null
  /** The newest offset committed on both log and store: what slaves may receive. */
  readonly published: OffsetWatch
  #lastPublished: Entry[] = []
  /** Client transactions' commits in flight, which close() waits for. */
  readonly #committing = new Set<Promise<void>>()
  #closed = false
  /** Log order is commit order, batches and client transactions alike; a reconcile gets the store's writer. */
  readonly #commitOrder = new CommitOrder()
  /** Set while the log cannot be written: writes are refused, reads go on (see #logFailed). */
  #readOnly: ReadOnly | null = null
  #fenced: DdbError | null = null

  constructor(store: Store, log: ReplicationLog, logger: Logger, onFatal: (err: unknown) => void) {
    this.#store = store
    this.#log = log
    this.#logger = logger
    this.#onFatal = onFatal
    this.published = new OffsetWatch(log.lastOffset())
  }

  /**
   * The entries published last, if they are the ones right after `offset`: a
   * live slave's next entries, from memory instead of the log file.
   */
  publishedAfter(offset: number): Entry[] | null {
    return this.#lastPublished[0]?.offset === offset + 1 ? this.#lastPublished : null
  }

  /** Refuses every write from now on, queued ones too, with `err`. */
  fence(err: DdbError): void {
    this.#fenced = err
    rejectAll(this.#queue.splice(0), err)
  }

  /** Why writes are refused for now (the log cannot be written), or null. */
  get readOnly(): ReadOnly | null {
    return this.#readOnly
  }

  /**
   * What a write's answer waits for once its entry is durable in the log and committed on
   * the store (the slaves that must have applied it: SyncAcks), or null: nothing more.
   */
  acknowledged: ((offset: number, syncReplicas?: number) => Promise<void>) | null = null

  /**
   * Queues a write; resolves once its entry is durable in the log and committed on the
   * store, and acknowledged (`syncReplicas`: by that many slaves, instead of the master's --sync-replicas).
   */
  submit(req: WriteRequest, syncReplicas?: number): Promise<WriteResult> {
    if (this.#closed) return Promise.reject(new StoreError('write refused: the master is shutting down'))
    if (this.#fenced) return Promise.reject(this.#fenced)
    if (this.#readOnly) return Promise.reject(new ReadOnlyError(this.#readOnly.reason))
    const committed = new Promise<WriteResult>((resolve, reject) => {
      const mode = this.#store.transactionMode(req.statements.map((s) => s.statement))
      this.#queue.push({ req, mode, resolve, reject })
      this.#draining ??= this.#drain().finally(() => (this.#draining = null))
    })
    return this.#acknowledge(committed, syncReplicas)
  }

  /** A committed write's result once `acknowledged` lets it go (a write that logged nothing, offset 0, at once). */
  async #acknowledge(committed: Promise<WriteResult>, syncReplicas: number | undefined): Promise<WriteResult> {
    const result = await committed
    if (this.acknowledged && result.offset > 0) await this.acknowledged(result.offset, syncReplicas)
    return result
  }

  /**
   * Commits a client's transaction (its statements already ran in `tx`) as one
   * entry, in commit order with everything else; resolves with its offset.
   */
  commitTransaction(
    tx: StoreTxn,
    draft: EntryDraft,
    results: RunResult[],
    syncReplicas?: number,
  ): Promise<WriteResult> {
    if (this.#closed) return Promise.reject(new StoreError('commit refused: the master is shutting down'))
    if (this.#fenced) return Promise.reject(this.#fenced)
    if (this.#readOnly) return Promise.reject(new ReadOnlyError(this.#readOnly.reason))
    const committed = new Promise<WriteResult>((resolve, reject) => {
      const pending: Pending = { req: { db: draft.db, statements: [] }, mode: '', resolve, reject }
      this.#logAndCommit(tx, [{ pending, draft, results }]).catch(reject)
    })
    const settled = committed.then(
      () => {},
      () => {},
    )
    this.#committing.add(settled)
    void settled.finally(() => this.#committing.delete(settled))
    return this.#acknowledge(committed, syncReplicas)
  }

  /** Refuses new writes and waits for the queued ones and the client commits in flight to finish. */
  /**
   * Runs `work` while no commit is in flight and none can start (the commit turn is
   * held): the store then holds exactly the published entries. Writes queue meanwhile.
   */
  async hold<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.#commitOrder.acquire()
    try {
      return await work()
    } finally {
      release()
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#draining
    await Promise.all(this.#committing)
    this.published.close()
  }

  async #drain(): Promise<void> {
    // bun:sqlite commits block the thread, so requests that arrived meanwhile sit
    // unread in their sockets: yield to I/O before each batch to let them join it.
    for (await yieldToIo(); this.#queue.length > 0; await yieldToIo()) {
      if (this.#commitOrder.reconciling) {
        await this.#commitOrder.reconciling
        continue
      }
      const first = this.#queue[0]!
      const separateDdl = this.#store.ddlCommitsImplicitly
      const ddl = separateDdl && hasDdl(first.req)
      // The batch: the writes that can share first's store transaction, up to the first that cannot.
      const joins = (p: Pending) => !p.alone && p.mode === first.mode && !(separateDdl && hasDdl(p.req))
      let n = 1
      while (!ddl && !first.alone && n < this.#queue.length && n < GROUP_COMMIT_MAX && joins(this.#queue[n]!)) n++
      const batch = this.#queue.splice(0, n)
      try {
        await (ddl ? this.#writeDdl(batch[0]!) : this.#writeBatch(batch))
      } catch (err) {
        // Unexpected (the log file failing, say): fail this batch, keep serving the next.
        this.#logger.error('write failed', { error: err })
        rejectAll(batch, err)
      }
    }
  }

  /**
   * Fast path: every request's statements and the new offset in one runMany
   * (one round trip on MySQL). If a statement fails, the batch is rolled back
   * and run again request by request, each behind a savepoint, so only the
   * failing client gets the error.
   */
  async #writeBatch(batch: Pending[]): Promise<void> {
    const tx = await this.#begin(batch)
    if (!tx) return
    const ts = Date.now()
    let results: RunResult[]
    try {
      results = await tx.runMany(batch.flatMap((p) => storeStatements(p.req, ts)))
    } catch (err) {
      await tx.rollback()
      if (batch.length === 1 || !(err instanceof StoreError && err.rejectedByServer)) return rejectAll(batch, err)
      return this.#writeEachBehindSavepoint(batch)
    }
    let k = 0
    const executed = batch.map((pending) =>
      executedAs(
        pending,
        ts,
        pending.req.statements.map(() => results[k++]!),
      ),
    )
    await this.#commitBatch(tx, executed)
  }

  /** Begins a store transaction for the batch (in its writes' mode), or fails every write in it and returns null. */
  async #begin(batch: Pending[]): Promise<StoreTxn | null> {
    try {
      return await this.#store.begin(batch[0]!.mode)
    } catch (err) {
      rejectAll(batch, err)
      return null
    }
  }

  async #writeEachBehindSavepoint(batch: Pending[]): Promise<void> {
    const tx = await this.#begin(batch)
    if (!tx) return
    const executed: Executed[] = []
    for (const [i, pending] of batch.entries()) {
      try {
        await tx.savepoint(`w${i}`)
        executed.push(await this.#execute(tx, pending))
      } catch (err) {
        pending.reject(err)
        try {
          await tx.rollbackTo(`w${i}`)
        } catch {
          // The transaction itself is gone: fail everything it held.
          await tx.rollback()
          return rejectAll([...batch.slice(i + 1), ...executed.map((e) => e.pending)], err)
        }
      }
    }
    if (executed.length === 0) return tx.rollback()
    await this.#commitBatch(tx, executed)
  }

  /**
   * The store transaction holds the executed writes: commit it with the new
   * offset and the entries themselves in the state row, and append the entries
   * to the log, concurrently (the COMMIT goes out first; the log's fsync runs
   * while the store syncs). Only when both are durable are clients answered.
   * A crash in between leaves one side a batch ahead, which recovery repairs
   * from the other: log ahead, the store replays it; store ahead, its state row
   * gives the log the entries back.
   */
  async #logAndCommit(tx: StoreTxn, executed: Executed[], release?: () => void): Promise<void> {
    release ??= await this.#commitOrder.acquire()
    try {
      await this.#logAndCommitInOrder(tx, executed)
    } finally {
      release()
    }
  }

  async #logAndCommitInOrder(tx: StoreTxn, executed: Executed[]): Promise<void> {
    // Each entry names the time zone its statements ran in, as it names their time.
    const entries = this.#log.prepare(executed.map((e) => ({ ...e.draft, timeZone: this.#store.timeZone })))
    const last = entries[entries.length - 1]!.offset
    let committed: Promise<void>
    try {
      const previous = entries[0]!.offset - 1
      await tx.setState({ offset: last, logId: this.#log.id, pending: JSON.stringify(entries), previous })
      committed = tx.commit()
    } catch (err) {
      await tx.rollback()
      return rejectAll(
        executed.map((e) => e.pending),
        err,
      )
    }
    if (this.#store.commitCanRefuse) {
      // Heard before the log takes the batch (SQLite commits synchronously anyway): a COMMIT the
      // store refused (a deferred foreign key) committed nothing, so nothing is logged either.
      const refusal = await committed.then(
        () => null,
        (err: unknown) => err,
      )
      if (refusal instanceof StoreError && refusal.rejectedByServer) {
        await tx.rollback()
        return this.#commitRefused(executed, refusal)
      }
    }
    let logged = true
    try {
      this.#log.append(entries)
    } catch (err) {
      logged = false
      this.#enterReadOnly(err)
    }
    try {
      await committed
    } catch (err) {
      this.#logger.error('store commit failed after log commit; reconciling', { offset: last, error: err })
      await tx.rollback() // frees the store's writer for reconciling; the commit's outcome is for it to find
      if (!logged) await this.#appendOnceWritable(entries)
      await this.#reconcile(entries)
    }
    if (!logged) await this.#appendOnceWritable(entries)
    this.#publish(entries)
    for (const [i, e] of executed.entries()) e.pending.resolve(writeResult(entries[i]!.offset, e.results))
  }

  /**
   * The store refused a COMMIT: a lone write (or client transaction) gets the error;
   * a batch's writes run again, each in a batch of its own, so only the culprit does.
   */
  #commitRefused(executed: Executed[], err: StoreError): void {
    if (executed.length === 1) return executed[0]!.pending.reject(err)
    this.#logger.warn('store refused a batch commit; writing its requests one by one', { error: err })
    this.#queue.unshift(...executed.map((e) => ({ ...e.pending, alone: true })))
  }

  /**
   * A batch's #logAndCommit, once it is its turn. If a reconcile starts first
   * (a client transaction's commit failed after it was logged), the batch gives
   * back the store's writer, which the reconcile needs, by rolling back, and is
   * queued again: nobody has seen its results.
   */
  async #commitBatch(tx: StoreTxn, executed: Executed[]): Promise<void> {
    const release = await this.#commitOrder.batchTurn()
    if (release) return this.#logAndCommit(tx, executed, release)
    await tx.rollback()
    this.#queue.unshift(...executed.map((e) => e.pending))
  }

  /**
   * DDL that commits implicitly (MySQL) cannot share the store transaction, so
   * the entry is logged first, then the DDL runs, then the offset is written.
   * Crash after the log commit: recovery runs the DDL again (store offset is one
   * behind). Crash after the DDL: the rerun meets "already exists", which the
   * store reports as applied. The DDL fails on the server: the entry was never
   * published, so it is removed from the log and the client gets the error.
   */
  /** Runs before a DDL that commits implicitly (MySQL): open snapshots, whose locks would stall it, are closed. */
  beforeDdl: (() => Promise<void>) | null = null

  async #writeDdl(pending: Pending): Promise<void> {
    const release = await this.#commitOrder.acquire()
    try {
      await this.beforeDdl?.()
      await this.#writeDdlInOrder(pending)
    } finally {
      release()
    }
  }

  async #writeDdlInOrder(pending: Pending): Promise<void> {
    const { req } = pending
    // DDL runs outside a transaction, so no state guard stops it on a store that lost commits: look first.
    try {
      await this.#commitOrder.reconcile(() => this.#catchUpStore())
    } catch (err) {
      return pending.reject(err)
    }
    const [entry] = this.#log.prepare([
      {
        ts: Date.now(),
        db: req.db,
        timeZone: this.#store.timeZone,
        statements: req.statements.map((s) => s.statement),
        affected: req.statements.map(() => 0),
      },
    ])
    try {
      this.#log.append([entry!])
    } catch (err) {
      // Nothing ran: the client is told, and the master is read-only until the log takes writes again.
      this.#enterReadOnly(err)
      void this.#probeUntilWritable()
      return pending.reject(new ReadOnlyError(this.#readOnly!.reason))
    }
    const results: RunResult[] = []
    try {
      for (const [i, s] of storeStatements(req, entry!.ts).entries()) {
        results.push(normalize(req.statements[i]!.classification, await this.#store.runAutocommit(s)))
      }
      await this.#store.writeState({ offset: entry!.offset, logId: this.#log.id, previous: entry!.offset - 1 })
    } catch (err) {
      if (err instanceof StoreError && err.rejectedByServer && results.length === 0) {
        this.#log.truncateAfter(entry!.offset - 1)
        return pending.reject(err)
      }
      this.#logger.error('store failed during DDL after log commit; reconciling', { offset: entry!.offset, error: err })
      await this.#reconcile([entry!])
    }
    this.#publish([entry!])
    pending.resolve(writeResult(entry!.offset, results))
  }

  async #execute(tx: StoreTxn, pending: Pending): Promise<Executed> {
    const ts = Date.now()
    return executedAs(pending, ts, await tx.runMany(storeStatements(pending.req, ts)))
  }

  /**
   * Entries are in the log but the store's commit failed or its outcome is
   * unknown. The store's offset says which: behind them, they are applied again
   * (the same statements on the same state); at them, the commit happened.
   * Retries until the store answers: nothing later may commit before them.
   */
  #reconcile(entries: Entry[]): Promise<void> {
    return this.#commitOrder.reconcile(() => this.#reconcileUntilDone(entries))
  }

  async #reconcileUntilDone(entries: Entry[]): Promise<void> {
    const last = entries[entries.length - 1]!.offset
    for (;;) {
      try {
        const state = await this.#store.readState()
        if (state.offset < entries[0]!.offset - 1) this.#lostCommits(state.offset)
        // From the log, not just these entries: a store that lost commits lacks earlier ones too.
        if (state.offset < last) await this.#applyFromLog(state.offset, last)
        this.#logger.info('reconciled store with log', { offset: last })
        return
      } catch (err) {
        if (!(err instanceof StoreError) || err.rejectedByServer) return this.#onFatal(err)
        this.#logger.warn('store unavailable; retrying', { error: err })
        await Bun.sleep(RECONCILE_RETRY_MS)
      }
    }
  }

  /**
   * The log refused an append (its disk full, an I/O error): the master turns
   * read-only. Queued writes, which have not run, are refused with the reason, and so
   * is every new one until the log takes writes again; reads and status go on.
   */
  #enterReadOnly(err: unknown): void {
    if (!this.#readOnly) {
      this.#readOnly = { reason: formatError(err), since: Date.now() }
      this.#logger.error('log write failed: the master is read-only until the log can be written', { error: err })
    }
    const refusal = new ReadOnlyError(this.#readOnly.reason)
    rejectAll(this.#queue.splice(0), refusal)
  }

  #leaveReadOnly(): void {
    if (!this.#readOnly) return
    const seconds = Math.round((Date.now() - this.#readOnly.since) / 1000)
    this.#readOnly = null
    this.#logger.info('log writable again: the master accepts writes', { readOnlySeconds: seconds })
  }

  /**
   * A batch the store may have committed but the log did not take. Recovery would put
   * it back from the store's state row after a crash; while the master runs, it keeps
   * its turn (nothing later commits) and tries the log each second. Its clients are
   * answered once it is logged: as MySQL waits when its binlog's disk is full.
   */
  #appendOnceWritable(entries: Entry[]): Promise<void> {
    return this.#retryLog(
      () => this.#log.append(entries),
      () => true,
    )
  }

  /** Read-only with nothing held back: tries a write the log can undo, each second, until one works. */
  #probeUntilWritable(): Promise<void> {
    return this.#retryLog(
      () => this.#log.checkWritable(),
      () => this.#readOnly !== null && !this.#closed,
    )
  }

  /** Tries `write` on the log each second, while `goOn()`, until it works; then the master accepts writes again. */
  async #retryLog(write: () => void, goOn: () => boolean): Promise<void> {
    while (goOn()) {
      await Bun.sleep(LOG_RETRY_MS)
      try {
        write()
        return this.#leaveReadOnly()
      } catch (err) {
        this.#readOnly = { reason: formatError(err), since: this.#readOnly?.since ?? Date.now() }
      }
    }
  }

  /**
   * Checks that the store still holds every published entry, and applies again from the
   * log those it lost: a MySQL server that crashed with innodb_flush_log_at_trx_commit
   * = 0 or 2 forgets its last commits, which only the log still has. The master calls
   * it every second, so an idle master heals too; a write's state guard
   * (StoreState.previous) catches it at once otherwise.
   */
  async checkStore(): Promise<void> {
    if (this.#closed || this.#commitOrder.reconciling) return
    const state = await this.#store.readState().catch(() => null)
    if (state === null || state.offset >= this.published.current) return
    const release = await this.#commitOrder.acquire()
    try {
      await this.#commitOrder.reconcile(() => this.#catchUpStore())
    } catch (err) {
      this.#logger.error('cannot apply the entries the store lost', { error: err })
    } finally {
      release()
    }
  }

  /** With the commit turn held: applies from the log whatever published entries the store lacks. */
  async #catchUpStore(): Promise<void> {
    const state = await this.#store.readState()
    const published = this.published.current
    if (state.offset >= published) return
    this.#lostCommits(state.offset)
    await this.#applyFromLog(state.offset, published)
    this.#logger.info('the store holds every published entry again', { offset: published })
  }

  #lostCommits(storeOffset: number): void {
    this.#logger.warn('the store lost transactions it had committed; applying them again from the log', {
      store: storeOffset,
      published: this.published.current,
      hint: 'its server restarted without flushing them (innodb_flush_log_at_trx_commit = 0 or 2)',
    })
  }

  /**
   * Applies log entries after..upTo to the store, page by page. Each of them may have
   * been applied already if it is DDL (see applyEntries): a store behind committed
   * entries lost them in a crash, or the entry in doubt was the one cut off.
   */
  async #applyFromLog(after: number, upTo: number): Promise<void> {
    const inDoubt = after + 1
    while (after < upTo) {
      const page = this.#log.readAfter(after, CATCH_UP_PAGE_ENTRIES).filter((e) => e.offset <= upTo)
      if (page.length === 0) return
      await applyEntries(this.#store, page, this.#log.id, inDoubt, upTo)
      after = page[page.length - 1]!.offset
    }
  }

  #publish(entries: Entry[]): void {
    this.#lastPublished = entries
    this.published.publish(entries[entries.length - 1]!.offset)
  }
}

/** Fails every write of a batch with the same error. */
function rejectAll(pending: Pending[], err: unknown): void {
  for (const p of pending) p.reject(err)
}

function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** True when the request holds DDL. */
function hasDdl(req: WriteRequest): boolean {
  return req.statements.some((s) => s.classification.kind === 'ddl')
}

/** A request's statements as the store runs them, at the entry's time (MySQL: SET TIMESTAMP). */
function storeStatements(req: WriteRequest, ts: number): StoreStatement[] {
  return req.statements.map(({ statement, runWith }) => storeStatement(req.db, statement, statement.ts ?? ts, runWith))
}

/**
 * A request once its statements ran: the entry draft (each INSERT's generated
 * id goes with it, for slaves to generate the same) and the client's results.
 */
function executedAs(pending: Pending, ts: number, raw: RunResult[]): Executed {
  const results = raw.map((r, i) => normalize(pending.req.statements[i]!.classification, r))
  const statements = pending.req.statements.map(({ statement }, i) =>
    results[i]!.insertId > 0 ? { ...statement, insertId: results[i]!.insertId } : statement,
  )
  return {
    pending,
    draft: { ts, db: pending.req.db, statements, affected: results.map((r) => r.affectedRows) },
    results,
  }
}

/**
 * Keeps only what a statement's kind can report: rows affected by DML, an insert
 * id from INSERT/REPLACE. (SQLite's counters are sticky across other statements.)
 */
export function normalize(c: Classification, r: RunResult): RunResult {
  if (c.kind !== 'write') return { affectedRows: 0, insertId: 0 }
  return c.keyword === 'INSERT' || c.keyword === 'REPLACE' ? r : { affectedRows: r.affectedRows, insertId: 0 }
}

/** A request's answer: its entry's offset, the rows its statements affected, the last insert id. */
function writeResult(offset: number, results: RunResult[]): WriteResult {
  return {
    offset,
    affectedRows: results.reduce((n, r) => n + r.affectedRows, 0),
    insertId: results.reduce((id, r) => r.insertId || id, 0),
  }
}
