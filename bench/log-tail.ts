import { dirname } from 'node:path'
import { now } from './measure.ts'

/** Runs `<binary> log tail --log <log> <args>` and returns the time from spawn to its first stdout line, in milliseconds. */
export async function timeToFirstLine(binary: string, log: string, args: string[]): Promise<number> {
  const start = now()
  const proc = Bun.spawn([binary, 'log', 'tail', '--log', log, ...args], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    cwd: dirname(binary),
    env: { PATH: process.env.PATH ?? '' },
  })
  let firstLineAt: number | null = null
  const decoder = new TextDecoder()
  for await (const chunk of proc.stdout) {
    if (decoder.decode(chunk).includes('\n')) {
      firstLineAt = now()
      break
    }
  }
  proc.kill()
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
  if (firstLineAt === null)
    throw new Error(`ddb log tail ${args.join(' ')} printed nothing (exit ${code}): ${stderr.trim()}`)
  return firstLineAt - start
}
