import type { Command } from 'commander'
import { DEFAULT_MASTER_LISTEN, parseHostPort } from '../config.ts'
import { Client } from '../wire/client.ts'
import { formatStatus } from './print.ts'
import { setting } from './settings.ts'

/** `ddb status`: a node's offset, its slaves (master) or its master and lag (slave). */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show a node's replication status")
    .option('--to <host:port>', `the node to ask (env DDB_TO; default ${DEFAULT_MASTER_LISTEN})`)
    .option('--json', 'print the status as one JSON value')
    .option('--secret <secret>', 'shared secret of the node (env DDB_SECRET)')
    .action(async (flags: { to?: string; json?: boolean; secret?: string }) => {
      const client = await Client.connect(
        parseHostPort(setting(flags.to, 'DDB_TO', DEFAULT_MASTER_LISTEN), '--to'),
        setting(flags.secret, 'DDB_SECRET', ''),
      )
      try {
        const status = await client.status()
        console.log(flags.json ? JSON.stringify(status) : formatStatus(status))
      } finally {
        client.close()
      }
    })
}
