import { describe, expect, test } from 'bun:test'
import { CLIENT, SERVER_CAPABILITIES } from '../../mysql-protocol.ts'
import { handshakeV10, parseHandshakeResponse } from './handshake.ts'
import { PayloadReader, PayloadWriter } from './packets.ts'

describe('handshakeV10', () => {
  test('carries the scramble in two NUL-ended parts and announces mysql_native_password', () => {
    const scramble = Buffer.from('ABCDEFGHIJKLMNOPQRST')
    const r = new PayloadReader(handshakeV10(7, scramble, '8.0.40-ddb'))
    expect(r.int1()).toBe(10)
    expect(r.nulString()).toContain('ddb')
    expect(r.int4()).toBe(7)
    const first = Buffer.from(r.bytes(8))
    expect(r.int1()).toBe(0)
    const low = r.int2()
    r.int1()
    r.int2()
    expect(low | (r.int2() << 16)).toBe(SERVER_CAPABILITIES)
    expect(r.int1()).toBe(21)
    r.bytes(10)
    const second = Buffer.from(r.bytes(12))
    expect(r.int1()).toBe(0)
    expect(Buffer.concat([first, second]).equals(scramble)).toBe(true)
    expect(r.nulString()).toBe('mysql_native_password')
  })
})

describe('parseHandshakeResponse', () => {
  const head = (caps: number) =>
    new PayloadWriter()
      .int4(caps)
      .int4(1 << 24)
      .int1(45)
      .zeros(23)

  test('length-encoded auth data, database and plugin', () => {
    const caps =
      CLIENT.PROTOCOL_41 |
      CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA |
      CLIENT.CONNECT_WITH_DB |
      CLIENT.PLUGIN_AUTH |
      CLIENT.SECURE_CONNECTION
    const h = parseHandshakeResponse(
      head(caps)
        .nulString('app_user')
        .lenencString(Buffer.alloc(20, 9))
        .nulString('shop')
        .nulString('caching_sha2_password')
        .build(),
    )
    expect(h).toMatchObject({ user: 'app_user', database: 'shop', plugin: 'caching_sha2_password', sslRequest: false })
    expect(h.authResponse.equals(Buffer.alloc(20, 9))).toBe(true)
  })

  test('1-byte auth length under CLIENT_SECURE_CONNECTION; no database, default plugin', () => {
    const h = parseHandshakeResponse(
      head(CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION)
        .nulString('root')
        .int1(0)
        .build(),
    )
    expect(h).toMatchObject({ user: 'root', database: null, plugin: 'mysql_native_password' })
    expect(h.authResponse.length).toBe(0)
  })

  test('a short SSLRequest is recognised', () => {
    expect(parseHandshakeResponse(head(CLIENT.PROTOCOL_41 | CLIENT.SSL).build()).sslRequest).toBe(true)
  })

  test('a response cut short throws', () => {
    expect(() =>
      parseHandshakeResponse(
        head(CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION)
          .nulString('root')
          .int1(20)
          .build(),
      ),
    ).toThrow(/malformed/)
  })
})
