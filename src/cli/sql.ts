import type { Command } from 'commander'
import { DEFAULT_MASTER_LISTEN, DEFAULT_MASTER_MYSQL_LISTEN, parseHostPort } from '../config.ts'
import { formatError } from '../errors.ts'
import { runShell } from '../front/shell.ts'
import { Client, type QueryOptions } from '../wire/client.ts'
import { DEFAULT_WAIT_MS } from '../wire/messages.ts'
import { MysqlProtocolClient } from './mysql-client.ts'
import { formatAnswer, formatMysqlAnswer } from './print.ts'
import { parseCount, setting } from './settings.ts'

interface SqlFlags {
  to?: string
  mysql?: boolean
  mysqlUser?: string
  mysqlPassword?: string
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
    .option(
      '--param <value>',
      'a bound parameter for a ? placeholder (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option('--secret <secret>', 'shared secret of the node (env DDB_SECRET)')
    .option(
      '--min-offset <n>',
      "read-your-writes: first wait until the node has applied this offset (from a write's answer)",
    )
    .option(
      '--wait-timeout <ms>',
      `how long --min-offset waits before failing with STALE_READ (default ${DEFAULT_WAIT_MS})`,
    )
    .option(
      '--mysql',
      `talk to the node's MySQL port instead (--to defaults to ${DEFAULT_MASTER_MYSQL_LISTEN}) and print as the mysql client does`,
    )
    .option('--mysql-user <name>', 'with --mysql: the user (env DDB_MYSQL_USER; default root)')
    .option('--mysql-password <password>', 'with --mysql: the password (env DDB_MYSQL_PASSWORD; default empty)')
    .action(async (statement: string | undefined, flags: SqlFlags) => {
      if (flags.mysql) return runOverMysql(statement, flags)
      const to = setting(flags.to, 'DDB_TO', DEFAULT_MASTER_LISTEN)
      const options: QueryOptions = {
        ...(flags.minOffset !== undefined ? { minOffset: parseCount(flags.minOffset, '--min-offset') } : {}),
        ...(flags.waitTimeout !== undefined ? { waitMs: parseCount(flags.waitTimeout, '--wait-timeout') } : {}),
      }
      const client = await Client.connect(parseHostPort(to, '--to'), setting(flags.secret, 'DDB_SECRET', ''))
      try {
        if (statement !== undefined) {
          for (const answer of await client.query(statement, flags.param, options))
            console.log(formatAnswer(answer, flags.json ?? false))
          return
        }
        await runShell(`${client.role}@${to}> `, async (sql) => {
          try {
            for (const answer of await client.query(sql, [], options))
              console.log(formatAnswer(answer, flags.json ?? false))
          } catch (err) {
            console.error(`ERROR: ${formatError(err)}`)
          }
        })
      } finally {
        client.close()
      }
    })
}

/** `ddb sql --mysql`: the same, over the node's MySQL protocol port, printed as the mysql client prints. */
async function runOverMysql(statement: string | undefined, flags: SqlFlags): Promise<void> {
  const to = setting(flags.to, 'DDB_TO', DEFAULT_MASTER_MYSQL_LISTEN)
  const user = setting(flags.mysqlUser, 'DDB_MYSQL_USER', 'root')
  const client = await MysqlProtocolClient.connect(
    parseHostPort(to, '--to'),
    user,
    setting(flags.mysqlPassword, 'DDB_MYSQL_PASSWORD', ''),
  )
  const run = async (sql: string, params: string[]) => {
    const started = performance.now()
    const answers = await client.query(sql, params)
    const seconds = (performance.now() - started) / 1000
    for (const answer of answers)
      console.log(flags.json ? formatAnswer(answer, true) : formatMysqlAnswer(answer, seconds))
  }
  try {
    if (statement !== undefined) return await run(statement, flags.param)
    await runShell(`mysql@${to}> `, async (sql) => {
      try {
        await run(sql, [])
      } catch (err) {
        console.error(formatError(err))
      }
    })
  } finally {
    client.close()
  }
}
