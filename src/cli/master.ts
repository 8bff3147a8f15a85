import type { Command } from 'commander'
import { DEFAULT_LOG, DEFAULT_MASTER_DB, DEFAULT_MASTER_LISTEN, DEFAULT_MASTER_MYSQL_LISTEN } from '../config.ts'
import { runPrompt } from '../front/prompt.ts'
import { ownsTerminal } from '../front/shell.ts'
import type { Logger } from '../logger.ts'
import { TRANSACTION_IDLE_MS } from '../master/client-transaction.ts'
import { Master } from '../master/master.ts'
import { SYNC_TIMEOUT_MS, type SyncPolicy } from '../master/sync-acks.ts'
import { logOptions, logSync } from './log-flags.ts'
import { mysqlOptions } from './mysql-flags.ts'
import { portSettings, startPorts } from './ports.ts'
import { formatAnswer } from './print.ts'
import { type RetentionFlags, retentionFields, retentionOptions, retentionPolicy } from './retention-flags.ts'
import { choice, count, enabled, lookup, namingDb } from './settings.ts'
import { exitOnFatal, untilStopped } from './signals.ts'

interface MasterFlags extends RetentionFlags {
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
  syncReplicas?: string
  syncTimeout?: string
  syncFallback?: string
  /** False with --no-prompt. */
  prompt?: boolean
}

/** `ddb master`: serve writes, log them, stream them to slaves; a SQL prompt on a terminal. */
export function registerMaster(program: Command, logger: Logger): void {
  const command = logOptions(
    program
      .command('master')
      .description('run a master: executes writes, logs them durably, streams them to slaves')
      .option(
        '--db <url>',
        `store: sqlite:<file> or mysql://user:pass@host:port/db[?socket=<path>] (env DDB_DB; default ${DEFAULT_MASTER_DB})`,
      ),
    DEFAULT_LOG,
  )
    .option('--listen <host:port>', `port for slaves and clients (env DDB_LISTEN; default ${DEFAULT_MASTER_LISTEN})`)
    .option('--secret <secret>', 'shared secret slaves and clients must prove (env DDB_SECRET; default none)')
    .option('--http <host:port>', 'also serve the HTTP JSON API here (env DDB_HTTP; default off)')
    .option(
      '--transaction-timeout <ms>',
      `roll back a client transaction idle this long (env DDB_TRANSACTION_TIMEOUT; default ${TRANSACTION_IDLE_MS})`,
    )
    .option(
      '--sync-replicas <k>',
      'answer a write only once K slaves have applied it (env DDB_SYNC_REPLICAS; default 0: asynchronous)',
    )
    .option(
      '--sync-timeout <ms>',
      `how long a write waits for those slaves before --sync-fallback applies (env DDB_SYNC_TIMEOUT; default ${SYNC_TIMEOUT_MS})`,
    )
    .option(
      '--sync-fallback <mode>',
      'on that timeout: async (answer writes without waiting until enough slaves catch up) or block (keep writes waiting) (env DDB_SYNC_FALLBACK; default async)',
    )
    .option('--no-prompt', 'no SQL prompt, even on a terminal (env DDB_NO_PROMPT=1)')
  mysqlOptions(retentionOptions(command), DEFAULT_MASTER_MYSQL_LISTEN).action(async (flags: MasterFlags) => {
    const settings = portSettings(flags, { listen: DEFAULT_MASTER_LISTEN, mysqlListen: DEFAULT_MASTER_MYSQL_LISTEN })
    const nodeLogger = logger.child({ node: 'master' })
    const prompt = flags.prompt !== false && !enabled(undefined, '--no-prompt', 'DDB_NO_PROMPT') && ownsTerminal()
    const db = lookup(flags.db, '--db', 'DDB_DB', DEFAULT_MASTER_DB)
    const timeout = lookup(flags.transactionTimeout, '--transaction-timeout', 'DDB_TRANSACTION_TIMEOUT', '')
    const retention = retentionPolicy(flags)
    const sync = syncPolicy(flags)
    const master = await namingDb(db, () =>
      Master.start({
        db: db.text,
        log: lookup(flags.log, '--log', 'DDB_LOG', DEFAULT_LOG).text,
        logSync: logSync(flags.logSync),
        logger: nodeLogger,
        transactionIdleMs: timeout.text ? count(timeout) : TRANSACTION_IDLE_MS,
        retention,
        sync,
        onFatal: exitOnFatal(logger, 'master'),
      }),
    )
    const ports = await startPorts(master, settings, nodeLogger, (address) =>
      nodeLogger.info('master started', {
        listen: address,
        store: master.store.displayUrl,
        storeSync: master.store.durability,
        log: master.log.path,
        offset: master.log.lastOffset(),
        ...(master.log.start > 0 ? { logStart: master.log.start } : {}),
        ...retentionFields(flags),
        ...(sync.replicas > 0
          ? { syncReplicas: sync.replicas, syncTimeoutMs: sync.timeoutMs, syncFallback: sync.fallback }
          : {}),
      }),
    )
    const stopped = untilStopped()
    if (prompt) await promptUntil(master, stopped, nodeLogger)
    nodeLogger.info('master stopping', { signal: await stopped })
    await ports.close()
    await master.close()
  })
}

/** What writes wait for: --sync-replicas slaves, for --sync-timeout, then --sync-fallback. */
function syncPolicy(flags: MasterFlags): SyncPolicy {
  const replicas = lookup(flags.syncReplicas, '--sync-replicas', 'DDB_SYNC_REPLICAS', '0')
  const timeout = lookup(flags.syncTimeout, '--sync-timeout', 'DDB_SYNC_TIMEOUT', String(SYNC_TIMEOUT_MS))
  const fallback = lookup(flags.syncFallback, '--sync-fallback', 'DDB_SYNC_FALLBACK', 'async')
  return {
    replicas: count(replicas),
    timeoutMs: count(timeout),
    fallback: choice(fallback, ['async', 'block'] as const),
  }
}

/** The master's prompt, until the master is stopped (the terminal is given back) or the user leaves it (the master runs on). */
async function promptUntil(master: Master, stopped: Promise<unknown>, logger: Logger): Promise<void> {
  const stop = new AbortController()
  void stopped.then(() => stop.abort())
  await runPrompt(master, (a) => formatAnswer(a, false), stop.signal)
  if (!stop.signal.aborted)
    logger.info('prompt closed; the master keeps running', { stop: `Ctrl-C or kill ${process.pid}` })
}
