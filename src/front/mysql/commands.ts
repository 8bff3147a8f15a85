/**
 * The command phase of the MySQL port: one handler per COM_* message, each
 * answering with the packets a MySQL server would send.
 */
import type { Param } from '../../entry.ts'
import { CLIENT, COLUMN_CHARSET, COLUMN_TYPE, COM, SERVER_STATUS } from '../../mysql-protocol.ts'
import type { NodeApi } from '../../node/api.ts'
import { tokenize } from '../../sql/lexer.ts'
import { splitStatements } from '../../sql/split.ts'
import type { QueryAnswer } from '../../wire/messages.ts'
import { binaryRowPacket, decodeExecuteParams, type PreparedStatement } from './binary.ts'
import { columnDefinitionPacket, eofPacket, okPacket, PayloadReader, PayloadWriter } from './packets.ts'
import { ClientError, type MysqlError, resultColumns, textResultset, toMysqlError } from './results.ts'
import { StatementRunner } from './statements.ts'

type Answer = QueryAnswer[number]

/** How a command answers: packets in order, on the connection that received it. */
export interface Replies {
  send(payload: Buffer): void
  error(e: MysqlError): void
  /** Ends the connection (COM_QUIT). */
  quit(): void
}

/** A logged-in client's commands. */
export class Commands {
  readonly #node: NodeApi
  readonly #capabilities: number
  readonly #replies: Replies
  readonly #runner: StatementRunner
  readonly #statements = new Map<number, PreparedStatement>()
  #nextStatementId = 1

  constructor(node: NodeApi, login: { connectionId: number; user: string; capabilities: number }, replies: Replies) {
    this.#node = node
    this.#capabilities = login.capabilities
    this.#replies = replies
    this.#runner = new StatementRunner(node, login.connectionId, login.user)
  }

  /** Selects the database the client logged in with; false when it does not exist. */
  async useInitial(db: string): Promise<boolean> {
    if (this.#node.dialect !== 'mysql') return true // one database; any name selects it
    try {
      await this.#runner.use(db)
      return true
    } catch {
      return false
    }
  }

  /** The OK packet a login or a command answers with, carrying the session's status flags. */
  ok(o: Omit<Parameters<typeof okPacket>[0], 'sessionTrack' | 'status'> & { status?: number } = {}): Buffer {
    return okPacket({
      ...o,
      status: o.status ?? this.#runner.status,
      sessionTrack: (this.#capabilities & CLIENT.SESSION_TRACK) !== 0,
    })
  }

  /** Runs one command packet. */
  async handle(payload: Buffer): Promise<void> {
    switch (payload[0]) {
      case COM.QUERY:
        return this.comQuery(payload.subarray(1).toString('utf8'))
      case COM.PING:
        return this.#replies.send(this.ok())
      case COM.QUIT:
        return this.#replies.quit()
      case COM.INIT_DB:
        return this.comInitDb(payload.subarray(1).toString('utf8'))
      case COM.FIELD_LIST:
        return this.#replies.send(this.#eof()) // no column list: clients fall back to none
      case COM.RESET_CONNECTION:
        return this.comResetConnection()
      case COM.STMT_PREPARE:
        return this.comStmtPrepare(payload.subarray(1).toString('utf8'))
      case COM.STMT_EXECUTE:
        return this.comStmtExecute(payload)
      case COM.STMT_CLOSE:
        this.#statements.delete(new PayloadReader(payload, 1).int4())
        return // no response, by the protocol
      case COM.STMT_RESET:
        return this.#replies.send(this.ok())
      default:
        return this.#replies.error({ errno: 1047, sqlState: '08S01', message: 'Unknown command' })
    }
  }

  /** Ends the client's session (an open transaction rolls back). */
  close(): Promise<void> {
    return this.#runner.close()
  }

  /** COM_QUERY: one result per statement; every one but the last carries SERVER_MORE_RESULTS_EXISTS. */
  async comQuery(sql: string): Promise<void> {
    let statements: string[]
    try {
      statements = splitStatements(sql)
    } catch (err) {
      return this.#replies.error({ errno: 1064, sqlState: '42000', message: (err as Error).message })
    }
    if (statements.length === 0) {
      return this.#replies.error({ errno: 1065, sqlState: '42000', message: 'Query was empty' })
    }
    if (statements.length > 1 && !(this.#capabilities & CLIENT.MULTI_STATEMENTS)) {
      return this.#replies.error({
        errno: 1064,
        sqlState: '42000',
        message: 'You have an error in your SQL syntax: several statements in one query need CLIENT_MULTI_STATEMENTS',
      })
    }
    for (const [i, statement] of statements.entries()) {
      const answer = await this.#run(statement)
      if (!answer) return
      this.#sendAnswer(answer, i < statements.length - 1 ? SERVER_STATUS.MORE_RESULTS_EXISTS : 0)
    }
  }

  /** COM_INIT_DB: USE, as the mysql client's `use db` and drivers' database option send it. */
  async comInitDb(db: string): Promise<void> {
    if (this.#node.dialect === 'sqlite') return this.#replies.send(this.ok()) // one database; any name selects it
    try {
      await this.#runner.use(db)
      return this.#replies.send(this.ok())
    } catch (err) {
      return this.#replies.error(toMysqlError(err))
    }
  }

  /** COM_RESET_CONNECTION: the session starts over; prepared statements are gone. */
  async comResetConnection(): Promise<void> {
    await this.#runner.reset()
    this.#statements.clear()
    this.#replies.send(this.ok())
  }

  /** COM_STMT_PREPARE: one statement; its `?` count. Result columns are sent with each execute, so none are announced here. */
  comStmtPrepare(sql: string): void {
    let count: number
    let params: number
    try {
      count = splitStatements(sql).length
      params = tokenize(sql).filter((t) => t.type === 'param').length
    } catch (err) {
      return this.#replies.error({ errno: 1064, sqlState: '42000', message: (err as Error).message })
    }
    if (count !== 1) {
      return this.#replies.error({
        errno: 1064,
        sqlState: '42000',
        message: 'a prepared statement must be exactly one statement',
      })
    }
    const id = this.#nextStatementId++
    this.#statements.set(id, { id, sql, paramCount: params, types: null })
    this.#replies.send(new PayloadWriter().int1(0).int4(id).int2(0).int2(params).int1(0).int2(0).build())
    if (params > 0) {
      const def = columnDefinitionPacket({
        name: '?',
        type: COLUMN_TYPE.VAR_STRING,
        charset: COLUMN_CHARSET.UTF8MB4,
        length: 0,
      })
      for (let i = 0; i < params; i++) this.#replies.send(def)
      if (!(this.#capabilities & CLIENT.DEPRECATE_EOF)) this.#replies.send(eofPacket(this.#runner.status))
    }
  }

  /** COM_STMT_EXECUTE: binds the parameters, runs the statement, answers in the binary protocol. */
  async comStmtExecute(payload: Buffer): Promise<void> {
    const r = new PayloadReader(payload, 1)
    const id = r.int4()
    const stmt = this.#statements.get(id)
    if (!stmt) {
      return this.#replies.error({
        errno: 1243,
        sqlState: 'HY000',
        message: `Unknown prepared statement handler (${id}) given to mysqld_stmt_execute`,
      })
    }
    const answer = await this.#run(stmt.sql, decodeExecuteParams(r, stmt))
    if (answer) this.#sendAnswer(answer, 0, true)
  }

  /** Runs a statement; on failure sends its ERR packet and returns null. */
  async #run(sql: string, params: Param[] = []): Promise<Answer | null> {
    try {
      return await this.#runner.run(sql, params)
    } catch (err) {
      this.#replies.error(err instanceof ClientError ? err.mysql : toMysqlError(err))
      return null
    }
  }

  /** One statement's result: OK for a write or nothing, a text (or, for prepared statements, binary) result set for a read. */
  #sendAnswer(answer: Answer, more: number, binary = false): void {
    const status = this.#runner.status | more
    const send = (payload: Buffer) => this.#replies.send(payload)
    if (answer.kind === 'ok') return send(this.ok({ status }))
    if (answer.kind === 'write') {
      const { affectedRows, insertId } = answer
      return send(this.ok({ status, affectedRows, insertId, info: `offset ${answer.offset}` }))
    }
    if (answer.columns.length === 0) return send(this.ok({ status }))
    let definitions: Buffer[]
    let rows: Buffer[]
    if (binary) {
      const defs = resultColumns(answer.columns, answer.rows, answer.columnTypes)
      definitions = defs.map(columnDefinitionPacket)
      rows = answer.rows.map((r) => binaryRowPacket(defs, r))
    } else {
      ;({ definitions, rows } = textResultset(answer.columns, answer.rows, answer.columnTypes))
    }
    send(new PayloadWriter().lenencInt(answer.columns.length).build())
    for (const d of definitions) send(d)
    const deprecateEof = (this.#capabilities & CLIENT.DEPRECATE_EOF) !== 0
    if (!deprecateEof) send(eofPacket(status))
    for (const r of rows) send(r)
    send(deprecateEof ? this.ok({ status, header: 0xfe }) : eofPacket(status))
  }

  #eof(): Buffer {
    const status = this.#runner.status
    return this.#capabilities & CLIENT.DEPRECATE_EOF ? this.ok({ status, header: 0xfe }) : eofPacket(status)
  }
}
