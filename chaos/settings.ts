/** How long and how hard a chaos run goes: the full run (release), or --quick (CI). */
export interface Settings {
  mode: 'full' | 'quick'
  /** How long faults are injected on each store, in ms. */
  faultMsPerStore: number
  /** Concurrent writers (half mysql2 on the MySQL port, half ddb's client on the ddb port). */
  writers: number
  /** A quiet point (writers held, slaves caught up, every check run) after this many faults. */
  checkEvery: number
  /** Quiet time between two faults, in ms. */
  gapMs: number
  /** How long a fault is held (a kill's downtime, a pause, a cut), in ms: from, to. */
  holdMs: [number, number]
  /** Garbage connections per port and kind (random bytes, huge length, slowloris). */
  garbagePerPort: number
  /** The master's log disk (a tmpfs), in MiB. */
  logDiskMiB: number
}

/** `bun run chaos`: about 30 minutes on 2 cores. */
export const FULL: Settings = {
  mode: 'full',
  faultMsPerStore: 13 * 60_000,
  writers: 6,
  checkEvery: 12,
  gapMs: 3_000,
  holdMs: [1_000, 8_000],
  garbagePerPort: 8,
  logDiskMiB: 1024,
}

/** `bun run chaos --quick`: about 4 minutes on 2 cores. */
export const QUICK: Settings = {
  mode: 'quick',
  faultMsPerStore: 70_000,
  writers: 4,
  checkEvery: 7,
  gapMs: 1_000,
  holdMs: [500, 3_000],
  garbagePerPort: 3,
  logDiskMiB: 256,
}
