import type { Command } from 'commander'
import { DEFAULT_LOG, DEFAULT_MASTER_DB, DEFAULT_MASTER_LISTEN, parseHostPort, type HostPort } from '../config.ts'
import { formatError } from '../errors.ts'
import { serveHttpApi } from '../http/http-api.ts'
import type { Logger } from '../logger.ts'
import { TRANSACTION_IDLE_MS } from '../master/client-transaction.ts'
import { Master } from '../master/master.ts'
import type { MysqlUser } from '../mysql/auth.ts'
import { DEFAULT_MYSQL_USER, startMysqlListener, type MysqlListener } from '../mysql/server.ts'
import type { NodeApi } from '../server/session.ts'
import { Session } from '../server/session.ts'
import { formatAnswer } from './print.ts'
import { parseChoice, parseCount, setting } from './settings.ts'
import { runShell } from './shell.ts'
import { untilStopped } from './signals.ts'

interface MasterFlags {
  db?: string
  log?: string
  listen?: string
  logSync?: string
  secret?: string
  mysqlListen?: string
  mysqlUser?: string
  mysqlPassword?: string
  http?: string
  transactionTimeout?: string
}

/** The MySQL-protocol flags `ddb master` and `ddb slave` share. */
export interface MysqlFlags {
  mysqlListen?: string
  mysqlUser?: string
  mysqlPassword?: string
}

/** Adds --mysql-listen, --mysql-user and --mysql-password to a node command. */
export function mysqlOptions(command: Command): Command {
  return command
    .option('--mysql-listen <host:port>', 'also serve the MySQL client protocol here, or off (env DDB_MYSQL_LISTEN; default off)')
    .option('--mysql-user <name>', `user MySQL clients log in as (env DDB_MYSQL_USER; default ${DEFAULT_MYSQL_USER})`)
    .option('--mysql-password <password>', 'password of that user (env DDB_MYSQL_PASSWORD; default empty)')
}

/** The MySQL listener a node's flags ask for: where, and who may log in. */
export interface MysqlSettings {
  listen: HostPort
  user: MysqlUser
}

/** Reads --mysql-listen (or DDB_MYSQL_LISTEN) and the user flags; null when no listener is asked for. Throws UsageError on a bad address. */
export function mysqlSettings(flags: MysqlFlags): MysqlSettings | null {
  const listen = setting(flags.mysqlListen, 'DDB_MYSQL_LISTEN', '')
  if (!listen || listen === 'off') return null
  return {
    listen: parseHostPort(listen, '--mysql-listen'),
    user: { name: setting(flags.mysqlUser, 'DDB_MYSQL_USER', DEFAULT_MYSQL_USER), password: setting(flags.mysqlPassword, 'DDB_MYSQL_PASSWORD', '') },
  }
}

/** Starts the node's MySQL listener when settings ask for one; on failure closes the node, then rethrows. */
export async function startMysql(settings: MysqlSettings | null, node: NodeApi & { close(): Promise<void> }, logger: Logger): Promise<MysqlListener | null> {
  if (!settings) return null
  try {
    const listener = await startMysqlListener({ listen: settings.listen, node, users: [settings.user], logger: logger.child({ component: 'mysql' }) })
    logger.info('mysql protocol listening', { address: listener.address, user: settings.user.name })
    return listener
  } catch (err) {
    await node.close()
    throw err
  }
}

/** `ddb master`: serve writes, log them, stream them to slaves; a SQL prompt on a terminal. */
export function registerMaster(program: Command, logger: Logger): void {
  const command = program
    .command('master')
    .description('run a master: executes writes, logs them durably, streams them to slaves')
    .option('--db <url>', `store: sqlite:<file> or mysql://user:pass@host:port/db (env DDB_DB; default ${DEFAULT_MASTER_DB})`)
    .option('--log <file>', `replication log file (env DDB_LOG; default ${DEFAULT_LOG})`)
    .option('--listen <host:port>', `port for slaves and clients (env DDB_LISTEN; default ${DEFAULT_MASTER_LISTEN})`)
    .option('--log-sync <mode>', 'full: fsync every log commit; normal: faster, a power loss may lose the last commits (env DDB_LOG_SYNC; default full)')
    .option('--secret <secret>', 'shared secret slaves and clients must prove (env DDB_SECRET; default none)')
    .option('--http <host:port>', 'also serve the HTTP JSON API here (env DDB_HTTP; default off)')
    .option('--transaction-timeout <ms>', `roll back a client transaction idle this long (env DDB_TRANSACTION_TIMEOUT; default ${TRANSACTION_IDLE_MS})`)
  mysqlOptions(command)
    .action(async (flags: MasterFlags) => {
      const httpText = setting(flags.http, 'DDB_HTTP', '')
      const httpListen = httpText ? parseHostPort(httpText, '--http') : null
      const mysqlListen = mysqlSettings(flags)
      const master = await Master.start({
        db: setting(flags.db, 'DDB_DB', DEFAULT_MASTER_DB),
        log: setting(flags.log, 'DDB_LOG', DEFAULT_LOG),
        logSync: parseChoice(setting(flags.logSync, 'DDB_LOG_SYNC', 'full'), ['full', 'normal'] as const, '--log-sync'),
        listen: parseHostPort(setting(flags.listen, 'DDB_LISTEN', DEFAULT_MASTER_LISTEN), '--listen'),
        secret: setting(flags.secret, 'DDB_SECRET', ''),
        logger: logger.child({ node: 'master' }),
        transactionIdleMs: parseCount(setting(flags.transactionTimeout, 'DDB_TRANSACTION_TIMEOUT', String(TRANSACTION_IDLE_MS)), '--transaction-timeout'),
        onFatal: (err) => {
          logger.error('master stopping: cannot go on', { error: formatError(err) })
          process.exit(1)
        },
      })
      const mysql = await startMysql(mysqlListen, master, logger.child({ node: 'master' }))
      const http = await serveHttpApi(master, httpListen, logger.child({ node: 'master' }), setting(flags.secret, 'DDB_SECRET', '')).catch(async (err) => {
        await mysql?.close()
        await master.close()
        throw err
      })
      const stopped = untilStopped()
      const prompt = process.stdin.isTTY
        ? runShell('ddb> ', async (sql) => {
            try {
              for (const answer of await new Session(master).execute(sql)) console.log(formatAnswer(answer, false))
            } catch (err) {
              console.error(`ERROR: ${formatError(err)}`)
            }
          })
        : new Promise<void>(() => {})
      await Promise.race([stopped, prompt])
      await mysql?.close()
      await http?.close()
      await master.close()
    })
}
