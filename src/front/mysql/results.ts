import type { ColumnType } from '../../entry.ts'
import { DdbError, formatError, NotMasterError, StoreError } from '../../errors.ts'
import { COLUMN_CHARSET, COLUMN_TYPE } from '../../mysql-protocol.ts'
import { type ColumnDef, columnDefinitionPacket, textRowPacket } from './packets.ts'

/** An error as a MySQL client sees it. */
export interface MysqlError {
  errno: number
  sqlState: string
  message: string
}

/** An error to send as an ERR packet as it is. */
export class ClientError extends Error {
  readonly mysql: MysqlError
  constructor(mysql: MysqlError) {
    super(mysql.message)
    this.mysql = mysql
  }
}

/** SQL states of the MySQL errors a store commonly answers with. */
const SQL_STATES: Record<number, string> = {
  1044: '42000',
  1045: '28000',
  1046: '3D000',
  1048: '23000',
  1049: '42000',
  1050: '42S01',
  1051: '42S02',
  1054: '42S22',
  1060: '42S21',
  1061: '42000',
  1062: '23000',
  1064: '42000',
  1091: '42000',
  1136: '21S01',
  1146: '42S02',
  1193: 'HY000',
  1205: 'HY000',
  1213: '40001',
  1216: '23000',
  1217: '23000',
  1264: '22003',
  1292: '22007',
  1364: 'HY000',
  1366: 'HY000',
  1406: '22001',
  1451: '23000',
  1452: '23000',
  1690: '22003',
}

/** ER_NOT_SUPPORTED_YET: what ddb answers for statements it refuses to replicate. */
export const ER_NOT_SUPPORTED_YET = 1235
/** ER_UNKNOWN_ERROR: anything without a closer MySQL error. */
export const ER_UNKNOWN_ERROR = 1105

/**
 * Maps an error from a Session to a MySQL error: a slave's refusal is MySQL's
 * read-only error (1290), a store's error keeps the store's errno and SQL state,
 * statements ddb refuses (UNSAFE_STATEMENT, UNSUPPORTED) are 1235 / 42000, and
 * anything else is 1105 / HY000 with ddb's message.
 */
export function toMysqlError(err: unknown): MysqlError {
  if (err instanceof NotMasterError) {
    return {
      errno: 1290,
      sqlState: 'HY000',
      message: `The MySQL server is running with the --read-only option so it cannot execute this statement; send writes to the master at ${err.master}`,
    }
  }
  if (err instanceof StoreError) {
    const cause = err.cause as { sqlState?: unknown } | undefined
    const errno = err.mysqlErrno ?? ER_UNKNOWN_ERROR
    const sqlState =
      typeof cause?.sqlState === 'string' && cause.sqlState.length === 5
        ? cause.sqlState
        : (SQL_STATES[errno] ?? 'HY000')
    return { errno, sqlState, message: err.message }
  }
  if (err instanceof DdbError) {
    switch (err.code) {
      case 'UNSAFE_STATEMENT':
      case 'UNSUPPORTED':
        return { errno: ER_NOT_SUPPORTED_YET, sqlState: '42000', message: err.message }
      case 'READ_ONLY': // a master whose log cannot be written
        return {
          errno: 1290,
          sqlState: 'HY000',
          message: `The MySQL server is running with the --read-only option so it cannot execute this statement; ${formatError(err)}`,
        }
      case 'NOT_MASTER': // a slave's other refusals: DDL or a transaction under --forward-writes
        return {
          errno: 1290,
          sqlState: 'HY000',
          message: `The MySQL server is running with the --read-only option so it cannot execute this statement; ${err.message}`,
        }
      case 'SQL_SYNTAX':
        return { errno: 1064, sqlState: '42000', message: err.message }
      case 'UNKNOWN_DATABASE':
        return { errno: 1049, sqlState: '42000', message: err.message }
      case 'SAVEPOINT_UNKNOWN':
        return { errno: 1305, sqlState: '42000', message: err.message }
      case 'USAGE':
        if (err.message === 'no statement given') return { errno: 1065, sqlState: '42000', message: 'Query was empty' }
        break
    }
    return {
      errno: ER_UNKNOWN_ERROR,
      sqlState: 'HY000',
      message: err.hint ? `${err.message} (${err.hint})` : err.message,
    }
  }
  return { errno: ER_UNKNOWN_ERROR, sqlState: 'HY000', message: err instanceof Error ? err.message : String(err) }
}

const isBytes = (v: unknown): v is { $bytes: string } =>
  typeof v === 'object' && v !== null && typeof (v as { $bytes?: unknown }).$bytes === 'string'

/**
 * Picks a column type from the values a read returned, for a column whose type
 * the store did not report or whose values do not fit it (see resultColumn):
 * all integers → LONGLONG, numbers with a fraction → DOUBLE, booleans → TINY,
 * bytes → BLOB; anything else, mixed, or all NULL → VAR_STRING.
 */
export function inferColumn(name: string, values: unknown[]): ColumnDef {
  let kind: 'none' | 'int' | 'double' | 'bool' | 'bytes' | 'string' = 'none'
  for (const v of values) {
    if (v === null || v === undefined) continue
    const k =
      typeof v === 'number'
        ? Number.isInteger(v)
          ? 'int'
          : 'double'
        : typeof v === 'bigint'
          ? 'int'
          : typeof v === 'boolean'
            ? 'bool'
            : isBytes(v)
              ? 'bytes'
              : 'string'
    if (kind === 'none') kind = k
    else if (kind !== k)
      kind = (kind === 'int' && k === 'double') || (kind === 'double' && k === 'int') ? 'double' : 'string'
    if (kind === 'string') break
  }
  switch (kind) {
    case 'int':
      return { name, type: COLUMN_TYPE.LONGLONG, charset: COLUMN_CHARSET.BINARY, length: 20, flags: 0x8000 /* NUM */ }
    case 'double':
      return {
        name,
        type: COLUMN_TYPE.DOUBLE,
        charset: COLUMN_CHARSET.BINARY,
        length: 22,
        decimals: 0x1f,
        flags: 0x8000,
      }
    case 'bool':
      return { name, type: COLUMN_TYPE.TINY, charset: COLUMN_CHARSET.BINARY, length: 1, flags: 0x8000 }
    case 'bytes':
      return {
        name,
        type: COLUMN_TYPE.BLOB,
        charset: COLUMN_CHARSET.BINARY,
        length: 0xffff_ffff,
        flags: 0x90 /* BLOB | BINARY */,
      }
    default:
      return {
        name,
        type: COLUMN_TYPE.VAR_STRING,
        charset: COLUMN_CHARSET.UTF8MB4,
        length: 0xffff_ffff >>> 2,
        decimals: 0x1f,
      }
  }
}

/** A read value as the text protocol sends it; null for SQL NULL. */
export function textValue(v: unknown): Buffer | null {
  if (v === null || v === undefined) return null
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  if (typeof v === 'number') return Buffer.from(String(v).replace('e+', 'e')) // MySQL writes 1e21, not 1e+21
  if (typeof v === 'bigint') return Buffer.from(String(v))
  if (typeof v === 'boolean') return Buffer.from(v ? '1' : '0')
  if (isBytes(v)) return Buffer.from(v.$bytes, 'base64')
  return Buffer.from(JSON.stringify(v), 'utf8')
}

/**
 * A value as it is written in its column (text protocol, and the binary protocol's
 * string-encoded types): like textValue, except that a number in a DECIMAL column
 * is written with the column's scale, as MySQL writes it (a SQLite store keeps
 * DECIMAL(12,4)'s 12.5000 as the number 12.5).
 */
export function columnText(column: Pick<ColumnDef, 'type' | 'decimals'>, v: unknown): Buffer | null {
  const scale = column.decimals ?? 0
  const decimal = column.type === T.NEWDECIMAL || column.type === T.DECIMAL
  if (decimal && typeof v === 'number' && Math.abs(v) < 1e21 && scale <= 30) return Buffer.from(v.toFixed(scale))
  return textValue(v)
}

const INTEGER = /^-?\d{1,20}$/
const DATE = /^\d{4}-\d{2}-\d{2}$/
const DATETIME = /^\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)?$/
const TIME = /^-?\d{1,3}:\d{2}:\d{2}(?:\.\d{1,6})?$/
const T = COLUMN_TYPE

/** Each integer type's width in bits; a value fits from the signed minimum to the unsigned maximum. */
const INTEGER_BITS: Record<number, bigint> = {
  [T.TINY]: 8n,
  [T.SHORT]: 16n,
  [T.YEAR]: 16n,
  [T.INT24]: 32n,
  [T.LONG]: 32n,
  [T.LONGLONG]: 64n,
}

const isInteger = (v: unknown, bits: bigint) => {
  if (typeof v === 'boolean') return true
  if (!(typeof v === 'number' && Number.isInteger(v)) && !(typeof v === 'string' && INTEGER.test(v))) return false
  const n = BigInt(v)
  return n >= -(1n << (bits - 1n)) && n < 1n << bits
}
const isNumeric = (v: unknown) =>
  typeof v === 'number' ||
  typeof v === 'boolean' ||
  (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)))

/**
 * Whether a read value can travel as a column of this type, in the text and the
 * binary protocol: integers for the integer types, numbers (or numeric strings)
 * for FLOAT, DOUBLE and DECIMAL, 'YYYY-MM-DD[ hh:mm:ss[.ffffff]]' for the date
 * types, bytes for BIT and GEOMETRY, anything but bytes for text (bytes too for
 * binary strings). A SQLite column may hold any value whatever its declared type.
 */
export function fitsType(c: ColumnType, v: unknown): boolean {
  if (v === null || v === undefined) return true
  switch (c.type) {
    case T.TINY:
    case T.SHORT:
    case T.LONG:
    case T.INT24:
    case T.LONGLONG:
    case T.YEAR:
      return isInteger(v, INTEGER_BITS[c.type]!)
    case T.FLOAT:
    case T.DOUBLE:
    case T.DECIMAL:
    case T.NEWDECIMAL:
      return isNumeric(v)
    case T.DATE:
    case T.NEWDATE:
      return typeof v === 'string' && DATE.test(v)
    case T.DATETIME:
    case T.TIMESTAMP:
      return typeof v === 'string' && DATETIME.test(v)
    case T.TIME:
      return typeof v === 'string' && TIME.test(v)
    case T.BIT:
    case T.GEOMETRY:
      return isBytes(v)
    case T.VARCHAR:
    case T.VAR_STRING:
    case T.STRING:
    case T.ENUM:
    case T.SET:
    case T.JSON:
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB:
      return c.charset === COLUMN_CHARSET.BINARY || !isBytes(v)
    default:
      return false
  }
}

/**
 * A column's definition: the store's type when it reported one and every value
 * fits it (see fitsType), else the type inferred from the values (inferColumn).
 */
export function resultColumn(name: string, values: unknown[], type?: ColumnType | null): ColumnDef {
  if (type && values.every((v) => fitsType(type, v))) {
    return {
      name,
      type: type.type,
      length: type.length,
      decimals: type.decimals,
      flags: type.flags,
      charset: type.charset,
    }
  }
  return inferColumn(name, values)
}

/** The column definitions of a read: the store's column types where it knows them, else inferred from the values. */
export function resultColumns(columns: string[], rows: unknown[][], types?: Array<ColumnType | null>): ColumnDef[] {
  return columns.map((c, i) =>
    resultColumn(
      c,
      rows.map((r) => r[i]),
      types?.[i],
    ),
  )
}

/** The column definition packets and text rows of a read, before the framing (count, EOF/OK) the connection adds. */
export function textResultset(
  columns: string[],
  rows: unknown[][],
  types?: Array<ColumnType | null>,
): { definitions: Buffer[]; rows: Buffer[] } {
  const defs = resultColumns(columns, rows, types)
  return {
    definitions: defs.map(columnDefinitionPacket),
    rows: rows.map((r) => textRowPacket(r.map((v, i) => columnText(defs[i]!, v)))),
  }
}
