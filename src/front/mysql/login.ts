/**
 * The connection phase of the MySQL port: the greeting, the client's
 * HandshakeResponse41, an AuthSwitchRequest when the client chose another
 * plugin, and the mysql_native_password check. Pure: it says what to send and
 * how the login ended; the connection does the I/O.
 */
import type { Logger } from '../../logger.ts'
import { CLIENT, SERVER_CAPABILITIES } from '../../mysql-protocol.ts'
import { checkNativePassword, type MysqlUser, NATIVE_PASSWORD_PLUGIN, newScramble } from './auth.ts'
import { authSwitchRequest, handshakeV10, parseHandshakeResponse } from './handshake.ts'
import { PayloadReader } from './packets.ts'
import type { MysqlError } from './results.ts'

/** A client that logged in: who, the database it asked for, and the capabilities both sides speak. */
export interface LoggedIn {
  user: string
  database: string | null
  capabilities: number
  /** The collation the client's handshake (or COM_CHANGE_USER) named. */
  collation: number
}

/** What one packet of the client's did to the login: send `reply` and wait for more, or the login ended. */
export type LoginStep =
  | { kind: 'reply'; payload: Buffer }
  | { kind: 'refused'; error: MysqlError }
  | ({ kind: 'done' } & LoggedIn)

const badHandshake = (message: string): LoginStep => ({
  kind: 'refused',
  error: { errno: 1043, sqlState: '08S01', message: `Bad handshake: ${message}` },
})

export class Login {
  readonly #scramble = newScramble()
  readonly #users: MysqlUser[]
  readonly #peer: string
  readonly #logger: Logger
  #response: LoggedIn | null = null

  constructor(users: MysqlUser[], peer: string, logger: Logger) {
    this.#users = users
    this.#peer = peer
    this.#logger = logger
  }

  /**
   * COM_CHANGE_USER: a login again on the same connection, with the user, database and
   * capabilities it carries; the client is asked to answer a fresh challenge (AuthSwitchRequest).
   */
  static changeUser(
    payload: Buffer,
    was: { capabilities: number; collation: number },
    users: MysqlUser[],
    peer: string,
    logger: Logger,
  ): { login: Login; reply: Buffer } {
    const r = new PayloadReader(payload, 1)
    const { capabilities } = was
    const user = r.nulString()
    if (capabilities & CLIENT.SECURE_CONNECTION) r.bytes(r.int1())
    else r.nulBytes()
    const database = r.remaining > 0 ? r.nulString() || null : null
    const collation = r.remaining >= 2 ? r.int2() & 0xff : was.collation
    const login = new Login(users, peer, logger)
    login.#response = { user, database, capabilities, collation }
    return { login, reply: authSwitchRequest(login.#scramble) }
  }

  /** The user the client gave ('' before its answer). */
  get user(): string {
    return this.#response?.user ?? ''
  }

  /** The server's first packet: HandshakeV10 with this login's challenge. */
  greeting(connectionId: number, version: string): Buffer {
    return handshakeV10(connectionId, this.#scramble, version)
  }

  /** Takes the client's next packet of the login. */
  receive(payload: Buffer): LoginStep {
    if (this.#response) return this.#check(payload) // the answer to our AuthSwitchRequest
    const h = parseHandshakeResponse(payload)
    if (!(h.capabilities & CLIENT.PROTOCOL_41)) return badHandshake('the client must speak protocol 4.1')
    if (h.sslRequest) return badHandshake('this server does not support SSL')
    this.#response = {
      user: h.user,
      database: h.database,
      capabilities: h.capabilities & SERVER_CAPABILITIES,
      collation: h.collation,
    }
    // The client chose another plugin: ask it to answer our challenge with mysql_native_password instead.
    if (h.plugin !== NATIVE_PASSWORD_PLUGIN) return { kind: 'reply', payload: authSwitchRequest(this.#scramble) }
    return this.#check(h.authResponse)
  }

  #check(auth: Buffer): LoginStep {
    const response = this.#response!
    const user = this.#users.find((u) => u.name === response.user)
    if (!user || !checkNativePassword(user.password, this.#scramble, auth)) {
      this.#logger.warn('mysql access denied', { user: response.user, peer: this.#peer })
      const password = auth.length > 0 ? 'YES' : 'NO'
      return {
        kind: 'refused',
        error: {
          errno: 1045,
          sqlState: '28000',
          message: `Access denied for user '${response.user}'@'${this.#peer}' (using password: ${password})`,
        },
      }
    }
    return { kind: 'done', ...response }
  }
}
