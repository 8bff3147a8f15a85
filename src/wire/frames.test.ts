import { describe, expect, test } from 'bun:test'
import { ProtocolError } from '../errors.ts'
import { encodeFrame, FrameReader, MAX_FRAME_BYTES } from './frames.ts'
import { type Message, PROTOCOL_VERSION } from './messages.ts'

const entry = {
  offset: 7,
  ts: 1_700_000_000_000,
  db: 'shop',
  statements: [
    { sql: 'INSERT INTO t VALUES (?, ?, ?, ?, ?)', params: [null, true, 1.5, 'héllo ✓', { $bytes: 'AAE=' }] },
  ],
  affected: [1],
  epoch: 3,
  hash: '0f'.repeat(16),
  checksum: 123456789,
}

/** One message of every type (and both hello variants). */
const SAMPLES: Message[] = [
  { type: 'greeting', protocol: PROTOCOL_VERSION, role: 'master', nonce: 'ab12' },
  {
    type: 'hello',
    protocol: 1,
    peer: 'slave',
    auth: 'f00d',
    slaveId: 's1',
    position: 0,
    logId: null,
    listen: '127.0.0.1:8081',
  },
  { type: 'hello', protocol: 1, peer: 'client', auth: '' },
  { type: 'welcome', role: 'master', logId: 'log-1', offset: 42 },
  { type: 'entries', entries: [entry, { ...entry, offset: 8, db: null, statements: [], affected: [] }] },
  { type: 'heartbeat', offset: 42, ts: 1_700_000_000_123 },
  { type: 'ack', applied: 41, error: null },
  { type: 'query', id: 1, sql: 'SELECT ?', params: ['x', { $bytes: '' }] },
  { type: 'status', id: 2 },
  {
    type: 'result',
    id: 1,
    result: [
      { kind: 'read', columns: ['a'], rows: [[1]] },
      { kind: 'write', offset: 9, affectedRows: 1, insertId: 3 },
      { kind: 'ok' },
    ],
  },
  {
    type: 'status-result',
    id: 2,
    status: {
      role: 'master',
      offset: 9,
      logId: 'log-1',
      store: 'sqlite:a.db',
      replicas: [
        { id: 's1', address: '127.0.0.1:8081', applied: 9, connected: true, lagEntries: 0, lagSeconds: 0, error: null },
      ],
    },
  },
  {
    type: 'status-result',
    id: 3,
    status: {
      role: 'slave',
      master: '127.0.0.1:8080',
      applied: 9,
      connected: false,
      lagEntries: 2,
      lagSeconds: 0.5,
      store: 'sqlite:b.db',
      error: 'boom',
    },
  },
  { type: 'error', id: null, code: 'AUTH', message: 'hello refused: bad secret', hint: 'set DDB_SECRET' },
  { type: 'error', id: 5, code: 'STORE', message: 'no such table: t' },
]

function concat(frames: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(frames))
}

/** A frame with an arbitrary body, bypassing encodeFrame's checks. */
function rawFrame(
  body: Uint8Array | string,
  length = typeof body === 'string' ? Buffer.byteLength(body) : body.length,
): Uint8Array {
  const header = Buffer.alloc(4)
  header.writeUInt32BE(length)
  return concat([header, typeof body === 'string' ? Buffer.from(body) : body])
}

/** Pushes a chunk and returns every message it completes. */
function read(reader: FrameReader, chunk: Uint8Array): Message[] {
  reader.push(chunk)
  const messages: Message[] = []
  for (let m = reader.next(); m !== null; m = reader.next()) messages.push(m)
  return messages
}

describe('encodeFrame and FrameReader', () => {
  test.each(SAMPLES.map((m) => [m.type, m] as const))('round-trips %s', (_type, msg) => {
    expect(read(new FrameReader(), encodeFrame(msg))).toEqual([msg])
  })

  test('the header is the big-endian byte length of the UTF-8 JSON body', () => {
    const frame = encodeFrame({ type: 'ack', applied: 1, error: 'é' })
    const body = Buffer.from(JSON.stringify({ type: 'ack', applied: 1, error: 'é' }))
    expect(new DataView(frame.buffer, frame.byteOffset).getUint32(0)).toBe(body.length)
    expect(Buffer.from(frame.subarray(4))).toEqual(body)
  })

  test('reads a multi-frame stream fed one byte at a time', () => {
    const stream = concat(SAMPLES.map(encodeFrame))
    const reader = new FrameReader()
    const got: Message[] = []
    for (let i = 0; i < stream.length; i++) got.push(...read(reader, stream.subarray(i, i + 1)))
    expect(got).toEqual(SAMPLES)
  })

  test('returns both messages of two frames coalesced in one chunk', () => {
    expect(read(new FrameReader(), concat([encodeFrame(SAMPLES[0]!), encodeFrame(SAMPLES[1]!)]))).toEqual([
      SAMPLES[0]!,
      SAMPLES[1]!,
    ])
  })

  test('handles chunks that end mid-header and mid-body alongside whole frames', () => {
    const stream = concat(SAMPLES.map(encodeFrame))
    const reader = new FrameReader()
    const got = [
      ...read(reader, stream.subarray(0, 2)),
      ...read(reader, stream.subarray(2, 300)),
      ...read(reader, stream.subarray(300)),
    ]
    expect(got).toEqual(SAMPLES)
  })

  test('reads a large frame split across many small chunks in linear time', () => {
    const big: Message = { type: 'query', id: 1, sql: 'x'.repeat(16 * 1024 * 1024), params: [] }
    const frame = encodeFrame(big)
    const reader = new FrameReader()
    const got: Message[] = []
    const started = performance.now()
    for (let i = 0; i < frame.length; i += 64) got.push(...read(reader, frame.subarray(i, i + 64)))
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(got).toEqual([big])
  })
})

describe('FrameReader rejects', () => {
  test('a declared length over the maximum as soon as the header arrives', () => {
    const reader = new FrameReader(1024)
    expect(() => read(reader, rawFrame('', 1025))).toThrow(
      new ProtocolError('read frame: length 1025 exceeds the maximum of 1024 bytes'),
    )
  })

  test('a declared length over MAX_FRAME_BYTES by default', () => {
    expect(() => read(new FrameReader(), rawFrame('', MAX_FRAME_BYTES + 1))).toThrow(ProtocolError)
  })

  test('a zero length', () => {
    expect(() => read(new FrameReader(), rawFrame(''))).toThrow(new ProtocolError('read frame: length is 0'))
  })

  test('a body that is not JSON', () => {
    expect(() => read(new FrameReader(), rawFrame('{"type":'))).toThrow(
      new ProtocolError('read frame: body is not valid JSON'),
    )
  })

  test('a body that is not UTF-8', () => {
    expect(() => read(new FrameReader(), rawFrame(new Uint8Array([0x22, 0xff, 0x22])))).toThrow(
      new ProtocolError('read frame: body is not valid UTF-8'),
    )
  })

  test('a body that is JSON but not a message', () => {
    expect(() => read(new FrameReader(), rawFrame('{"type":"nope"}'))).toThrow(
      new ProtocolError('unknown message type: nope'),
    )
  })

  test('a frame over the limit in force when its header is read, even right behind one that raised it', () => {
    const small: Message = { type: 'status', id: 1 }
    const big: Message = { type: 'query', id: 2, sql: 'x'.repeat(2048), params: [] }
    const reader = new FrameReader(1024)
    reader.push(concat([encodeFrame(small), encodeFrame(big), encodeFrame(big)]))
    expect(reader.next()).toEqual(small)
    reader.maxFrameBytes = 4096
    expect(reader.next()).toEqual(big)
    reader.maxFrameBytes = 1024
    const length = encodeFrame(big).length - 4
    expect(() => reader.next()).toThrow(
      new ProtocolError(`read frame: length ${length} exceeds the maximum of 1024 bytes`),
    )
  })

  test('any input after a bad frame', () => {
    const reader = new FrameReader()
    expect(() => read(reader, rawFrame(''))).toThrow(ProtocolError)
    expect(() => read(reader, encodeFrame(SAMPLES[0]!))).toThrow(new ProtocolError('read frame: stream already failed'))
  })
})

describe('encodeFrame', () => {
  test('refuses a message larger than MAX_FRAME_BYTES', () => {
    const huge: Message = { type: 'query', id: 1, sql: 'x'.repeat(MAX_FRAME_BYTES), params: [] }
    expect(() => encodeFrame(huge)).toThrow(ProtocolError)
  })
})
