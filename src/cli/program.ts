import { Command, CommanderError } from 'commander'
import { formatError, UsageError } from '../errors.ts'
import { createLogger } from '../logger.ts'
import { registerChecksum } from './checksum.ts'
import { registerLogPrune } from './log-prune.ts'
import { registerLogTail } from './log-tail.ts'
import { registerMaster } from './master.ts'
import { AlreadyReported } from './print.ts'
import { registerPromote } from './promote.ts'
import { registerReplica } from './replica.ts'
import { readDotenv } from './settings.ts'
import { registerSlave } from './slave.ts'
import { registerSnapshot } from './snapshot.ts'
import { registerSql } from './sql.ts'
import { registerStatus } from './status.ts'

export const VERSION = '0.1.0'

/** Runs ddb with these arguments; resolves to the exit status. Errors become one line on stderr. */
export async function run(argv: string[]): Promise<number> {
  try {
    readDotenv() // before anything reads a setting: a bad .env line stops ddb here
    await program().parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    if (err instanceof CommanderError) {
      const ok = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code)
      return ok ? 0 : 2
    }
    if (err instanceof AlreadyReported) return 1
    process.stderr.write(`ddb: ${formatError(err)}\n`)
    return err instanceof UsageError ? 2 : 1
  }
}

/** ddb's commands and their flags. */
function program(): Command {
  const logger = createLogger({}, { level: process.env.DDB_LOG_LEVEL === 'debug' ? 'debug' : 'info' })
  const program = new Command('ddb')
    .description('master-slave SQL replication with a durable replication log')
    .version(VERSION)
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({ outputError: (text, write) => write(`ddb: ${text.replace(/^error: /, '').trim()}\n`) })
  registerMaster(program, logger)
  registerSlave(program, logger)
  registerSql(program)
  registerStatus(program)
  const log = program.command('log').description('inspect and prune the replication log')
  registerLogTail(log)
  registerLogPrune(log)
  registerReplica(program)
  registerPromote(program)
  registerChecksum(program)
  registerSnapshot(program)
  for (const command of program.commands) command.exitOverride()
  for (const group of program.commands) for (const c of group.commands) c.exitOverride()
  return program
}
