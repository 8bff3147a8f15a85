import { type CpuUse, meterCpu, type ProcessGroups } from './cpu.ts'
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

/** A case's results: operations/s per round, and the CPU its rounds used. */
export interface ThroughputResult {
  perSecond: number[]
  cpu: CpuPerOp
}

/** CPU seconds per operation, by process group (master, master store, slaves, load generator), and how busy the machine was (0…1). */
export interface CpuPerOp {
  perOp: Record<string, number>
  busy: number
}

/** A case measured in rounds: how to start a round, whose CPU counts, and what to wait for after each round. */
export interface RoundCase {
  label: string
  /** What an operation is, plural, for the progress lines: rows, selects, transactions. */
  unit: string
  /** Opens what one round of about `durationMs` needs (its connections, or a client program that runs that long). */
  open(durationMs: number): Promise<Round>
  /** The processes whose CPU the round's operations cost, by group; the bench itself is added as the load generator. */
  processes(): ProcessGroups
  /** Resolves once the system is idle again (slaves caught up). */
  settle(): Promise<void>
}

/**
 * One round, opened: runs operations while `more()` says so, then is closed.
 * `loadCpuSeconds` is CPU the round measured itself, for the load generator: a
 * client program that has exited by the time the meter stops.
 */
export interface Round {
  run(more: () => boolean): Promise<{ ops: number; ms: number; loadCpuSeconds?: number }>
  close(): void
}

/** How a phase of rounds is named in the progress lines, and its warm-up. */
export interface RoundsOptions {
  phase: string
  /** The longest unmeasured warm-up round per case, in milliseconds (0: none). */
  warmUpMs: number
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
  const byLabel = new Map<RoundCase, ThroughputCase>()
  const roundCases = cases.map((c) => {
    const rc: RoundCase = {
      label: c.label,
      unit: 'rows',
      async open() {
        const conns = await openAll(c.system.connect, c.clients)
        return {
          run: async (more) => {
            const { rows, ms } = await insertLoop(conns, c.system.ids, more)
            return { ops: rows, ms }
          },
          close: () => {
            for (const conn of conns) conn.close()
          },
        }
      },
      processes: () => c.system.processes(),
      settle: () => c.system.settle(),
    }
    byLabel.set(rc, c)
    return rc
  })
  const results = await measureRounds(roundCases, rounds, durationMs, {
    phase: 'throughput',
    warmUpMs: WARM_UP_MS,
  })
  return new Map([...results].map(([rc, r]) => [byLabel.get(rc)!, r]))
}

/**
 * Measures operations per second for every case, `rounds` times, each round
 * `durationMs` long, after one unmeasured warm-up round per case; rounds are
 * interleaved (round 1 of every case, then round 2 …) so noise hits all cases
 * alike, and each case settles after each round. Also meters the CPU each
 * process group uses during the rounds.
 */
export async function measureRounds(
  cases: RoundCase[],
  rounds: number,
  durationMs: number,
  options: RoundsOptions,
): Promise<Map<RoundCase, ThroughputResult>> {
  const { phase } = options
  // An unmeasured round first: ddb's JIT and the servers' caches warm up before anything counts.
  for (const c of options.warmUpMs > 0 ? cases : []) {
    const { ops, ms } = await runRound(c, Math.min(durationMs, options.warmUpMs))
    progress(phase, `warm-up, ${c.label}: ${count((ops / ms) * 1000)}/s (not counted)`)
  }
  const totals = new Map(
    cases.map((c) => [c, { perSecond: [] as number[], ops: 0, seconds: {} as Record<string, number>, busy: 0 }]),
  )
  for (let round = 1; round <= rounds; round++) {
    for (const c of cases) {
      const { ops, ms, cpu } = await runRound(c, durationMs)
      const perSecond = (ops / ms) * 1000
      const total = totals.get(c)!
      total.perSecond.push(perSecond)
      total.ops += ops
      total.busy += cpu.busy / rounds
      for (const [group, seconds] of Object.entries(cpu.seconds))
        total.seconds[group] = (total.seconds[group] ?? 0) + seconds
      progress(
        phase,
        `round ${round}/${rounds}, ${c.label}: ${count(ops)} ${c.unit} in ${(ms / 1000).toFixed(1)} s = ${count(perSecond)}/s, machine ${(cpu.busy * 100).toFixed(0)}% busy`,
      )
    }
  }
  return new Map(
    cases.map((c) => {
      const t = totals.get(c)!
      const perOp = Object.fromEntries(
        Object.entries(t.seconds).map(([group, seconds]) => [group, seconds / Math.max(t.ops, 1)]),
      )
      return [c, { perSecond: t.perSecond, cpu: { perOp, busy: t.busy } }]
    }),
  )
}

/** How long each write case's unmeasured warm-up round lasts at most, in milliseconds. */
const WARM_UP_MS = 1_000

/** One round of a case: it runs for `durationMs`; returns operations, elapsed ms and the CPU used; then lets the case settle. */
async function runRound(c: RoundCase, durationMs: number): Promise<{ ops: number; ms: number; cpu: CpuUse }> {
  const round = await c.open(durationMs)
  const deadline = now() + durationMs
  const stopMeter = meterCpu({ ...c.processes(), 'load generator': [process.pid] })
  const { ops, ms, loadCpuSeconds = 0 } = await round.run(() => now() < deadline).finally(() => round.close())
  const cpu = stopMeter()
  cpu.seconds['load generator'] = (cpu.seconds['load generator'] ?? 0) + loadCpuSeconds
  await c.settle()
  return { ops, ms, cpu }
}
