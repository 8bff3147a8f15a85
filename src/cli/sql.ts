import type { Command } from 'commander'
import { DEFAULT_MASTER_LISTEN, parseHostPort } from '../config.ts'
import { formatError } from '../errors.ts'
import { Client, type QueryOptions } from '../wire/client.ts'
import { DEFAULT_WAIT_MS } from '../wire/messages.ts'
import { formatAnswer } from './print.ts'
import { parseCount, setting } from './settings.ts'
import { runShell } from './shell.ts'

interface SqlFlags {
  to?: string
  json?: boolean
  param: string[]
  secret?: string
  minOffset?: string
  waitTimeout?: string
}

/** `ddb sql`: run one statement on a node, or an interactive shell. */
export function registerSql(program: Command): void {
  program
    .command('sql')
    .description('run a statement on a master or slave; with no statement, an interactive shell')
    .argument('[statement]', 'SQL to run (several may be separated by ;)')
    .option('--to <host:port>', `the node to talk to (env DDB_TO; default ${DEFAULT_MASTER_LISTEN})`)
    .option('--json', 'print one JSON value per statement, one per line')
    .option('--param <value>', 'a bound parameter for a ? placeholder (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option('--secret <secret>', 'shared secret of the node (env DDB_SECRET)')
    .option('--min-offset <n>', 'read-your-writes: first wait until the node has applied this offset (from a write\'s answer)')
    .option('--wait-timeout <ms>', `how long --min-offset waits before failing with STALE_READ (default ${DEFAULT_WAIT_MS})`)
    .action(async (statement: string | undefined, flags: SqlFlags) => {
      const to = setting(flags.to, 'DDB_TO', DEFAULT_MASTER_LISTEN)
      const options: QueryOptions = {
        ...(flags.minOffset !== undefined ? { minOffset: parseCount(flags.minOffset, '--min-offset') } : {}),
        ...(flags.waitTimeout !== undefined ? { waitMs: parseCount(flags.waitTimeout, '--wait-timeout') } : {}),
      }
      const client = await Client.connect(parseHostPort(to, '--to'), setting(flags.secret, 'DDB_SECRET', ''))
      try {
        if (statement !== undefined) {
          for (const answer of await client.query(statement, flags.param, options)) console.log(formatAnswer(answer, flags.json ?? false))
          return
        }
        await runShell(`${client.role}@${to}> `, async (sql) => {
          try {
            for (const answer of await client.query(sql, [], options)) console.log(formatAnswer(answer, flags.json ?? false))
          } catch (err) {
            console.error(`ERROR: ${formatError(err)}`)
          }
        })
      } finally {
        client.close()
      }
    })
}
