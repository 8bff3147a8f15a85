import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

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

/** True when `response` proves knowledge of `password` for this challenge. */
export function checkNativePassword(password: string, scramble: Buffer, response: Buffer): boolean {
  const expected = nativePasswordResponse(password, scramble)
  if (expected.length !== response.length) return false
  return expected.length === 0 || timingSafeEqual(expected, response)
}
