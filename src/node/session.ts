import type { Param } from '../entry.ts'
import { DdbError, UsageError } from '../errors.ts'
import { type Classification, classifyTokens } from '../sql/classify.ts'
import { makeDeterministic } from '../sql/determinism.ts'
import type { Token } from '../sql/lexer.ts'
import { splitLexed } from '../sql/split.ts'
import type { QueryAnswer } from '../wire/messages.ts'
import type { NodeApi, Transaction, WriteStatement } from './api.ts'

/**
 * Session is one client's conversation with a node: its current database, its
 * open transaction, and the path each statement takes: reads to the store,
 * writes through the node (the master's writer; a slave refuses them), USE
 * kept here. Inside BEGIN … COMMIT, reads and writes go to the transaction.
 */
export class Session {
  readonly #node: NodeApi
  db: string | null
  /** The open transaction: a master's Transaction, or 'read-only' on a slave. */
  #txn: Transaction | 'read-only' | null = null

  constructor(node: NodeApi) {
    this.#node = node
    this.db = node.defaultDb
  }

  /**
   * Runs one statement, or several separated by ';', in order; stops at the first error.
   * options.db (a slave's forwarded write carries its session's database): run in that
   * database for this query only; the session's own comes back after. Ignored on SQLite.
   */
  async execute(sql: string, params: Param[] = [], options: { db?: string | null } = {}): Promise<QueryAnswer> {
    const statements = splitLexed(sql) // lexed once: splitting, classification and the determinism rules share the tokens
    if (statements.length === 0) throw new UsageError('no statement given')
    if (params.length > 0 && statements.length > 1) throw new UsageError('parameters need exactly one statement')
    const answers: QueryAnswer = []
    const own = this.db
    const switched = options.db != null && this.#node.defaultDb !== null
    if (switched) this.db = options.db!
    try {
      for (const s of statements) answers.push(await this.#executeOne(s.sql, s.tokens, params))
    } finally {
      if (switched) this.db = own
    }
    return answers
  }

  /** Ends the session: an open transaction rolls back, as when a MySQL client disconnects. */
  async close(): Promise<void> {
    const txn = this.#txn
    this.#txn = null
    if (txn && txn !== 'read-only') await txn.rollback().catch(() => {})
  }

  async #executeOne(sql: string, tokens: Token[], params: Param[]): Promise<QueryAnswer[number]> {
    const c = classifyTokens(tokens)
    const txn = this.#txn
    switch (c.kind) {
      case 'read':
        if (txn && txn !== 'read-only') return { kind: 'read', ...(await txn.read(sql, params)) }
        return { kind: 'read', ...(await this.#node.read(this.db, sql, params)) }
      case 'write':
      case 'ddl': {
        // A slave refuses, or forwards the statement as sent to its master (which makes it deterministic); never from inside a transaction.
        if (this.#node.role !== 'master')
          return {
            kind: 'write',
            ...(await this.#node.write(this.db, txn ? [] : [{ statement: { sql, params }, classification: c }])),
          }
        const write = this.#prepareWrite(sql, params, c, tokens)
        if (!txn || txn === 'read-only') return { kind: 'write', ...(await this.#node.write(this.db, [write])) }
        if (c.kind === 'ddl' && this.#node.dialect === 'mysql') {
          throw new DdbError(
            'DDL_IN_TRANSACTION',
            `${c.keyword} inside a transaction: MySQL would commit the transaction implicitly; run it after COMMIT`,
          )
        }
        return { kind: 'write', ...(await txn.write(write)) }
      }
      case 'session':
        if (c.keyword === 'USE') {
          if (txn)
            throw new DdbError(
              'USE_IN_TRANSACTION',
              'USE inside a transaction: a transaction replicates as one entry in one database; COMMIT first',
            )
          return this.#use(c.database ?? '')
        }
        if (c.keyword === 'SET' && tokens[1]?.value === 'NAMES') return { kind: 'ok' } // ddb always speaks utf8mb4
        throw new DdbError(
          'UNSUPPORTED',
          `not supported by statement replication yet: ${c.keyword} (session state is not replicated)`,
        )
      case 'transaction':
        return this.#transactionControl(c.keyword)
      case 'unsupported':
        throw new DdbError('UNSUPPORTED', c.reason ?? `not supported: ${c.keyword}`)
    }
  }

  /** Rewrites a write so it replays the same on every node, or refuses it. */
  #prepareWrite(sql: string, params: Param[], classification: Classification, tokens: Token[]): WriteStatement {
    const prepared = makeDeterministic(
      sql,
      { dialect: this.#node.dialect, now: Date.now(), random: Math.random },
      tokens,
    )
    const statement = prepared.rewritten ? { sql: prepared.sql, params, original: sql } : { sql, params }
    return { statement, classification }
  }

  /** BEGIN / START TRANSACTION, COMMIT (or SQLite's END), ROLLBACK. */
  async #transactionControl(keyword: string): Promise<QueryAnswer[number]> {
    const txn = this.#txn
    switch (keyword) {
      case 'BEGIN':
      case 'START TRANSACTION':
        if (txn) throw new DdbError('TRANSACTION_OPEN', 'a transaction is already open: COMMIT or ROLLBACK it first')
        this.#txn = this.#node.beginTransaction ? await this.#node.beginTransaction(this.db) : 'read-only'
        return { kind: 'ok' }
      case 'COMMIT':
      case 'END': {
        this.#txn = null
        if (!txn || txn === 'read-only') return { kind: 'ok' }
        const result = await txn.commit().catch(async (err) => {
          await txn.rollback().catch(() => {})
          throw err
        })
        return result ? { kind: 'write', ...result } : { kind: 'ok' }
      }
      case 'ROLLBACK':
        this.#txn = null
        if (txn && txn !== 'read-only') await txn.rollback()
        return { kind: 'ok' }
      default:
        throw new DdbError('UNSUPPORTED', `${keyword} is not supported: a transaction replicates whole or not at all`)
    }
  }

  async #use(database: string): Promise<QueryAnswer[number]> {
    if (this.#node.defaultDb === null) throw new DdbError('UNSUPPORTED', 'USE: a SQLite store has a single database')
    const found = await this.#node.read(
      null,
      'SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?',
      [database],
    )
    if (found.rows.length === 0) throw new DdbError('UNKNOWN_DATABASE', `USE: unknown database '${database}'`)
    this.db = database
    return { kind: 'ok' }
  }
}
