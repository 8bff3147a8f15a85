import { describe, expect, test } from 'bun:test'
import { COLUMN_TYPE } from '../../mysql-protocol.ts'
import { type BoundStatement, binaryRowPacket, decodeExecute, encodeDateTime, encodeTime } from './binary.ts'
import { PayloadReader, PayloadWriter } from './packets.ts'
import { inferColumn } from './results.ts'

/** COM_STMT_EXECUTE's bytes after the statement id: flags, iteration count, NULL bitmap, types, values. */
function executeBody(nullBitmap: number[], types: Array<[number, number]>, values: PayloadWriter): PayloadReader {
  const w = new PayloadWriter().int1(0).int4(1).bytes(Buffer.from(nullBitmap)).int1(1)
  for (const [type, flag] of types) w.int1(type).int1(flag)
  return new PayloadReader(Buffer.concat([w.build(), values.build()]))
}

describe('decodeExecute', () => {
  test('decodes integers (signed and unsigned), doubles, strings, bytes, dates, times and NULL', () => {
    const stmt: BoundStatement = { paramCount: 9, types: null, longData: new Map() }
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
    const r = executeBody(
      [0x00, 0x01],
      [
        [0x01, 0],
        [0x08, 0],
        [0x08, 0x80],
        [0x05, 0],
        [0xfd, 0],
        [0xfc, 0],
        [0x0c, 0],
        [0x0b, 0],
        [0x06, 0],
      ],
      values,
    )
    const params = decodeExecute(r, stmt).params
    expect(params).toEqual([
      -2,
      -5,
      '9223372036854775808',
      2.5,
      'héllo',
      { $bytes: 'AP8=' },
      '2026-01-02 03:04:05.000600',
      '-26:03:04',
      null,
    ])
    expect(stmt.types).toHaveLength(9)
  })

  test('reuses the types of the previous execute when the client does not send them again', () => {
    const stmt: BoundStatement = { paramCount: 1, types: [{ type: 0x03, unsigned: false }], longData: new Map() }
    const r = new PayloadReader(new PayloadWriter().int1(0).int4(1).int1(0).int1(0).int4(0xffff_ffff).build())
    expect(decodeExecute(r, stmt).params).toEqual([-1])
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

  test('a number in a DECIMAL column travels as a string with the column scale', () => {
    const decimal = { name: 'd', type: COLUMN_TYPE.NEWDECIMAL, charset: 63, length: 14, decimals: 4 }
    const r = new PayloadReader(binaryRowPacket([decimal], [12.5]))
    r.bytes(2) // header, NULL bitmap
    expect(r.lenencBytes().toString()).toBe('12.5000')
  })
})

describe('encodeDateTime and encodeTime', () => {
  test.each([
    ['0000-00-00 00:00:00', 0],
    ['2024-02-29', 4],
    ['2024-02-29 00:00:00', 4],
    ['2024-02-29 13:14:15', 7],
    ['2024-02-29 13:14:15.5', 11],
    ['2024-02-29 13:14:15.123456', 11],
  ])('%s takes %p bytes, as MySQL sends it', (s, length) => {
    const b = encodeDateTime(s)
    expect(b[0]).toBe(length)
    expect(b.length).toBe(length + 1)
  })

  test.each([
    ['00:00:00', 0],
    ['13:14:15', 8],
    ['-838:59:59', 8],
    ['00:00:01.5', 12],
  ])('%s takes %p bytes', (s, length) => {
    expect(encodeTime(s)[0]).toBe(length)
  })

  test('values read back as the parameter decoder reads them', () => {
    const stmt = (): BoundStatement => ({ paramCount: 1, types: null, longData: new Map() })
    const back = (type: number, bytes: Buffer) =>
      decodeExecute(executeBody([0], [[type, 0]], new PayloadWriter().bytes(bytes)), stmt()).params[0]
    expect(back(COLUMN_TYPE.DATETIME, encodeDateTime('2024-02-29 13:14:15.123456'))).toBe('2024-02-29 13:14:15.123456')
    expect(back(COLUMN_TYPE.DATETIME, encodeDateTime('2024-02-29 13:14:15.5'))).toBe('2024-02-29 13:14:15.500000')
    expect(back(COLUMN_TYPE.DATE, encodeDateTime('1999-12-31'))).toBe('1999-12-31')
    expect(back(COLUMN_TYPE.TIME, encodeTime('-838:59:59.000001'))).toBe('-838:59:59.000001')
    expect(back(COLUMN_TYPE.TIME, encodeTime('25:00:00'))).toBe('25:00:00')
  })
})

describe("binaryRowPacket with the store's types", () => {
  test('integers by width, FLOAT in 4 bytes, DECIMAL as text, dates in the binary date format', () => {
    const col = (type: number) => ({ name: 'c', type, charset: 63, length: 0 })
    const types = [
      COLUMN_TYPE.TINY,
      COLUMN_TYPE.SHORT,
      COLUMN_TYPE.LONG,
      COLUMN_TYPE.LONGLONG,
      COLUMN_TYPE.FLOAT,
      COLUMN_TYPE.NEWDECIMAL,
      COLUMN_TYPE.DATETIME,
      COLUMN_TYPE.YEAR,
    ]
    const values = [-1, -300, 70000, '18446744073709551615', 0.5, '12.34', '2024-02-29 13:14:15', 2024]
    const r = new PayloadReader(binaryRowPacket(types.map(col), values))
    expect(r.int1()).toBe(0x00)
    r.bytes(2) // NULL bitmap
    expect(r.int1()).toBe(0xff)
    expect(r.int2()).toBe(0x1_0000 - 300)
    expect(r.int4()).toBe(70000)
    expect(r.int8()).toBe(18446744073709551615n)
    expect(r.bytes(4).readFloatLE(0)).toBe(0.5)
    expect(r.lenencBytes().toString()).toBe('12.34')
    expect([...r.bytes(8)]).toEqual([7, 0xe8, 0x07, 2, 29, 13, 14, 15])
    expect(r.int2()).toBe(2024)
    expect(r.remaining).toBe(0)
  })
})
