import { describe, expect, test } from 'bun:test'
import { binaryRowPacket, decodeExecuteParams, type PreparedStatement } from './binary.ts'
import { PayloadReader, PayloadWriter } from './packets.ts'
import { inferColumn } from './results.ts'

/** COM_STMT_EXECUTE's bytes after the statement id: flags, iteration count, NULL bitmap, types, values. */
function executeBody(nullBitmap: number[], types: Array<[number, number]>, values: PayloadWriter): PayloadReader {
  const w = new PayloadWriter().int1(0).int4(1).bytes(Buffer.from(nullBitmap)).int1(1)
  for (const [type, flag] of types) w.int1(type).int1(flag)
  return new PayloadReader(Buffer.concat([w.build(), values.build()]))
}

describe('decodeExecuteParams', () => {
  test('decodes integers (signed and unsigned), doubles, strings, bytes, dates, times and NULL', () => {
    const stmt: PreparedStatement = { id: 1, sql: '', paramCount: 9, types: null }
    const datetime = new PayloadWriter().int1(11).int2(2026).int1(1).int1(2).int1(3).int1(4).int1(5).int4(600).build()
    const time = new PayloadWriter().int1(8).int1(1).int4(1).int1(2).int1(3).int1(4).build()
    const values = new PayloadWriter()
      .int1(0xfe) // TINY -2
      .int8(-5n) // LONGLONG -5
      .int8(2n ** 63n) // LONGLONG unsigned, beyond safe integers
      .bytes(Buffer.from(new Float64Array([2.5]).buffer))
      .lenencString('héllo')
      .lenencString(Buffer.from([0, 255]))
      .bytes(datetime)
      .bytes(time)
    const r = executeBody([0x00, 0x01], [[0x01, 0], [0x08, 0], [0x08, 0x80], [0x05, 0], [0xfd, 0], [0xfc, 0], [0x0c, 0], [0x0b, 0], [0x06, 0]], values)
    const params = decodeExecuteParams(r, stmt)
    expect(params).toEqual([-2, -5, '9223372036854775808', 2.5, 'héllo', { $bytes: 'AP8=' }, '2026-01-02 03:04:05.000600', '-26:03:04', null])
    expect(stmt.types).toHaveLength(9)
  })

  test('reuses the types of the previous execute when the client does not send them again', () => {
    const stmt: PreparedStatement = { id: 1, sql: '', paramCount: 1, types: [{ type: 0x03, unsigned: false }] }
    const r = new PayloadReader(new PayloadWriter().int1(0).int4(1).int1(0).int1(0).int4(0xffff_ffff).build())
    expect(decodeExecuteParams(r, stmt)).toEqual([-1])
  })
})

describe('binaryRowPacket', () => {
  test('NULL bitmap at offset 2, then each value in its column type', () => {
    const values = [-5, 2.5, null, 'x', { $bytes: 'AP8=' }]
    const defs = values.map((v, i) => inferColumn(`c${i}`, [v]))
    const r = new PayloadReader(binaryRowPacket(defs, values))
    expect(r.int1()).toBe(0x00)
    expect([...r.bytes(1)]).toEqual([1 << 4]) // column 2 is NULL: bit 2 + 2
    expect(BigInt.asIntN(64, r.int8())).toBe(-5n)
    expect(r.bytes(8).readDoubleLE(0)).toBe(2.5)
    expect(r.lenencBytes().toString()).toBe('x')
    expect([...r.lenencBytes()]).toEqual([0, 255])
    expect(r.remaining).toBe(0)
  })
})
