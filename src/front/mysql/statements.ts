import type { Param } from '../../entry.ts'
import { isUtf8mb4Collation, SERVER_STATUS } from '../../mysql-protocol.ts'
import type { NodeApi, StatementShape } from '../../node/api.ts'
import { Session } from '../../node/session.ts'
import type { SessionVariables } from '../../node/variables.ts'
import { statementKind } from '../../sql/classify.ts'
import { quoteIdentifier, type Token } from '../../sql/lexer.ts'
import { resolveVersionedComments } from '../../sql/versioned-comments.ts'
import type { QueryAnswer } from '../../wire/messages.ts'
import { answerLocally, type LocalAnswer } from './local.ts'
import { ClientError, resultColumns } from './results.ts'

type Answer = QueryAnswer[number]

/**
 * How one MySQL-port client's statements run: the queries the port answers
 * itself (answerLocally), the rest through the client's Session, with MySQL's
 * autocommit (SET autocommit=0 makes each write open a transaction that COMMIT
 * or ROLLBACK ends) and the status flags a MySQL server reports.
 */
export class StatementRunner {
  readonly #node: NodeApi
  readonly #connectionId: number
  readonly #user: string
  #session: Session
  #lastOffset = 0
  #autocommit = true

  constructor(node: NodeApi, connectionId: number, user: string) {
    this.#node = node
    this.#connectionId = connectionId
    this.#user = user
    this.#session = new Session(node, { dialect: 'mysql' })
  }

  /** SERVER_STATUS_AUTOCOMMIT and SERVER_STATUS_IN_TRANS, as they stand. */
  get status(): number {
    return (
      (this.#autocommit ? SERVER_STATUS.AUTOCOMMIT : 0) | (this.#session.inTransaction ? SERVER_STATUS.IN_TRANS : 0)
    )
  }

  /** What a statement with `params` placeholders would return (COM_STMT_PREPARE), as run() would run it. */
  async describe(sent: string, params: number): Promise<StatementShape> {
    const sql = resolveVersionedComments(sent, this.#session.server)
    const local = params > 0 ? null : await this.#local(sql)
    if (local?.kind === 'read') {
      const columns = resultColumns(local.columns, local.rows)
      return {
        columns: columns.map(({ name, type, length, decimals, flags, charset }) => ({
          name,
          type: { type, length, decimals: decimals ?? 0, flags: flags ?? 0, charset },
        })),
        params,
      }
    }
    if (local) return { columns: [], params }
    return this.#session.describe(sql, params)
  }

  /** Runs one statement; rejects with the Session's error, or a ClientError to send as it is. */
  async run(sent: string, params: Param[] = []): Promise<Answer> {
    const sql = resolveVersionedComments(sent, this.#session.server)
    const local = params.length > 0 ? null : await this.#local(sql)
    if (local?.kind === 'ok' && local.autocommit !== undefined) {
      if (local.rest) await this.run(local.rest)
      return this.#setAutocommit(local.autocommit)
    }
    if (local?.kind === 'read' || local?.kind === 'ok') return local
    if (local?.kind === 'error') throw new ClientError(local)
    if (!this.#autocommit) await this.#implicitTransaction(sql)
    const answers = await this.#session.execute(sql, params)
    const answer = answers[answers.length - 1] ?? { kind: 'ok' as const }
    if (answer.kind === 'write' && answer.offset > 0) this.#lastOffset = answer.offset
    return answer
  }

  /**
   * A plain read relayed to a MySQL store as the client sent it (`command`, its
   * COM_QUERY payload), its answer the store's own packets, handed to `send`; false
   * when it is not such a read, or the store did not take it: run() runs it then.
   */
  async relay(
    sql: string,
    command: Buffer,
    client: { deprecateEof: boolean; collation: number },
    send: (framed: Buffer) => void,
  ): Promise<boolean> {
    const relayRead = this.#node.store.relayRead
    // The store's status flags say autocommit on (and, in a transaction of the client's, in one): they must be the session's.
    if (!relayRead || !this.#autocommit) return false
    const inTransaction = this.#session.inTransaction
    if (inTransaction && !this.#session.relaysInTransaction) return false // a slave's: execute() reads outside it
    // ddb answers in utf8mb4 whatever a client asked for; a relayed answer would come in the client's character set.
    if (!isUtf8mb4Collation(client.collation)) return false
    const target = this.#session.relayable(sql)
    if (!target) return false
    // A plain SELECT (not lexed: no tokens) calls no function and names no variable, so the port never answers one itself.
    if (target.tokens) {
      // Without waiting when it can: the read then reaches the store in the turn its command arrived in.
      const variables = this.#session.loadedVariables ?? (await this.#session.variables())
      if (this.#answerLocally(sql, variables, target.tokens)) return false
    }
    if (inTransaction) return this.#session.relayInTransaction(command, client, send)
    const { db, settings } = target
    return relayRead.call(this.#node.store, { db, settings, command, ...client, client: this }, send)
  }

  /** Selects the database the client asked for (at login, COM_INIT_DB); rejects as USE would. */
  async use(db: string): Promise<void> {
    await this.#session.execute(`USE ${quoteIdentifier(db)}`)
  }

  /** COM_RESET_CONNECTION: a new session, as if the client had just logged in. */
  async reset(): Promise<void> {
    await this.#session.close()
    this.#session = new Session(this.#node, { dialect: 'mysql' })
    this.#autocommit = true
    this.#lastOffset = 0
  }

  /** Ends the session: an open transaction rolls back, as when a MySQL client disconnects. */
  close(): Promise<void> {
    return this.#session.close()
  }

  /** The answer the port gives itself, without the store (see answerLocally), or null. */
  async #local(sql: string): Promise<LocalAnswer | null> {
    return this.#answerLocally(sql, await this.#session.variables())
  }

  #answerLocally(sql: string, variables: SessionVariables, tokens?: Token[]): LocalAnswer | null {
    return answerLocally(
      sql,
      {
        connectionId: this.#connectionId,
        user: this.#user,
        db: this.#session.database,
        lastOffset: this.#lastOffset,
        dialect: this.#node.dialect,
        autocommit: this.#autocommit,
        variable: (name) => variables.system(name),
        userVariable: (name) => variables.user(name),
      },
      tokens,
    )
  }

  /** SET autocommit: turning it on commits an open transaction, as MySQL does. */
  async #setAutocommit(on: boolean): Promise<Answer> {
    const answer = on && this.#session.inTransaction ? await this.run('COMMIT') : { kind: 'ok' as const }
    this.#autocommit = on
    return answer
  }

  /**
   * With autocommit off, a write outside a transaction opens one. A read does
   * not (unlike MySQL): a transaction holds SQLite's single writer, and one left
   * idle is rolled back after --transaction-timeout, so read-only clients that
   * never COMMIT would block writers or lose their session. (DDL commits the open
   * transaction first and runs on its own: the session does that, as MySQL does.)
   */
  async #implicitTransaction(sql: string): Promise<void> {
    if (this.#session.inTransaction) return
    let kind: string
    try {
      kind = statementKind(sql)
    } catch {
      return // the session reports the syntax error
    }
    if (kind === 'write') await this.run('BEGIN')
  }
}
