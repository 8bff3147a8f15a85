import net from 'node:net'
import { formatHostPort, HANDSHAKE_TIMEOUT_MS, type HostPort } from '../../config.ts'
import type { Logger } from '../../logger.ts'
import type { NodeApi } from '../../node/api.ts'
import { listenTcp } from '../listen.ts'
import type { MysqlUser } from './auth.ts'
import { MysqlConnection } from './connection.ts'
import { DEFAULT_MAX_MESSAGE_BYTES } from './packets.ts'

/** The user a MySQL listener accepts unless told otherwise: root with no password. */
export const DEFAULT_MYSQL_USER = 'root'

export interface MysqlListenerOptions {
  listen: HostPort
  /** The node whose Session every connection runs its statements in. */
  node: NodeApi
  /** Who may log in (mysql_native_password). */
  users: MysqlUser[]
  logger: Logger
  /** Largest message a client may send, in bytes; default 64 MiB. Larger ones close the connection with an ERR. */
  maxMessageBytes?: number
  /** How long a client may take to log in, in ms; default HANDSHAKE_TIMEOUT_MS. */
  handshakeTimeoutMs?: number
  /** How long a started packet may wait for its remaining bytes, in ms; default 30 s. */
  partialPacketTimeoutMs?: number
}

/** A node's MySQL-protocol port. */
export interface MysqlListener extends AsyncDisposable {
  /** "host:port" actually bound. */
  readonly address: string
  /** Stops accepting, ends every connection (open transactions roll back). Safe to call twice. */
  close(): Promise<void>
}

/**
 * Starts a MySQL-protocol listener for a node, so MySQL clients and drivers
 * (the mariadb/mysql CLI, mysql2 …) talk to it as to a MySQL server. Rejects
 * with a one-line LISTEN error when the address is taken or invalid.
 */
export async function startMysqlListener(options: MysqlListenerOptions): Promise<MysqlListener> {
  const connections = new Set<MysqlConnection>()
  let nextId = 1
  const server = net.createServer((socket) => {
    const connection = new MysqlConnection(socket, {
      node: options.node,
      users: options.users,
      logger: options.logger,
      connectionId: nextId++,
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      partialPacketTimeoutMs: options.partialPacketTimeoutMs,
    })
    connections.add(connection)
    connection.onClose = () => connections.delete(connection)
  })
  const address = await listenTcp(
    server,
    options.listen,
    `listen ${formatHostPort(options.listen)} (MySQL protocol)`,
    '--mysql-listen',
  )
  server.on('error', (err) => options.logger.error('mysql listener error', { error: err }))
  let closed: Promise<void> | null = null
  const close = () =>
    (closed ??= new Promise<void>((resolve) => {
      for (const c of connections) c.destroy()
      server.close(() => resolve())
    }))
  return { address, close, [Symbol.asyncDispose]: close }
}
