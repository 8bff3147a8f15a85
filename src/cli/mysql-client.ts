import mysql from 'mysql2/promise'
import type { HostPort } from '../config.ts'
import { DdbError } from '../errors.ts'
import { splitStatements } from '../sql/split.ts'
import { toJsonRow } from '../store/values.ts'
import type { QueryAnswer } from '../wire/messages.ts'

interface Field {
  name: string
}

interface Header {
  affectedRows: number
  insertId: number | string
  info?: string
}

/**
 * A MySQL-protocol client for `ddb sql --mysql`: talks to a node's MySQL port as
 * any MySQL client would, and returns the same answers as ddb's own protocol
 * (the write's offset read from the OK packet's info, `offset N`).
 */
export class MysqlProtocolClient {
  readonly #conn: mysql.Connection

  private constructor(conn: mysql.Connection) {
    this.#conn = conn
  }

  /** Connects and logs in; rejects with a one-line DdbError. */
  static async connect(address: HostPort, user: string, password: string): Promise<MysqlProtocolClient> {
    try {
      const conn = await mysql.createConnection({
        host: address.host,
        port: address.port,
        user,
        password,
        multipleStatements: true,
        dateStrings: true,
        connectTimeout: 5_000,
      })
      return new MysqlProtocolClient(conn)
    } catch (err) {
      throw mysqlError(err, `connect ${address.host}:${address.port}`)
    }
  }

  /** Runs a statement (or several separated by ';'): one answer per statement. */
  async query(sql: string, params: Array<string | number | boolean | null> = []): Promise<QueryAnswer> {
    let result: unknown
    let fields: unknown
    try {
      // Rows as arrays: a join's two columns of one name both stay.
      ;[result, fields] = await this.#conn.query({ sql, rowsAsArray: true }, params.length > 0 ? params : undefined)
    } catch (err) {
      throw mysqlError(err)
    }
    const many = splitStatements(sql).length > 1
    const fieldSets = (many ? fields : [fields]) as Array<Field[] | undefined>
    return (many ? (result as unknown[]) : [result]).map((r, i) => answerOf(r, fieldSets[i]))
  }

  close(): void {
    this.#conn.destroy()
  }
}

function answerOf(result: unknown, fields: Field[] | undefined): QueryAnswer[number] {
  if (Array.isArray(result))
    return { kind: 'read', columns: (fields ?? []).map((f) => f.name), rows: (result as unknown[][]).map(toJsonRow) }
  const header = result as Header
  const offset = /offset (\d+)/.exec(header.info ?? '')
  if (!offset) return { kind: 'ok' }
  return {
    kind: 'write',
    offset: Number(offset[1]),
    affectedRows: header.affectedRows,
    insertId: Number(header.insertId),
  }
}

/** A driver error as ddb prints errors: the server's code and state, as the mysql client shows them. */
function mysqlError(err: unknown, operation?: string): DdbError {
  const e = err as { errno?: number; sqlState?: string; message?: string; code?: string }
  if (e.sqlState) return new DdbError(`MYSQL_${e.errno}`, `ERROR ${e.errno} (${e.sqlState}): ${e.message}`)
  const why = e.code === 'ECONNREFUSED' ? 'connection refused' : (e.message ?? String(err))
  return new DdbError('UNREACHABLE', `${operation ?? 'query'}: ${why}`, {
    hint: 'is the node running with --mysql-listen at that address?',
  })
}
