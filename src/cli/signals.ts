import { formatError } from '../errors.ts'
import type { Logger } from '../logger.ts'

/** Resolves with the first SIGINT or SIGTERM, so a node can close cleanly. */
export function untilStopped(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
}

/** A node's onFatal: says why it cannot go on, and ends the process with exit status 1. */
export function exitOnFatal(logger: Logger, node: 'master' | 'node'): (err: unknown) => never {
  return (err) => {
    logger.error(`${node} stopping: cannot go on`, { error: formatError(err) })
    process.exit(1)
  }
}
