import type { Param, ReadResult, WriteResult } from '../entry.ts'
import { DdbError, UsageError } from '../errors.ts'
import type { WriteStatement } from '../master/writer.ts'
import { classify } from '../sql/classify.ts'
import { makeDeterministic } from '../sql/determinism.ts'
import { tokenize } from '../sql/lexer.ts'
import { splitStatements } from '../sql/split.ts'
import type { NodeRole, NodeStatus, QueryAnswer } from '../wire/messages.ts'

/** What a client session needs from the node it runs on: the master or a slave. */
export interface NodeApi {
  readonly role: NodeRole
  /** The database a new session starts in. */
  readonly defaultDb: string | null
  /** The SQL dialect of the node's store, for the determinism rules. */
  readonly dialect: 'mysql' | 'sqlite'
  /** Commits statements as one entry (a slave refuses with NotMasterError). */
  write(db: string | null, statements: WriteStatement[]): Promise<WriteResult>
  read(db: string | null, sql: string, params: Param[]): Promise<ReadResult>
  status(): NodeStatus
}

/**
 * Session is one client's conversation with a node: its current database, and
 * the path each statement takes: reads to the store, writes through the node
 * (the master's writer; a slave refuses them), USE kept here.
 */
export class Session {
  readonly #node: NodeApi
  db: string | null

  constructor(node: NodeApi) {
    this.#node = node
    this.db = node.defaultDb
  }

  /** Runs one statement, or several separated by ';', in order; stops at the first error. */
  async execute(sql: string, params: Param[] = []): Promise<QueryAnswer> {
    const statements = splitStatements(sql)
    if (statements.length === 0) throw new UsageError('no statement given')
    if (params.length > 0 && statements.length > 1) throw new UsageError('parameters need exactly one statement')
    const answers: QueryAnswer = []
    for (const text of statements) answers.push(await this.#executeOne(text, params))
    return answers
  }

  async #executeOne(sql: string, params: Param[]): Promise<QueryAnswer[number]> {
    const c = classify(sql)
    switch (c.kind) {
      case 'read':
        return { kind: 'read', ...(await this.#node.read(this.db, sql, params)) }
      case 'write':
      case 'ddl': {
        if (this.#node.role !== 'master') return { kind: 'write', ...(await this.#node.write(this.db, [])) }
        // Replayed text must mean the same on every node: rewrite or refuse what would not.
        const prepared = makeDeterministic(sql, { dialect: this.#node.dialect, now: Date.now(), random: Math.random })
        const statement = prepared.rewritten ? { sql: prepared.sql, params, original: sql } : { sql, params }
        return { kind: 'write', ...(await this.#node.write(this.db, [{ statement, classification: c }])) }
      }
      case 'session':
        if (c.keyword === 'USE') return this.#use(c.database ?? '')
        if (c.keyword === 'SET' && tokenize(sql)[1]?.value === 'NAMES') return { kind: 'ok' } // ddb always speaks utf8mb4
        throw new DdbError('UNSUPPORTED', `not supported by statement replication yet: ${c.keyword} (session state is not replicated)`)
      case 'transaction':
        throw new DdbError('UNSUPPORTED', `not supported yet: ${c.keyword}; each statement commits on its own`)
      case 'unsupported':
        throw new DdbError('UNSUPPORTED', c.reason ?? `not supported: ${c.keyword}`)
    }
  }

  async #use(database: string): Promise<QueryAnswer[number]> {
    if (this.#node.defaultDb === null) throw new DdbError('UNSUPPORTED', 'USE: a SQLite store has a single database')
    const found = await this.#node.read(null, 'SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?', [database])
    if (found.rows.length === 0) throw new DdbError('UNKNOWN_DATABASE', `USE: unknown database '${database}'`)
    this.db = database
    return { kind: 'ok' }
  }
}
