import { randomBytes, timingSafeEqual } from 'node:crypto'
import { nativePasswordResponse } from '../../mysql-protocol.ts'

/** The only authentication method a ddb listener speaks. */
export const NATIVE_PASSWORD_PLUGIN = 'mysql_native_password'
/** Length of the challenge a server sends. */
export const SCRAMBLE_LENGTH = 20

/** A user the listener accepts: name and plain password ('' for none). */
export interface MysqlUser {
  name: string
  password: string
}

/**
 * A new 20-byte challenge. Bytes are printable and never NUL, as MySQL's own are,
 * because some clients treat the scramble as a NUL-terminated string.
 */
export function newScramble(): Buffer {
  const raw = randomBytes(SCRAMBLE_LENGTH)
  for (let i = 0; i < raw.length; i++) raw[i] = 0x21 + (raw[i]! % 94) // '!' … '~'
  return raw
}

/** True when `response` proves knowledge of `password` for this challenge. */
export function checkNativePassword(password: string, scramble: Buffer, response: Buffer): boolean {
  const expected = nativePasswordResponse(password, scramble)
  if (expected.length !== response.length) return false
  return expected.length === 0 || timingSafeEqual(expected, response)
}
