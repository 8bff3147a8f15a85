import type { Command } from 'commander'
import {
  DEFAULT_LOG,
  DEFAULT_MASTER_DB,
  DEFAULT_MASTER_LISTEN,
  DEFAULT_MASTER_MYSQL_LISTEN,
  parseHostPort,
} from '../config.ts'
import { formatError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { TRANSACTION_IDLE_MS } from '../master/client-transaction.ts'
import { Master } from '../master/master.ts'
import { Session } from '../server/session.ts'
import { clientPortSettings, startClientPorts } from './client-ports.ts'
import { mysqlOptions } from './mysql-flags.ts'
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

/** `ddb master`: serve writes, log them, stream them to slaves; a SQL prompt on a terminal. */
export function registerMaster(program: Command, logger: Logger): void {
  const command = program
    .command('master')
    .description('run a master: executes writes, logs them durably, streams them to slaves')
    .option(
      '--db <url>',
      `store: sqlite:<file> or mysql://user:pass@host:port/db (env DDB_DB; default ${DEFAULT_MASTER_DB})`,
    )
    .option('--log <file>', `replication log file (env DDB_LOG; default ${DEFAULT_LOG})`)
    .option('--listen <host:port>', `port for slaves and clients (env DDB_LISTEN; default ${DEFAULT_MASTER_LISTEN})`)
    .option(
      '--log-sync <mode>',
      'full: fsync every log commit; normal: faster, a power loss may lose the last commits (env DDB_LOG_SYNC; default full)',
    )
    .option('--secret <secret>', 'shared secret slaves and clients must prove (env DDB_SECRET; default none)')
    .option('--http <host:port>', 'also serve the HTTP JSON API here (env DDB_HTTP; default off)')
    .option(
      '--transaction-timeout <ms>',
      `roll back a client transaction idle this long (env DDB_TRANSACTION_TIMEOUT; default ${TRANSACTION_IDLE_MS})`,
    )
  mysqlOptions(command, DEFAULT_MASTER_MYSQL_LISTEN).action(async (flags: MasterFlags) => {
    const ports = clientPortSettings(flags, DEFAULT_MASTER_MYSQL_LISTEN)
    const master = await Master.start({
      db: setting(flags.db, 'DDB_DB', DEFAULT_MASTER_DB),
      log: setting(flags.log, 'DDB_LOG', DEFAULT_LOG),
      logSync: parseChoice(setting(flags.logSync, 'DDB_LOG_SYNC', 'full'), ['full', 'normal'] as const, '--log-sync'),
      listen: parseHostPort(setting(flags.listen, 'DDB_LISTEN', DEFAULT_MASTER_LISTEN), '--listen'),
      secret: setting(flags.secret, 'DDB_SECRET', ''),
      logger: logger.child({ node: 'master' }),
      transactionIdleMs: parseCount(
        setting(flags.transactionTimeout, 'DDB_TRANSACTION_TIMEOUT', String(TRANSACTION_IDLE_MS)),
        '--transaction-timeout',
      ),
      onFatal: (err) => {
        logger.error('master stopping: cannot go on', { error: formatError(err) })
        process.exit(1)
      },
    })
    const closePorts = await startClientPorts(master, ports, logger.child({ node: 'master' }))
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
    await closePorts()
    await master.close()
  })
}
