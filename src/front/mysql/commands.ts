/**
 * The command phase of the MySQL port: one handler per COM_* message, each
 * answering with the packets a MySQL server would send.
 */
import type { Param } from '../../entry.ts'
import { CLIENT, COM, SERVER_STATUS } from '../../mysql-protocol.ts'
import type { NodeApi, StatementShape } from '../../node/api.ts'
import { tokenize } from '../../sql/lexer.ts'
import { splitStatements } from '../../sql/split.ts'
import type { QueryAnswer } from '../../wire/messages.ts'
import { binaryRowPacket, decodeExecute } from './binary.ts'
import { columnDefinitionPacket, eofPacket, okPacket, PayloadReader, PayloadWriter } from './packets.ts'
import { fetchRows, openCursor, type PreparedStatement, PreparedStatements, prepareOkPackets } from './prepared.ts'
import { queryText } from './query-text.ts'
import { ClientError, type MysqlError, resultColumns, textResultset, toMysqlError } from './results.ts'
import { StatementRunner } from './statements.ts'

type Answer = QueryAnswer[number]

/** How a command answers: packets in order, on the connection that received it. */
export interface Replies {
  send(payload: Buffer): void
  /** Packets already framed, with their sequence ids, as a MySQL server sent them (a relayed answer). */
  sendFramed(bytes: Buffer): void
  error(e: MysqlError): void
  /** Ends the connection (COM_QUIT). */
  quit(): void
}

/** A logged-in client's commands. */
export class Commands {
  #capabilities: number
  readonly #collation: number
  readonly #replies: Replies
  readonly #runner: StatementRunner
  readonly #statements = new PreparedStatements()

  constructor(
    node: NodeApi,
    login: { connectionId: number; user: string; capabilities: number; collation: number },
    replies: Replies,
  ) {
    this.#capabilities = login.capabilities
    this.#collation = login.collation
    this.#replies = replies
    this.#runner = new StatementRunner(node, login.connectionId, login.user)
  }

  /** The capabilities client and server share (COM_SET_OPTION can change multi-statements). */
  get capabilities(): number {
    return this.#capabilities
  }

  /** The collation the client logged in with. */
  get collation(): number {
    return this.#collation
  }

  /** Selects the database the client logged in with; false when it does not exist. */
  async useInitial(db: string): Promise<boolean> {
    try {
      await this.#runner.use(db)
      return true
    } catch {
      return false
    }
  }

  /** The OK packet a login or a command answers with, carrying the session's status flags. */
  ok(o: Omit<Parameters<typeof okPacket>[0], 'status'> & { status?: number } = {}): Buffer {
    return okPacket({ ...o, status: o.status ?? this.#runner.status })
  }

  /** Runs one command packet. */
  async handle(payload: Buffer): Promise<void> {
    switch (payload[0]) {
      case COM.QUERY:
        return this.comQuery(payload.subarray(1), payload)
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
        return this.comStmtPrepare(payload.subarray(1))
      case COM.STMT_EXECUTE:
        return this.comStmtExecute(payload)
      case COM.STMT_FETCH:
        return this.comStmtFetch(payload)
      case COM.STMT_SEND_LONG_DATA:
        return this.comStmtSendLongData(payload)
      case COM.STMT_CLOSE:
        this.#statements.close(new PayloadReader(payload, 1).int4())
        return // no response, by the protocol
      case COM.STMT_RESET:
        return this.comStmtReset(payload)
      case COM.SET_OPTION:
        return this.comSetOption(payload)
      case COM.STATISTICS:
        return this.#replies.send(Buffer.from('Uptime: 0  Threads: 1  Questions: 0  Slow queries: 0  Opens: 0'))
      default:
        return this.#replies.error({ errno: 1047, sqlState: '08S01', message: 'Unknown command' })
    }
  }

  /** Ends the client's session (an open transaction rolls back). */
  close(): Promise<void> {
    return this.#runner.close()
  }

  /**
   * COM_QUERY: one result per statement; every one but the last carries
   * SERVER_MORE_RESULTS_EXISTS. A plain read on a MySQL store is relayed (`command`, the whole payload).
   */
  async comQuery(bytes: Buffer, command?: Buffer): Promise<void> {
    let sql: string
    let statements: string[]
    try {
      sql = queryText(bytes)
    } catch (err) {
      return this.#replies.error({ errno: 1064, sqlState: '42000', message: (err as Error).message })
    }
    const client = { deprecateEof: (this.#capabilities & CLIENT.DEPRECATE_EOF) !== 0, collation: this.#collation }
    const send = (framed: Buffer) => this.#replies.sendFramed(framed)
    // A relay that fails halfway rejects: the connection closes, as when a server goes away mid-answer.
    if (command && (await this.#runner.relay(sql, command, client, send))) return
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

  /** COM_STMT_PREPARE: one statement; PREPARE_OK with its parameters and, for a read, the columns the store reports. */
  async comStmtPrepare(bytes: Buffer): Promise<void> {
    let params: number
    let sql: string
    try {
      sql = queryText(bytes)
      if (splitStatements(sql).length !== 1) {
        return this.#replies.error({
          errno: 1064,
          sqlState: '42000',
          message: 'a prepared statement must be exactly one statement',
        })
      }
      params = tokenize(sql).filter((t) => t.type === 'param').length
    } catch (err) {
      return this.#replies.error({ errno: 1064, sqlState: '42000', message: (err as Error).message })
    }
    let shape: StatementShape
    try {
      shape = await this.#runner.describe(sql, params)
    } catch (err) {
      return this.#replies.error(err instanceof ClientError ? err.mysql : toMysqlError(err))
    }
    const statement = this.#statements.add(sql, shape)
    for (const p of prepareOkPackets(statement, this.#capabilities, this.#runner.status)) this.#replies.send(p)
  }

  /** COM_STMT_EXECUTE: binds the parameters, runs the statement, answers in the binary protocol (or opens a cursor). */
  async comStmtExecute(payload: Buffer): Promise<void> {
    const r = new PayloadReader(payload, 1)
    const statement = this.#statement(r.int4(), 'mysqld_stmt_execute')
    if (!statement) return
    const { cursor, params } = decodeExecute(r, statement)
    statement.longData.clear()
    statement.cursor = null
    const answer = await this.#run(statement.sql, params)
    if (!answer) return
    if (cursor && answer.kind === 'read' && answer.columns.length > 0) {
      const columns = resultColumns(answer.columns, answer.rows, answer.columnTypes)
      for (const p of openCursor(statement, columns, answer.rows, this.#capabilities, this.#runner.status)) {
        this.#replies.send(p)
      }
      return
    }
    this.#sendAnswer(answer, 0, true)
  }

  /** COM_STMT_FETCH: the next rows of the cursor an execute opened. */
  comStmtFetch(payload: Buffer): void {
    const r = new PayloadReader(payload, 1)
    const statement = this.#statement(r.int4(), 'mysqld_stmt_fetch')
    if (!statement) return
    if (!statement.cursor) {
      return this.#replies.error({ errno: 1421, sqlState: 'HY000', message: 'The statement has no open cursor' })
    }
    for (const p of fetchRows(statement, r.int4(), this.#capabilities, this.#runner.status)) this.#replies.send(p)
  }

  /** COM_STMT_SEND_LONG_DATA: a chunk of one parameter's value, ahead of the execute; no answer, by the protocol. */
  comStmtSendLongData(payload: Buffer): void {
    const r = new PayloadReader(payload, 1)
    const statement = this.#statements.get(r.int4())
    if (!statement) return // no answer is sent even for an unknown statement; its execute fails
    const param = r.int2()
    if (param >= statement.paramCount) return
    const chunks = statement.longData.get(param) ?? []
    chunks.push(Buffer.from(payload.subarray(7)))
    statement.longData.set(param, chunks)
  }

  /** COM_STMT_RESET: forgets long data sent and closes the cursor. */
  comStmtReset(payload: Buffer): void {
    const statement = this.#statement(new PayloadReader(payload, 1).int4(), 'mysqld_stmt_reset')
    if (!statement) return
    statement.longData.clear()
    statement.cursor = null
    this.#replies.send(this.ok())
  }

  /** COM_SET_OPTION: multi-statements on (0) or off (1); MySQL answers with an EOF. */
  comSetOption(payload: Buffer): void {
    const option = new PayloadReader(payload, 1).int2()
    if (option === 0) this.#capabilities |= CLIENT.MULTI_STATEMENTS
    else if (option === 1) this.#capabilities &= ~CLIENT.MULTI_STATEMENTS
    else return this.#replies.error({ errno: 1047, sqlState: '08S01', message: 'Unknown command' })
    this.#replies.send(eofPacket(this.#runner.status))
  }

  /** The prepared statement `id`, or null after sending MySQL's error naming the command. */
  #statement(id: number, command: string): PreparedStatement | null {
    const statement = this.#statements.get(id)
    if (statement) return statement
    this.#replies.error({
      errno: 1243,
      sqlState: 'HY000',
      message: `Unknown prepared statement handler (${id}) given to ${command}`,
    })
    return null
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
