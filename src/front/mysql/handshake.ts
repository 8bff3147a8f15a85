/** The connection phase: the server's HandshakeV10, the client's HandshakeResponse41, AuthSwitchRequest. */

import { CLIENT, COLUMN_CHARSET, SERVER_CAPABILITIES, SERVER_STATUS } from '../../mysql-protocol.ts'
import { NATIVE_PASSWORD_PLUGIN } from './auth.ts'
import { PayloadReader, PayloadWriter } from './packets.ts'

/** The greeting a server sends first: version, connection id, capabilities and the 20-byte scramble (8 + 12, each part NUL-ended). */
export function handshakeV10(connectionId: number, scramble: Buffer, version: string): Buffer {
  return new PayloadWriter()
    .int1(10)
    .nulString(version)
    .int4(connectionId)
    .bytes(scramble.subarray(0, 8))
    .int1(0)
    .int2(SERVER_CAPABILITIES & 0xffff)
    .int1(COLUMN_CHARSET.UTF8MB4)
    .int2(SERVER_STATUS.AUTOCOMMIT)
    .int2(SERVER_CAPABILITIES >>> 16)
    .int1(scramble.length + 1)
    .zeros(10)
    .bytes(scramble.subarray(8))
    .int1(0)
    .nulString(NATIVE_PASSWORD_PLUGIN)
    .build()
}

/** What a client answered to the greeting. */
export interface HandshakeResponse {
  /** The client's capability flags, as sent. */
  capabilities: number
  user: string
  /** The client's answer to the scramble under `plugin` (empty for no password). */
  authResponse: Buffer
  /** The database to start in (CLIENT_CONNECT_WITH_DB), or null. */
  database: string | null
  /** The authentication plugin the answer is for. */
  plugin: string
  /** The collation the client asked for (the connection's character set). */
  collation: number
  /** True for a short SSLRequest: the client wants TLS before it logs in. */
  sslRequest: boolean
}

/** Parses HandshakeResponse41 (or the SSLRequest that would come before it); throws MalformedPacketError when it is cut short. */
export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const r = new PayloadReader(payload)
  const capabilities = r.int4()
  const none = {
    capabilities,
    user: '',
    authResponse: Buffer.alloc(0),
    database: null,
    plugin: NATIVE_PASSWORD_PLUGIN,
    collation: 0,
  }
  if (!(capabilities & CLIENT.PROTOCOL_41)) return { ...none, sslRequest: false }
  if (capabilities & CLIENT.SSL && payload.length <= 32) return { ...none, sslRequest: true }
  r.int4() // max packet size
  const collation = r.int1() // ddb speaks utf8mb4 whatever it is; a relayed read answers in it (mysql-relay.ts)
  r.bytes(23) // filler
  const user = r.nulString()
  let authResponse: Buffer
  if (capabilities & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = Buffer.from(r.lenencBytes())
  else if (capabilities & CLIENT.SECURE_CONNECTION) authResponse = Buffer.from(r.bytes(r.int1()))
  else authResponse = Buffer.from(r.nulBytes())
  const database = capabilities & CLIENT.CONNECT_WITH_DB && r.remaining > 0 ? r.nulString() || null : null
  const plugin =
    capabilities & CLIENT.PLUGIN_AUTH && r.remaining > 0
      ? r.nulString() || NATIVE_PASSWORD_PLUGIN
      : NATIVE_PASSWORD_PLUGIN
  return { capabilities, user, authResponse, database, plugin, collation, sslRequest: false }
}

/** Asks the client to answer `scramble` with mysql_native_password instead of the plugin it chose. */
export function authSwitchRequest(scramble: Buffer): Buffer {
  return new PayloadWriter().int1(0xfe).nulString(NATIVE_PASSWORD_PLUGIN).bytes(scramble).int1(0).build()
}
