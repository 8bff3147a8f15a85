import type { Param, ReadResult } from '../entry.ts'
import { StoreError } from '../errors.ts'
import { quoteIdentifier } from '../sql/lexer.ts'
import { BEHIND_GUARD_KEY, BEHIND_GUARD_TABLE, type Session, storeError } from './mysql-session.ts'
import type { RelayedRead, RunResult, StoreState, StoreStatement, StoreTxn, TxnRelayAnswer } from './store.ts'

/**
 * Where a MySQL store keeps its replication state: a row per database (one server
 * may hold the stores of several nodes), written in the same transaction as the data.
 */
export const STATE_TABLE = 'ddb.stores'
const WRITE_STATE = `UPDATE ${STATE_TABLE} SET applied_offset = ?, log_id = ?, pending_entries = ? WHERE db = ?`

/**
 * The statements that write the state row: the UPDATE, matching only the offset the
 * row must hold (state.previous), then a guard that fails with a duplicate key when it
 * matched nothing, which stops the packet before its COMMIT (storeError makes it a
 * StoreBehindError).
 */
export function stateStatements(session: Pick<Session, 'format'>, state: StoreState, db: string): string[] {
  const values = [state.offset, state.logId, state.pending ?? null, db]
  if (state.previous === undefined) return [session.format(WRITE_STATE, values)]
  return [
    session.format(`${WRITE_STATE} AND applied_offset = ?`, [...values, state.previous]),
    session.format(`INSERT INTO ${BEHIND_GUARD_TABLE} (name) SELECT ? FROM DUAL WHERE ROW_COUNT() <> 1`, [
      BEHIND_GUARD_KEY,
    ]),
  ]
}

/**
 * One START TRANSACTION … COMMIT on the writer session; holds the writer lock
 * until it ends. Statements that need no answer of their own (START
 * TRANSACTION, SAVEPOINT, the state row's UPDATE) wait and travel in the next
 * packet, so a write costs one round trip for its statements and one for COMMIT.
 */
export class MysqlTxn implements StoreTxn {
  readonly #session: Session
  readonly #defaultDb: string
  #release: (() => void) | null
  #queued: string[] = ['START TRANSACTION']
  #started = false

  /** `before`: statements for the transaction's first packet, ahead of START TRANSACTION. */
  constructor(session: Session, defaultDb: string, release: () => void, before: string[] = []) {
    this.#session = session
    this.#defaultDb = defaultDb
    this.#release = release
    this.#queued.unshift(...before)
  }

  async run(db: string | null, sql: string, params: Param[]): Promise<RunResult> {
    return (await this.runMany([{ db, sql, params }]))[0]!
  }

  async runMany(statements: StoreStatement[], state?: StoreState): Promise<RunResult[]> {
    this.#checkOpen()
    const after = state ? stateStatements(this.#session, state, this.#defaultDb) : []
    try {
      return await this.#session.runPacket(
        this.#takeQueued(),
        statements.map((s) => ({ ...s, db: s.db ?? this.#defaultDb })),
        after,
      )
    } catch (err) {
      throw storeError(err)
    }
  }

  /**
   * runMany, the state row and COMMIT in ONE packet, for a slave's small batch
   * (one round trip instead of two). After each statement with an expected row
   * count, a guard inserts the state row's key again unless the count matches:
   * the duplicate-key error stops the packet before COMMIT, so a diverged batch
   * is never committed. On any error nothing is committed: roll back.
   */
  async runManyAndCommit(
    statements: StoreStatement[],
    expected: Array<number | null>,
    state: StoreState,
  ): Promise<RunResult[]> {
    this.#checkOpen()
    const guards = expected.map((n) =>
      n === null
        ? null
        : this.#session.format(
            `INSERT INTO ${STATE_TABLE} (db, applied_offset) SELECT ?, 0 FROM DUAL WHERE ROW_COUNT() <> ${n}`,
            [this.#defaultDb],
          ),
    )
    const after = [...stateStatements(this.#session, state, this.#defaultDb), 'COMMIT']
    let results: RunResult[]
    try {
      results = await this.#session.runPacket(
        this.#takeQueued(),
        statements.map((s) => ({ ...s, db: s.db ?? this.#defaultDb })),
        after,
        guards,
      )
    } catch (err) {
      throw storeError(err)
    }
    this.#end()
    return results
  }

  async read(db: string | null, sql: string, params: Param[], settings?: Record<string, Param>): Promise<ReadResult> {
    this.#checkOpen()
    try {
      return await this.#session.read(this.#takeQueued(), db ?? this.#defaultDb, sql, params, settings)
    } catch (err) {
      throw storeError(err)
    }
  }

  /** The read on this transaction's own connection, its answer passed through (Session.relay); see StoreTxn.relay. */
  async relay(read: RelayedRead, send: (framed: Buffer) => void): Promise<TxnRelayAnswer> {
    this.#checkOpen()
    // The driver's connection ends result sets with EOF packets; a client that asked for OKs instead gets decoded rows.
    if (read.deprecateEof) return { sent: false, error: null }
    let sent = false
    try {
      const target = { ...read, db: read.db ?? this.#defaultDb, settings: read.settings ?? {} }
      const error = await this.#session.relay(this.#takeQueued(), target, (b) => {
        sent = true
        send(b)
      })
      return { sent: true, error: error && storeError(error) }
    } catch (err) {
      if (sent) throw err
      return { sent: false, error: storeError(err) }
    }
  }

  async savepoint(name: string): Promise<void> {
    this.#checkOpen()
    this.#queued.push(`SAVEPOINT ${quoteIdentifier(name)}`)
  }

  rollbackTo(name: string): Promise<void> {
    return this.#exec(`ROLLBACK TO SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async release(name: string): Promise<void> {
    this.#checkOpen()
    this.#queued.push(`RELEASE SAVEPOINT ${quoteIdentifier(name)}`)
  }

  async setState(state: StoreState): Promise<void> {
    this.#checkOpen()
    this.#queued.push(...stateStatements(this.#session, state, this.#defaultDb))
  }

  async commit(): Promise<void> {
    await this.#exec('COMMIT')
    this.#end()
  }

  async rollback(): Promise<void> {
    if (!this.#release) return
    if (this.#started && !this.#session.broken) {
      // A failed ROLLBACK leaves the session in an unknown state: drop it so the next begin() reconnects.
      await this.#session.query('ROLLBACK').catch(() => this.#session.markBroken())
    }
    this.#end()
  }

  /** Transaction control waiting to go out; from here on the server has a transaction to roll back. */
  #takeQueued(): string[] {
    const queued = this.#queued
    this.#queued = []
    this.#started = true
    return queued
  }

  async #exec(sql: string): Promise<void> {
    this.#checkOpen()
    try {
      await this.#session.runPacket(this.#takeQueued(), [], [sql])
    } catch (err) {
      throw storeError(err)
    }
  }

  #end(): void {
    this.#release?.()
    this.#release = null
  }

  #checkOpen(): void {
    if (!this.#release) throw new StoreError('transaction is finished')
  }
}
