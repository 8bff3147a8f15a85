import { describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { nativePasswordResponse } from '../../mysql-protocol.ts'
import { checkNativePassword, newScramble } from './auth.ts'

describe('mysql_native_password', () => {
  test('a scramble is 20 printable, non-NUL bytes and new each time', () => {
    const a = newScramble()
    expect(a.length).toBe(20)
    expect([...a].every((b) => b >= 0x21 && b <= 0x7e)).toBe(true)
    expect(a.equals(newScramble())).toBe(false)
  })

  test('the response unmasks to SHA1(password) with SHA1(scramble + SHA1(SHA1(password)))', () => {
    const scramble = Buffer.from('abcdefghijklmnopqrst')
    const response = nativePasswordResponse('secret', scramble)
    const stage1 = createHash('sha1').update('secret').digest()
    const stage2 = createHash('sha1').update(stage1).digest()
    const mask = createHash('sha1').update(scramble).update(stage2).digest()
    expect(Buffer.from(response.map((b, i) => b ^ mask[i]!)).equals(stage1)).toBe(true)
  })

  test('checks the right password, refuses a wrong or missing one', () => {
    const scramble = newScramble()
    expect(checkNativePassword('pw', scramble, nativePasswordResponse('pw', scramble))).toBe(true)
    expect(checkNativePassword('pw', scramble, nativePasswordResponse('pX', scramble))).toBe(false)
    expect(checkNativePassword('pw', scramble, Buffer.alloc(0))).toBe(false)
    expect(checkNativePassword('pw', newScramble(), nativePasswordResponse('pw', scramble))).toBe(false)
  })

  test('an empty password expects an empty response', () => {
    const scramble = newScramble()
    expect(checkNativePassword('', scramble, Buffer.alloc(0))).toBe(true)
    expect(checkNativePassword('', scramble, nativePasswordResponse('x', scramble))).toBe(false)
  })
})
