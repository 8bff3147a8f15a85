import { insertScheduled, openAll } from './load.ts'
import { now } from './measure.ts'
import { connectMysql } from './native.ts'
import { count, every, progress } from './progress.ts'
import type { System } from './systems.ts'

/** Connections the scheduled writes are spread over (one would queue a write behind a slow one). */
const WRITE_CONNECTIONS = 8
/** How long the slave may take to show the last write, in milliseconds. */
const DRAIN_TIMEOUT_MS = 30_000

/**
 * Replication lag on one clock, the bench's: writes go to `system`'s master at
 * a steady `perSecond` for `durationMs`, each id's acknowledgement time is
 * recorded, and a poller on its own connection to the slave's mariadbd (port
 * `slavePort`, database bench) loops `SELECT MAX(id) FROM t` as fast as it
 * can; when the maximum advances, each
 * newly visible id's lag is the time of that look minus its acknowledgement
 * (0 when the slave showed it before the acknowledgement arrived). Returns the
 * lags in milliseconds.
 */
export async function measureLag(
  system: System,
  slavePort: number,
  perSecond: number,
  durationMs: number,
): Promise<number[]> {
  await system.settle()
  const slave = await connectMysql(slavePort, 'bench')
  const conns = await openAll(system.connect, WRITE_CONNECTIONS).catch((err) => {
    slave.destroy()
    throw err
  })
  const first = system.ids.last + 1
  const last = first + Math.round((perSecond * durationMs) / 1000) - 1
  const visibleAt = new Map<number, number>()
  let seen = first - 1 // settled: the slave shows everything before the first write
  let drainDeadline = Infinity // set once the last write is acknowledged
  let done = false // set when the measurement ends, however it ends
  const poll = async () => {
    while (!done && seen < last) {
      const [rows] = await slave.query('SELECT MAX(id) AS m FROM t')
      const max = Number((rows as Array<{ m: number | null }>)[0]!.m ?? 0)
      const t = now()
      for (let id = seen + 1; id <= max; id++) visibleAt.set(id, t)
      seen = Math.max(seen, max)
      if (t > drainDeadline)
        throw new Error(
          `${system.name}: the slave shows id ${seen} of ${last} ${DRAIN_TIMEOUT_MS} ms after the last write`,
        )
    }
  }
  const stopTicker = every(1_000, () =>
    progress(
      'lag',
      `${system.name}: ${count(system.ids.last - first + 1)} of ${count(last - first + 1)} writes sent, slave shows ${count(seen - first + 1)}`,
    ),
  )
  try {
    const writes = insertScheduled(conns, system.ids, perSecond, last - first + 1).then((acked) => {
      drainDeadline = now() + DRAIN_TIMEOUT_MS
      return acked
    })
    const [acked] = await Promise.all([writes, poll()])
    return [...acked].map(([id, ackedAt]) => Math.max(0, visibleAt.get(id)! - ackedAt))
  } finally {
    done = true
    stopTicker()
    for (const c of conns) c.close()
    slave.destroy()
  }
}
