import type { Command } from 'commander'
import { DEFAULT_SLAVE_DB, DEFAULT_SLAVE_LISTEN, DEFAULT_SLAVE_MYSQL_LISTEN } from '../config.ts'
import type { Logger } from '../logger.ts'
import { PromotableNode } from '../node/promotable.ts'
import { Slave } from '../slave/slave.ts'
import { defaultSlaveLog } from '../slave/slave-log.ts'
import { logOptions, logSync } from './log-flags.ts'
import { type MysqlFlags, mysqlOptions } from './mysql-flags.ts'
import { portSettings, startPorts } from './ports.ts'
import { type RetentionFlags, retentionOptions, retentionPolicy } from './retention-flags.ts'
import { enabled, hostPorts, lookup, namingDb, required, setting } from './settings.ts'
import { exitOnFatal, untilStopped } from './signals.ts'

interface SlaveFlags extends MysqlFlags, RetentionFlags {
  master?: string
  db?: string
  listen?: string
  secret?: string
  id?: string
  forwardWrites?: boolean
  replicateDb: string[]
  ignoreDb: string[]
  http?: string
  fromSnapshot?: string
  log?: string
  logSync?: string
  rejoin?: boolean
}

/** Collects a repeatable flag's values. */
const collect = (value: string, all: string[]) => [...all, value]

/** A repeatable database-name flag: its values if given, else the environment's comma-separated list. */
function databases(flag: string[], envName: string): string[] {
  const names = flag.length > 0 ? flag : (process.env[envName] ?? '').split(',')
  return [...new Set(names.map((n) => n.trim()).filter(Boolean))]
}

/** `ddb slave`: keep a copy of the master's store, serve reads from it. */
export function registerSlave(program: Command, logger: Logger): void {
  const command = logOptions(
    program
      .command('slave')
      .description("run a slave: replays the master's log into its own store and its own log, and serves reads")
      .option(
        '--master <host:port,…>',
        'the master to replicate from, or the nodes that may be master: it follows the one at the highest epoch (env DDB_MASTER; required)',
      )
      .option(
        '--db <url>',
        `store: sqlite:<file> or mysql://user:pass@host:port/db[?socket=<path>] (env DDB_DB; default ${DEFAULT_SLAVE_DB})`,
      ),
    `beside a SQLite store (x.sqlite: x-log.sqlite), else ${defaultSlaveLog(null)}`,
  )
    .option('--listen <host:port>', `port for clients (env DDB_LISTEN; default ${DEFAULT_SLAVE_LISTEN})`)
    .option('--secret <secret>', 'shared secret the master expects (env DDB_SECRET; default none)')
    .option('--id <name>', 'how the master names this slave (env DDB_ID; default hostname:port)')
    .option(
      '--forward-writes',
      "forward clients' INSERT/UPDATE/DELETE/REPLACE to the master instead of refusing them (env DDB_FORWARD_WRITES)",
    )
    .option(
      '--replicate-db <name>',
      'apply only entries of this database (repeatable; env DDB_REPLICATE_DB, comma-separated)',
      collect,
      [],
    )
    .option(
      '--ignore-db <name>',
      'skip entries of this database (repeatable; env DDB_IGNORE_DB, comma-separated)',
      collect,
      [],
    )
    .option('--http <host:port>', 'also serve the HTTP JSON API here (env DDB_HTTP; default off)')
    .option(
      '--rejoin',
      'an old master rejoining its new master: take its store, save its entries the new master never had to a file beside its log, rebuild by snapshot if needed (env DDB_REJOIN)',
    )
    .option(
      '--from-snapshot <file>',
      'first load this snapshot file (ddb snapshot --out) into the empty store (env DDB_FROM_SNAPSHOT)',
    )
  mysqlOptions(retentionOptions(command), DEFAULT_SLAVE_MYSQL_LISTEN).action(async (flags: SlaveFlags) => {
    const retention = retentionPolicy(flags)
    const masters = hostPorts(required(flags.master, '--master', 'DDB_MASTER'))
    const settings = portSettings(flags, { listen: DEFAULT_SLAVE_LISTEN, mysqlListen: DEFAULT_SLAVE_MYSQL_LISTEN })
    const nodeLogger = logger.child({ node: 'slave' })
    const db = lookup(flags.db, '--db', 'DDB_DB', DEFAULT_SLAVE_DB)
    const id = setting(flags.id, 'DDB_ID', '')
    const slave = await namingDb(db, () =>
      Slave.open({
        masters,
        db: db.text,
        listen: settings.listen,
        secret: settings.secret,
        id: id || undefined,
        forwardWrites: enabled(flags.forwardWrites, '--forward-writes', 'DDB_FORWARD_WRITES'),
        filters: {
          replicateDb: databases(flags.replicateDb, 'DDB_REPLICATE_DB'),
          ignoreDb: databases(flags.ignoreDb, 'DDB_IGNORE_DB'),
        },
        logger: nodeLogger,
        fromSnapshot: setting(flags.fromSnapshot, 'DDB_FROM_SNAPSHOT', '') || undefined,
        log: setting(flags.log, 'DDB_LOG', '') || undefined,
        rejoin: enabled(flags.rejoin, '--rejoin', 'DDB_REJOIN'),
        retention,
        logSync: logSync(flags.logSync),
      }),
    )
    // `ddb promote` makes it the master in place: asynchronous, pruning as the slave did, until restarted as `ddb master`.
    const node = new PromotableNode(slave, {
      logger: nodeLogger,
      retention,
      onFatal: exitOnFatal(logger, 'node'),
    })
    const ports = await startPorts(node, settings, nodeLogger, (address) => slave.replicate(address))
    await untilStopped()
    await ports.close()
    await node.close()
  })
}
