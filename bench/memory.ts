import { join } from 'node:path'
import { buildHistory } from './history.ts'
import { now, RssSampler } from './measure.ts'
import { type DdbNode, startNode } from './nodes.ts'
import { count, every, progress } from './progress.ts'
import type { Resources } from './resources.ts'

/** How many slaves catch up at once. */
const SLAVES = 3
/** How long the slaves may take to catch up, in milliseconds. */
const CATCH_UP_TIMEOUT_MS = 300_000

/** What the memory phase measured, and where its stores and log are (for the checks and `log tail`). */
export interface MemoryResult {
  /** Peak RSS of the master, in bytes. */
  masterPeak: number
  /** Peak RSS of each slave, in bytes. */
  slavePeaks: number[]
  /** How long the slaves took to catch up together, in milliseconds. */
  catchUpMs: number
  logPath: string
  masterStore: string
  slaveStores: string[]
}

/**
 * Builds a master with an `entries`-entry history (SQLite store), starts it,
 * then starts three SQLite slaves at once and samples every process's RSS
 * until all of them have applied the whole log; the processes are stopped.
 */
export async function measureMemory(
  binary: string,
  dir: string,
  entries: number,
  resources: Resources,
): Promise<MemoryResult> {
  const logPath = join(dir, 'history-log.sqlite')
  const masterStore = join(dir, 'history-master.sqlite')
  const slaveStores = Array.from({ length: SLAVES }, (_, i) => join(dir, `history-slave-${i + 1}.sqlite`))

  const started = now()
  let built = 0
  const stopBuildTicker = every(1_000, () =>
    progress('memory', `building the log: ${count(built)} of ${count(entries)} entries`),
  )
  await buildHistory(masterStore, logPath, entries, (done) => (built = done)).finally(stopBuildTicker)
  progress(
    'memory',
    `built ${count(entries)} entries in ${((now() - started) / 1000).toFixed(1)} s; starting the master and ${SLAVES} slaves`,
  )

  const nodes: DdbNode[] = []
  const track = (node: DdbNode) => {
    nodes.push(node)
    resources.defer(node.name, () => node.stop())
    return node
  }
  const master = track(
    await startNode(binary, 'history master', ['master', '--db', `sqlite:${masterStore}`, '--log', logPath]),
  )
  const sampler = new RssSampler([master.pid])
  try {
    const catchUpStart = now()
    const slaves = await Promise.all(
      slaveStores.map(async (store, i) => {
        const slave = track(
          await startNode(binary, `history slave ${i + 1}`, [
            'slave',
            '--master',
            master.address,
            '--db',
            `sqlite:${store}`,
            '--id',
            `history-${i + 1}`,
          ]),
        )
        sampler.add(slave.pid)
        return slave
      }),
    )
    let applied = slaves.map(() => 0)
    const stopTicker = every(1_000, () =>
      progress(
        'memory',
        `${SLAVES} slaves catching up: applied ${applied.map(count).join(' / ')} of ${count(entries)}`,
      ),
    )
    try {
      const deadline = Date.now() + CATCH_UP_TIMEOUT_MS
      while (applied.some((a) => a < entries)) {
        if (Date.now() > deadline)
          throw new Error(`slaves applied ${applied.join(', ')} of ${entries} after ${CATCH_UP_TIMEOUT_MS} ms`)
        applied = await Promise.all(
          slaves.map(async (s) => {
            const status = await s.status()
            if (status.role !== 'slave') throw new Error(`${s.name} is not a slave`)
            if (status.error) throw new Error(`${s.name} stopped applying: ${status.error}`)
            return status.applied
          }),
        )
        await Bun.sleep(50)
      }
    } finally {
      stopTicker()
    }
    const catchUpMs = now() - catchUpStart
    const result = {
      masterPeak: sampler.peak(master.pid),
      slavePeaks: slaves.map((s) => sampler.peak(s.pid)),
      catchUpMs,
      logPath,
      masterStore,
      slaveStores,
    }
    progress(
      'memory',
      `caught up in ${(catchUpMs / 1000).toFixed(1)} s; peak RSS master ${mb(result.masterPeak)} MB, slaves ${result.slavePeaks.map(mb).join(' / ')} MB`,
    )
    return result
  } finally {
    sampler.stop()
    for (const node of nodes) await node.stop()
  }
}

/** Bytes as whole megabytes (MiB). */
function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0)
}
