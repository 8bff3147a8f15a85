import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** A fresh greeting nonce: 16 random bytes, hex. */
export function newNonce(): string {
  return randomBytes(16).toString('hex')
}

/** The hello's auth field: hex HMAC-SHA256 of the nonce keyed by the shared secret, or '' when no secret is set. */
export function authProof(secret: string, nonce: string): string {
  return secret === '' ? '' : createHmac('sha256', secret).update(nonce).digest('hex')
}

/** Whether a peer's proof matches, compared in constant time; with no secret set, any proof passes. */
export function checkProof(secret: string, nonce: string, proof: string): boolean {
  if (secret === '') return true
  const expected = Buffer.from(authProof(secret, nonce))
  const given = Buffer.from(proof)
  return given.length === expected.length && timingSafeEqual(given, expected)
}
