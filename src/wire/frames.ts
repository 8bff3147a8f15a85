import { ProtocolError } from '../errors.ts'
import { decodeMessage } from './decode.ts'
import type { Message } from './messages.ts'

/** The largest frame body either side sends or accepts, in bytes. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024

/** The largest frame accepted before the handshake succeeds (greeting, hello, welcome are tiny), as the MySQL port caps pre-login packets. */
export const PRE_AUTH_FRAME_BYTES = 64 * 1024

const HEADER_BYTES = 4

/** Encodes one message as a frame: 4-byte big-endian body length, then the body as UTF-8 JSON. */
export function encodeFrame(msg: Message): Uint8Array {
  const json = JSON.stringify(msg)
  const length = Buffer.byteLength(json)
  if (length > MAX_FRAME_BYTES) {
    throw new ProtocolError(`encode ${msg.type}: frame of ${length} bytes exceeds the maximum of ${MAX_FRAME_BYTES}`)
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length)
  frame.writeUInt32BE(length, 0)
  frame.write(json, HEADER_BYTES)
  return frame
}

/**
 * Turns a byte stream into messages, whatever the chunk boundaries: a chunk may
 * hold part of a frame, or several. Chunks are kept as a list and copied once,
 * when a frame is complete, so a large frame in many small chunks costs linear time.
 * Messages come out one at a time (next()), so a limit raised after one message
 * (the handshake's end) already applies to the frame behind it.
 */
export class FrameReader {
  /** Largest frame body accepted from now on; a header announcing more fails at once. */
  maxFrameBytes: number
  readonly #decoder = new TextDecoder('utf-8', { fatal: true })
  #chunks: Uint8Array[] = []
  #buffered = 0
  /** Body length of the frame being read, or -1 while waiting for its header. */
  #bodyLength = -1
  #failed = false

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes
  }

  /** Adds bytes; next() then returns the messages they complete. */
  push(chunk: Uint8Array): void {
    if (this.#failed) throw new ProtocolError('read frame: stream already failed')
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
  }

  /** The next complete message, or null until more bytes come. Throws ProtocolError on a bad frame, after which the reader refuses more input. */
  next(): Message | null {
    if (this.#failed) throw new ProtocolError('read frame: stream already failed')
    try {
      if (this.#bodyLength < 0) {
        if (this.#buffered < HEADER_BYTES) return null
        this.#bodyLength = this.#readLength()
      }
      if (this.#buffered < this.#bodyLength) return null
      const body = this.#take(this.#bodyLength)
      this.#bodyLength = -1
      return this.#decode(body)
    } catch (err) {
      this.#failed = true
      this.#chunks = []
      throw err
    }
  }

  #readLength(): number {
    const header = this.#take(HEADER_BYTES)
    const length = new DataView(header.buffer, header.byteOffset, HEADER_BYTES).getUint32(0)
    if (length === 0) throw new ProtocolError('read frame: length is 0')
    if (length > this.maxFrameBytes) {
      throw new ProtocolError(`read frame: length ${length} exceeds the maximum of ${this.maxFrameBytes} bytes`)
    }
    return length
  }

  #decode(body: Uint8Array): Message {
    let text: string
    try {
      text = this.#decoder.decode(body)
    } catch {
      throw new ProtocolError('read frame: body is not valid UTF-8')
    }
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new ProtocolError('read frame: body is not valid JSON')
    }
    return decodeMessage(value)
  }

  /** Removes the first n buffered bytes (n <= #buffered), copying only when they span chunks. */
  #take(n: number): Uint8Array {
    this.#buffered -= n
    const first = this.#chunks[0]!
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = new Uint8Array(n)
    let filled = 0
    let used = 0
    while (filled < n) {
      const chunk = this.#chunks[used]!
      const part = Math.min(chunk.length, n - filled)
      out.set(chunk.subarray(0, part), filled)
      filled += part
      if (part < chunk.length) this.#chunks[used] = chunk.subarray(part)
      else used++
    }
    this.#chunks.splice(0, used)
    return out
  }
}
