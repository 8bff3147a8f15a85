/**
 * The MySQL client/server protocol's numbers, in one place: column types, column
 * flags and collations (what a result column is, for stores and for the MySQL
 * port alike), the capability, status and command codes, and mysql_native_password's answer.
 */
import { createHash } from 'node:crypto'

/** MySQL's enum_field_types codes. */
export const COLUMN_TYPE = {
  DECIMAL: 0x00,
  TINY: 0x01,
  SHORT: 0x02,
  LONG: 0x03,
  FLOAT: 0x04,
  DOUBLE: 0x05,
  NULL: 0x06,
  TIMESTAMP: 0x07,
  LONGLONG: 0x08,
  INT24: 0x09,
  DATE: 0x0a,
  TIME: 0x0b,
  DATETIME: 0x0c,
  YEAR: 0x0d,
  NEWDATE: 0x0e,
  VARCHAR: 0x0f,
  BIT: 0x10,
  JSON: 0xf5,
  NEWDECIMAL: 0xf6,
  ENUM: 0xf7,
  SET: 0xf8,
  TINY_BLOB: 0xf9,
  MEDIUM_BLOB: 0xfa,
  LONG_BLOB: 0xfb,
  BLOB: 0xfc,
  VAR_STRING: 0xfd,
  STRING: 0xfe,
  GEOMETRY: 0xff,
} as const

/** MySQL's column definition flags. */
export const COLUMN_FLAG = {
  NOT_NULL: 0x1,
  PRI_KEY: 0x2,
  UNIQUE_KEY: 0x4,
  MULTIPLE_KEY: 0x8,
  BLOB: 0x10,
  UNSIGNED: 0x20,
  ZEROFILL: 0x40,
  BINARY: 0x80,
  ENUM: 0x100,
  AUTO_INCREMENT: 0x200,
  TIMESTAMP: 0x400,
  SET: 0x800,
  NUM: 0x8000,
} as const

/** Collation ids: utf8mb4_general_ci for text, the binary pseudo-charset for everything else. */
export const COLUMN_CHARSET = { UTF8MB4: 45, BINARY: 63 } as const

/** True for the utf8mb4 collations MySQL and MariaDB both number in one byte: utf8mb4_general_ci, _bin, and 224–247 (_unicode_ci …). */
export function isUtf8mb4Collation(id: number): boolean {
  return id === 45 || id === 46 || (id >= 224 && id <= 247)
}

/** Capability flags (the ones a ddb listener looks at or announces). */
export const CLIENT = {
  LONG_PASSWORD: 0x1,
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  NO_SCHEMA: 0x10,
  ODBC: 0x40,
  IGNORE_SPACE: 0x100,
  PROTOCOL_41: 0x200,
  INTERACTIVE: 0x400,
  SSL: 0x800,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x1_0000,
  MULTI_RESULTS: 0x2_0000,
  PS_MULTI_RESULTS: 0x4_0000,
  PLUGIN_AUTH: 0x8_0000,
  CONNECT_ATTRS: 0x10_0000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x20_0000,
  SESSION_TRACK: 0x80_0000,
  DEPRECATE_EOF: 0x100_0000,
} as const

/** What a ddb listener offers; a connection uses the intersection with the client's flags. */
export const SERVER_CAPABILITIES =
  CLIENT.LONG_PASSWORD |
  CLIENT.FOUND_ROWS |
  CLIENT.LONG_FLAG |
  CLIENT.CONNECT_WITH_DB |
  CLIENT.NO_SCHEMA |
  CLIENT.ODBC |
  CLIENT.IGNORE_SPACE |
  CLIENT.PROTOCOL_41 |
  CLIENT.INTERACTIVE |
  CLIENT.TRANSACTIONS |
  CLIENT.SECURE_CONNECTION |
  CLIENT.MULTI_STATEMENTS |
  CLIENT.MULTI_RESULTS |
  CLIENT.PS_MULTI_RESULTS |
  CLIENT.PLUGIN_AUTH |
  CLIENT.CONNECT_ATTRS |
  CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CLIENT.SESSION_TRACK |
  CLIENT.DEPRECATE_EOF

/** Server status flags. */
export const SERVER_STATUS = {
  IN_TRANS: 0x1,
  AUTOCOMMIT: 0x2,
  MORE_RESULTS_EXISTS: 0x8,
  /** An execute opened a cursor: rows come with COM_STMT_FETCH. */
  CURSOR_EXISTS: 0x40,
  /** A fetch sent the cursor's last row. */
  LAST_ROW_SENT: 0x80,
} as const

/** Command bytes (the first payload byte of a command packet). */
export const COM = {
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  STATISTICS: 0x09,
  PING: 0x0e,
  CHANGE_USER: 0x11,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  STMT_FETCH: 0x1c,
  RESET_CONNECTION: 0x1f,
} as const

const sha1 = (...parts: Buffer[]) => {
  const h = createHash('sha1')
  for (const p of parts) h.update(p)
  return h.digest()
}

/**
 * The client's answer to a challenge under mysql_native_password:
 * SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))); empty for an empty password.
 */
export function nativePasswordResponse(password: string, scramble: Buffer): Buffer {
  if (password === '') return Buffer.alloc(0)
  const stage1 = sha1(Buffer.from(password, 'utf8'))
  const mask = sha1(scramble, sha1(stage1))
  const out = Buffer.alloc(stage1.length)
  for (let i = 0; i < out.length; i++) out[i] = stage1[i]! ^ mask[i]!
  return out
}

/** The largest payload one packet carries; a message this long continues in the next packet. */
export const MAX_PACKET_PAYLOAD = 0xff_ff_ff

/** Frames a payload as one or more packets starting at `sequenceId`; returns the bytes and the next sequence id. */
export function framePacket(payload: Buffer, sequenceId: number): { bytes: Buffer; next: number } {
  if (payload.length < MAX_PACKET_PAYLOAD) {
    // One frame (nearly every packet): one buffer, written in place.
    const bytes = Buffer.allocUnsafe(4 + payload.length)
    bytes.writeUIntLE(payload.length, 0, 3)
    bytes[3] = sequenceId & 0xff
    payload.copy(bytes, 4)
    return { bytes, next: (sequenceId + 1) & 0xff }
  }
  const frames: Buffer[] = []
  let seq = sequenceId
  let at = 0
  for (;;) {
    const length = Math.min(MAX_PACKET_PAYLOAD, payload.length - at)
    const head = Buffer.alloc(4)
    head.writeUIntLE(length, 0, 3)
    head[3] = seq & 0xff
    frames.push(head, payload.subarray(at, at + length))
    seq = (seq + 1) & 0xff
    at += length
    if (length < MAX_PACKET_PAYLOAD) break
  }
  return { bytes: Buffer.concat(frames), next: seq }
}
