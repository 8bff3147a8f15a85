/** Longest text quoted from what a foreign server sent. */
const QUOTE_CHARS = 60

/**
 * Says in words what a server that is not ddb's sent first, for "<addr> is not a
 * ddb port (…)": a MySQL/MariaDB greeting or error packet, a line of text
 * (Redis's `-ERR …`, SSH's banner), else the first bytes in hex. Null when the
 * bytes could be the start of a ddb frame (a length that fits, then '{'), or
 * are too few to tell.
 */
export function describeForeign(head: Uint8Array, maxFrameBytes: number): string | null {
  if (head.length < 4) return null
  const length = new DataView(head.buffer, head.byteOffset, 4).getUint32(0)
  if (length > 0 && length <= maxFrameBytes && (head.length === 4 || head[4] === 0x7b)) return null
  // A MySQL packet: 3-byte little-endian length, sequence 0, then protocol version 10 or an error (0xff).
  if (head.length >= 5 && head[3] === 0 && head[0]! + (head[1]! << 8) + (head[2]! << 16) > 0) {
    if (head[4] === 0x0a) return 'it sent a MySQL server greeting'
    if (head[4] === 0xff) {
      const message = head[7] === 0x23 ? head.subarray(13) : head.subarray(7) // after errno and '#' + SQL state
      return `it sent a MySQL error: ${quote(message)}`
    }
  }
  const line = head.subarray(0, indexOrLength(head, 0x0a))
  if (line.length > 0 && line.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x0d || b === 0x09)) {
    return `it sent ${JSON.stringify(quote(line))}`
  }
  return `it sent bytes that are not a ddb greeting: ${Buffer.from(head.subarray(0, 16)).toString('hex')}`
}

function quote(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('latin1').trim()
  return text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text
}

function indexOrLength(bytes: Uint8Array, byte: number): number {
  const i = bytes.indexOf(byte)
  return i < 0 ? bytes.length : i
}
