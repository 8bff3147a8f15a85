import { createReadStream, openSync } from 'node:fs'
import type { Command } from 'commander'
import { DEFAULT_MASTER_LISTEN, DEFAULT_MASTER_MYSQL_LISTEN } from '../config.ts'
import type { Param } from '../entry.ts'
import { DdbError, formatError, UsageError } from '../errors.ts'
import { runShell } from '../front/shell.ts'
import { Client, type QueryOptions } from '../wire/client.ts'
import { DEFAULT_WAIT_MS } from '../wire/messages.ts'
import { MysqlProtocolClient } from './mysql-client.ts'
import { AlreadyReported, formatAnswer, formatMysqlAnswer, printLine } from './print.ts'
import { type ScriptStatement, scriptStatements } from './script.ts'
import { count, hostPort, lookup, setting } from './settings.ts'

interface SqlFlags {
  to?: string
  mysql?: boolean
  mysqlUser?: string
  mysqlPassword?: string
  json?: boolean
  param: string[]
  params?: string
  file?: string
  force?: boolean
  secret?: string
  minOffset?: string
  waitTimeout?: string
  syncReplicas?: string
}

/** Runs one statement (or several separated by `;`) on the node and prints the answers; throws the node's error. */
type Run = (sql: string, params: Value[]) => Promise<void>

/** A parameter `ddb sql` binds: JSON's scalars. */
type Value = Exclude<Param, { $bytes: string }>

/** `ddb sql`: run a statement, a script (a file, a pipe), or an interactive shell, on a node. */
export function registerSql(program: Command): void {
  program
    .command('sql')
    .description(
      'run a statement on a master or slave; with no statement, the statements of --file or of stdin, or an interactive shell on a terminal',
    )
    .argument('[statement]', 'SQL to run (several may be separated by ;)')
    .option('--to <host:port>', `the node to talk to (env DDB_TO; default ${DEFAULT_MASTER_LISTEN})`)
    .option('--file <path>', 'run the statements of this SQL script (- for stdin), in order, on one session')
    .option('--force', 'in a script, go on after a statement fails (ddb still exits 1)')
    .option('--json', 'print one JSON value per statement, one per line')
    .option(
      '--param <value>',
      'a text parameter for a ? placeholder (repeatable); for NULL or numbers use --params',
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option('--params <json>', `the ? placeholders' values as a JSON array, typed: '[7, null, "Ali", 1.5, true]'`)
    .option('--secret <secret>', 'shared secret of the node (env DDB_SECRET)')
    .option(
      '--min-offset <n>',
      "read-your-writes: first wait until the node has applied this offset (from a write's answer)",
    )
    .option(
      '--wait-timeout <ms>',
      `how long --min-offset waits before failing with STALE_READ (env DDB_WAIT_TIMEOUT; default ${DEFAULT_WAIT_MS})`,
    )
    .option(
      '--sync-replicas <k>',
      "answer the writes only once K slaves have applied them (instead of the master's --sync-replicas; 0: do not wait)",
    )
    .option(
      '--mysql',
      `talk to the node's MySQL port instead (--to defaults to ${DEFAULT_MASTER_MYSQL_LISTEN}) and print as the mysql client does`,
    )
    .option('--mysql-user <name>', 'with --mysql: the user (env DDB_MYSQL_USER; default root)')
    .option('--mysql-password <password>', 'with --mysql: the password (env DDB_MYSQL_PASSWORD; default empty)')
    .addHelpText(
      'after',
      '\nNo environment variable: --file, --force, --json, --param, --params, --min-offset, --sync-replicas, --mysql (they say what one run does).',
    )
    .action(async (statement: string | undefined, flags: SqlFlags) => {
      const params = parameters(flags)
      if (statement !== undefined && flags.file !== undefined)
        throw new UsageError('give a statement or --file, not both')
      const script = statement === undefined && (flags.file !== undefined || !process.stdin.isTTY)
      if (script && params.length > 0)
        throw new UsageError('--param and --params bind a STATEMENT argument, not a script')
      const source = script ? input(flags.file) : null // a missing file says so before any connection
      const { run, prompt, close } = flags.mysql ? await overMysql(flags) : await overDdb(flags)
      try {
        if (statement !== undefined) return await run(statement, params)
        if (source) return await runScript(run, scriptStatements(source), flags.force ?? false)
        await runShell(prompt, async (sql) => {
          try {
            await run(sql, [])
          } catch (err) {
            console.error(flags.mysql ? formatError(err) : `ERROR: ${formatError(err)}`)
          }
        })
      } finally {
        close()
      }
    })
}

/** The bound parameters: --param's texts, or --params' typed JSON values. */
function parameters(flags: SqlFlags): Value[] {
  if (flags.params === undefined) return flags.param
  if (flags.param.length > 0) throw new UsageError('give --param or --params, not both')
  const expected = 'expected a JSON array of strings, numbers, true, false and null'
  let values: unknown
  try {
    values = JSON.parse(flags.params)
  } catch {
    throw new UsageError(`invalid --params ${flags.params}: ${expected}`)
  }
  const scalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v)
  if (!Array.isArray(values) || !values.every(scalar))
    throw new UsageError(`invalid --params ${flags.params}: ${expected}`)
  return values as Value[]
}

/** The script's text as it arrives: the file's, or stdin's (no --file, or --file -). */
function input(file: string | undefined): AsyncIterable<Uint8Array | string> {
  if (file === undefined || file === '-') return process.stdin
  try {
    return createReadStream('', { fd: openSync(file, 'r') })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new DdbError('FILE', `cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`)
  }
}

/**
 * Runs a script's statements in order on one session (USE and BEGIN carry on),
 * stopping at the first failure, which is reported with its line as the mysql
 * client does (`ERROR at line 12: …`). With `force` it goes on, and still fails at the end.
 */
async function runScript(run: Run, statements: AsyncIterable<ScriptStatement>, force: boolean): Promise<void> {
  let failed = false
  for await (const { sql, line } of statements) {
    try {
      await run(sql, [])
    } catch (err) {
      const lost = err instanceof DdbError && ['CONNECTION_LOST', 'UNREACHABLE'].includes(err.code)
      if (lost) throw err
      failed = true
      process.stderr.write(`ddb: ${atLine(err, line)}\n`)
      if (!force) break
    }
  }
  if (failed) throw new AlreadyReported()
}

/** A statement's error with its line: `ERROR at line 12: …`, or the mysql client's `ERROR 1146 (42S02) at line 12: …`. */
function atLine(err: unknown, line: number): string {
  const text = formatError(err)
  const mysql = /^(ERROR \d+ \([^)]*\)): /.exec(text)
  return mysql ? `${mysql[1]} at line ${line}: ${text.slice(mysql[0].length)}` : `ERROR at line ${line}: ${text}`
}

/** A session on ddb's own port. */
async function overDdb(flags: SqlFlags): Promise<{ run: Run; prompt: string; close: () => void }> {
  const to = lookup(flags.to, '--to', 'DDB_TO', DEFAULT_MASTER_LISTEN)
  const waitTimeout = lookup(flags.waitTimeout, '--wait-timeout', 'DDB_WAIT_TIMEOUT', '')
  const options: QueryOptions = {
    ...(flags.minOffset !== undefined ? { minOffset: count(lookup(flags.minOffset, '--min-offset', null, '')) } : {}),
    ...(waitTimeout.text ? { waitMs: count(waitTimeout) } : {}),
    ...(flags.syncReplicas !== undefined
      ? { syncReplicas: count(lookup(flags.syncReplicas, '--sync-replicas', null, '')) }
      : {}),
  }
  const client = await Client.connect(hostPort(to), setting(flags.secret, 'DDB_SECRET', ''))
  const json = flags.json ?? false
  return {
    run: async (sql, params) => {
      for (const answer of await client.query(sql, params, options)) await printLine(formatAnswer(answer, json))
    },
    prompt: `${client.role}@${to.text}> `,
    close: () => client.close(),
  }
}

/** A session on the node's MySQL port, printed as the mysql client prints. */
async function overMysql(flags: SqlFlags): Promise<{ run: Run; prompt: string; close: () => void }> {
  const to = lookup(flags.to, '--to', 'DDB_TO', DEFAULT_MASTER_MYSQL_LISTEN)
  const client = await MysqlProtocolClient.connect(
    hostPort(to),
    setting(flags.mysqlUser, 'DDB_MYSQL_USER', 'root'),
    setting(flags.mysqlPassword, 'DDB_MYSQL_PASSWORD', ''),
  )
  // On the MySQL port the session variable says it, for every write of the session.
  if (flags.syncReplicas !== undefined)
    await client.query(`SET ddb_sync_replicas = ${count(lookup(flags.syncReplicas, '--sync-replicas', null, ''))}`, [])
  return {
    run: async (sql, params) => {
      const started = performance.now()
      const answers = await client.query(sql, params)
      const seconds = (performance.now() - started) / 1000
      for (const answer of answers)
        await printLine(flags.json ? formatAnswer(answer, true) : formatMysqlAnswer(answer, seconds))
    },
    prompt: `mysql@${to.text}> `,
    close: () => client.close(),
  }
}
