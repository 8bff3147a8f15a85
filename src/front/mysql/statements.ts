import type { Param } from '../../entry.ts'
import { SERVER_STATUS } from '../../mysql-protocol.ts'
import type { NodeApi } from '../../node/api.ts'
import { Session } from '../../node/session.ts'
import { statementKind } from '../../sql/classify.ts'
import { quoteIdentifier } from '../../sql/lexer.ts'
import type { QueryAnswer } from '../../wire/messages.ts'
import { answerLocally } from './local.ts'
import { ClientError } from './results.ts'

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
  #inTransaction = false
  #autocommit = true

  constructor(node: NodeApi, connectionId: number, user: string) {
    this.#node = node
    this.#connectionId = connectionId
    this.#user = user
    this.#session = new Session(node)
  }

  /** SERVER_STATUS_AUTOCOMMIT and SERVER_STATUS_IN_TRANS, as they stand. */
  get status(): number {
    return (this.#autocommit ? SERVER_STATUS.AUTOCOMMIT : 0) | (this.#inTransaction ? SERVER_STATUS.IN_TRANS : 0)
  }

  /** Runs one statement; rejects with the Session's error, or a ClientError to send as it is. */
  async run(sql: string, params: Param[] = []): Promise<Answer> {
    const local =
      params.length > 0
        ? null
        : answerLocally(sql, {
            connectionId: this.#connectionId,
            user: this.#user,
            db: this.#session.db,
            lastOffset: this.#lastOffset,
            dialect: this.#node.dialect,
            autocommit: this.#autocommit,
          })
    if (local?.kind === 'ok' && local.autocommit !== undefined) return this.#setAutocommit(local.autocommit)
    if (local?.kind === 'read' || local?.kind === 'ok') return local
    if (local?.kind === 'error') throw new ClientError(local)
    const text = local?.kind === 'rewrite' ? local.sql : sql
    if (!this.#autocommit) await this.#implicitTransaction(text)
    let answers: QueryAnswer
    try {
      answers = await this.#session.execute(text, params)
    } catch (err) {
      this.#trackTransaction(sql, false)
      throw err
    }
    this.#trackTransaction(sql, true)
    const answer = answers[answers.length - 1] ?? { kind: 'ok' as const }
    if (answer.kind === 'write' && answer.offset > 0) this.#lastOffset = answer.offset
    return answer
  }

  /** Selects the database the client asked for (at login, COM_INIT_DB); rejects as USE would. */
  async use(db: string): Promise<void> {
    await this.#session.execute(`USE ${quoteIdentifier(db)}`)
  }

  /** COM_RESET_CONNECTION: a new session, as if the client had just logged in. */
  async reset(): Promise<void> {
    await this.#session.close()
    this.#session = new Session(this.#node)
    this.#inTransaction = false
    this.#autocommit = true
    this.#lastOffset = 0
  }

  /** Ends the session: an open transaction rolls back, as when a MySQL client disconnects. */
  close(): Promise<void> {
    return this.#session.close()
  }

  /** SET autocommit: turning it on commits an open transaction, as MySQL does. */
  async #setAutocommit(on: boolean): Promise<Answer> {
    const answer = on && this.#inTransaction ? await this.run('COMMIT') : { kind: 'ok' as const }
    this.#autocommit = on
    return answer
  }

  /**
   * With autocommit off, a write outside a transaction opens one. A read does
   * not (unlike MySQL): a transaction holds SQLite's single writer, and one left
   * idle is rolled back after --transaction-timeout, so read-only clients that
   * never COMMIT would block writers or lose their session. DDL first commits
   * the open transaction (MySQL commits implicitly) and runs on its own.
   */
  async #implicitTransaction(sql: string): Promise<void> {
    let kind: string
    try {
      kind = statementKind(sql)
    } catch {
      return // the session reports the syntax error
    }
    if (kind === 'ddl' && this.#inTransaction) await this.run('COMMIT')
    else if (kind === 'write' && !this.#inTransaction) await this.run('BEGIN')
  }

  /** Keeps SERVER_STATUS_IN_TRANS in step with the session: a BEGIN that succeeded opens, any COMMIT or ROLLBACK closes. */
  #trackTransaction(sql: string, succeeded: boolean): void {
    const word = /^\s*(\w+)(\s+\w+)?/.exec(sql)
    const first = word?.[1]?.toUpperCase()
    if (first === 'BEGIN' || (first === 'START' && word?.[2]?.trim().toUpperCase() === 'TRANSACTION'))
      this.#inTransaction ||= succeeded
    else if (first === 'COMMIT' || first === 'ROLLBACK' || first === 'END') this.#inTransaction = false
  }
}
