import { insertLoop, openAll } from './load.ts'
import { now } from './measure.ts'
import { count, progress } from './progress.ts'
import type { System } from './systems.ts'

/** One throughput figure: `system` written by `clients` connections, one outstanding write each. */
export interface ThroughputCase {
  label: string
  system: System
  clients: number
}

/**
 * Measures durable writes per second for every case, `rounds` times, each
 * round `durationMs` long; rounds are interleaved (round 1 of every case, then
 * round 2 …) so noise hits all cases alike, and the system's slaves catch up
 * between rounds. Returns each case's rows/s per round.
 */
export async function measureThroughput(cases: ThroughputCase[], rounds: number, durationMs: number): Promise<Map<ThroughputCase, number[]>> {
  const results = new Map(cases.map((c) => [c, [] as number[]]))
  for (let round = 1; round <= rounds; round++) {
    for (const c of cases) {
      const conns = await openAll(c.system.connect, c.clients)
      const deadline = now() + durationMs
      const { rows, ms } = await insertLoop(conns, c.system.ids, () => now() < deadline).finally(() => conns.forEach((conn) => conn.close()))
      await c.system.settle()
      const perSecond = (rows / ms) * 1000
      results.get(c)!.push(perSecond)
      progress('throughput', `round ${round}/${rounds}, ${c.label}: ${count(rows)} rows in ${(ms / 1000).toFixed(1)} s = ${count(perSecond)}/s`)
    }
  }
  return results
}
