import type { Command } from 'commander'
import { DEFAULT_MASTER_LISTEN } from '../config.ts'
import { Client } from '../wire/client.ts'
import { printLine } from './print.ts'
import { hostPort, lookup, setting } from './settings.ts'

/** `ddb replica forget ID`: the master's replica registry, by hand. */
export function registerReplica(program: Command): void {
  const replica = program.command('replica').description("manage the master's registry of slaves")
  replica
    .command('forget')
    .description('remove a stopped slave from the registry: the log no longer waits for it')
    .argument('<id>', 'the slave, as `ddb status` names it')
    .option('--to <host:port>', `the master (env DDB_TO; default ${DEFAULT_MASTER_LISTEN})`)
    .option('--secret <secret>', 'shared secret of the master (env DDB_SECRET)')
    .action(async (id: string, flags: { to?: string; secret?: string }) => {
      const client = await Client.connect(
        hostPort(lookup(flags.to, '--to', 'DDB_TO', DEFAULT_MASTER_LISTEN)),
        setting(flags.secret, 'DDB_SECRET', ''),
      )
      try {
        await client.forgetReplica(id)
      } finally {
        client.close()
      }
      await printLine(`forgot slave ${id}`)
    })
}
