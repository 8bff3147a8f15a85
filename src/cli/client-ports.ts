import { type HostPort, parseHostPort } from '../config.ts'
import { serveHttpApi } from '../http/http-api.ts'
import type { Logger } from '../logger.ts'
import { startMysqlListener } from '../mysql/server.ts'
import type { NodeApi } from '../server/session.ts'
import { type MysqlFlags, type MysqlSettings, mysqlSettings } from './mysql-flags.ts'
import { setting } from './settings.ts'

/** The ports a node serves its clients on beside ddb's own: the MySQL protocol and the HTTP API (each optional). */
export interface ClientPortSettings {
  mysql: MysqlSettings | null
  http: HostPort | null
  /** The node's shared secret, which the HTTP API asks for too. */
  secret: string
}

/** Reads the client-port flags of `ddb master` / `ddb slave` (a bad address is a UsageError, before the node starts). */
export function clientPortSettings(
  flags: MysqlFlags & { http?: string; secret?: string },
  defaultMysqlListen: string,
): ClientPortSettings {
  const http = setting(flags.http, 'DDB_HTTP', '')
  return {
    mysql: mysqlSettings(flags, defaultMysqlListen),
    http: http ? parseHostPort(http, '--http') : null,
    secret: setting(flags.secret, 'DDB_SECRET', ''),
  }
}

/**
 * Starts a node's MySQL and HTTP ports. If one cannot start, what did start is
 * closed and so is the node, then the error is rethrown (a one-line DdbError).
 * Resolves to the function that closes them, in reverse order.
 */
export async function startClientPorts(
  node: NodeApi & { close(): Promise<void> },
  settings: ClientPortSettings,
  logger: Logger,
): Promise<() => Promise<void>> {
  const closers: Array<() => Promise<void>> = []
  const closeAll = async () => {
    for (const close of closers.reverse()) await close()
  }
  try {
    if (settings.mysql) {
      const { listen, user } = settings.mysql
      const mysql = await startMysqlListener({
        listen,
        node,
        users: [user],
        logger: logger.child({ component: 'mysql' }),
      })
      logger.info('mysql protocol listening', { address: mysql.address, user: user.name })
      closers.push(() => mysql.close())
    }
    const http = await serveHttpApi(node, settings.http, logger, settings.secret)
    if (http) closers.push(() => http.close())
  } catch (err) {
    await closeAll()
    await node.close()
    throw err
  }
  return closeAll
}
