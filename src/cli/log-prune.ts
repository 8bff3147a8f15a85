import type { Command } from 'commander'
import { DEFAULT_MASTER_LISTEN } from '../config.ts'
import { Client } from '../wire/client.ts'
import { printLine } from './print.ts'
import { count, hostPort, lookup, setting } from './settings.ts'

/**
 * `ddb log prune --before N`: asks the running master to remove its log's entries
 * before N. The master refuses (PRUNE_REFUSED, exit 1) when a live slave has not
 * acknowledged them or a snapshot in progress pins them.
 */
export function registerLogPrune(log: Command): void {
  log
    .command('prune')
    .description("remove the entries before an offset from the running master's log (never ones a live slave needs)")
    .requiredOption('--before <offset>', 'remove the entries before this offset (it stays)')
    .option('--to <host:port>', `the master (env DDB_TO; default ${DEFAULT_MASTER_LISTEN})`)
    .option('--secret <secret>', 'shared secret of the master (env DDB_SECRET)')
    .action(async (flags: { before: string; to?: string; secret?: string }) => {
      const before = count(lookup(flags.before, '--before', null, ''))
      const client = await Client.connect(
        hostPort(lookup(flags.to, '--to', 'DDB_TO', DEFAULT_MASTER_LISTEN)),
        setting(flags.secret, 'DDB_SECRET', ''),
      )
      let pruned: { start: number; removed: number }
      try {
        pruned = await client.pruneLog(before)
      } finally {
        client.close()
      }
      const what = pruned.removed === 0 ? 'nothing to remove' : `removed ${pruned.removed} entries`
      await printLine(`${what}; the log starts after offset ${pruned.start}`)
    })
}
