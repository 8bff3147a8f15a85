import { insertLoop, openAll } from './load.ts'
import { now } from './measure.ts'
import { gtidSeq } from './native.ts'
import { masterOffset, waitApplied } from './nodes.ts'
import { count, every, progress } from './progress.ts'
import type { DdbReplication, NativeReplication, System } from './systems.ts'

/** Clients that write the backlog. */
const WRITERS = 16
/** How long one slave may take to catch up, in milliseconds. */
const CATCH_UP_TIMEOUT_MS = 300_000

/**
 * ddb's catch-up: stops the named slaves, writes `entries` rows through the
 * master, then starts each slave in turn and times it from its start until it
 * has applied the master's offset. Returns entries applied per second, by slave.
 */
export async function ddbCatchUp(rep: DdbReplication, slaves: string[], entries: number): Promise<Map<string, number>> {
  await rep.settle()
  for (const name of slaves) await rep.stopSlave(name)
  const before = await masterOffset(rep.master)
  await writeBacklog(rep, entries)
  const target = await masterOffset(rep.master)
  const rates = new Map<string, number>()
  for (const name of slaves) {
    let applied = before
    const stopTicker = every(1_000, () =>
      progress(
        'catch-up',
        `${rep.name} slave ${name}: applied ${count(applied - before)} of ${count(target - before)}`,
      ),
    )
    try {
      const start = now()
      const node = await rep.startSlave(name)
      await waitApplied(node, target, CATCH_UP_TIMEOUT_MS, (a) => (applied = a))
      rates.set(name, report(`${rep.name} slave ${name}`, target - before, now() - start))
    } finally {
      stopTicker()
    }
  }
  return rates
}

/**
 * Native catch-up: STOP SLAVE on the named slaves, writes `entries` autocommit
 * rows on the master, then START SLAVE on each in turn and times it until its
 * gtid_slave_pos equals the master's gtid_binlog_pos. Returns entries applied
 * per second, by slave.
 */
export async function nativeCatchUp(
  rep: NativeReplication,
  slaves: string[],
  entries: number,
): Promise<Map<string, number>> {
  await rep.settle()
  for (const name of slaves) await rep.stopSlave(name)
  const before = gtidSeq(await rep.position())
  await writeBacklog(rep, entries)
  const target = await rep.position()
  const rates = new Map<string, number>()
  for (const name of slaves) {
    let applied = before
    const stopTicker = every(1_000, () =>
      progress(
        'catch-up',
        `native slave ${name}: applied ${count(applied - before)} of ${count(gtidSeq(target) - before)}`,
      ),
    )
    try {
      const start = now()
      await rep.startSlave(name)
      await rep.waitSlave(name, target, CATCH_UP_TIMEOUT_MS, (pos) => (applied = gtidSeq(pos)))
      rates.set(name, report(`native slave ${name}`, gtidSeq(target) - before, now() - start))
    } finally {
      stopTicker()
    }
  }
  return rates
}

/** Writes `entries` rows with WRITERS clients, showing progress every second. */
async function writeBacklog(system: System, entries: number): Promise<void> {
  const first = system.ids.last
  const end = first + entries
  const conns = await openAll(system.connect, WRITERS)
  const stopTicker = every(1_000, () =>
    progress('catch-up', `${system.name}: writing the backlog, ${count(system.ids.last - first)} of ${count(entries)}`),
  )
  try {
    const { ms } = await insertLoop(conns, system.ids, () => system.ids.last < end)
    progress(
      'catch-up',
      `${system.name}: wrote ${count(entries)} rows in ${(ms / 1000).toFixed(1)} s with ${WRITERS} clients`,
    )
  } finally {
    stopTicker()
    for (const c of conns) c.close()
  }
}

/** Prints and returns a catch-up rate in entries per second. */
function report(what: string, entries: number, ms: number): number {
  const rate = (entries / ms) * 1000
  progress('catch-up', `${what}: caught up ${count(entries)} entries in ${(ms / 1000).toFixed(1)} s = ${count(rate)}/s`)
  return rate
}
