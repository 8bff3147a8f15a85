/**
 * The MySQL client/server protocol's framing and basic packets, as a server
 * writes and reads them. A packet is a 3-byte little-endian payload length, a
 * 1-byte sequence id, then the payload. A payload of 16 MiB - 1 bytes or more
 * travels as several packets: every full one (0xFFFFFF bytes) is followed by
 * another, and a shorter one ends the message (framePacket, in mysql-protocol.ts).
 */
import { MAX_PACKET_PAYLOAD } from '../../mysql-protocol.ts'

/** The largest message (packets joined) a connection may send before it is closed. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

/** One packet as read: its sequence id and its payload (continuation packets already joined). */
export interface Packet {
  sequenceId: number
  payload: Buffer
}

/** A client sent more than the reader accepts; the connection should answer with an ERR and close. */
export class PacketTooLargeError extends Error {
  readonly announced: number
  readonly limit: number
  /** The sequence id of the packet that announced it (an answer goes out with the next one). */
  readonly sequenceId: number

  constructor(announced: number, limit: number, sequenceId: number) {
    super(`packet too large: ${announced} bytes announced, the limit is ${limit}`)
    this.name = 'PacketTooLargeError'
    this.announced = announced
    this.limit = limit
    this.sequenceId = sequenceId
  }
}

/**
 * PacketReader turns the bytes of a socket into whole packets, whatever the
 * chunking: split reads wait for the rest, coalesced ones yield several packets,
 * and a message longer than 16 MiB - 1 is joined from its continuation packets.
 * A message longer than `maxMessageBytes` throws PacketTooLargeError as soon as
 * its length is announced, before its bytes are buffered.
 */
export class PacketReader {
  #chunks: Buffer[] = []
  #buffered = 0
  /** Payload parts of a message that continues in the next packet. */
  #parts: Buffer[] = []
  #partsBytes = 0
  maxMessageBytes: number

  constructor(maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {
    this.maxMessageBytes = maxMessageBytes
  }

  /** Bytes received that do not make a whole packet yet. */
  get pendingBytes(): number {
    return this.#buffered + this.#partsBytes
  }

  /** Adds received bytes; returns the packets they complete. */
  push(chunk: Buffer): Packet[] {
    // Nearly always: nothing buffered, and the chunk is one whole packet that owns its memory, so it needs no copy.
    if (
      this.#buffered === 0 &&
      this.#partsBytes === 0 &&
      chunk.length >= 4 &&
      chunk.buffer.byteLength === chunk.length
    ) {
      const length = chunk[0]! | (chunk[1]! << 8) | (chunk[2]! << 16)
      if (chunk.length === 4 + length && length < MAX_PACKET_PAYLOAD && length <= this.maxMessageBytes)
        return [{ sequenceId: chunk[3]!, payload: chunk.subarray(4) }]
    }
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    const out: Packet[] = []
    for (;;) {
      if (this.#buffered < 4) break
      const head = this.#peek(4)
      const length = head.readUIntLE(0, 3)
      const sequenceId = head[3]!
      if (this.#partsBytes + length > this.maxMessageBytes)
        throw new PacketTooLargeError(this.#partsBytes + length, this.maxMessageBytes, sequenceId)
      if (this.#buffered < 4 + length) break
      const payload = this.#take(4 + length).subarray(4)
      if (length === MAX_PACKET_PAYLOAD) {
        this.#parts.push(payload)
        this.#partsBytes += length
        continue
      }
      if (this.#parts.length > 0) {
        this.#parts.push(payload)
        out.push({ sequenceId, payload: Buffer.concat(this.#parts) })
        this.#parts = []
        this.#partsBytes = 0
      } else {
        out.push({ sequenceId, payload })
      }
    }
    return out
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length < n) this.#chunks = [Buffer.concat(this.#chunks)]
    return this.#chunks[0]!.subarray(0, n)
  }

  #take(n: number): Buffer {
    if (this.#chunks[0]!.length < n) this.#chunks = [Buffer.concat(this.#chunks)]
    const first = this.#chunks[0]!
    const taken = first.subarray(0, n)
    if (first.length === n) this.#chunks.shift()
    else this.#chunks[0] = first.subarray(n)
    this.#buffered -= n
    return Buffer.from(taken) // a copy, so the packet does not pin the socket's buffer
  }
}

/** Builds a payload from fixed-width integers, length-encoded values and strings. */
export class PayloadWriter {
  #parts: Buffer[] = []

  int1(n: number): this {
    this.#parts.push(Buffer.from([n & 0xff]))
    return this
  }

  int2(n: number): this {
    const b = Buffer.alloc(2)
    b.writeUInt16LE(n & 0xffff)
    this.#parts.push(b)
    return this
  }

  int3(n: number): this {
    const b = Buffer.alloc(3)
    b.writeUIntLE(n, 0, 3)
    this.#parts.push(b)
    return this
  }

  int4(n: number): this {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n >>> 0)
    this.#parts.push(b)
    return this
  }

  int8(n: number | bigint): this {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(n)))
    this.#parts.push(b)
    return this
  }

  /** A length-encoded integer: 1, 3, 4 or 9 bytes. */
  lenencInt(n: number | bigint): this {
    const v = BigInt(n)
    if (v < 0n) throw new RangeError(`lenencInt: negative value ${n}`)
    if (v < 251n) return this.int1(Number(v))
    if (v < 0x1_0000n) return this.int1(0xfc).int2(Number(v))
    if (v < 0x100_0000n) return this.int1(0xfd).int3(Number(v))
    return this.int1(0xfe).int8(v)
  }

  /** A length-encoded string (utf-8 for text). */
  lenencString(s: string | Buffer): this {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
    return this.lenencInt(b.length).bytes(b)
  }

  /** A NUL-terminated string. */
  nulString(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8')).int1(0)
  }

  bytes(b: Buffer | Uint8Array | string): this {
    this.#parts.push(typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b))
    return this
  }

  zeros(n: number): this {
    this.#parts.push(Buffer.alloc(n))
    return this
  }

  build(): Buffer {
    return Buffer.concat(this.#parts)
  }
}

/** A client packet was shorter than its fields say. */
export class MalformedPacketError extends Error {
  constructor(what: string) {
    super(`malformed packet: ${what}`)
    this.name = 'MalformedPacketError'
  }
}

/** Reads fields from a payload in order; every read checks the bounds. */
export class PayloadReader {
  readonly #buf: Buffer
  offset: number

  constructor(buf: Buffer, offset = 0) {
    this.#buf = buf
    this.offset = offset
  }

  get remaining(): number {
    return this.#buf.length - this.offset
  }

  #need(n: number, what: string): void {
    if (this.offset + n > this.#buf.length) throw new MalformedPacketError(`${what} runs past the end`)
  }

  int1(): number {
    this.#need(1, 'int<1>')
    return this.#buf[this.offset++]!
  }

  int2(): number {
    this.#need(2, 'int<2>')
    const v = this.#buf.readUInt16LE(this.offset)
    this.offset += 2
    return v
  }

  int4(): number {
    this.#need(4, 'int<4>')
    const v = this.#buf.readUInt32LE(this.offset)
    this.offset += 4
    return v
  }

  int8(): bigint {
    this.#need(8, 'int<8>')
    const v = this.#buf.readBigUInt64LE(this.offset)
    this.offset += 8
    return v
  }

  /** A length-encoded integer; null for 0xFB (a NULL in a row). */
  lenencInt(): number | null {
    const first = this.int1()
    if (first < 0xfb) return first
    if (first === 0xfb) return null
    if (first === 0xfc) return this.int2()
    if (first === 0xfd) {
      this.#need(3, 'int<3>')
      const v = this.#buf.readUIntLE(this.offset, 3)
      this.offset += 3
      return v
    }
    if (first === 0xfe) {
      const v = this.int8()
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedPacketError('length-encoded integer too large')
      return Number(v)
    }
    throw new MalformedPacketError(`bad length-encoded integer prefix 0x${first.toString(16)}`)
  }

  bytes(n: number): Buffer {
    this.#need(n, `${n} bytes`)
    const b = this.#buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return b
  }

  lenencBytes(): Buffer {
    const n = this.lenencInt()
    if (n === null) throw new MalformedPacketError('NULL where a string was expected')
    return this.bytes(n)
  }

  /** NUL-terminated bytes (without the NUL); without a NUL, the rest of the payload. */
  nulBytes(): Buffer {
    const end = this.#buf.indexOf(0, this.offset)
    const stop = end === -1 ? this.#buf.length : end
    const b = this.#buf.subarray(this.offset, stop)
    this.offset = end === -1 ? stop : stop + 1
    return b
  }

  /** A NUL-terminated string; without a NUL, the rest of the payload. */
  nulString(): string {
    const end = this.#buf.indexOf(0, this.offset)
    const stop = end === -1 ? this.#buf.length : end
    const s = this.#buf.toString('utf8', this.offset, stop)
    this.offset = end === -1 ? stop : stop + 1
    return s
  }

  /** The rest of the payload. */
  rest(): Buffer {
    const b = this.#buf.subarray(this.offset)
    this.offset = this.#buf.length
    return b
  }
}

/**
 * OK_Packet (header 0x00, or 0xFE when it ends a result set under CLIENT_DEPRECATE_EOF).
 * The info string is length-encoded, with or without CLIENT_SESSION_TRACK: the protocol
 * documents string<EOF> without it, but MySQL and MariaDB write a length, and clients
 * (PHP's mysqlnd) read one.
 */
export function okPacket(o: {
  affectedRows?: number
  insertId?: number
  status: number
  warnings?: number
  info?: string
  header?: 0x00 | 0xfe
}): Buffer {
  const w = new PayloadWriter()
    .int1(o.header ?? 0x00)
    .lenencInt(o.affectedRows ?? 0)
    .lenencInt(o.insertId ?? 0)
    .int2(o.status)
    .int2(o.warnings ?? 0)
  if (o.info) w.lenencString(o.info)
  return w.build()
}

/** ERR_Packet with the CLIENT_PROTOCOL_41 SQL state marker. */
export function errPacket(errno: number, sqlState: string, message: string): Buffer {
  return new PayloadWriter()
    .int1(0xff)
    .int2(errno)
    .bytes('#')
    .bytes(sqlState.padEnd(5, '0').slice(0, 5))
    .bytes(message)
    .build()
}

/** EOF_Packet (clients without CLIENT_DEPRECATE_EOF). */
export function eofPacket(status: number, warnings = 0): Buffer {
  return new PayloadWriter().int1(0xfe).int2(warnings).int2(status).build()
}

/** A column definition (ColumnDefinition41). */
export interface ColumnDef {
  name: string
  type: number
  charset: number
  /** Maximum display length. */
  length: number
  flags?: number
  decimals?: number
  schema?: string
  table?: string
}

export function columnDefinitionPacket(c: ColumnDef): Buffer {
  return new PayloadWriter()
    .lenencString('def')
    .lenencString(c.schema ?? '')
    .lenencString(c.table ?? '')
    .lenencString(c.table ?? '')
    .lenencString(c.name)
    .lenencString(c.name)
    .lenencInt(0x0c)
    .int2(c.charset)
    .int4(c.length)
    .int1(c.type)
    .int2(c.flags ?? 0)
    .int1(c.decimals ?? 0)
    .zeros(2)
    .build()
}

/** A text-protocol row: each value a length-encoded string, NULL as 0xFB. */
export function textRowPacket(values: Array<Buffer | null>): Buffer {
  const w = new PayloadWriter()
  for (const v of values) {
    if (v === null) w.int1(0xfb)
    else w.lenencString(v)
  }
  return w.build()
}
