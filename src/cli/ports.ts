import type { HostPort } from '../config.ts'
import { startDdbPort } from '../front/ddb-port.ts'
import { serveHttpApi } from '../front/http/http-api.ts'
import { startMysqlListener } from '../front/mysql/server.ts'
import type { Logger } from '../logger.ts'
import type { NodeApi } from '../node/api.ts'
import { type MysqlFlags, type MysqlSettings, mysqlSettings } from './mysql-flags.ts'
import { hostPort, lookup, setting } from './settings.ts'

/** The ports a node serves: ddb's own, and optionally the MySQL protocol and the HTTP API. */
export interface PortSettings {
  listen: HostPort
  mysql: MysqlSettings | null
  http: HostPort | null
  /** The node's shared secret, which ddb's port and the HTTP API ask for. */
  secret: string
}

/** Reads the port flags of `ddb master` / `ddb slave` (a bad address is a UsageError, before the node starts). */
export function portSettings(
  flags: MysqlFlags & { listen?: string; http?: string; secret?: string },
  defaults: { listen: string; mysqlListen: string },
): PortSettings {
  const http = lookup(flags.http, '--http', 'DDB_HTTP', '')
  return {
    listen: hostPort(lookup(flags.listen, '--listen', 'DDB_LISTEN', defaults.listen)),
    mysql: mysqlSettings(flags, defaults.mysqlListen),
    http: http.text ? hostPort(http) : null,
    secret: setting(flags.secret, 'DDB_SECRET', ''),
  }
}

/** A node's running ports. */
export interface Ports {
  /** Where ddb's own port is bound. */
  readonly address: string
  /** Closes every port, the last started first. */
  close(): Promise<void>
}

/**
 * Starts a node's front ends: ddb's port first (then `announce` logs that the
 * node is up), then the MySQL and HTTP ports. If one cannot start, what did
 * start is closed and so is the node, and the error is rethrown (a one-line DdbError).
 */
export async function startPorts(
  node: NodeApi & { close(): Promise<void> },
  settings: PortSettings,
  logger: Logger,
  announce: (address: string) => void,
): Promise<Ports> {
  const closers: Array<() => Promise<void>> = []
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c()
  }
  try {
    const ddb = await startDdbPort({ listen: settings.listen, secret: settings.secret, node, logger })
    closers.push(() => ddb.close())
    announce(ddb.address)
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
    return { address: ddb.address, close }
  } catch (err) {
    await close()
    await node.close()
    throw err
  }
}
