import type { Command } from 'commander'
import { DEFAULT_SLAVE_DB, DEFAULT_SLAVE_LISTEN, parseHostPort } from '../config.ts'
import type { Logger } from '../logger.ts'
import { Slave } from '../slave/slave.ts'
import { requiredSetting, setting } from './settings.ts'
import { untilStopped } from './signals.ts'

interface SlaveFlags {
  master?: string
  db?: string
  listen?: string
  secret?: string
  id?: string
}

/** `ddb slave`: keep a copy of the master's store, serve reads from it. */
export function registerSlave(program: Command, logger: Logger): void {
  program
    .command('slave')
    .description('run a slave: replays the master\'s log into its own store and serves reads')
    .option('--master <host:port>', 'the master to replicate from (env DDB_MASTER; required)')
    .option('--db <url>', `store: sqlite:<file> or mysql://user:pass@host:port/db (env DDB_DB; default ${DEFAULT_SLAVE_DB})`)
    .option('--listen <host:port>', `port for clients (env DDB_LISTEN; default ${DEFAULT_SLAVE_LISTEN})`)
    .option('--secret <secret>', 'shared secret the master expects (env DDB_SECRET; default none)')
    .option('--id <name>', 'how the master names this slave (default hostname:port)')
    .action(async (flags: SlaveFlags) => {
      const master = parseHostPort(requiredSetting(flags.master, 'DDB_MASTER', '--master'), '--master')
      const slave = await Slave.start({
        master,
        db: setting(flags.db, 'DDB_DB', DEFAULT_SLAVE_DB),
        listen: parseHostPort(setting(flags.listen, 'DDB_LISTEN', DEFAULT_SLAVE_LISTEN), '--listen'),
        secret: setting(flags.secret, 'DDB_SECRET', ''),
        id: flags.id,
        logger: logger.child({ node: 'slave' }),
      })
      await untilStopped()
      await slave.close()
    })
}
