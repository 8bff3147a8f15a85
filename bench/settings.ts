/** How much each phase does: the full run, or --quick. */
export interface Settings {
  mode: 'full' | 'quick'
  /** Throughput rounds per case, and each round's length in milliseconds. */
  rounds: number
  roundMs: number
  /** Steady write rate (per second), duration (ms) of each lag round, and rounds per system (interleaved). */
  lagPerSecond: number
  lagMs: number
  lagRounds: number
  /** How far behind the catch-up slaves are, in entries. */
  catchUpEntries: number
  /** The history the memory and log-tail phases use, in entries. */
  historyEntries: number
  /** Runs of each `ddb log tail` timing. */
  tailRuns: number
  /** Front door (MySQL port, mysql2): rounds per case, each round's length and the warm-up round's, in milliseconds. */
  frontRounds: number
  frontRoundMs: number
  frontWarmUpMs: number
  /** Front door, sysbench oltp_read_write: rounds per case, each round's length and the warm-up round's (0: none), in milliseconds (whole seconds). */
  sysbenchRounds: number
  sysbenchRoundMs: number
  sysbenchWarmUpMs: number
}

/** `bun run bench`: about 9 to 10 minutes on 2 cores. */
export const FULL: Settings = {
  mode: 'full',
  rounds: 5,
  roundMs: 3_000,
  lagPerSecond: 500,
  lagMs: 10_000,
  lagRounds: 3,
  catchUpEntries: 100_000,
  historyEntries: 1_000_000,
  tailRuns: 5,
  frontRounds: 5,
  frontRoundMs: 1_500,
  frontWarmUpMs: 1_000,
  sysbenchRounds: 3,
  sysbenchRoundMs: 4_000,
  sysbenchWarmUpMs: 1_000,
}

/** `bun run bench --quick`: under 2 minutes. */
export const QUICK: Settings = {
  mode: 'quick',
  rounds: 3,
  roundMs: 1_000,
  lagPerSecond: 500,
  lagMs: 1_000,
  lagRounds: 3,
  catchUpEntries: 20_000,
  historyEntries: 100_000,
  tailRuns: 5,
  frontRounds: 3,
  frontRoundMs: 200,
  frontWarmUpMs: 200,
  sysbenchRounds: 1,
  sysbenchRoundMs: 1_000,
  sysbenchWarmUpMs: 0,
}
