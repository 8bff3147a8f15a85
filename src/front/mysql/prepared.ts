/**
 * A MySQL-port connection's prepared statements (COM_STMT_PREPARE … CLOSE):
 * their parameters as bound so far, long data sent ahead of an execute, and
 * the cursor an execute opened for COM_STMT_FETCH.
 */
import { CLIENT, COLUMN_CHARSET, COLUMN_TYPE, SERVER_STATUS } from '../../mysql-protocol.ts'
import type { StatementShape } from '../../node/api.ts'
import { type BoundStatement, binaryRowPacket } from './binary.ts'
import { type ColumnDef, columnDefinitionPacket, eofPacket, okPacket, PayloadWriter } from './packets.ts'
import { resultColumn } from './results.ts'

/** An open cursor: the rows of an execute that COM_STMT_FETCH has not sent yet. */
interface Cursor {
  columns: ColumnDef[]
  rows: unknown[][]
  next: number
}

export interface PreparedStatement extends BoundStatement {
  id: number
  sql: string
  /** The result columns announced at prepare. */
  columns: ColumnDef[]
  cursor: Cursor | null
}

/** The parameter definitions MariaDB announces: a `?` of no type yet, binary. */
const PARAM_DEFINITION: ColumnDef = {
  name: '?',
  type: COLUMN_TYPE.NULL,
  charset: COLUMN_CHARSET.BINARY,
  length: 0,
  flags: 0x80,
}

/** Statement ids are per connection, from 1, as MySQL numbers them. */
export class PreparedStatements {
  readonly #statements = new Map<number, PreparedStatement>()
  #nextId = 1

  /** Keeps a newly prepared statement. */
  add(sql: string, shape: StatementShape): PreparedStatement {
    const statement: PreparedStatement = {
      id: this.#nextId++,
      sql,
      paramCount: shape.params,
      types: null,
      longData: new Map(),
      columns: shape.columns.map((c) => resultColumn(c.name, [], c.type)),
      cursor: null,
    }
    this.#statements.set(statement.id, statement)
    return statement
  }

  get(id: number): PreparedStatement | undefined {
    return this.#statements.get(id)
  }

  close(id: number): void {
    this.#statements.delete(id)
  }

  clear(): void {
    this.#statements.clear()
  }
}

/** COM_STMT_PREPARE's answer: PREPARE_OK, then the parameter and the result column definitions, each list closed by an EOF unless the client deprecates it. */
export function prepareOkPackets(statement: PreparedStatement, capabilities: number, status: number): Buffer[] {
  const { id, paramCount, columns } = statement
  const packets = [new PayloadWriter().int1(0).int4(id).int2(columns.length).int2(paramCount).int1(0).int2(0).build()]
  const eof = !(capabilities & CLIENT.DEPRECATE_EOF)
  if (paramCount > 0) {
    for (let i = 0; i < paramCount; i++) packets.push(columnDefinitionPacket(PARAM_DEFINITION))
    if (eof) packets.push(eofPacket(status))
  }
  if (columns.length > 0) {
    for (const c of columns) packets.push(columnDefinitionPacket(c))
    if (eof) packets.push(eofPacket(status))
  }
  return packets
}

/**
 * An execute that asked for a cursor: the column definitions and one
 * terminator with SERVER_STATUS_CURSOR_EXISTS; the rows wait for COM_STMT_FETCH.
 */
export function openCursor(
  statement: PreparedStatement,
  columns: ColumnDef[],
  rows: unknown[][],
  capabilities: number,
  status: number,
): Buffer[] {
  statement.cursor = { columns, rows, next: 0 }
  return [
    new PayloadWriter().lenencInt(columns.length).build(),
    ...columns.map(columnDefinitionPacket),
    terminator(capabilities, status | SERVER_STATUS.CURSOR_EXISTS),
  ]
}

/** COM_STMT_FETCH: up to `count` more rows, then a terminator; SERVER_STATUS_LAST_ROW_SENT once the cursor is exhausted (and closed). */
export function fetchRows(statement: PreparedStatement, count: number, capabilities: number, status: number): Buffer[] {
  const cursor = statement.cursor
  if (!cursor) return []
  const end = Math.min(cursor.rows.length, cursor.next + Math.max(1, count))
  const packets = cursor.rows.slice(cursor.next, end).map((r) => binaryRowPacket(cursor.columns, r))
  cursor.next = end
  let flags = status | SERVER_STATUS.CURSOR_EXISTS
  if (cursor.next >= cursor.rows.length) {
    flags = (status & ~SERVER_STATUS.CURSOR_EXISTS) | SERVER_STATUS.LAST_ROW_SENT
    statement.cursor = null
  }
  packets.push(terminator(capabilities, flags))
  return packets
}

/** The packet that ends a list of rows or definitions: an EOF, or an OK with the EOF header for CLIENT_DEPRECATE_EOF. */
function terminator(capabilities: number, status: number): Buffer {
  if (capabilities & CLIENT.DEPRECATE_EOF) {
    return okPacket({ header: 0xfe, status })
  }
  return eofPacket(status)
}
