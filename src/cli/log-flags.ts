import type { Command } from 'commander'
import type { LogSync } from '../log/replication-log.ts'
import { choice, lookup } from './settings.ts'

/** --log and --log-sync: every node keeps a replication log (a slave its copy of its master's). */
export function logOptions(command: Command, logDefault: string): Command {
  return command
    .option('--log <file>', `replication log file (env DDB_LOG; default ${logDefault})`)
    .option(
      '--log-sync <mode>',
      'full: fsync every log commit; normal: faster, a power loss may lose the last commits (env DDB_LOG_SYNC; default full)',
    )
}

/** The --log-sync setting. */
export function logSync(flag: string | undefined): LogSync {
  return choice(lookup(flag, '--log-sync', 'DDB_LOG_SYNC', 'full'), ['full', 'normal'] as const)
}
