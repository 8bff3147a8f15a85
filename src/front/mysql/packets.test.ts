import { describe, expect, test } from 'bun:test'
import { framePacket, MAX_PACKET_PAYLOAD } from '../../mysql-protocol.ts'
import {
  errPacket,
  okPacket,
  PacketReader,
  PacketTooLargeError,
  PayloadReader,
  PayloadWriter,
  textRowPacket,
} from './packets.ts'

const frame = (payload: Buffer, seq = 0) => framePacket(payload, seq).bytes

describe('PacketReader.push', () => {
  test('reassembles packets fed one byte at a time', () => {
    const bytes = Buffer.concat([frame(Buffer.from('\x03SELECT 1'), 0), frame(Buffer.from('\x0e'), 0)])
    const reader = new PacketReader()
    const got: Buffer[] = []
    for (const b of bytes) for (const p of reader.push(Buffer.from([b]))) got.push(p.payload)
    expect(got.map((p) => p.toString('latin1'))).toEqual(['\x03SELECT 1', '\x0e'])
    expect(reader.pendingBytes).toBe(0)
  })

  test('splits coalesced packets and keeps their sequence ids', () => {
    const bytes = Buffer.concat([frame(Buffer.from('a'), 3), frame(Buffer.from('bc'), 4), frame(Buffer.alloc(0), 5)])
    const packets = new PacketReader().push(bytes)
    expect(packets.map((p) => [p.sequenceId, p.payload.toString()])).toEqual([
      [3, 'a'],
      [4, 'bc'],
      [5, ''],
    ])
  })

  test('joins a message of 16 MiB - 1 bytes or more from its continuation packets', () => {
    const payload = Buffer.alloc(MAX_PACKET_PAYLOAD + 10, 7)
    const { bytes, next } = framePacket(payload, 0)
    expect(next).toBe(2)
    const reader = new PacketReader()
    const got = [...reader.push(bytes.subarray(0, 1000)), ...reader.push(bytes.subarray(1000))]
    expect(got).toHaveLength(1)
    expect(got[0]!.payload.equals(payload)).toBe(true)
  })

  test('a message of exactly 16 MiB - 1 bytes ends with an empty packet', () => {
    const { bytes, next } = framePacket(Buffer.alloc(MAX_PACKET_PAYLOAD), 0)
    expect(next).toBe(2)
    expect(bytes.length).toBe(MAX_PACKET_PAYLOAD + 8)
    expect(new PacketReader().push(bytes)[0]!.payload.length).toBe(MAX_PACKET_PAYLOAD)
  })

  test('refuses an announced length over the limit before buffering it', () => {
    const reader = new PacketReader(1024)
    const head = Buffer.from([0x01, 0x08, 0x00, 0x00]) // 2049 bytes announced
    expect(() => reader.push(head)).toThrow(PacketTooLargeError)
  })

  test('counts continuation packets toward the limit', () => {
    const reader = new PacketReader(MAX_PACKET_PAYLOAD + 5)
    const head = Buffer.from([0xff, 0xff, 0xff, 0x00])
    reader.push(Buffer.concat([head, Buffer.alloc(MAX_PACKET_PAYLOAD)]))
    expect(() => reader.push(Buffer.from([0x10, 0x00, 0x00, 0x01]))).toThrow(PacketTooLargeError)
  })

  test('a packet that lies about its length just waits for more bytes', () => {
    const reader = new PacketReader()
    expect(reader.push(Buffer.from([0xff, 0x00, 0x00, 0x00, 0x03, 0x41]))).toEqual([])
    expect(reader.pendingBytes).toBe(6)
  })
})

describe('PayloadWriter and PayloadReader', () => {
  test.each([0, 250, 251, 0xffff, 0x10000, 0xffffff, 0x1000000, 2 ** 40])(
    'length-encoded integer %p round-trips',
    (n) => {
      const b = new PayloadWriter().lenencInt(n).build()
      expect(b.length).toBe(n < 251 ? 1 : n < 0x10000 ? 3 : n < 0x1000000 ? 4 : 9)
      expect(new PayloadReader(b).lenencInt()).toBe(n)
    },
  )

  test('0xFB reads as NULL', () => {
    expect(new PayloadReader(Buffer.from([0xfb])).lenencInt()).toBeNull()
  })

  test('a field past the end throws instead of reading garbage', () => {
    expect(() => new PayloadReader(Buffer.from([0xfc, 0x01])).lenencInt()).toThrow(/malformed packet/)
    expect(() => new PayloadReader(Buffer.from([0x05, 0x61])).lenencBytes()).toThrow(/malformed packet/)
  })

  test('NUL-terminated strings', () => {
    const r = new PayloadReader(new PayloadWriter().nulString('root').nulString('db').build())
    expect([r.nulString(), r.nulString(), r.remaining]).toEqual(['root', 'db', 0])
  })
})

describe('packets', () => {
  test('OK packet: the info string is length-encoded, as MySQL and MariaDB write it (PHP mysqlnd reads a length)', () => {
    const info = [8, ...Buffer.from('offset 7')]
    expect([...okPacket({ affectedRows: 2, insertId: 300, status: 2, info: 'offset 7' })]).toEqual([
      0x00,
      0x02,
      0xfc,
      0x2c,
      0x01,
      0x02,
      0x00,
      0x00,
      0x00,
      ...info,
    ])
    expect([...okPacket({ status: 2 })]).toEqual([0, 0, 0, 2, 0, 0, 0])
  })

  test('ERR packet carries errno, SQL state and message', () => {
    const p = errPacket(1045, '28000', 'Access denied')
    expect(p[0]).toBe(0xff)
    expect(p.readUInt16LE(1)).toBe(1045)
    expect(p.subarray(3).toString()).toBe('#28000Access denied')
  })

  test('text row: NULL is 0xFB, values are length-encoded', () => {
    expect([...textRowPacket([Buffer.from('ab'), null, Buffer.alloc(0)])]).toEqual([2, 0x61, 0x62, 0xfb, 0])
  })
})
