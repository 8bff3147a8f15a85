import { describe, expect, test } from 'bun:test'
import { authProof, checkProof, newNonce } from './auth.ts'

describe('auth', () => {
  test('newNonce returns 16 fresh random bytes as hex', () => {
    const nonce = newNonce()
    expect(nonce).toMatch(/^[0-9a-f]{32}$/)
    expect(newNonce()).not.toBe(nonce)
  })

  test('authProof is the hex HMAC-SHA256 of the nonce', () => {
    // RFC 4231 test case 2.
    expect(authProof('Jefe', 'what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    )
  })

  test('checkProof accepts the right proof and refuses a wrong one', () => {
    const nonce = newNonce()
    expect(checkProof('s3cret', nonce, authProof('s3cret', nonce))).toBe(true)
    expect(checkProof('s3cret', nonce, authProof('other', nonce))).toBe(false)
    expect(checkProof('s3cret', nonce, authProof('s3cret', newNonce()))).toBe(false)
    expect(checkProof('s3cret', nonce, '')).toBe(false)
    expect(checkProof('s3cret', nonce, 'abc')).toBe(false)
  })

  test('with no secret the proof is empty and any proof passes', () => {
    expect(authProof('', 'n')).toBe('')
    expect(checkProof('', 'n', '')).toBe(true)
    expect(checkProof('', 'n', 'whatever')).toBe(true)
  })
})
