import type { Param, ReadResult, Statement, WriteOptions, WriteResult } from '../entry.ts'
import { DdbError, StoreError } from '../errors.ts'
import { storeStatement } from '../store/apply.ts'
import type { RelayedRead, RunResult, StoreTxn } from '../store/store.ts'
import { type ClassifiedStatement, normalize, type Writer } from './writer.ts'

/** A transaction left idle this long is rolled back: it may hold SQLite's single writer, or MySQL row locks. */
export const TRANSACTION_IDLE_MS = 60_000

/** What a client transaction needs of the store besides its own store transaction. */
export interface TransactionStore {
  /** Begins the client's store transaction (at its first statement). */
  begin(): Promise<StoreTxn>
  /** True when the store rolled the whole transaction back for this error (a deadlock, say). */
  endsTransaction(err: unknown): boolean
}

/**
 * One client's BEGIN … COMMIT on the master. Its statements run live in a store
 * transaction of their own (the client reads its own writes; others are held
 * only by the store's locks), each at its own time. COMMIT hands the statements
 * to the writer as ONE entry, in commit order with every other write; ROLLBACK,
 * or a client that goes away, logs nothing. Savepoints work as in MySQL: a
 * ROLLBACK TO SAVEPOINT drops the statements after it from the entry too.
 */
export class ClientTransaction {
  /** The database the transaction began in: its entry's. */
  readonly db: string | null
  /** The database its statements run in now (USE inside the transaction changes it). */
  #current: string | null
  readonly #store: TransactionStore
  /** Begun at the first statement, as a deferred BEGIN: SQLite's single writer is held only once needed. */
  #tx: Promise<StoreTxn> | null = null
  readonly #writer: Writer
  readonly #ts = Date.now()
  readonly #statements: Statement[] = []
  readonly #results: WriteResult[] = []
  /** Each savepoint and how many statements came before it. */
  #savepoints: Array<{ name: string; statements: number }> = []
  #failed: string | null = null
  #ended = false
  #idle: ReturnType<typeof setTimeout> | null = null
  readonly #idleMs: number

  constructor(store: TransactionStore, writer: Writer, db: string | null, idleMs = TRANSACTION_IDLE_MS) {
    this.#store = store
    this.#writer = writer
    this.db = db
    this.#current = db
    this.#idleMs = idleMs
  }

  /** False once the transaction has ended: committed, rolled back, or rolled back by the store itself (a deadlock). */
  get open(): boolean {
    return !this.#ended
  }

  /** Runs a write inside the transaction; its offset is 0 until COMMIT gives the entry one. */
  async write({ statement, classification, runWith }: ClassifiedStatement): Promise<WriteResult> {
    this.#checkUsable()
    // Each statement runs at its own time (NOW() advances within a transaction, as in MySQL; a session's
    // SET TIMESTAMP pins it); the entry keeps it.
    const ts = statement.ts ?? Date.now()
    const db = this.#current
    let result: RunResult
    try {
      const [raw] = await this.#run((tx) => tx.runMany([storeStatement(db, statement, ts, runWith)]))
      result = normalize(classification, raw!)
    } catch (err) {
      await this.#failedWith(err)
      throw err
    }
    this.#statements.push({
      ...statement,
      ...(db !== this.db && db !== null ? { db } : {}),
      ...(ts !== this.#ts ? { ts } : {}),
      ...(result.insertId > 0 ? { insertId: result.insertId } : {}),
    })
    this.#results.push({ offset: 0, ...result })
    return { offset: 0, ...result }
  }

  /** Reads inside the transaction: it sees the transaction's own writes. */
  async read(sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult> {
    this.#checkUsable()
    try {
      return await this.#run((tx) => tx.read(this.#current, sql, params, settings))
    } catch (err) {
      await this.#failedWith(err)
      throw err
    }
  }

  /**
   * A MySQL client's plain read passed through on the transaction's own store
   * connection (StoreTxn.relay): true when the answer went to the client (an error in
   * it counts as the read's), false when nothing did: read() it instead, which
   * reports why. Rejects once part of an answer went out and the rest could not.
   */
  async relay(read: Omit<RelayedRead, 'db'>, send: (framed: Buffer) => void): Promise<boolean> {
    if (this.#ended || this.#failed) return false
    const answer = await this.#run(async (tx) =>
      tx.relay ? tx.relay({ ...read, db: this.#current }, send) : { sent: false, error: null },
    ).catch(async (err) => {
      await this.#failedWith(err)
      throw err
    })
    if (answer.error) await this.#failedWith(answer.error)
    return answer.sent
  }

  /** USE inside the transaction: later statements run (and replay) in `db`. */
  use(db: string): void {
    this.#checkUsable()
    this.#current = db
  }

  /** SAVEPOINT name: a point ROLLBACK TO SAVEPOINT returns to (a savepoint of the same name moves). */
  async savepoint(name: string): Promise<void> {
    this.#checkUsable()
    await this.#run((tx) => tx.savepoint(name))
    this.#savepoints = this.#savepoints.filter((s) => s.name !== name)
    this.#savepoints.push({ name, statements: this.#statements.length })
  }

  /** ROLLBACK TO SAVEPOINT name: undoes what ran after it, in the store and in the entry; later savepoints go. */
  async rollbackTo(name: string): Promise<void> {
    this.#checkUsable()
    const i = this.#find(name)
    await this.#run((tx) => tx.rollbackTo(name))
    const { statements } = this.#savepoints[i]!
    this.#statements.splice(statements)
    this.#results.splice(statements)
    this.#savepoints.splice(i + 1)
  }

  /** RELEASE SAVEPOINT name: forgets it and every later one. */
  async release(name: string): Promise<void> {
    this.#checkUsable()
    const i = this.#find(name)
    await this.#run((tx) => tx.release(name))
    this.#savepoints.splice(i)
  }

  /** Commits: one entry with every statement, or nothing to log when none wrote. Null offset: nothing logged. */
  async commit(options: WriteOptions = {}): Promise<WriteResult | null> {
    this.#checkUsable()
    this.#ended = true
    if (this.#idle) clearTimeout(this.#idle)
    const tx = await this.#tx
    try {
      if (this.#statements.length === 0) {
        await tx?.commit()
        return null
      }
      const draft = {
        ts: this.#ts,
        db: this.db,
        statements: this.#statements,
        affected: this.#results.map((r) => r.affectedRows),
      }
      return await this.#writer.commitTransaction(tx!, draft, this.#results, options.syncReplicas)
    } catch (err) {
      // A commit refused before it reached the store (the master shutting down) must not leave the
      // store transaction open, holding SQLite's single writer or MySQL row locks.
      await tx?.rollback().catch(() => {})
      throw err
    }
  }

  /** Rolls back; nothing is logged. Safe to call twice, and after a failed commit. */
  async rollback(): Promise<void> {
    if (this.#ended) return
    this.#ended = true
    if (this.#idle) clearTimeout(this.#idle)
    const tx = await this.#tx?.catch(() => null)
    await tx?.rollback()
  }

  /** Runs a statement in the store transaction (begun at the first); the idle clock stops while it runs. */
  async #run<T>(statement: (tx: StoreTxn) => Promise<T>): Promise<T> {
    if (this.#idle) clearTimeout(this.#idle)
    this.#tx ??= this.#store.begin()
    try {
      return await statement(await this.#tx)
    } finally {
      if (!this.#ended) this.#startIdleTimer()
    }
  }

  /**
   * After a statement failed: most errors undo just the statement, as in MySQL. One that
   * made the store roll the whole transaction back (a deadlock) ends it; a lost
   * connection leaves it unusable until the client's ROLLBACK; one the store refused
   * to run (UNSUPPORTED) leaves it as it was.
   */
  async #failedWith(err: unknown): Promise<void> {
    if (this.#store.endsTransaction(err)) return this.rollback()
    if (err instanceof DdbError && err.code === 'UNSUPPORTED') return // refused before it ran (SQLite: another foreign-key mode)
    if (!(err instanceof StoreError) || !err.rejectedByServer) this.#failed = (err as Error).message
  }

  #find(name: string): number {
    const i = this.#savepoints.findLastIndex((s) => s.name.toLowerCase() === name.toLowerCase())
    if (i < 0) throw new DdbError('SAVEPOINT_UNKNOWN', `SAVEPOINT ${name} does not exist`)
    return i
  }

  /** Rolls the transaction back once it has been idle for #idleMs; the client's next statement says why. */
  #startIdleTimer(): void {
    this.#idle = setTimeout(() => {
      this.#failed = `idle for ${this.#idleMs / 1000} s, so ddb rolled it back to release its locks`
      void this.#tx?.then((tx) => tx.rollback()).catch(() => {})
    }, this.#idleMs)
  }

  #checkUsable(): void {
    if (this.#ended) throw new DdbError('NO_TRANSACTION', 'the transaction has already ended')
    if (this.#failed) {
      throw new DdbError(
        'TRANSACTION_ABORTED',
        `this transaction was rolled back (${this.#failed}); only ROLLBACK is possible now`,
      )
    }
  }
}
