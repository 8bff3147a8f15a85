/**
 * The binary protocol of prepared statements: COM_STMT_EXECUTE's parameters in,
 * binary result rows out.
 */
import type { Param } from '../../entry.ts'
import { COLUMN_TYPE } from '../../mysql-protocol.ts'
import { type ColumnDef, MalformedPacketError, PayloadReader, PayloadWriter } from './packets.ts'
import { columnText } from './results.ts'

/** What decoding a COM_STMT_EXECUTE needs to know of its statement, and keeps for the next one. */
export interface BoundStatement {
  paramCount: number
  /** The parameter types the client last bound (type byte and unsigned flag), reused when it does not send them again. */
  types: Array<{ type: number; unsigned: boolean }> | null
  /** Parameters whose value came before the execute, in COM_STMT_SEND_LONG_DATA chunks. */
  longData: Map<number, Buffer[]>
}

/** A COM_STMT_EXECUTE's request: its parameters, and whether the client asked for a cursor (flags ≠ 0). */
export interface Execute {
  cursor: boolean
  params: Param[]
}

/** Type bytes whose values travel as length-encoded bytes; the BLOB family and BIT become {$bytes}. */
const BYTES_TYPES = new Set([0x10 /* BIT */, 0xf9, 0xfa, 0xfb, 0xfc /* TINY/MEDIUM/LONG/BLOB */, 0xff /* GEOMETRY */])
const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/** Decodes COM_STMT_EXECUTE (after the command byte's statement id): its cursor flag and the statement's parameters. */
export function decodeExecute(r: PayloadReader, stmt: BoundStatement): Execute {
  const cursor = r.int1() !== 0 // CURSOR_TYPE_READ_ONLY, FOR_UPDATE, SCROLLABLE
  r.int4() // iteration count, always 1
  return { cursor, params: decodeParams(r, stmt) }
}

function decodeParams(r: PayloadReader, stmt: BoundStatement): Param[] {
  const n = stmt.paramCount
  if (n === 0) return []
  const nulls = r.bytes(Math.floor((n + 7) / 8))
  const bound = r.int1()
  if (bound === 1) {
    const types: NonNullable<BoundStatement['types']> = []
    for (let i = 0; i < n; i++) {
      const type = r.int1()
      types.push({ type, unsigned: (r.int1() & 0x80) !== 0 })
    }
    stmt.types = types
  }
  if (!stmt.types) throw new MalformedPacketError('COM_STMT_EXECUTE without parameter types')
  const params: Param[] = []
  for (let i = 0; i < n; i++) {
    const long = stmt.longData.get(i)
    if (long) {
      // Sent before in chunks: the execute carries no value for it.
      params.push(bytesParam(Buffer.concat(long), BYTES_TYPES.has(stmt.types[i]!.type)))
    } else if (nulls[i >> 3]! & (1 << (i & 7))) {
      params.push(null)
    } else {
      params.push(decodeValue(r, stmt.types[i]!.type, stmt.types[i]!.unsigned))
    }
  }
  return params
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * A parameter's bytes: text when they are UTF-8 and the type is a string type,
 * else bytes ({$bytes}), so invalid UTF-8 reaches the store byte for byte.
 */
function bytesParam(bytes: Buffer, binary: boolean): Param {
  if (!binary) {
    try {
      return utf8.decode(bytes)
    } catch {
      // not UTF-8: keep the bytes
    }
  }
  return { $bytes: bytes.toString('base64') }
}

function decodeValue(r: PayloadReader, type: number, unsigned: boolean): Param {
  switch (type) {
    case 0x06: // NULL
      return null
    case 0x01: {
      const v = r.int1()
      return unsigned ? v : (v << 24) >> 24
    }
    case 0x02:
    case 0x0d: {
      const v = r.int2()
      return unsigned ? v : (v << 16) >> 16
    }
    case 0x03:
    case 0x09: {
      const v = r.int4()
      return unsigned ? v : v | 0
    }
    case 0x08: {
      const raw = r.int8()
      const v = unsigned ? raw : BigInt.asIntN(64, raw)
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
    }
    case 0x04:
      return r.bytes(4).readFloatLE(0)
    case 0x05:
      return r.bytes(8).readDoubleLE(0)
    case 0x07:
    case 0x0a:
    case 0x0c:
      return decodeDateTime(r, type === 0x0a)
    case 0x0b:
      return decodeTime(r)
    default: {
      return bytesParam(Buffer.from(r.lenencBytes()), BYTES_TYPES.has(type))
    }
  }
}

function decodeDateTime(r: PayloadReader, dateOnly: boolean): string {
  const length = r.int1()
  const f = new PayloadReader(r.bytes(length))
  const [y, mo, d] = length >= 4 ? [f.int2(), f.int1(), f.int1()] : [0, 0, 0]
  const [h, mi, s] = length >= 7 ? [f.int1(), f.int1(), f.int1()] : [0, 0, 0]
  const micro = length >= 11 ? f.int4() : 0
  const date = `${pad(y, 4)}-${pad(mo)}-${pad(d)}`
  if (dateOnly) return date
  return `${date} ${pad(h)}:${pad(mi)}:${pad(s)}${micro ? `.${pad(micro, 6)}` : ''}`
}

function decodeTime(r: PayloadReader): string {
  const length = r.int1()
  if (length === 0) return '00:00:00'
  const f = new PayloadReader(r.bytes(length))
  const negative = f.int1() === 1
  const days = f.int4()
  const [h, mi, s] = [f.int1(), f.int1(), f.int1()]
  const micro = length >= 12 ? f.int4() : 0
  return `${negative ? '-' : ''}${pad(days * 24 + h)}:${pad(mi)}:${pad(s)}${micro ? `.${pad(micro, 6)}` : ''}`
}

/** A binary-protocol result row (header 0x00, NULL bitmap with offset 2, then each non-NULL value in its column's type). */
export function binaryRowPacket(columns: ColumnDef[], values: unknown[]): Buffer {
  const bitmap = Buffer.alloc(Math.floor((columns.length + 7 + 2) / 8))
  const w = new PayloadWriter()
  values.forEach((v, i) => {
    if (v === null || v === undefined) {
      bitmap[(i + 2) >> 3]! |= 1 << ((i + 2) & 7)
      return
    }
    encodeValue(w, columns[i]!, v)
  })
  return Buffer.concat([Buffer.from([0x00]), bitmap, w.build()])
}

/** An integer value (a number, a boolean, or a decimal string for one beyond 2^53) as a bigint. */
const toBigInt = (v: unknown): bigint =>
  typeof v === 'boolean' ? (v ? 1n : 0n) : BigInt(typeof v === 'number' ? Math.trunc(v) : String(v))

/** Writes one non-NULL value as the binary protocol encodes its column's type (the value fits it: see fitsType). */
function encodeValue(w: PayloadWriter, column: ColumnDef, v: unknown): void {
  switch (column.type) {
    case COLUMN_TYPE.TINY:
      w.int1(Number(toBigInt(v) & 0xffn))
      return
    case COLUMN_TYPE.SHORT:
    case COLUMN_TYPE.YEAR:
      w.int2(Number(toBigInt(v) & 0xffffn))
      return
    case COLUMN_TYPE.LONG:
    case COLUMN_TYPE.INT24:
      w.int4(Number(BigInt.asUintN(32, toBigInt(v))))
      return
    case COLUMN_TYPE.LONGLONG:
      w.int8(BigInt.asUintN(64, toBigInt(v)))
      return
    case COLUMN_TYPE.FLOAT: {
      const b = Buffer.alloc(4)
      b.writeFloatLE(Number(v))
      w.bytes(b)
      return
    }
    case COLUMN_TYPE.DOUBLE: {
      const b = Buffer.alloc(8)
      b.writeDoubleLE(Number(v))
      w.bytes(b)
      return
    }
    case COLUMN_TYPE.DATE:
    case COLUMN_TYPE.NEWDATE:
    case COLUMN_TYPE.DATETIME:
    case COLUMN_TYPE.TIMESTAMP:
      w.bytes(encodeDateTime(String(v)))
      return
    case COLUMN_TYPE.TIME:
      w.bytes(encodeTime(String(v)))
      return
    default:
      w.lenencString(columnText(column, v)!)
  }
}

/**
 * 'YYYY-MM-DD[ hh:mm:ss[.ffffff]]' in the binary protocol: a length byte, then
 * as few fields as carry the value (0 bytes for the zero date, 4 for a date, 7
 * with a time of day, 11 with microseconds), as MySQL sends it.
 */
export function encodeDateTime(s: string): Buffer {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?/.exec(s)
  const [y, mo, d, h, mi, sec] = [1, 2, 3, 4, 5, 6].map((i) => Number(m?.[i] ?? 0))
  const micro = Number((m?.[7] ?? '').padEnd(6, '0'))
  const length = micro ? 11 : h || mi || sec ? 7 : y || mo || d ? 4 : 0
  const w = new PayloadWriter().int1(length)
  if (length >= 4) w.int2(y!).int1(mo!).int1(d!)
  if (length >= 7) w.int1(h!).int1(mi!).int1(sec!)
  if (length >= 11) w.int4(micro)
  return w.build()
}

/** '[-]hhh:mm:ss[.ffffff]' in the binary protocol: a length byte (0, 8 or 12), sign, days, hours, minutes, seconds, microseconds. */
export function encodeTime(s: string): Buffer {
  const m = /^(-)?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/.exec(s)
  const hours = Number(m?.[2] ?? 0)
  const [mi, sec] = [3, 4].map((i) => Number(m?.[i] ?? 0))
  const micro = Number((m?.[5] ?? '').padEnd(6, '0'))
  const length = micro ? 12 : hours || mi || sec ? 8 : 0
  const w = new PayloadWriter().int1(length)
  if (length >= 8)
    w.int1(m?.[1] ? 1 : 0)
      .int4(Math.floor(hours / 24))
      .int1(hours % 24)
      .int1(mi!)
      .int1(sec!)
  if (length >= 12) w.int4(micro)
  return w.build()
}
