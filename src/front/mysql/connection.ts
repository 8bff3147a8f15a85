import type net from 'node:net'
import type { ColumnType, Param } from '../../entry.ts'
import type { Logger } from '../../logger.ts'
import { CLIENT, COLUMN_CHARSET, COLUMN_TYPE, COM, SERVER_CAPABILITIES, SERVER_STATUS } from '../../mysql-protocol.ts'
import type { NodeApi } from '../../node/api.ts'
import { Session } from '../../node/session.ts'
import { statementKind } from '../../sql/classify.ts'
import { quoteIdentifier, tokenize } from '../../sql/lexer.ts'
import { splitStatements } from '../../sql/split.ts'
import type { QueryAnswer } from '../../wire/messages.ts'
import { checkNativePassword, type MysqlUser, NATIVE_PASSWORD_PLUGIN, newScramble } from './auth.ts'
import { binaryRowPacket, decodeExecuteParams, type PreparedStatement } from './binary.ts'
import { authSwitchRequest, handshakeV10, parseHandshakeResponse } from './handshake.ts'
import { answerLocally } from './local.ts'
import {
  columnDefinitionPacket,
  eofPacket,
  errPacket,
  framePacket,
  MalformedPacketError,
  okPacket,
  type Packet,
  PacketReader,
  PacketTooLargeError,
  PayloadReader,
  PayloadWriter,
} from './packets.ts'
import { type MysqlError, resultColumns, textResultset, toMysqlError } from './results.ts'

/** Most bytes a client may send before it has logged in. */
export const MAX_PREAUTH_PACKET_BYTES = 64 * 1024
/** Commands a client may have waiting before the listener stops reading from its socket. */
export const MAX_QUEUED_COMMANDS = 16
/** How long a started packet may wait for its remaining bytes before the connection is closed (MySQL's net_read_timeout). */
export const DEFAULT_PARTIAL_PACKET_TIMEOUT_MS = 30_000

export interface ConnectionOptions {
  node: NodeApi
  users: MysqlUser[]
  logger: Logger
  connectionId: number
  /** Largest message a logged-in client may send (bytes). */
  maxMessageBytes: number
  /** How long a client may take to log in (ms). */
  handshakeTimeoutMs: number
  /** How long a started packet may wait for the rest of its bytes (ms); default DEFAULT_PARTIAL_PACKET_TIMEOUT_MS. */
  partialPacketTimeoutMs?: number
}

type Answer = QueryAnswer[number]

/** An error to send as an ERR packet as it is. */
class ClientError extends Error {
  readonly mysql: MysqlError
  constructor(mysql: MysqlError) {
    super(mysql.message)
    this.mysql = mysql
  }
}

/**
 * MysqlConnection is one client of a node's MySQL listener: the handshake and
 * login (mysql_native_password), then commands, one at a time in arrival order,
 * each run through the client's own Session.
 */
export class MysqlConnection {
  readonly #socket: net.Socket
  readonly #o: ConnectionOptions
  readonly #reader = new PacketReader(MAX_PREAUTH_PACKET_BYTES)
  readonly #scramble = newScramble()
  readonly #peer: string
  #state: 'handshake' | 'auth-switch' | 'command' | 'closed' = 'handshake'
  #capabilities = 0
  #user = ''
  #db: string | null = null
  #seq = 0
  #out: Buffer[] = []
  #queue: Promise<void> = Promise.resolve()
  #session: Session
  #lastOffset = 0
  #inTransaction = false
  /** SET autocommit=0 makes each write open a transaction that COMMIT or ROLLBACK ends, as in MySQL. */
  #autocommit = true
  #timer: ReturnType<typeof setTimeout> | undefined
  #partialTimer: ReturnType<typeof setTimeout> | undefined
  /** Commands received and not yet answered. */
  #waiting = 0
  /** True while the socket's write buffer is full. */
  #draining = false
  readonly #statements = new Map<number, PreparedStatement>()
  #nextStatementId = 1
  /** Called once when the connection has closed. */
  onClose: () => void = () => {}

  constructor(socket: net.Socket, options: ConnectionOptions) {
    this.#socket = socket
    this.#o = options
    this.#peer = (socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '')
    this.#session = new Session(options.node)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (err) => this.#close(`socket error: ${err.message}`))
    socket.on('close', () => this.#close(null))
    this.#timer = setTimeout(
      () => this.#fail({ errno: 1043, sqlState: '08S01', message: 'Bad handshake: login timed out' }),
      options.handshakeTimeoutMs,
    )
    this.#sendHandshake()
  }

  /** Ends the connection now (node shutdown). */
  destroy(): void {
    this.#socket.destroy()
    this.#close(null)
  }

  #onData(chunk: Buffer): void {
    if (this.#state === 'closed') return
    let packets: Packet[]
    try {
      packets = this.#reader.push(chunk)
    } catch (err) {
      if (err instanceof PacketTooLargeError) {
        this.#seq = (err.sequenceId + 1) & 0xff
        this.#fail({
          errno: 1153,
          sqlState: '08S01',
          message: `Got a packet bigger than 'max_allowed_packet' bytes (${err.announced} > ${err.limit})`,
        })
        return
      }
      this.#fail({ errno: 1105, sqlState: 'HY000', message: `internal error: ${(err as Error).message}` })
      return
    }
    clearTimeout(this.#partialTimer)
    if (this.#reader.pendingBytes > 0) this.#armPartialTimer()
    for (const p of packets) {
      this.#waiting++
      this.#queue = this.#queue
        .then(() => this.#onPacket(p))
        .catch((err) => {
          if (err instanceof MalformedPacketError) this.#fail({ errno: 1047, sqlState: '08S01', message: err.message })
          else this.#fail({ errno: 1105, sqlState: 'HY000', message: `internal error: ${(err as Error).message}` })
        })
        .finally(() => {
          this.#waiting--
          this.#resumeIfIdle()
        })
    }
    // A client that sends commands faster than they run waits in its socket, not in our memory.
    if (this.#waiting >= MAX_QUEUED_COMMANDS) this.#socket.pause()
  }

  /** A packet that lies about its length (or a stalled client) must not hold the connection forever; while we have paused the socket, the wait is ours, not the client's. */
  #armPartialTimer(): void {
    this.#partialTimer = setTimeout(() => {
      if (this.#socket.isPaused()) this.#armPartialTimer()
      else this.#fail({ errno: 1159, sqlState: '08S01', message: 'Got timeout reading communication packets' })
    }, this.#o.partialPacketTimeoutMs ?? DEFAULT_PARTIAL_PACKET_TIMEOUT_MS)
  }

  #resumeIfIdle(): void {
    if (this.#state !== 'closed' && this.#waiting < MAX_QUEUED_COMMANDS && !this.#draining && this.#socket.isPaused())
      this.#socket.resume()
  }

  async #onPacket(p: Packet): Promise<void> {
    if (this.#state === 'closed') return
    this.#seq = (p.sequenceId + 1) & 0xff
    switch (this.#state) {
      case 'handshake':
        return this.#onHandshakeResponse(p.payload)
      case 'auth-switch':
        return this.#finishLogin(p.payload)
      case 'command':
        await this.#onCommand(p.payload)
        this.#flush()
    }
  }

  #sendHandshake(): void {
    this.#send(handshakeV10(this.#o.connectionId, this.#scramble))
    this.#flush()
  }

  #onHandshakeResponse(payload: Buffer): Promise<void> | void {
    const h = parseHandshakeResponse(payload)
    if (!(h.capabilities & CLIENT.PROTOCOL_41))
      return this.#fail({
        errno: 1043,
        sqlState: '08S01',
        message: 'Bad handshake: the client must speak protocol 4.1',
      })
    if (h.sslRequest)
      return this.#fail({ errno: 1043, sqlState: '08S01', message: 'Bad handshake: this server does not support SSL' })
    this.#user = h.user
    this.#db = h.database
    this.#capabilities = h.capabilities & SERVER_CAPABILITIES
    if (h.plugin !== NATIVE_PASSWORD_PLUGIN) {
      // AuthSwitchRequest: ask the client to answer our scramble with mysql_native_password instead.
      this.#state = 'auth-switch'
      this.#send(authSwitchRequest(this.#scramble))
      this.#flush()
      return
    }
    return this.#finishLogin(h.authResponse)
  }

  async #finishLogin(auth: Buffer): Promise<void> {
    const user = this.#o.users.find((u) => u.name === this.#user)
    if (!user || !checkNativePassword(user.password, this.#scramble, auth)) {
      this.#o.logger.warn('mysql access denied', { user: this.#user, peer: this.#peer })
      return this.#fail({
        errno: 1045,
        sqlState: '28000',
        message: `Access denied for user '${this.#user}'@'${this.#peer}' (using password: ${auth.length > 0 ? 'YES' : 'NO'})`,
      })
    }
    if (this.#db !== null) {
      if (this.#o.node.dialect === 'mysql') {
        try {
          await this.#session.execute(`USE ${quoteIdentifier(this.#db)}`)
        } catch {
          return this.#fail({ errno: 1049, sqlState: '42000', message: `Unknown database '${this.#db}'` })
        }
      }
    }
    clearTimeout(this.#timer)
    this.#reader.maxMessageBytes = this.#o.maxMessageBytes
    this.#state = 'command'
    this.#send(this.#ok())
    this.#flush()
  }

  async #onCommand(payload: Buffer): Promise<void> {
    const command = payload[0]
    switch (command) {
      case COM.QUERY:
        return this.#query(payload.subarray(1).toString('utf8'))
      case COM.PING:
        return this.#send(this.#ok())
      case COM.QUIT:
        return this.destroy()
      case COM.INIT_DB: {
        const db = payload.subarray(1).toString('utf8')
        if (this.#o.node.dialect === 'sqlite') return this.#send(this.#ok()) // one database; any name selects it
        try {
          await this.#session.execute(`USE ${quoteIdentifier(db)}`)
          this.#db = db
          return this.#send(this.#ok())
        } catch (err) {
          return this.#sendError(toMysqlError(err))
        }
      }
      case COM.FIELD_LIST:
        return this.#send(this.#eof(0)) // no column list: clients fall back to none
      case COM.RESET_CONNECTION:
        await this.#session.close()
        this.#session = new Session(this.#o.node)
        this.#inTransaction = false
        this.#autocommit = true
        this.#lastOffset = 0
        this.#statements.clear()
        return this.#send(this.#ok())
      case COM.STMT_PREPARE:
        return this.#prepare(payload.subarray(1).toString('utf8'))
      case COM.STMT_EXECUTE:
        return this.#execute(payload)
      case COM.STMT_CLOSE:
        this.#statements.delete(new PayloadReader(payload, 1).int4())
        return // no response, by the protocol
      case COM.STMT_RESET:
        return this.#send(this.#ok())
      default:
        return this.#sendError({ errno: 1047, sqlState: '08S01', message: 'Unknown command' })
    }
  }

  /** COM_QUERY: one result per statement; every one but the last carries SERVER_MORE_RESULTS_EXISTS. */
  async #query(sql: string): Promise<void> {
    let statements: string[]
    try {
      statements = splitStatements(sql)
    } catch (err) {
      return this.#sendError({ errno: 1064, sqlState: '42000', message: (err as Error).message })
    }
    if (statements.length === 0) return this.#sendError({ errno: 1065, sqlState: '42000', message: 'Query was empty' })
    if (statements.length > 1 && !(this.#capabilities & CLIENT.MULTI_STATEMENTS)) {
      return this.#sendError({
        errno: 1064,
        sqlState: '42000',
        message: 'You have an error in your SQL syntax: several statements in one query need CLIENT_MULTI_STATEMENTS',
      })
    }
    for (let i = 0; i < statements.length; i++) {
      let answer: Answer
      try {
        answer = await this.#runStatement(statements[i]!)
      } catch (err) {
        return this.#sendError(err instanceof ClientError ? err.mysql : toMysqlError(err))
      }
      this.#sendAnswer(answer, i < statements.length - 1 ? SERVER_STATUS.MORE_RESULTS_EXISTS : 0)
    }
  }

  /** COM_STMT_PREPARE: one statement; its `?` count. Result columns are sent with each execute, so none are announced here. */
  #prepare(sql: string): void {
    let count: number
    let params: number
    try {
      count = splitStatements(sql).length
      params = tokenize(sql).filter((t) => t.type === 'param').length
    } catch (err) {
      return this.#sendError({ errno: 1064, sqlState: '42000', message: (err as Error).message })
    }
    if (count !== 1)
      return this.#sendError({
        errno: 1064,
        sqlState: '42000',
        message: 'a prepared statement must be exactly one statement',
      })
    const id = this.#nextStatementId++
    this.#statements.set(id, { id, sql, paramCount: params, types: null })
    this.#send(new PayloadWriter().int1(0).int4(id).int2(0).int2(params).int1(0).int2(0).build())
    if (params > 0) {
      const def = columnDefinitionPacket({
        name: '?',
        type: COLUMN_TYPE.VAR_STRING,
        charset: COLUMN_CHARSET.UTF8MB4,
        length: 0,
      })
      for (let i = 0; i < params; i++) this.#send(def)
      if (!(this.#capabilities & CLIENT.DEPRECATE_EOF)) this.#send(eofPacket(this.#status()))
    }
  }

  /** COM_STMT_EXECUTE: binds the parameters, runs the statement, answers in the binary protocol. */
  async #execute(payload: Buffer): Promise<void> {
    const r = new PayloadReader(payload, 1)
    const id = r.int4()
    const stmt = this.#statements.get(id)
    if (!stmt)
      return this.#sendError({
        errno: 1243,
        sqlState: 'HY000',
        message: `Unknown prepared statement handler (${id}) given to mysqld_stmt_execute`,
      })
    const params = decodeExecuteParams(r, stmt)
    let answer: Answer
    try {
      answer = await this.#runStatement(stmt.sql, params)
    } catch (err) {
      return this.#sendError(err instanceof ClientError ? err.mysql : toMysqlError(err))
    }
    this.#sendAnswer(answer, 0, true)
  }

  async #runStatement(sql: string, params: Param[] = []): Promise<Answer> {
    const local =
      params.length > 0
        ? null
        : answerLocally(sql, {
            connectionId: this.#o.connectionId,
            user: this.#user,
            db: this.#session.db,
            lastOffset: this.#lastOffset,
            dialect: this.#o.node.dialect,
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

  /** SET autocommit: turning it on commits an open transaction, as MySQL does. */
  async #setAutocommit(on: boolean): Promise<Answer> {
    const answer = on && this.#inTransaction ? await this.#runStatement('COMMIT') : { kind: 'ok' as const }
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
    if (kind === 'ddl' && this.#inTransaction) await this.#runStatement('COMMIT')
    else if (kind === 'write' && !this.#inTransaction) await this.#runStatement('BEGIN')
  }

  /** Keeps SERVER_STATUS_IN_TRANS in step with the session: a BEGIN that succeeded opens, any COMMIT or ROLLBACK closes. */
  #trackTransaction(sql: string, succeeded: boolean): void {
    const word = /^\s*(\w+)(\s+\w+)?/.exec(sql)
    const first = word?.[1]?.toUpperCase()
    if (first === 'BEGIN' || (first === 'START' && word?.[2]?.trim().toUpperCase() === 'TRANSACTION'))
      this.#inTransaction ||= succeeded
    else if (first === 'COMMIT' || first === 'ROLLBACK' || first === 'END') this.#inTransaction = false
  }

  /** Sends one statement's result: OK for a write or nothing, a text (or, for prepared statements, binary) result set for a read. */
  #sendAnswer(answer: Answer, more: number, binary = false): void {
    const status = this.#status() | more
    if (answer.kind === 'ok') return this.#send(this.#ok({ status }))
    if (answer.kind === 'write') {
      return this.#send(
        this.#ok({
          status,
          affectedRows: answer.affectedRows,
          insertId: answer.insertId,
          info: `offset ${answer.offset}`,
        }),
      )
    }
    if (answer.columns.length === 0) return this.#send(this.#ok({ status }))
    const { definitions, rows } = binary
      ? this.#binaryResultset(answer.columns, answer.rows, answer.columnTypes)
      : textResultset(answer.columns, answer.rows, answer.columnTypes)
    this.#send(new PayloadWriter().lenencInt(answer.columns.length).build())
    for (const d of definitions) this.#send(d)
    const deprecateEof = (this.#capabilities & CLIENT.DEPRECATE_EOF) !== 0
    if (!deprecateEof) this.#send(eofPacket(status))
    for (const r of rows) this.#send(r)
    this.#send(deprecateEof ? this.#ok({ status, header: 0xfe }) : eofPacket(status))
  }

  #binaryResultset(
    columns: string[],
    rows: unknown[][],
    types?: Array<ColumnType | null>,
  ): { definitions: Buffer[]; rows: Buffer[] } {
    const defs = resultColumns(columns, rows, types)
    return { definitions: defs.map(columnDefinitionPacket), rows: rows.map((r) => binaryRowPacket(defs, r)) }
  }

  #eof(more: number): Buffer {
    const status = this.#status() | more
    return this.#capabilities & CLIENT.DEPRECATE_EOF ? this.#ok({ status, header: 0xfe }) : eofPacket(status)
  }

  #ok(o: Omit<Parameters<typeof okPacket>[0], 'sessionTrack' | 'status'> & { status?: number } = {}): Buffer {
    return okPacket({
      ...o,
      status: o.status ?? this.#status(),
      sessionTrack: (this.#capabilities & CLIENT.SESSION_TRACK) !== 0,
    })
  }

  #status(): number {
    return (this.#autocommit ? SERVER_STATUS.AUTOCOMMIT : 0) | (this.#inTransaction ? SERVER_STATUS.IN_TRANS : 0)
  }

  #send(payload: Buffer): void {
    const { bytes, next } = framePacket(payload, this.#seq)
    this.#seq = next
    this.#out.push(bytes)
  }

  #sendError(e: MysqlError): void {
    this.#send(errPacket(e.errno, e.sqlState, e.message))
  }

  #flush(): void {
    if (this.#out.length === 0 || this.#state === 'closed') return
    const data = this.#out.length === 1 ? this.#out[0]! : Buffer.concat(this.#out)
    this.#out = []
    if (!this.#socket.write(data) && !this.#draining) {
      // The client reads slower than we answer: stop reading its commands until our answers drain.
      this.#draining = true
      this.#socket.pause()
      this.#socket.once('drain', () => {
        this.#draining = false
        this.#resumeIfIdle()
      })
    }
  }

  /** Sends an ERR packet, then closes the connection. */
  #fail(e: MysqlError): void {
    if (this.#state === 'closed') return
    this.#out = []
    this.#sendError(e)
    this.#flush()
    this.#socket.end()
    this.#close(`${e.errno}: ${e.message}`)
  }

  #close(reason: string | null): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    clearTimeout(this.#timer)
    clearTimeout(this.#partialTimer)
    if (reason)
      this.#o.logger.warn('mysql connection closed', { peer: this.#peer, user: this.#user || undefined, reason })
    // Give the in-flight command a chance to finish before its transaction rolls back.
    void this.#queue.finally(() => this.#session.close()).catch(() => {})
    if (!this.#socket.destroyed) setTimeout(() => this.#socket.destroy(), 1_000).unref()
    this.onClose()
  }
}
