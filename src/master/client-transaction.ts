import type { Param, ReadResult, Statement, WriteResult } from '../entry.ts'
import { DdbError, StoreError } from '../errors.ts'
import type { RunResult, StoreTxn } from '../store/store.ts'
import { type ClassifiedStatement, normalize, type Writer } from './writer.ts'

/** MySQL's ER_LOCK_DEADLOCK: the server rolled the whole transaction back. */
const DEADLOCK = 1213

/** A transaction left idle this long is rolled back: it may hold SQLite's single writer, or MySQL row locks. */
export const TRANSACTION_IDLE_MS = 60_000

/**
 * One client's BEGIN … COMMIT on the master. Its statements run live in a store
 * transaction of their own (the client reads its own writes; others are held
 * only by the store's locks) with the clock pinned at BEGIN, so NOW() replays
 * the same. COMMIT hands the statements to the writer as ONE entry, in commit
 * order with every other write; ROLLBACK, or a client that goes away, logs nothing.
 */
export class ClientTransaction {
  /** The database the transaction runs in (USE is refused inside it: an entry has one database). */
  readonly db: string | null
  readonly #begin: () => Promise<StoreTxn>
  /** Begun at the first statement, as a deferred BEGIN: SQLite's single writer is held only once needed. */
  #tx: Promise<StoreTxn> | null = null
  readonly #writer: Writer
  readonly #ts = Date.now()
  readonly #statements: Statement[] = []
  readonly #results: WriteResult[] = []
  #failed: string | null = null
  #ended = false
  #idle: ReturnType<typeof setTimeout> | null = null
  readonly #idleMs: number

  constructor(begin: () => Promise<StoreTxn>, writer: Writer, db: string | null, idleMs = TRANSACTION_IDLE_MS) {
    this.#begin = begin
    this.#writer = writer
    this.db = db
    this.#idleMs = idleMs
  }

  /** Runs a write inside the transaction; its offset is 0 until COMMIT gives the entry one. */
  async write({ statement, classification }: ClassifiedStatement): Promise<WriteResult> {
    this.#checkUsable()
    // Each statement runs at its own time (NOW() advances within a transaction, as in MySQL); the entry keeps it.
    const ts = Date.now()
    let result: RunResult
    try {
      const [raw] = await this.#run((tx) =>
        tx.runMany([{ db: this.db, sql: statement.sql, params: statement.params, ts }]),
      )
      result = normalize(classification, raw!)
    } catch (err) {
      // Most errors undo just the statement; a deadlock or a lost connection undoes the whole transaction.
      if (!(err instanceof StoreError) || !err.rejectedByServer || err.storeCode === DEADLOCK)
        this.#failed = (err as Error).message
      throw err
    }
    this.#statements.push({
      ...statement,
      ...(ts !== this.#ts ? { ts } : {}),
      ...(result.insertId > 0 ? { insertId: result.insertId } : {}),
    })
    this.#results.push({ offset: 0, ...result })
    return { offset: 0, ...result }
  }

  /** Reads inside the transaction: it sees the transaction's own writes. */
  async read(sql: string, params: Param[]): Promise<ReadResult> {
    this.#checkUsable()
    return this.#run((tx) => tx.read(this.db, sql, params))
  }

  /** Commits: one entry with every statement, or nothing to log when none wrote. Null offset: nothing logged. */
  async commit(): Promise<WriteResult | null> {
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
      return await this.#writer.commitTransaction(tx!, draft, this.#results)
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
    this.#tx ??= this.#begin()
    try {
      return await statement(await this.#tx)
    } finally {
      if (!this.#ended) this.#startIdleTimer()
    }
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
