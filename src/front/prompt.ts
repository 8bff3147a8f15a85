import { formatError } from '../errors.ts'
import type { NodeApi } from '../node/api.ts'
import { Session } from '../node/session.ts'
import type { QueryAnswer } from '../wire/messages.ts'
import { runShell } from './shell.ts'

/**
 * The master's SQL prompt (`ddb master` on a terminal): one Session for the
 * prompt's whole life, so BEGIN … COMMIT and USE carry over from line to line
 * as in any SQL client. Resolves when the prompt ends (Ctrl-D, `exit`, or
 * `stop` aborted); an open transaction rolls back. The node runs on either way.
 */
export async function runPrompt(
  node: NodeApi,
  format: (answer: QueryAnswer[number]) => string,
  stop: AbortSignal,
): Promise<void> {
  const session = new Session(node)
  try {
    await runShell(
      'ddb> ',
      async (sql) => {
        try {
          for (const answer of await session.execute(sql)) console.log(format(answer))
        } catch (err) {
          console.error(`ERROR: ${formatError(err)}`)
        }
      },
      stop,
    )
  } finally {
    await session.close()
  }
}
