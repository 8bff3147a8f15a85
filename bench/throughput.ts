import { type CpuUse, meterCpu } from './cpu.ts'
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

/** A case's results: rows/s per round, and the CPU its rounds used. */
export interface ThroughputResult {
  perSecond: number[]
  cpu: CpuPerWrite
}

/** CPU seconds per acknowledged write, by process group (master, master store, slaves, load generator), and how busy the machine was (0…1). */
export interface CpuPerWrite {
  perWrite: Record<string, number>
  busy: number
}

/**
 * Measures durable writes per second for every case, `rounds` times, each
 * round `durationMs` long; rounds are interleaved (round 1 of every case, then
 * round 2 …) so noise hits all cases alike, and the system's slaves catch up
 * between rounds. Also meters the CPU each process group uses during the rounds.
 */
export async function measureThroughput(
  cases: ThroughputCase[],
  rounds: number,
  durationMs: number,
): Promise<Map<ThroughputCase, ThroughputResult>> {
  // An unmeasured round first: ddb's JIT and both servers' caches warm up before anything counts.
  for (const c of cases) {
    const { rows, ms } = await runRound(c, Math.min(durationMs, WARM_UP_MS))
    progress('throughput', `warm-up, ${c.label}: ${count((rows / ms) * 1000)}/s (not counted)`)
  }
  const totals = new Map(
    cases.map((c) => [c, { perSecond: [] as number[], rows: 0, seconds: {} as Record<string, number>, busy: 0 }]),
  )
  for (let round = 1; round <= rounds; round++) {
    for (const c of cases) {
      const { rows, ms, cpu } = await runRound(c, durationMs)
      const perSecond = (rows / ms) * 1000
      const total = totals.get(c)!
      total.perSecond.push(perSecond)
      total.rows += rows
      total.busy += cpu.busy / rounds
      for (const [group, seconds] of Object.entries(cpu.seconds))
        total.seconds[group] = (total.seconds[group] ?? 0) + seconds
      progress(
        'throughput',
        `round ${round}/${rounds}, ${c.label}: ${count(rows)} rows in ${(ms / 1000).toFixed(1)} s = ${count(perSecond)}/s, machine ${(cpu.busy * 100).toFixed(0)}% busy`,
      )
    }
  }
  return new Map(
    cases.map((c) => {
      const t = totals.get(c)!
      const perWrite = Object.fromEntries(
        Object.entries(t.seconds).map(([group, seconds]) => [group, seconds / Math.max(t.rows, 1)]),
      )
      return [c, { perSecond: t.perSecond, cpu: { perWrite, busy: t.busy } }]
    }),
  )
}

/** How long each case's unmeasured warm-up round lasts at most, in milliseconds. */
const WARM_UP_MS = 1_000

/** One round of a case: its clients write for `durationMs`; returns rows, elapsed ms and the CPU used; then lets its slaves catch up. */
async function runRound(c: ThroughputCase, durationMs: number): Promise<{ rows: number; ms: number; cpu: CpuUse }> {
  const conns = await openAll(c.system.connect, c.clients)
  const deadline = now() + durationMs
  const stopMeter = meterCpu({ ...c.system.processes(), 'load generator': [process.pid] })
  const { rows, ms } = await insertLoop(conns, c.system.ids, () => now() < deadline).finally(() => {
    for (const conn of conns) conn.close()
  })
  const cpu = stopMeter()
  await c.system.settle()
  return { rows, ms, cpu }
}
